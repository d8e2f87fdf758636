"""Credentials on API routes: bearer, basic token:PAT, x-api-key, invalid-token styles."""

from __future__ import annotations

import httpx
import pytest

from lakecode.emulator import Emulator

LIST = "/api/2.0/serving-endpoints"
CHAT = "/serving-endpoints/chat/completions"
BODY = {"model": "databricks-gpt-5-2", "messages": [{"role": "user", "content": "hi"}]}


def test_basic_token_pat_is_accepted(emulator: Emulator, anon: httpx.Client) -> None:
    r = anon.get(LIST, auth=("token", emulator.pat))
    assert r.status_code == 200
    rec = emulator.requests[-1]
    assert rec.auth_kind == "basic"
    assert rec.token_id == Emulator.token_id(emulator.pat)


def test_basic_with_another_user_is_rejected(emulator: Emulator, anon: httpx.Client) -> None:
    r = anon.get(LIST, auth=("admin", emulator.pat))
    assert r.status_code == 401
    assert r.json() == {"error_code": "UNAUTHENTICATED", "message": "Invalid Token"}


def test_no_credential(emulator: Emulator, anon: httpx.Client) -> None:
    r = anon.post(CHAT, json=BODY)
    assert r.status_code == 401
    assert r.json() == {
        "error_code": "UNAUTHENTICATED",
        "message": "Credential was not sent or was of an unsupported type for this API.",
    }
    assert emulator.requests[-1].auth_kind == "none"


@pytest.mark.parametrize("path", [LIST, CHAT, "/ai-gateway/mlflow/v1/chat/completions"])
def test_x_api_key_alone_is_not_a_credential(emulator: Emulator, anon: httpx.Client, path: str) -> None:
    emulator.set_invalid_token_style("403")
    r = anon.request(
        "GET" if path == LIST else "POST",
        path,
        headers={"x-api-key": emulator.pat},
        json=None if path == LIST else BODY,
    )
    assert r.status_code == 403
    assert r.json() == {"error_code": "PERMISSION_DENIED", "message": "Invalid Token"}
    rec = emulator.requests[-1]
    assert rec.auth_kind == "x-api-key-only"
    assert rec.headers["x-api-key"] == "<redacted>"
    assert emulator.pat not in repr(rec)


@pytest.mark.parametrize(
    ("style", "status", "body"),
    [
        ("401", 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid Token"}),
        ("403", 403, {"error_code": "PERMISSION_DENIED", "message": "Invalid Token"}),
        ("400", 400, {"error_code": "BAD_REQUEST", "message": "Invalid Token"}),
        ("403-access", 403, {"error_code": "PERMISSION_DENIED", "message": "Invalid access token."}),
    ],
)
def test_expired_token_styles(
    emulator: Emulator, anon: httpx.Client, style: str, status: int, body: dict[str, str]
) -> None:
    emulator.set_invalid_token_style(style)  # type: ignore[arg-type]
    token = emulator.mint_token()
    headers = {"Authorization": f"Bearer {token}"}
    assert anon.post(CHAT, headers=headers, json=BODY).status_code == 200
    assert emulator.expire_all_tokens() == 1
    r = anon.post(CHAT, headers=headers, json=BODY)
    assert (r.status_code, r.json()) == (status, body)
    assert r.headers["content-type"] == "application/json"


def test_unknown_token_is_rejected(anon: httpx.Client) -> None:
    r = anon.get(LIST, headers={"Authorization": "Bearer dapi" + "0" * 32})
    assert r.status_code == 401


def test_invalid_style_value_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="style must be one of"):
        emulator.set_invalid_token_style("500")  # type: ignore[arg-type]


def test_expire_all_tokens_keeps_pats_unless_asked(emulator: Emulator, client: httpx.Client) -> None:
    emulator.expire_all_tokens()
    assert client.get(LIST).status_code == 200
    emulator.expire_all_tokens(include_pats=True)
    assert client.get(LIST).status_code == 401


def test_revoke(emulator: Emulator, anon: httpx.Client) -> None:
    token = emulator.mint_token()
    assert emulator.revoke(token) is True
    assert anon.get(LIST, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert emulator.revoke("never-issued") is False


def test_clock_advance_expires_oauth_tokens(emulator: Emulator, anon: httpx.Client) -> None:
    token = emulator.mint_token(ttl=60)
    headers = {"Authorization": f"Bearer {token}"}
    emulator.clock.advance(59)
    assert anon.get(LIST, headers=headers).status_code == 200
    emulator.clock.advance(1)
    assert anon.get(LIST, headers=headers).status_code == 401


def test_permission_denied_is_not_an_auth_failure(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.add("permission_denied", endpoint="databricks-gpt-5-2")
    r = client.post(CHAT, json=BODY)
    assert r.status_code == 403
    assert r.json() == {
        "error_code": "PERMISSION_DENIED",
        "message": "User does not have permission 'CAN_QUERY' on endpoint databricks-gpt-5-2.",
    }
    assert "invalid" not in r.text.lower()
    assert client.post(CHAT, json=BODY).status_code == 200


def test_every_api_route_requires_auth(anon: httpx.Client) -> None:
    for method, path in [
        ("GET", LIST),
        ("GET", "/api/2.0/serving-endpoints:foundation-models"),
        ("GET", "/api/2.0/serving-endpoints/databricks-gpt-5-2"),
        ("GET", "/api/2.1/unity-catalog/model-services?page_size=10"),
        ("GET", "/api/ai-gateway/v2/endpoints"),
        ("GET", "/ai-gateway/anthropic/v1/models"),
        ("GET", "/ai-gateway/codex/v1/models"),
        ("POST", CHAT),
        ("POST", "/serving-endpoints/databricks-gpt-5-2/invocations"),
        ("POST", "/serving-endpoints/responses"),
        ("POST", "/serving-endpoints/embeddings"),
        ("POST", "/ai-gateway/mlflow/v1/chat/completions"),
        ("GET", "/api/2.0/clusters/list"),
    ]:
        r = anon.request(method, path, json=BODY if method == "POST" else None)
        assert r.status_code == 401, (method, path, r.status_code)
