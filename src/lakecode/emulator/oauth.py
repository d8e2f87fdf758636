"""Auth surface: host metadata, OIDC discovery, authorize (PKCE S256) and the token endpoint.

Grants: ``client_credentials`` (HTTP Basic or form credentials), ``authorization_code``
(S256 verifier, byte-identical ``redirect_uri``, single-use codes, ``client_secret`` for
confidential apps) and ``refresh_token`` (rotated: the old one stops working). Errors are
``{error, error_description}`` with ``Content-Type: application/json``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lakecode.emulator.config import OAuthApp
from lakecode.emulator.errors import databricks_error, json_response, oauth_error
from lakecode.emulator.gate import current_state, guard
from lakecode.emulator.requestlog import TokenRequest
from lakecode.emulator.state import EmulatorState, PendingConsent

__all__ = ["authorize", "authorize_consent", "host_metadata", "oidc_discovery", "token"]


async def host_metadata(request: Request) -> Response:
    """``GET /.well-known/databricks-config`` (404 when switched off)."""
    st = current_state(request)
    denied = await guard(request, st, auth=False)
    if denied is not None:
        return denied
    if not st.config.host_metadata:
        return databricks_error(
            404, "ENDPOINT_NOT_FOUND", "No API found for 'GET /.well-known/databricks-config'"
        )
    body: dict[str, Any] = {
        "oidc_endpoint": f"{st.base_url}/oidc",
        "workspace_id": st.workspace_id,
        "cloud": st.config.cloud,
    }
    if st.config.account_id:
        body["account_id"] = st.config.account_id
    return json_response(body)


async def oidc_discovery(request: Request) -> Response:
    """``GET /oidc/.well-known/oauth-authorization-server``."""
    st = current_state(request)
    denied = await guard(request, st, auth=False)
    if denied is not None:
        return denied
    base = f"{st.base_url}/oidc"
    return json_response(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/v1/authorize",
            "token_endpoint": f"{base}/v1/token",
            "jwks_uri": f"{base}/jwks.json",
            "scopes_supported": ["all-apis", "offline_access", "sql"],
            "response_types_supported": ["code"],
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        }
    )


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><title>Authorization error</title></head>"
        f"<body><h1>Authorization error</h1><pre>{html.escape(message)}</pre></body></html>"
    )
    return HTMLResponse(body, status)


def _redirect(uri: str, params: dict[str, str]) -> RedirectResponse:
    sep = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{sep}{urlencode(params)}", status_code=302)


async def authorize(request: Request) -> Response:
    """``GET /oidc/v1/authorize``: check the app and PKCE, then redirect with a code (or ask)."""
    st = current_state(request)
    denied = await guard(request, st, auth=False)
    if denied is not None:
        return denied
    q = request.query_params
    client_id, redirect_uri, state = q.get("client_id", ""), q.get("redirect_uri", ""), q.get("state")
    app = st.config.apps().get(client_id)
    if app is None:
        return _error_page(f"OAuth application not available: client_id '{client_id}' is not registered.")
    if redirect_uri not in app.redirect_uris:
        return _error_page(
            f"redirect_uri '{redirect_uri}' not registered for OAuth application '{client_id}'"
        )
    echo = {"state": state} if state is not None else {}
    if q.get("response_type") != "code":
        return _redirect(
            redirect_uri,
            {
                "error": "unsupported_response_type",
                "error_description": "response_type must be 'code'",
                **echo,
            },
        )
    if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
        return _redirect(
            redirect_uri,
            {
                "error": "invalid_request",
                "error_description": "PKCE with code_challenge_method=S256 is required",
                **echo,
            },
        )
    scope = q.get("scope") or "all-apis"
    if not st.config.consent:
        code = st.tokens.issue_code(client_id, redirect_uri, q["code_challenge"], scope)
        return _redirect(redirect_uri, {"code": code, **echo})
    txn = secrets.token_urlsafe(16)
    st.consents[txn] = PendingConsent(client_id, redirect_uri, q["code_challenge"], scope, state)
    return HTMLResponse(_consent_page(txn, client_id, scope, st.base_url))


def _consent_page(txn: str, client_id: str, scope: str, base_url: str) -> str:
    return (
        "<!doctype html><html><head><title>lakecode emulator - authorize</title></head><body>"
        f"<h1>Authorize {html.escape(client_id)}</h1>"
        f"<p>The app asks for: <code>{html.escape(scope)}</code> on {html.escape(base_url)}</p>"
        '<form method="post" action="/oidc/v1/authorize">'
        f'<input type="hidden" name="txn" value="{html.escape(txn)}">'
        '<button type="submit" name="decision" value="allow">Allow</button> '
        '<button type="submit" name="decision" value="deny">Deny</button>'
        "</form></body></html>"
    )


async def authorize_consent(request: Request) -> Response:
    """``POST /oidc/v1/authorize``: the consent page's Allow / Deny."""
    st = current_state(request)
    form = await read_form(request)
    pending = st.consents.pop(str(form.get("txn", "")), None)
    if pending is None:
        return _error_page("This authorization request has expired. Start the sign-in again.")
    echo = {"state": pending.state} if pending.state is not None else {}
    if form.get("decision") != "allow":
        return _redirect(
            pending.redirect_uri,
            {"error": "access_denied", "error_description": "The user denied the request", **echo},
        )
    code = st.tokens.issue_code(
        pending.client_id, pending.redirect_uri, pending.code_challenge, pending.scope
    )
    return _redirect(pending.redirect_uri, {"code": code, **echo})


def _client_auth(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """The client id and secret from Basic auth or from the form."""
    value = request.headers.get("authorization", "")
    if value.lower().startswith("basic "):
        try:
            cid, _, secret = base64.b64decode(value[6:].strip()).decode().partition(":")
            return cid, secret
        except ValueError:
            return None, None
    return form.get("client_id"), form.get("client_secret")


def _token_body(st: EmulatorState, client_id: str, scope: str, subject: str, refresh: bool) -> dict[str, Any]:
    ttl = st.config.token_ttl
    body: dict[str, Any] = {
        "access_token": st.tokens.mint_access(client_id, scope, subject, ttl),
        "token_type": "Bearer",
        "expires_in": str(int(ttl)) if st.config.expires_in_as_string else int(ttl),
        "scope": scope,
    }
    if refresh:
        body["refresh_token"] = st.tokens.mint_refresh(client_id, scope, subject)
    return body


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (last value wins)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))


async def token(request: Request) -> Response:
    """``POST /oidc/v1/token``: the three grants. Every call is counted by grant type."""
    st = current_state(request)
    form = await read_form(request)
    grant = form.get("grant_type", "")
    client_id, secret = _client_auth(request, form)
    denied = await guard(request, st, auth=False)
    response = denied if denied is not None else _grant(st, grant, client_id, secret, form)
    st.token_requests.add(TokenRequest(grant or "<none>", client_id, response.status_code, st.clock.time()))
    return response


def _grant(
    st: EmulatorState, grant: str, client_id: str | None, secret: str | None, form: dict[str, str]
) -> Response:
    if grant == "client_credentials":
        if client_id != st.client_id or secret != st.client_secret:
            return oauth_error(401, "invalid_client", "Client authentication failed")
        scope = " ".join(sorted(set(form.get("scope", "all-apis").split()))) or "all-apis"
        return json_response(_token_body(st, st.client_id, scope, st.client_id, refresh=False))
    if grant == "authorization_code":
        return _code_grant(st, client_id, secret, form)
    if grant == "refresh_token":
        app = st.config.apps().get(client_id or "")
        if app is None:
            return oauth_error(401, "invalid_client", "OAuth application not available")
        if app.confidential and secret != app.client_secret:
            return oauth_error(401, "invalid_client", "Client authentication failed")
        entry = st.tokens.use_refresh(
            form.get("refresh_token", ""), app.client_id, st.config.rotate_refresh_tokens
        )
        if entry is None:
            return oauth_error(400, "invalid_grant", "Refresh token is invalid")
        return json_response(_token_body(st, app.client_id, entry.scope, entry.subject, refresh=True))
    return oauth_error(400, "unsupported_grant_type", f"grant_type '{grant}' is not supported")


def _code_grant(
    st: EmulatorState, client_id: str | None, secret: str | None, form: dict[str, str]
) -> Response:
    app: OAuthApp | None = st.config.apps().get(client_id or "")
    if app is None:
        return oauth_error(401, "invalid_client", "OAuth application not available")
    if app.confidential and secret != app.client_secret:
        return oauth_error(401, "invalid_client", "Client authentication failed: client_secret is required")
    entry = st.tokens.redeem_code(form.get("code", ""))
    if entry is None or entry.client_id != app.client_id:
        return oauth_error(400, "invalid_grant", "Authorization code is invalid, expired or already used")
    if form.get("redirect_uri") != entry.redirect_uri:
        return oauth_error(400, "invalid_grant", "redirect_uri does not match the authorization request")
    verifier = form.get("code_verifier", "")
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    if not verifier or digest != entry.code_challenge:
        return oauth_error(400, "invalid_grant", "PKCE verification failed: code_verifier does not match")
    refresh = "offline_access" in entry.scope.split()
    return json_response(_token_body(st, app.client_id, entry.scope, "emulator-user@example.com", refresh))
