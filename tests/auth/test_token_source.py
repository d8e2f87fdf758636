"""The refreshing token source (F1, F3): early refresh on the wall clock, single flight."""

from __future__ import annotations

import asyncio

import pytest
from auth_helpers import CountingFetcher, make_jwt

from lakecode.databricks.auth.identity import AuthIdentity
from lakecode.databricks.auth.token_source import (
    RefreshingTokenSource,
    Token,
    TokenSourceRegistry,
    jwt_claims,
)
from lakecode.testing.fakes import FakeClock

IDENT = AuthIdentity("https://h.cloud.databricks.com", "oauth-m2m", client_id="c", scopes=("all-apis",))


def test_token_repr_hides_secrets() -> None:
    token = Token("secret-access-token-123", expires_at=10.0, refresh_token="secret-refresh-456")
    text = repr(token) + str(token)
    assert "secret-access" not in text and "secret-refresh" not in text
    assert token.fingerprint in text


def test_expiry_from_expires_in_string_and_jwt_exp_whichever_is_earlier() -> None:
    now = 1_000_000.0
    token = Token.from_oauth_response({"access_token": "abc", "expires_in": "3600"}, now=now)
    assert token.expires_at == now + 3600 and token.obtained_at == now
    jwt = make_jwt(now + 60, scope="all-apis")
    token = Token.from_oauth_response({"access_token": jwt, "expires_in": 3600, "scope": "all-apis"}, now=now)
    assert token.expires_at == now + 60
    assert token.scopes == ("all-apis",)
    assert jwt_claims(jwt) == {"exp": int(now + 60), "scope": "all-apis"}
    assert jwt_claims("not-a-jwt") is None


def test_refresh_keeps_the_previous_refresh_token_when_none_comes_back() -> None:
    token = Token.from_oauth_response({"access_token": "a", "expires_in": 10}, now=0,
                                      previous_refresh_token="rt-1")
    assert token.refresh_token == "rt-1"
    token = Token.from_oauth_response({"access_token": "a", "refresh_token": "rt-2"}, now=0,
                                      previous_refresh_token="rt-1")
    assert token.refresh_token == "rt-2" and token.expires_at is None


@pytest.mark.parametrize(("ttl", "margin"), [(3600, 300), (600, 300), (5, 2.5), (60, 30)])
def test_refresh_margin_is_five_minutes_or_half_the_lifetime(ttl: float, margin: float) -> None:
    assert Token("x", expires_at=100 + ttl, obtained_at=100).refresh_margin() == margin


async def test_token_is_reused_until_the_margin_then_refreshed_once() -> None:
    clock = FakeClock()
    fetcher = CountingFetcher(clock, ttl=3600)
    source = RefreshingTokenSource(IDENT, fetcher, clock=clock)
    first = await source.token()
    clock.advance(3600 - 301)
    assert await source.token() is first
    clock.advance(2)  # now inside the 5-minute margin: the old token is never sent again
    second = await source.token()
    assert second.access_token != first.access_token
    assert fetcher.calls == 2


async def test_a_token_read_at_start_is_replaced_after_61_minutes() -> None:
    """F1: the request at t+61 min carries a different bearer."""
    clock = FakeClock()
    source = RefreshingTokenSource(IDENT, CountingFetcher(clock, ttl=3600), clock=clock)
    first = await source.token()
    clock.advance(61 * 60)
    later = await source.token()
    assert later.access_token != first.access_token
    assert later.is_fresh(clock.time())


async def test_200_concurrent_callers_at_expiry_cause_one_fetch() -> None:
    clock = FakeClock()
    fetcher = CountingFetcher(clock, ttl=60)

    class SlowFetcher:
        async def fetch(self, current: Token | None) -> Token:
            await asyncio.sleep(0.01)  # real yield so that every caller queues on the lock
            return await fetcher.fetch(current)

    source = RefreshingTokenSource(IDENT, SlowFetcher(), clock=clock)
    await source.token()
    clock.advance(61)
    tokens = await asyncio.gather(*(source.token() for _ in range(200)))
    assert fetcher.calls == 2
    assert {t.access_token for t in tokens} == {fetcher.issued[-1]}


async def test_refresh_after_rejection_is_single_flight_too() -> None:
    clock = FakeClock()
    fetcher = CountingFetcher(clock)
    source = RefreshingTokenSource(IDENT, fetcher, clock=clock)
    rejected = await source.token()
    tokens = await asyncio.gather(*(source.refresh(rejected=rejected) for _ in range(50)))
    assert fetcher.calls == 2
    assert len({t.access_token for t in tokens}) == 1
    # A forced refresh without a rejected token always fetches.
    await source.refresh()
    assert fetcher.calls == 3


def test_sync_callers_get_tokens_too() -> None:
    clock = FakeClock()
    fetcher = CountingFetcher(clock, ttl=100)
    source = RefreshingTokenSource(IDENT, fetcher, clock=clock)
    first = source.token_sync()
    assert source.token_sync() is first
    clock.advance(100)
    assert source.token_sync().access_token != first.access_token
    assert fetcher.calls == 2


def test_relogin_hint_names_host_and_profile() -> None:
    ident = AuthIdentity("https://h.com", "databricks-cli", profile="dev")
    source = RefreshingTokenSource(ident, CountingFetcher(FakeClock()))
    assert source.relogin_hint == (
        "Run `lakecode auth login --host https://h.com --profile dev` to sign in again.")


def test_registry_shares_one_source_per_identity() -> None:
    reg = TokenSourceRegistry()
    clock = FakeClock()
    made: list[RefreshingTokenSource] = []

    def factory() -> RefreshingTokenSource:
        made.append(RefreshingTokenSource(IDENT, CountingFetcher(clock), clock=clock))
        return made[-1]

    a = reg.get_or_create(IDENT, factory, fingerprint="f1")
    b = reg.get_or_create(AuthIdentity(IDENT.host, "oauth-m2m", client_id="c", scopes=("all-apis",)),
                          factory, fingerprint="f1")
    assert a is b and len(made) == 1
    c = reg.get_or_create(IDENT, factory, fingerprint="f2")  # a new credential: a new source
    assert c is not a and reg.get(IDENT) is c
    reg.discard_host(IDENT.host)
    assert reg.get(IDENT) is None


def test_identity_key_is_stable_and_scope_order_free() -> None:
    a = AuthIdentity("https://h", "external-browser", "databricks-cli", None, ("offline_access", "all-apis"))
    b = AuthIdentity("https://h", "external-browser", "databricks-cli", None, ("all-apis", "offline_access"))
    assert a == b and a.key == b.key and len(a.key) == 64
    assert a.key != AuthIdentity("https://h", "external-browser", "databricks-cli", "p", a.scopes).key
