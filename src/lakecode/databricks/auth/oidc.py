"""OIDC discovery and token-endpoint requests, over the project's one HTTP stack (httpx).

The OAuth 2.0 protocol pieces come from authlib (``prepare_token_request`` builds the form,
``ClientAuth`` does ``client_secret_basic`` / ``client_secret_post``); this module only sends them
with httpx and maps failures onto ``lakecode.errors``. (authlib's own httpx client now runs on the
separate ``httpx2`` package, which would be a second HTTP stack with its own transports, so the
requests are sent here instead.)

* ``discover(host, http)``: ``GET {origin}/oidc/.well-known/oauth-authorization-server``; a 404
  falls back to ``{origin}/oidc/v1/authorize`` and ``{origin}/oidc/v1/token``. The URLs always
  come from the workspace origin, never from a configured base path (F8), and a discovered
  endpoint on another host is ignored, so client secrets only ever go to the workspace. A
  redirect or an HTML page means a wrong host (``WrongHostError``, F9).
* ``request_token(...)``: ``POST`` the token endpoint, parse a ``Token``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from lakecode.clock import Clock
from lakecode.databricks.auth.token_source import Token
from lakecode.databricks.host import normalize_host, workspace_urls
from lakecode.errors import (
    AuthError,
    HostError,
    ServerError,
    WrongHostError,
)
from lakecode.llm.errors import error_from_response, error_from_transport, extract_error
from lakecode.llm.wire import user_agent as wire_user_agent

__all__ = [
    "DEFAULT_HTTP_TIMEOUT",
    "OidcEndpoints",
    "discover",
    "oauth_http_client",
    "request_token",
    "shared_ssl_context",
    "user_agent",
]

DEFAULT_HTTP_TIMEOUT = 30.0


def user_agent(auth_type: str | None = None) -> str:
    """lakecode's User-Agent (``lakecode.llm.wire.user_agent``) with ``auth/<type>`` appended."""
    return wire_user_agent(f"auth/{auth_type}" if auth_type else None)


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for short-lived clients (building one costs ~40 ms); honours
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as httpx does."""
    return httpx.create_ssl_context()


@contextlib.asynccontextmanager
async def oauth_http_client(*, transport: httpx.AsyncBaseTransport | None = None,
                            auth_type: str | None = None,
                            http_timeout: float = DEFAULT_HTTP_TIMEOUT) -> AsyncIterator[httpx.AsyncClient]:
    """A short-lived client for OAuth calls: no redirects followed, lakecode's User-Agent.

    Token requests are minutes apart, so each gets its own client (no connection pool outlives
    an event loop); the TLS context is shared, and built off the event loop the first time.
    """
    verify = await asyncio.to_thread(shared_ssl_context)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False, timeout=http_timeout,
                                 headers={"User-Agent": user_agent(auth_type)}, verify=verify) as http:
        yield http


@dataclass(frozen=True, slots=True)
class OidcEndpoints:
    """Where to send the browser and the token requests.

    Attributes:
        authorization_endpoint: the authorize URL (browser sign-in).
        token_endpoint: the token URL (all grants).
    """

    authorization_endpoint: str
    token_endpoint: str


def _on_origin(url: object, origin: str) -> str | None:
    """``url`` when it is on the workspace origin, else None (secrets never leave the host)."""
    if not isinstance(url, str):
        return None
    try:
        same = normalize_host(url) == origin
    except HostError:
        return None
    return url if same and urlsplit(url).path.startswith("/") else None


async def discover(host: str, http: httpx.AsyncClient) -> OidcEndpoints:
    """The workspace's OIDC endpoints (see the module docstring).

    Raises:
        WrongHostError: the host answered with a redirect or an HTML page.
        APIConnectionError: the host could not be reached.
        APIStatusError: any other error status.
    """
    urls = workspace_urls(host)
    try:
        response = await http.get(urls.oidc_discovery, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise error_from_transport(exc, urls.origin) from None
    if response.status_code == 404:
        return OidcEndpoints(urls.authorize, urls.token)
    if response.status_code != 200:
        raise error_from_response(response)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise error_from_response(httpx.Response(
            502, text="The OIDC discovery document is not JSON", request=response.request))
    authorize = data.get("authorization_endpoint")
    token = data.get("token_endpoint")
    return OidcEndpoints(_on_origin(authorize, urls.origin) or urls.authorize,
                         _on_origin(token, urls.origin) or urls.token)


async def request_token(
    http: httpx.AsyncClient,
    token_endpoint: str,
    grant_type: str,
    *,
    clock: Clock,
    host: str,
    relogin_hint: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    client_auth_method: str = "client_secret_basic",
    previous_refresh_token: str | None = None,
    **params: Any,
) -> Token:
    """POST a token request (form-encoded) and parse the answer.

    Args:
        http: the client to send with (redirects are not followed).
        token_endpoint: from ``discover``.
        grant_type: ``client_credentials``, ``authorization_code`` or ``refresh_token``.
        clock: the wall clock the expiry is computed on.
        host: the workspace origin, for messages.
        relogin_hint: the hint for an ``AuthError`` when the grant is refused.
        client_id: sent as Basic auth with ``client_secret`` (``client_secret_basic``), or as a
            form field (``client_secret_post``; ``none`` for a public client).
        client_secret: the client secret, if any.
        client_auth_method: ``client_secret_basic``, ``client_secret_post`` or ``none``.
        previous_refresh_token: kept when a refresh answer brings no new refresh token.
        **params: the grant's fields (``scope``, ``code``, ``code_verifier``, ``redirect_uri``...);
            values are sent byte for byte.

    Raises:
        AuthError: the token endpoint refused the grant or the client (4xx).
        WrongHostError: a redirect or an HTML page instead of a token endpoint.
        ServerError: a 5xx from the token endpoint (retryable).
        APIConnectionError: the host could not be reached.
    """
    body = prepare_token_request(grant_type, **{k: v for k, v in params.items() if v is not None})
    headers: Mapping[str, str] = {"Content-Type": "application/x-www-form-urlencoded",
                                  "Accept": "application/json"}
    if client_id is not None:
        auth = ClientAuth(client_id, client_secret or "", client_auth_method)
        _, headers, body = auth.prepare("POST", token_endpoint, dict(headers), body)
    try:
        response = await http.post(token_endpoint, content=body.encode(), headers=dict(headers))
    except httpx.TransportError as exc:
        raise error_from_transport(exc, host) from None
    if response.status_code != 200:
        error = error_from_response(response)
        if isinstance(error, WrongHostError | ServerError) or response.status_code >= 500:
            raise error
        info = extract_error(response.status_code, response.headers, response.content)
        detail = info.message or f"HTTP {response.status_code}"
        if info.error_code and info.error_code not in detail:
            detail = f"{info.error_code}: {detail}"
        raise AuthError(f"{host} refused the sign-in ({grant_type}): {detail}", hint=relogin_hint)
    try:
        payload = response.json()
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        return Token.from_oauth_response(payload, now=clock.time(),
                                         previous_refresh_token=previous_refresh_token)
    except ValueError:
        raise AuthError(f"The token endpoint of {host} answered without an access token.",
                        hint=relogin_hint) from None
