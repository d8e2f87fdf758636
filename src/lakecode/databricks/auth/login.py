"""Signing in: verify a credential with a real, tool-free call, then keep it.

These are the steps behind ``lakecode auth login`` and the TUI's sign-in screen. Each function
verifies first (``verify``: ``GET /api/2.0/preview/scim/v2/Me``, falling back to listing serving
endpoints; no request ever carries tools, F27), then stores secrets and tokens in the token store
and returns the ``DatabricksSettings`` to persist (host, method, profile: never a secret). The
caller saves them with ``lakecode.config.store.save_settings``.

Public API::

    await verify(resolved) -> WhoAmI
    await login_with_pat(host, pat, base=settings.databricks) -> LoginResult
    await login_with_m2m(host, client_id, client_secret, base=...) -> LoginResult
    await complete_browser_login(login, token, base=...) -> LoginResult   # after BrowserLogin.wait()
    await login_with_profile(profile, host=None, base=...) -> LoginResult
    settings_for_method(base, method, **values) -> DatabricksSettings   # clears other methods' fields
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import SecretStr

from lakecode.clock import Clock, system_clock
from lakecode.config.settings import DatabricksSettings
from lakecode.databricks.auth.oauth_login import DATABRICKS_CLI_CLIENT_ID, BrowserLogin
from lakecode.databricks.auth.oidc import DEFAULT_HTTP_TIMEOUT, shared_ssl_context, user_agent
from lakecode.databricks.auth.resolve import ResolvedAuth, resolve_auth, u2m_identity
from lakecode.databricks.auth.store import TokenStore, client_secret_key, pat_key
from lakecode.databricks.auth.token_source import Token, TokenSourceRegistry, jwt_claims, registry
from lakecode.databricks.host import normalize_host
from lakecode.errors import WrongHostError
from lakecode.llm.errors import error_from_response, error_from_transport

__all__ = [
    "LoginResult",
    "WhoAmI",
    "complete_browser_login",
    "login_with_m2m",
    "login_with_pat",
    "login_with_profile",
    "settings_for_method",
    "verify",
]

SCIM_ME = "/api/2.0/preview/scim/v2/Me"
SERVING_ENDPOINTS = "/api/2.0/serving-endpoints"
# Settings fields that belong to one sign-in method: signing in with another clears them, so no
# stale value (a service principal's id after a browser sign-in) survives in settings.toml.
_METHOD_FIELDS = {
    "client_id": "oauth-m2m",
    "profile": "profile",
    "oauth_client_id": "external-browser",
    "oauth_redirect_uri": "external-browser",
}


def settings_for_method(base: DatabricksSettings | None, method: str,
                        **values: Any) -> DatabricksSettings:
    """``base`` switched to ``method`` with ``values`` set, and other methods' fields cleared.

    ``client_id`` is kept only for ``oauth-m2m``, ``profile`` only for ``profile``, and the custom
    OAuth app fields only for ``external-browser``; ``values`` win over the clearing (a profile
    whose ``auth_type`` is ``external-browser`` keeps its app).
    """
    update: dict[str, Any] = {name: None for name, owner in _METHOD_FIELDS.items() if owner != method}
    update.update(values, auth_type=method)
    return (base or DatabricksSettings()).model_copy(update=update)


@dataclass(frozen=True, slots=True)
class WhoAmI:
    """The result of a verification call.

    Attributes:
        user: the user name (SCIM ``userName``), or the token's subject, or None when unknown.
        checked_with: the API path that answered.
    """

    user: str | None
    checked_with: str


@dataclass(frozen=True)
class LoginResult:
    """A completed sign-in.

    Attributes:
        resolved: the verified credential, ready for use.
        whoami: who the workspace says we are.
        settings: the Databricks settings to persist (no secrets).
    """

    resolved: ResolvedAuth
    whoami: WhoAmI
    settings: DatabricksSettings = field(repr=False)


def _subject(resolved: ResolvedAuth) -> str | None:
    token = resolved.token_source.cached()
    claims = jwt_claims(token.access_token) if token else None
    value = (claims or {}).get("sub") or (claims or {}).get("client_id")
    return str(value) if value else None


def _is_databricks_error(response: httpx.Response) -> bool:
    """Whether an error response carries a Databricks JSON error (``error_code``, or SCIM's)."""
    try:
        data = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(data, dict) and ("error_code" in data or "schemas" in data)


def _not_a_workspace(host: str, responses: tuple[httpx.Response, httpx.Response]) -> WrongHostError:
    return WrongHostError(
        f"{host} does not look like a Databricks workspace API host: {SCIM_ME} and "
        f"{SERVING_ENDPOINTS} both answered HTTP 404 without a Databricks error "
        f"(content type {responses[-1].headers.get('content-type') or 'none'}).",
        url=str(responses[-1].request.url))


async def verify(resolved: ResolvedAuth, *, transport: httpx.AsyncBaseTransport | None = None,
                 http_timeout: float = DEFAULT_HTTP_TIMEOUT) -> WhoAmI:
    """Prove the credential works with one tool-free call, and say who it is.

    A host where both the identity check and its fallback answer 404 without a Databricks JSON
    error (``error_code``) is some other web server, not a workspace: ``WrongHostError``.

    Raises:
        AuthenticationError: the credential was rejected (after one refresh).
        WrongHostError: the host is not a workspace API host (a login page, HTML, bare 404s).
        PermissionDeniedError, APIStatusError: what the workspace answered.
        APIConnectionError: the workspace could not be reached.
    """
    headers = {"User-Agent": user_agent(resolved.auth_type), "Accept": "application/json"}
    tls = await asyncio.to_thread(shared_ssl_context)  # built off the event loop the first time
    async with httpx.AsyncClient(base_url=resolved.host, auth=resolved.auth, transport=transport,
                                 follow_redirects=False, timeout=http_timeout, headers=headers,
                                 verify=tls) as http:
        try:
            response = await http.get(SCIM_ME)
            if response.status_code == 200:
                data: Any = response.json()
                user = data.get("userName") or data.get("displayName") if isinstance(data, dict) else None
                return WhoAmI(str(user) if user else _subject(resolved), SCIM_ME)
            if response.status_code == 404 and "html" not in response.headers.get("content-type", ""):
                first, response = response, await http.get(SERVING_ENDPOINTS)
                if response.status_code == 200:
                    return WhoAmI(_subject(resolved), SERVING_ENDPOINTS)
                if response.status_code == 404 and not (
                        _is_databricks_error(first) or _is_databricks_error(response)):
                    raise _not_a_workspace(resolved.host, (first, response))
        except httpx.TransportError as exc:
            raise error_from_transport(exc, resolved.host) from None
        except ValueError:  # a 200 that is not JSON
            return WhoAmI(_subject(resolved), SCIM_ME)
        raise error_from_response(response)


def _typed(secret: str, from_env: bool) -> set[str]:
    """``explicit`` for a secret given directly (see ``resolve_auth``), or nothing from the env."""
    return set() if from_env else {secret}


async def _resolve_and_verify(settings: DatabricksSettings, *, secrets: dict[str, SecretStr],
                              explicit: set[str], store: TokenStore, clock: Clock,
                              transport: httpx.AsyncBaseTransport | None,
                              token_registry: TokenSourceRegistry) -> tuple[ResolvedAuth, WhoAmI]:
    resolved = await asyncio.to_thread(
        resolve_auth, settings, secrets=secrets, explicit=explicit, clock=clock, store=store,
        token_registry=token_registry, transport=transport)
    return resolved, await verify(resolved, transport=transport)


async def login_with_pat(host: str, pat: SecretStr, *, base: DatabricksSettings | None = None,
                         from_env: bool = False, store: TokenStore | None = None,
                         clock: Clock = system_clock,
                         transport: httpx.AsyncBaseTransport | None = None,
                         token_registry: TokenSourceRegistry | None = None) -> LoginResult:
    """Verify a personal access token, then store it (never in settings).

    ``from_env``: the token came from ``DATABRICKS_TOKEN`` (the hint for a refused one says so).
    """
    host = normalize_host(host)
    store = store or TokenStore(clock=clock)
    settings = settings_for_method(base, "pat", host=host)
    resolved, whoami = await _resolve_and_verify(
        settings, secrets={"pat": pat}, explicit={"host", "auth_type"} | _typed("pat", from_env),
        store=store, clock=clock,
        transport=transport, token_registry=token_registry or registry)
    await asyncio.to_thread(store.put_secret, pat_key(host), pat, host=host)
    return LoginResult(resolved, whoami, settings)


async def login_with_m2m(host: str, client_id: str, client_secret: SecretStr, *,
                         base: DatabricksSettings | None = None, from_env: bool = False,
                         store: TokenStore | None = None, clock: Clock = system_clock,
                         transport: httpx.AsyncBaseTransport | None = None,
                         token_registry: TokenSourceRegistry | None = None) -> LoginResult:
    """Mint a token with the service principal's credentials, verify it, store the secret.

    ``from_env``: the secret came from ``DATABRICKS_CLIENT_SECRET``.
    """
    host = normalize_host(host)
    store = store or TokenStore(clock=clock)
    settings = settings_for_method(base, "oauth-m2m", host=host, client_id=client_id)
    resolved, whoami = await _resolve_and_verify(
        settings, secrets={"client_secret": client_secret},
        explicit={"host", "auth_type", "client_id"} | _typed("client_secret", from_env), store=store,
        clock=clock, transport=transport, token_registry=token_registry or registry)
    await asyncio.to_thread(store.put_secret, client_secret_key(host, client_id), client_secret,
                            host=host)
    return LoginResult(resolved, whoami, settings)


async def complete_browser_login(login: BrowserLogin, token: Token, *, profile: str | None = None,
                                 base: DatabricksSettings | None = None,
                                 store: TokenStore | None = None, clock: Clock = system_clock,
                                 transport: httpx.AsyncBaseTransport | None = None,
                                 token_registry: TokenSourceRegistry | None = None) -> LoginResult:
    """Store the tokens of a finished ``BrowserLogin`` (rotations replace them), then verify.

    ``profile`` names a ``~/.databrickscfg`` profile whose ``auth_type`` is ``external-browser``:
    the tokens are stored for that profile and the settings remember it.
    """
    store = store or TokenStore(clock=clock)
    reg = token_registry or registry
    app = login.app
    custom = app.client_id != DATABRICKS_CLI_CLIENT_ID
    identity = u2m_identity(login.host, app.client_id, profile)
    await asyncio.to_thread(store.save_token, identity, token)
    if custom and app.client_secret is not None:
        await asyncio.to_thread(store.put_secret, client_secret_key(login.host, app.client_id),
                                app.client_secret, host=login.host)
    reg.discard(identity)  # the next resolve starts from the new tokens
    settings = settings_for_method(
        base, "profile" if profile else "external-browser", host=login.host, profile=profile,
        oauth_client_id=app.client_id if custom else None,
        oauth_redirect_uri=app.redirect_uri if custom else None)
    explicit = {"host", "auth_type"} | ({"profile"} if profile else set())
    resolved, whoami = await _resolve_and_verify(
        settings, secrets={}, explicit=explicit, store=store, clock=clock,
        transport=transport, token_registry=reg)
    return LoginResult(resolved, whoami, settings)


async def login_with_profile(profile: str | None, *, host: str | None = None,
                             base: DatabricksSettings | None = None,
                             store: TokenStore | None = None, clock: Clock = system_clock,
                             transport: httpx.AsyncBaseTransport | None = None,
                             token_registry: TokenSourceRegistry | None = None) -> LoginResult:
    """Use a ``~/.databrickscfg`` profile (by name, or chosen for ``host``); verify it.

    The returned settings remember the chosen profile's name, so later runs (and refreshes) use
    that profile even when several profiles share the host (F5).
    """
    store = store or TokenStore(clock=clock)
    update: dict[str, Any] = {"profile": profile, "host": normalize_host(host) if host else None}
    explicit = {"auth_type"} | {k for k in ("profile", "host") if update[k]}
    settings = settings_for_method(base, "profile", **update)
    resolved, whoami = await _resolve_and_verify(
        settings, secrets={}, explicit=explicit, store=store, clock=clock, transport=transport,
        token_registry=token_registry or registry)
    saved = settings.model_copy(update={"host": resolved.host, "profile": resolved.profile})
    return LoginResult(resolved, whoami, saved)
