"""Every sign-in method against the workspace emulator; refresh under load and faults (F1-F4, F8, F9)."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest
from auth_helpers import EmulatorClockAdapter
from pydantic import SecretStr

from lakecode.config.settings import DatabricksSettings
from lakecode.databricks.auth.login import login_with_m2m, login_with_pat, verify
from lakecode.databricks.auth.resolve import ResolvedAuth, resolve_auth
from lakecode.databricks.auth.token_source import TokenSourceRegistry
from lakecode.emulator import Emulator
from lakecode.errors import AuthenticationError, AuthError, PermissionDeniedError, WrongHostError
from lakecode.llm.errors import error_from_response

LIST = "/api/2.0/serving-endpoints"


def m2m(emu: Emulator, host: str | None = None, **kw: object) -> ResolvedAuth:
    settings = DatabricksSettings(host=host or emu.url, auth_type="oauth-m2m", client_id=emu.client_id)
    return resolve_auth(settings, secrets={"client_secret": SecretStr(emu.client_secret)},
                        token_registry=TokenSourceRegistry(), **kw)  # type: ignore[arg-type]


def client(resolved: ResolvedAuth) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=resolved.host, auth=resolved.auth, follow_redirects=False)


async def test_pat_signs_in_and_sends_the_bearer(emulator: Emulator) -> None:
    result = await login_with_pat(emulator.url, SecretStr(emulator.pat), token_registry=TokenSourceRegistry())
    assert result.settings.auth_type == "pat" and result.settings.host == emulator.url
    async with client(result.resolved) as http:
        assert (await http.get(LIST)).status_code == 200
    last = emulator.requests[-1]
    assert last.auth_kind == "bearer" and last.token_id == emulator.token_id(emulator.pat)
    assert "x-api-key" not in last.headers
    assert len(emulator.token_requests) == 0


async def test_m2m_signs_in_mints_once_and_reuses_the_token(emulator: Emulator) -> None:
    result = await login_with_m2m(emulator.url, emulator.client_id, SecretStr(emulator.client_secret),
                                  token_registry=TokenSourceRegistry())
    assert result.settings.client_id == emulator.client_id
    async with client(result.resolved) as http:
        for _ in range(5):
            assert (await http.get(LIST)).status_code == 200
    assert emulator.token_requests.by_grant_type() == {"client_credentials": 1}
    token_calls = [r for r in emulator.requests if r.path.endswith("/oidc/v1/token")]
    assert [(r.path, r.form and r.form.get("scope")) for r in token_calls] == [("/oidc/v1/token", "all-apis")]
    assert token_calls[0].auth_kind == "basic"
    assert token_calls[0].header("user-agent", ).startswith("lakecode/")  # type: ignore[union-attr]


@pytest.mark.parametrize("suffix", ["/ai-gateway/mlflow/v1", "/ai-gateway/mlflow/v1/", "/serving-endpoints",
                                    "/serving-endpoints/", "/", "//", ""])
async def test_token_url_is_at_the_origin_for_every_base(emulator: Emulator, suffix: str) -> None:
    """F8: POST /oidc/v1/token at the root path, whatever base path was configured."""
    resolved = m2m(emulator, host=emulator.url + suffix)
    assert resolved.host == emulator.url
    async with client(resolved) as http:
        assert (await http.post("/serving-endpoints/chat/completions", json={
            "model": "databricks-meta-llama-3-3-70b-instruct",
            "messages": [{"role": "user", "content": "hi"}]})).status_code == 200
    paths = [r.path for r in emulator.requests if "oidc" in r.path]
    assert paths == ["/oidc/.well-known/oauth-authorization-server", "/oidc/v1/token"]


@pytest.mark.emulator_config(token_ttl=5)
async def test_500_requests_over_many_5s_expiries_never_fail(emulator: Emulator) -> None:
    """F1/F3: tokens re-minted at half-life on the wall clock; zero failures."""
    emulator.clock.freeze()
    emulator.clock.advance(math.ceil(emulator.clock.time()) - emulator.clock.time())  # whole seconds
    resolved = m2m(emulator, clock=EmulatorClockAdapter(emulator.clock))
    statuses = []
    async with client(resolved) as http:
        for _ in range(500):
            statuses.append((await http.get(LIST)).status_code)
            emulator.clock.advance(0.5)
    assert statuses == [200] * 500
    # 250 s of emulated time (50 token lifetimes). Each token is replaced half-way through its
    # lifetime: the emulator truncates exp to whole seconds, so a token minted at t=2.5 lives
    # until t=7 and is replaced at t=4.75 -> next request t=5. One mint per 2.5 s: 100 in all.
    assert emulator.token_requests.count("client_credentials") == 100
    assert all(r.status == 200 for r in emulator.requests if r.path == LIST)


@pytest.mark.emulator_config(token_ttl=5)
async def test_200_concurrent_requests_at_expiry_cause_one_refresh(emulator: Emulator) -> None:
    emulator.clock.freeze()
    resolved = m2m(emulator, clock=EmulatorClockAdapter(emulator.clock))
    async with client(resolved) as http:
        assert (await http.get(LIST)).status_code == 200
        emulator.clock.advance(5)  # the token is now expired, client- and server-side
        responses = await asyncio.gather(*(http.get(LIST) for _ in range(200)))
    assert [r.status_code for r in responses] == [200] * 200
    assert emulator.token_requests.count("client_credentials") == 2
    tokens = {r.token_id for r in emulator.requests if r.path == LIST}
    assert len(tokens) == 2  # the first request's token, then one new token for all 200


@pytest.mark.parametrize("style", ["401", "403", "400", "403-access"])
async def test_invalid_token_styles_recover_with_one_refresh_and_one_retry(emulator: Emulator,
                                                                           style: str) -> None:
    """F2: 401, 403 'Invalid Token', 400 'Invalid Token' all refresh once and retry once."""
    emulator.set_invalid_token_style(style)  # type: ignore[arg-type]
    resolved = m2m(emulator)
    async with client(resolved) as http:
        assert (await http.get(LIST)).status_code == 200
        emulator.expire_all_tokens()  # server-side: the client still believes its token is fresh
        emulator.clear_requests()
        response = await http.get(LIST)
    assert response.status_code == 200
    expected = {"401": 401, "403": 403, "400": 400, "403-access": 403}[style]
    calls = [(r.path, r.status) for r in emulator.requests]
    assert calls == [(LIST, expected), ("/oidc/v1/token", 200), (LIST, 200)]
    assert emulator.token_requests.count("client_credentials") == 2


async def test_permission_denied_makes_no_token_call(emulator: Emulator) -> None:
    resolved = m2m(emulator)
    async with client(resolved) as http:
        assert (await http.get(LIST)).status_code == 200
        emulator.faults.add(kind="permission_denied", path=LIST)
        response = await http.get(LIST)
    assert response.status_code == 403
    assert isinstance(error_from_response(response), PermissionDeniedError)
    assert emulator.token_requests.count() == 1


async def test_revoked_pat_asks_to_sign_in_again_naming_the_host(emulator: Emulator) -> None:
    resolved = resolve_auth(DatabricksSettings(host=emulator.url, auth_type="pat"),
                            secrets={"pat": SecretStr(emulator.pat)}, token_registry=TokenSourceRegistry())
    emulator.revoke(emulator.pat)
    with pytest.raises(AuthenticationError) as info:
        await verify(resolved)
    assert emulator.url in info.value.message
    assert info.value.hint is not None and f"--host {emulator.url}" in info.value.hint
    assert emulator.pat not in info.value.describe()


async def test_a_refused_m2m_secret_is_an_auth_error_with_a_relogin_hint(emulator: Emulator) -> None:
    settings = DatabricksSettings(host=emulator.url, auth_type="oauth-m2m", client_id=emulator.client_id)
    resolved = resolve_auth(settings, secrets={"client_secret": SecretStr("dose" + "0" * 32)},
                            token_registry=TokenSourceRegistry())
    with pytest.raises(AuthError) as info:
        await verify(resolved)
    assert info.value.message.startswith(f"{emulator.url} refused the sign-in (client_credentials): ")
    assert "invalid_client" in info.value.message
    assert info.value.hint is not None and "--auth-type oauth-m2m" in info.value.hint


@pytest.mark.parametrize("html", [False, True])
async def test_a_login_redirect_is_reported_as_a_wrong_host(emulator: Emulator, html: bool) -> None:
    """F9: a 303 to /login (empty or HTML body) is a wrong host, never followed, never 'not enabled'."""
    emulator.faults.redirect_login(html=html, count=None)
    for resolved in (resolve_auth(DatabricksSettings(host=emulator.url, auth_type="pat"),
                                  secrets={"pat": SecretStr(emulator.pat)},
                                  token_registry=TokenSourceRegistry()), m2m(emulator)):
        with pytest.raises(WrongHostError) as info:
            await verify(resolved)
        assert info.value.message.startswith(f"{emulator.url} does not look like a workspace API host")
        assert "not enabled" not in info.value.describe()
    assert not [r for r in emulator.requests if r.path.startswith("/login")]


@pytest.mark.emulator_config(strict=False)
async def test_every_route_gets_the_current_bearer_and_no_x_api_key(emulator: Emulator) -> None:
    """F4: the request log shows Authorization == Bearer <current token>, never x-api-key."""
    resolved = m2m(emulator)
    chat = {"model": "databricks-meta-llama-3-3-70b-instruct",
            "messages": [{"role": "user", "content": "hi"}]}
    routes = [("GET", LIST, None), ("GET", "/api/2.0/serving-endpoints:foundation-models", None),
              ("POST", "/serving-endpoints/chat/completions", chat),
              ("POST", "/ai-gateway/mlflow/v1/chat/completions", chat),
              ("POST", "/serving-endpoints/databricks-meta-llama-3-3-70b-instruct/invocations",
               {"messages": chat["messages"]}),
              ("GET", "/ai-gateway/anthropic/v1/models", None)]
    async with client(resolved) as http:
        for method, path, body in routes:
            response = await http.request(method, path, json=body, headers={"x-api-key": "placeholder"})
            assert response.status_code == 200, (path, response.text)
    token = resolved.token_source.cached()
    assert token is not None
    api = [r for r in emulator.requests if not r.path.startswith(("/oidc", "/.well-known"))]
    assert [r.path for r in api] == [p for _, p, _ in routes]
    assert {(r.auth_kind, r.token_id) for r in api} == {("bearer", emulator.token_id(token.access_token))}
    assert not [r for r in api if "x-api-key" in r.headers]
