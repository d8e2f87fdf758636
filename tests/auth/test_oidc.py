"""OIDC discovery and token requests (unit tests with MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from lakecode.databricks.auth.oidc import discover, request_token
from lakecode.errors import APIConnectionError, AuthError, ServerError, WrongHostError
from lakecode.testing.fakes import FakeClock

HOST = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"


def client(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler, follow_redirects=False)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"authorization_endpoint": f"{HOST}/oidc/v1/authorize", "token_endpoint": f"{HOST}/oidc/v1/token"},
         (f"{HOST}/oidc/v1/authorize", f"{HOST}/oidc/v1/token")),
        ({"authorization_endpoint": f"{HOST}/oidc/accounts/1/v1/authorize",
          "token_endpoint": f"{HOST}:443/oidc/accounts/1/v1/token"},
         (f"{HOST}/oidc/accounts/1/v1/authorize", f"{HOST}:443/oidc/accounts/1/v1/token")),
        ({"authorization_endpoint": "https://evil.example.com/authorize",
          "token_endpoint": "https://evil.example.com/token"},
         (f"{HOST}/oidc/v1/authorize", f"{HOST}/oidc/v1/token")),
        ({"token_endpoint": 42}, (f"{HOST}/oidc/v1/authorize", f"{HOST}/oidc/v1/token")),
    ],
    ids=["workspace", "unified-host", "foreign-host-ignored", "garbage"],
)
async def test_discovery_only_trusts_endpoints_on_the_workspace(document: dict[str, object],
                                                                 expected: tuple[str, str]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=document)

    async with client(httpx.MockTransport(handler)) as http:
        found = await discover(f"{HOST}/ai-gateway/mlflow/v1", http)
    assert (found.authorization_endpoint, found.token_endpoint) == expected
    assert seen == [f"{HOST}/oidc/.well-known/oauth-authorization-server"]


async def test_discovery_404_falls_back_and_a_login_page_is_a_wrong_host() -> None:
    async with client(httpx.MockTransport(lambda r: httpx.Response(404, json={}))) as http:
        found = await discover(HOST, http)
    assert found.token_endpoint == f"{HOST}/oidc/v1/token"
    login = httpx.MockTransport(lambda r: httpx.Response(303, headers={"location": "/login"}))
    async with client(login) as http:
        with pytest.raises(WrongHostError):
            await discover(HOST, http)


async def test_token_request_shapes_and_errors() -> None:
    bodies: list[tuple[str, str | None]] = []
    answers = iter([
        httpx.Response(200, json={"access_token": "a" * 20, "expires_in": "3600", "token_type": "Bearer"}),
        httpx.Response(401, json={"error": "invalid_client",
                                  "error_description": "Client authentication failed"}),
        httpx.Response(503, text="busy"),
        httpx.Response(200, json={"token_type": "Bearer"}),
    ])

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append((request.content.decode(), request.headers.get("authorization")))
        return next(answers)

    clock = FakeClock(1000.0)
    kw = {"clock": clock, "host": HOST, "relogin_hint": "sign in again", "client_id": "id",
          "client_secret": "s3cret-value", "scope": "all-apis"}
    async with client(httpx.MockTransport(handler)) as http:
        token = await request_token(http, f"{HOST}/oidc/v1/token", "client_credentials", **kw)  # type: ignore[arg-type]
        assert token.expires_at == 1000.0 + 3600
        with pytest.raises(AuthError) as info:
            await request_token(http, f"{HOST}/oidc/v1/token", "client_credentials", **kw)  # type: ignore[arg-type]
        assert info.value.message == (f"{HOST} refused the sign-in (client_credentials): invalid_client: "
                                      "Client authentication failed")
        assert info.value.hint == "sign in again"
        with pytest.raises(ServerError):
            await request_token(http, f"{HOST}/oidc/v1/token", "client_credentials", **kw)  # type: ignore[arg-type]
        with pytest.raises(AuthError) as info:
            await request_token(http, f"{HOST}/oidc/v1/token", "client_credentials", **kw)  # type: ignore[arg-type]
        assert "without an access token" in info.value.message
    assert bodies[0] == ("grant_type=client_credentials&scope=all-apis", "Basic aWQ6czNjcmV0LXZhbHVl")


async def test_unreachable_token_endpoint_is_a_connection_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(httpx.MockTransport(handler)) as http:
        with pytest.raises(APIConnectionError) as info:
            await request_token(http, f"{HOST}/oidc/v1/token", "client_credentials", clock=FakeClock(),
                                host=HOST, relogin_hint="")
    assert info.value.message == f"Could not reach {HOST}: refused"
