"""Host metadata, OIDC discovery, authorize and the token endpoint (all three grants)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lakecode.emulator import Emulator, OAuthApp

CLI_REDIRECT = "http://localhost:8020"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:86]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize(anon: httpx.Client, challenge: str, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": "databricks-cli",
        "redirect_uri": CLI_REDIRECT,
        "scope": "all-apis offline_access",
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return anon.get("/oidc/v1/authorize", params=params)


def _query(response: httpx.Response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _jwt_payload(token: str) -> dict[str, object]:
    parts = token.split(".")
    assert len(parts) == 3
    payload: dict[str, object] = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    return payload


def _login(anon: httpx.Client) -> dict[str, object]:
    verifier, challenge = _pkce()
    code = _query(_authorize(anon, challenge))["code"]
    r = anon.post(
        "/oidc/v1/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": CLI_REDIRECT,
            "client_id": "databricks-cli",
        },
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_host_metadata(emulator: Emulator, anon: httpx.Client) -> None:
    r = anon.get("/.well-known/databricks-config")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "oidc_endpoint": f"{emulator.url}/oidc",
        "workspace_id": emulator.workspace_id,
        "cloud": "aws",
    }


def test_host_metadata_can_be_switched_off(emulator: Emulator, anon: httpx.Client) -> None:
    emulator.config.host_metadata = False
    r = anon.get("/.well-known/databricks-config")
    assert r.status_code == 404
    assert r.json()["error_code"] == "ENDPOINT_NOT_FOUND"


@pytest.mark.emulator_config(account_id="acc-1")
def test_host_metadata_reports_the_account(emulator: Emulator, anon: httpx.Client) -> None:
    assert anon.get("/.well-known/databricks-config").json()["account_id"] == "acc-1"


def test_oidc_discovery(emulator: Emulator, anon: httpx.Client) -> None:
    doc = anon.get("/oidc/.well-known/oauth-authorization-server").json()
    assert doc["issuer"] == f"{emulator.url}/oidc"
    assert doc["authorization_endpoint"] == f"{emulator.url}/oidc/v1/authorize"
    assert doc["token_endpoint"] == f"{emulator.url}/oidc/v1/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]


def test_client_credentials_with_basic_auth(emulator: Emulator, anon: httpx.Client) -> None:
    r = anon.post(
        "/oidc/v1/token",
        auth=(emulator.client_id, emulator.client_secret),
        data={"grant_type": "client_credentials", "scope": "all-apis"},
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "all-apis"
    assert "refresh_token" not in body
    claims = _jwt_payload(body["access_token"])
    assert claims["sub"] == emulator.client_id and claims["client_id"] == emulator.client_id
    assert claims["scope"] == "all-apis"
    assert claims["exp"] == claims["iat"] + 3600  # type: ignore[operator]
    ok = anon.get("/api/2.0/serving-endpoints", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ok.status_code == 200
    assert emulator.token_requests.by_grant_type() == {"client_credentials": 1}


def test_client_credentials_with_form_fields(emulator: Emulator, anon: httpx.Client) -> None:
    r = anon.post(
        "/oidc/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "scope": "all-apis",
        },
    )
    assert r.status_code == 200
    log = emulator.requests[-1]
    assert log.form is not None and log.form["client_secret"] == "<redacted>"
    assert emulator.client_secret not in repr(emulator.requests)


def test_wrong_client_secret_is_a_json_oauth_error(emulator: Emulator, anon: httpx.Client) -> None:
    r = anon.post(
        "/oidc/v1/token",
        auth=(emulator.client_id, "dose-wrong"),
        data={"grant_type": "client_credentials", "scope": "all-apis"},
    )
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "invalid_client", "error_description": "Client authentication failed"}
    assert emulator.token_requests.count("client_credentials", status=401) == 1


def test_unsupported_grant(anon: httpx.Client) -> None:
    r = anon.post("/oidc/v1/token", data={"grant_type": "password"})
    assert r.status_code == 400
    assert r.json()["error"] == "unsupported_grant_type"


@pytest.mark.emulator_config(token_ttl=120, expires_in_as_string=True)
def test_token_lifetime_and_string_expires_in(emulator: Emulator, anon: httpx.Client) -> None:
    body = anon.post(
        "/oidc/v1/token",
        auth=(emulator.client_id, emulator.client_secret),
        data={"grant_type": "client_credentials"},
    ).json()
    assert body["expires_in"] == "120"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    emulator.clock.advance(119)
    assert anon.get("/api/2.0/serving-endpoints", headers=headers).status_code == 200
    emulator.clock.advance(1)
    assert anon.get("/api/2.0/serving-endpoints", headers=headers).status_code == 401


def test_authorize_redirects_with_code_and_state(emulator: Emulator, anon: httpx.Client) -> None:
    r = _authorize(anon, _pkce()[1])
    assert r.status_code == 302
    assert r.headers["location"].startswith(CLI_REDIRECT + "?")
    q = _query(r)
    assert q["state"] == "st-123"
    assert re.fullmatch(r"dcode[\w-]+", q["code"])


@pytest.mark.parametrize("port", [8021, 8040])
def test_cli_fallback_ports_are_registered(anon: httpx.Client, port: int) -> None:
    r = _authorize(anon, _pkce()[1], redirect_uri=f"http://localhost:{port}")
    assert r.status_code == 302
    assert "code" in _query(r)


@pytest.mark.parametrize(
    "redirect",
    ["http://127.0.0.1:53890", "http://localhost:8041", "http://localhost:8020/", "http://localhost:9999"],
)
def test_unregistered_redirect_gets_an_html_error_page(anon: httpx.Client, redirect: str) -> None:
    r = _authorize(anon, _pkce()[1], redirect_uri=redirect)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert f"redirect_uri &#x27;{redirect}&#x27; not registered for OAuth application" in r.text
    assert "location" not in r.headers


def test_unknown_client_is_not_available(emulator: Emulator, anon: httpx.Client) -> None:
    r = _authorize(anon, _pkce()[1], client_id=emulator.client_id)
    assert r.status_code == 400
    assert "OAuth application not available" in r.text


def test_authorize_errors_go_back_on_the_redirect(anon: httpx.Client) -> None:
    r = _authorize(anon, _pkce()[1], response_type="token")
    assert r.status_code == 302
    assert _query(r) == {
        "error": "unsupported_response_type",
        "error_description": "response_type must be 'code'",
        "state": "st-123",
    }
    r = _authorize(anon, _pkce()[1], code_challenge_method="plain")
    assert _query(r)["error"] == "invalid_request"
    r = _authorize(anon, "", code_challenge="")
    assert _query(r)["error"] == "invalid_request"


def test_code_exchange_refresh_and_rotation(emulator: Emulator, anon: httpx.Client) -> None:
    body = _login(anon)
    assert body["scope"] == "all-apis offline_access"
    assert isinstance(body["refresh_token"], str)
    claims = _jwt_payload(str(body["access_token"]))
    assert claims["client_id"] == "databricks-cli"
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": "databricks-cli",
    }
    second = anon.post("/oidc/v1/token", data=refresh)
    assert second.status_code == 200
    assert second.json()["refresh_token"] != body["refresh_token"]
    assert second.json()["access_token"] != body["access_token"]
    reused = anon.post("/oidc/v1/token", data=refresh)
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant", "error_description": "Refresh token is invalid"}
    assert emulator.token_requests.by_grant_type() == {"authorization_code": 1, "refresh_token": 2}


@pytest.mark.emulator_config(rotate_refresh_tokens=False)
def test_refresh_tokens_can_be_reusable(anon: httpx.Client) -> None:
    body = _login(anon)
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": "databricks-cli",
    }
    assert anon.post("/oidc/v1/token", data=refresh).status_code == 200
    assert anon.post("/oidc/v1/token", data=refresh).status_code == 200


def test_no_refresh_token_without_offline_access(anon: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _query(_authorize(anon, challenge, scope="all-apis"))["code"]
    body = anon.post(
        "/oidc/v1/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": CLI_REDIRECT,
            "client_id": "databricks-cli",
        },
    ).json()
    assert "refresh_token" not in body


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"code_verifier": "x" * 64}, "PKCE verification failed: code_verifier does not match"),
        ({"redirect_uri": "http://localhost:8020/"}, "redirect_uri does not match the authorization request"),
        ({"code": "dcode-unknown"}, "Authorization code is invalid, expired or already used"),
    ],
)
def test_code_exchange_failures(anon: httpx.Client, change: dict[str, str], description: str) -> None:
    verifier, challenge = _pkce()
    code = _query(_authorize(anon, challenge))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": CLI_REDIRECT,
        "client_id": "databricks-cli",
        **change,
    }
    r = anon.post("/oidc/v1/token", data=form)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "invalid_grant", "error_description": description}


def test_codes_are_single_use(anon: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _query(_authorize(anon, challenge))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": CLI_REDIRECT,
        "client_id": "databricks-cli",
    }
    assert anon.post("/oidc/v1/token", data=form).status_code == 200
    again = anon.post("/oidc/v1/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_codes_expire_after_ten_minutes(emulator: Emulator, anon: httpx.Client) -> None:
    verifier, challenge = _pkce()
    code = _query(_authorize(anon, challenge))["code"]
    emulator.clock.advance(601)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": CLI_REDIRECT,
        "client_id": "databricks-cli",
    }
    assert anon.post("/oidc/v1/token", data=form).status_code == 400


CUSTOM = OAuthApp("corp-app", ("http://localhost:7777/callback",), client_secret="corp-secret")


@pytest.mark.emulator_config(oauth_apps=[CUSTOM])
def test_confidential_custom_app_requires_its_secret(anon: httpx.Client) -> None:
    redirect = "http://localhost:7777/callback"
    assert _authorize(anon, "x", client_id="corp-app", redirect_uri=CLI_REDIRECT).status_code == 400
    verifier, challenge = _pkce()
    code = _query(_authorize(anon, challenge, client_id="corp-app", redirect_uri=redirect))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect,
        "client_id": "corp-app",
    }
    missing = anon.post("/oidc/v1/token", data=form)
    assert missing.status_code == 401
    assert missing.json()["error"] == "invalid_client"
    ok = anon.post("/oidc/v1/token", data={**form, "client_secret": "corp-secret"})
    assert ok.status_code == 200, ok.text


@pytest.mark.emulator_config(consent=True)
def test_consent_page_allow_and_deny(anon: httpx.Client) -> None:
    page = _authorize(anon, _pkce()[1])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'value="allow"' in page.text
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    allowed = anon.post("/oidc/v1/authorize", data={"txn": txn.group(1), "decision": "allow"})
    assert allowed.status_code == 302
    assert set(_query(allowed)) == {"code", "state"}
    page = _authorize(anon, _pkce()[1])
    txn = re.search(r'name="txn" value="([^"]+)"', page.text)
    assert txn is not None
    denied = anon.post("/oidc/v1/authorize", data={"txn": txn.group(1), "decision": "deny"})
    assert _query(denied)["error"] == "access_denied"
    stale = anon.post("/oidc/v1/authorize", data={"txn": txn.group(1), "decision": "allow"})
    assert stale.status_code == 400
