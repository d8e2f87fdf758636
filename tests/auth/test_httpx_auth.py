"""BearerAuth: a bearer on every request, refresh-and-retry-once on invalid tokens (F1-F4)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
from auth_helpers import CountingFetcher

from lakecode.databricks.auth.httpx_auth import BearerAuth
from lakecode.databricks.auth.identity import AuthIdentity
from lakecode.databricks.auth.token_source import RefreshingTokenSource, Token
from lakecode.errors import AuthenticationError, PermissionDeniedError
from lakecode.llm.errors import error_from_response
from lakecode.testing.fakes import FakeClock

HOST = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"
IDENT = AuthIdentity(HOST, "external-browser", client_id="databricks-cli", profile="dev")

Rejection = Callable[[], httpx.Response]
REJECTIONS: dict[str, Rejection] = {
    "401": lambda: httpx.Response(401, json={"error_code": "UNAUTHENTICATED", "message": "Invalid Token"}),
    "401-empty": lambda: httpx.Response(401),
    "403-invalid-token": lambda: httpx.Response(403, text="Invalid Token"),
    "403-invalid-access-token": lambda: httpx.Response(
        403, json={"error_code": "PERMISSION_DENIED", "message": "Invalid access token."}),
    "400-invalid-token": lambda: httpx.Response(
        400, json={"error_code": "BAD_REQUEST", "message": "Invalid Token"}),
}


class Server:
    """A MockTransport handler that rejects the first ``reject`` tokens it sees."""

    def __init__(self, rejection: Rejection | None = None, *, accept: set[str] | None = None) -> None:
        self.rejection = rejection
        self.accept = accept
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.rejection is not None and (self.accept is None or bearer not in self.accept):
            return self.rejection()
        return httpx.Response(200, json={"ok": True, "body": request.content.decode()})


def _source(clock: FakeClock, ttl: float = 3600) -> tuple[RefreshingTokenSource, CountingFetcher]:
    fetcher = CountingFetcher(clock, ttl=ttl)
    return RefreshingTokenSource(IDENT, fetcher, clock=clock), fetcher


@pytest.mark.parametrize("kind", sorted(REJECTIONS))
async def test_invalid_token_answers_cause_one_refresh_and_one_retry(kind: str) -> None:
    clock = FakeClock()
    source, fetcher = _source(clock)
    first = await source.token()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] == f"Bearer {first.access_token}":
            return REJECTIONS[kind]()
        return httpx.Response(200, json={"body": request.content.decode()})

    async with httpx.AsyncClient(base_url=HOST, auth=BearerAuth(source),
                                 transport=httpx.MockTransport(handler)) as client:
        response = await client.post("/serving-endpoints/chat/completions", json={"model": "m"})
    assert response.status_code == 200
    assert json.loads(response.json()["body"]) == {"model": "m"}  # the body is replayed intact
    assert fetcher.calls == 2  # the first token, then exactly one refresh
    assert seen == [f"Bearer {first.access_token}", f"Bearer {fetcher.issued[-1]}"]


async def test_permission_denied_never_refreshes() -> None:
    clock = FakeClock()
    source, fetcher = _source(clock)
    server = Server(lambda: httpx.Response(
        403, json={"error_code": "PERMISSION_DENIED", "message": "User does not have CAN_QUERY on x"}))
    async with httpx.AsyncClient(base_url=HOST, auth=BearerAuth(source),
                                 transport=httpx.MockTransport(server)) as client:
        response = await client.get("/api/2.0/serving-endpoints")
    assert response.status_code == 403
    assert fetcher.calls == 1 and len(server.seen) == 1
    assert isinstance(error_from_response(response), PermissionDeniedError)


async def test_still_rejected_after_refresh_raises_with_a_relogin_hint() -> None:
    clock = FakeClock()
    source, fetcher = _source(clock)
    server = Server(REJECTIONS["401"])
    async with httpx.AsyncClient(base_url=HOST, auth=BearerAuth(source),
                                 transport=httpx.MockTransport(server)) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get("/api/2.0/serving-endpoints")
    assert len(server.seen) == 2 and fetcher.calls == 2
    assert info.value.hint == f"Run `lakecode auth login --host {HOST} --profile dev` to sign in again."
    assert HOST in info.value.message


async def test_a_token_that_cannot_change_is_not_retried() -> None:
    class Pat:
        async def fetch(self, current: Token | None) -> Token:
            return Token("dapi" + "0" * 32)

    source = RefreshingTokenSource(AuthIdentity(HOST, "pat"), Pat(), relogin_hint="make a new PAT")
    server = Server(REJECTIONS["403-invalid-token"])
    async with httpx.AsyncClient(base_url=HOST, auth=BearerAuth(source),
                                 transport=httpx.MockTransport(server)) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.get("/x")
    assert len(server.seen) == 1
    assert info.value.hint == "make a new PAT"
    assert "dapi" not in info.value.describe()


async def test_bearer_on_every_route_and_never_x_api_key() -> None:
    """F4: Authorization: Bearer on every route; an x-api-key header is removed."""
    clock = FakeClock()
    source, _ = _source(clock)
    server = Server()
    routes = ["/serving-endpoints/chat/completions", "/ai-gateway/mlflow/v1/chat/completions",
              "/serving-endpoints/anthropic/v1/messages", "/ai-gateway/anthropic/v1/messages",
              "/ai-gateway/gemini/v1beta/models/m:generateContent", "/api/2.0/serving-endpoints"]
    async with httpx.AsyncClient(base_url=HOST, auth=BearerAuth(source),
                                 transport=httpx.MockTransport(server)) as client:
        for route in routes:
            await client.post(route, json={}, headers={"x-api-key": "placeholder"})
    token = source.cached()
    assert token is not None
    for request in server.seen:
        assert request.headers["authorization"] == f"Bearer {token.access_token}"
        assert "x-api-key" not in request.headers


async def test_500_requests_over_many_expiries_never_send_a_stale_token() -> None:
    clock = FakeClock()
    source, fetcher = _source(clock, ttl=5)
    live: dict[str, float] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        bearer = request.headers["authorization"].removeprefix("Bearer ")
        if clock.time() >= live[bearer]:
            return httpx.Response(401, text="Invalid Token")
        return httpx.Response(200, json={})

    original = fetcher.fetch

    async def recording_fetch(current: Token | None) -> Token:
        token = await original(current)
        assert token.expires_at is not None
        live[token.access_token] = token.expires_at
        return token

    fetcher.fetch = recording_fetch  # type: ignore[method-assign]
    async with httpx.AsyncClient(base_url=HOST, auth=BearerAuth(source),
                                 transport=httpx.MockTransport(handler)) as client:
        for _ in range(500):
            response = await client.get("/x")
            assert response.status_code == 200
            clock.advance(0.1)
    # 50 s of 5 s tokens refreshed at half-life: one token per 2.5 s.
    assert fetcher.calls == 20


async def test_200_concurrent_requests_at_expiry_refresh_once() -> None:
    clock = FakeClock()
    source, fetcher = _source(clock, ttl=60)

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(base_url=HOST, auth=BearerAuth(source),
                                 transport=httpx.MockTransport(handler)) as client:
        await client.get("/x")
        clock.advance(60)
        responses = await asyncio.gather(*(client.get("/x") for _ in range(200)))
    assert all(r.status_code == 200 for r in responses)
    assert fetcher.calls == 2


def test_sync_client_refreshes_and_retries_too() -> None:
    clock = FakeClock()
    source, fetcher = _source(clock)
    accepted: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        bearer = request.headers["authorization"].removeprefix("Bearer ")
        if fetcher.calls >= 2:
            accepted.add(fetcher.issued[-1])
        return httpx.Response(200) if bearer in accepted else httpx.Response(401)

    transport = httpx.MockTransport(handler)
    with httpx.Client(base_url=HOST, auth=BearerAuth(source), transport=transport) as client:
        assert client.get("/x").status_code == 200
    assert fetcher.calls == 2
