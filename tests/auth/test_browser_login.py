"""Browser sign-in (U2M) against the emulator: PKCE, state, loopback callback, paste-back (F10, F11)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from auth_helpers import free_port
from pydantic import SecretStr

from lakecode.databricks.auth import oauth_login
from lakecode.databricks.auth.login import complete_browser_login
from lakecode.databricks.auth.oauth_login import (
    DEFAULT_REDIRECT_URI,
    BrowserLogin,
    LoginProgress,
    OAuthApp,
    browser_available,
)
from lakecode.databricks.auth.resolve import u2m_identity
from lakecode.databricks.auth.store import TokenStore
from lakecode.databricks.auth.token_source import TokenSourceRegistry
from lakecode.emulator import Emulator
from lakecode.emulator import OAuthApp as RegisteredApp
from lakecode.errors import LoginError


def custom_app(emu: Emulator, port: int, secret: str | None = None) -> OAuthApp:
    """Register a custom OAuth app on a free port with the emulator; return lakecode's view of it."""
    redirect = f"http://localhost:{port}"
    emu.config.oauth_apps.append(RegisteredApp("lakecode-tests", (redirect,), client_secret=secret))
    return OAuthApp("lakecode-tests", SecretStr(secret) if secret else None, redirect)


async def play_browser(authorize_url: str) -> httpx.Response:
    """What a browser does: follow the authorize redirect to the loopback callback."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=5) as browser:
        consent = await browser.get(authorize_url)
        assert consent.status_code in (302, 303), consent.text
        return await browser.get(consent.headers["location"])


async def test_end_to_end_with_the_loopback_callback(emulator: Emulator) -> None:
    app = custom_app(emulator, free_port())
    events: list[LoginProgress] = []
    async with BrowserLogin(emulator.url, app=app, on_progress=events.append, timeout=10) as login:
        query = parse_qs(urlsplit(login.authorize_url).query)
        assert query["redirect_uri"] == [app.redirect_uri]
        assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
        assert query["scope"] == ["all-apis offline_access"] and query["client_id"] == ["lakecode-tests"]
        page = await play_browser(login.authorize_url)
        token = await login.wait()
    assert page.status_code == 200 and "signed in to lakecode" in page.text.lower()
    assert token.refresh_token and token.expires_at
    exchange = [r for r in emulator.requests if r.path == "/oidc/v1/token"]
    assert len(exchange) == 1 and exchange[0].status == 200
    assert exchange[0].form is not None and exchange[0].form["redirect_uri"] == app.redirect_uri
    assert exchange[0].form["grant_type"] == "authorization_code"
    assert [e.stage for e in events] == ["listening", "waiting", "code_received", "exchanging", "signed_in"]
    result = await complete_browser_login(login, token, token_registry=TokenSourceRegistry())
    assert result.whoami.user == "emulator-user@example.com"
    assert result.settings.auth_type == "external-browser"
    assert result.settings.oauth_client_id == "lakecode-tests"


async def test_confidential_custom_app_sends_its_secret(emulator: Emulator) -> None:
    app = custom_app(emulator, free_port(), secret="app-secret-0123456789")
    async with BrowserLogin(emulator.url, app=app, timeout=10) as login:
        await play_browser(login.authorize_url)
        token = await login.wait()
    assert token.access_token
    store = TokenStore()
    result = await complete_browser_login(login, token, store=store, token_registry=TokenSourceRegistry())
    # The refresh grant needs the app secret too: a forced refresh works from the stored secret.
    emulator.clear_requests()
    await result.resolved.token_source.refresh()
    assert [(r.path, r.status) for r in emulator.requests] == [
        ("/oidc/.well-known/oauth-authorization-server", 200), ("/oidc/v1/token", 200)]


async def test_paste_back_completes_the_exchange_with_the_same_redirect_uri(emulator: Emulator) -> None:
    """F11: with no listener and no browser, the pasted redirect URL finishes the sign-in."""
    login = BrowserLogin(emulator.url, listen=False, timeout=10)
    await login.start()
    assert login.redirect_uri == DEFAULT_REDIRECT_URI
    async with httpx.AsyncClient(follow_redirects=False) as browser:
        redirected = (await browser.get(login.authorize_url)).headers["location"]
    assert redirected.startswith("http://localhost:8020?code=") or redirected.startswith(
        "http://localhost:8020/?code=")
    login.submit_redirect_url(f"  {redirected}\n")
    token = await login.wait()
    assert token.access_token
    form = next(r.form for r in emulator.requests if r.path == "/oidc/v1/token")
    assert form is not None
    assert form["redirect_uri"] == "http://localhost:8020"  # byte-identical to the authorize request
    assert form["client_id"] == "databricks-cli"
    assert form["code_verifier"] == "<redacted>"  # sent (the emulator's log hides its value)


async def test_default_public_client_uses_exactly_localhost_8020(emulator: Emulator) -> None:
    """F10: the authorize URL carries redirect_uri=http://localhost:8020 exactly."""
    login = BrowserLogin(emulator.url, listen=False)
    url = await login.start()
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == ["http://localhost:8020"]
    assert "redirect_uri=http%3A%2F%2Flocalhost%3A8020&" in url
    assert parse_qs(urlsplit(url).query)["client_id"] == ["databricks-cli"]
    assert url.startswith(f"{emulator.url}/oidc/v1/authorize?")
    await login.aclose()


@contextlib.contextmanager
def occupied(ports: range | list[int]) -> Iterator[list[int]]:
    """Hold the given ports on IPv4 loopback (ports already taken count as occupied too)."""
    held: list[socket.socket] = []
    try:
        for port in ports:
            sock = socket.socket()
            # An earlier test's callback leaves 8020 in TIME_WAIT; a listener may still take it.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
                sock.listen()
                held.append(sock)
            except OSError:
                sock.close()
        yield [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()


async def test_busy_8020_and_its_fallbacks_fail_fast_naming_8020(emulator: Emulator) -> None:
    with occupied(range(8020, 8041)) as held:
        if len(held) != 21:
            pytest.skip("another program uses a port in 8020-8040")
        login = BrowserLogin(emulator.url)
        started = time.monotonic()
        try:
            with pytest.raises(LoginError) as info:
                await login.start()
        finally:
            await login.aclose()
        assert time.monotonic() - started < 2
    assert info.value.message == (
        "Port 8020 is in use (and ports 8021–8040), so the sign-in callback cannot be received.")
    assert info.value.hint is not None and "lsof -i :8020" in info.value.hint


async def test_busy_8020_without_fallbacks_fails_fast_naming_8020(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth_login, "FALLBACK_PORTS", ())
    with occupied([8020]) as held:
        if held != [8020]:
            pytest.skip("another program uses port 8020")
        login = BrowserLogin(emulator.url)
        try:
            with pytest.raises(LoginError) as info:
                await login.start()
        finally:
            await login.aclose()
    assert info.value.message == "Port 8020 is in use, so the sign-in callback cannot be received."


async def test_a_configured_port_is_never_switched(emulator: Emulator) -> None:
    port = free_port()
    with occupied([port]):
        with pytest.raises(LoginError) as info:
            await BrowserLogin(emulator.url, app=custom_app(emulator, port)).start()
    assert info.value.message == f"Port {port} is in use, so the sign-in callback cannot be received."


async def test_busy_8020_falls_back_to_a_registered_port_and_says_so(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    fallback = free_port()  # stands in for 8021-8040, which other test runs may hold
    monkeypatch.setattr(oauth_login, "FALLBACK_PORTS", (fallback,))
    with occupied([8020]) as held:
        if held != [8020]:
            pytest.skip("another program uses port 8020")
        events: list[LoginProgress] = []
        login = BrowserLogin(emulator.url, on_progress=events.append, timeout=10)
        try:
            await login.start()
            assert login.redirect_uri == f"http://localhost:{fallback}"
        finally:
            await login.aclose()
    assert events[0] == LoginProgress(
        "port_fallback", f"Port 8020 is in use; listening on port {fallback} instead "
                         "(also registered for databricks-cli).")


async def test_the_listener_answers_only_the_callback_path_and_checks_state(emulator: Emulator) -> None:
    port = free_port()
    app = custom_app(emulator, port)
    events: list[LoginProgress] = []
    async with BrowserLogin(emulator.url, app=app, on_progress=events.append, timeout=10) as login:
        async with httpx.AsyncClient() as browser:
            other = await browser.get(f"http://127.0.0.1:{port}/favicon.ico")
            forged = await browser.get(f"http://127.0.0.1:{port}/?code=stolen&state=wrong")
        assert other.status_code == 404
        assert forged.status_code == 400 and "another attempt" in forged.text
        assert events[-1].stage == "ignored_callback"
        await play_browser(login.authorize_url)  # the real callback still completes
        assert (await login.wait()).access_token


async def test_the_listener_accepts_ipv6_loopback(emulator: Emulator) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    port = free_port()
    app = custom_app(emulator, port)
    async with BrowserLogin(emulator.url, app=app, timeout=10):
        try:
            async with httpx.AsyncClient() as browser:
                response = await browser.get(f"http://[::1]:{port}/nothing")
        except httpx.ConnectError:
            pytest.skip("IPv6 loopback is not available here")
        assert response.status_code == 404


async def test_timeout_gives_a_clear_message(emulator: Emulator) -> None:
    app = custom_app(emulator, free_port())
    async with BrowserLogin(emulator.url, app=app, timeout=0.2) as login:
        started = time.monotonic()
        with pytest.raises(LoginError) as info:
            await login.wait()
        assert time.monotonic() - started < 2
    assert info.value.message == f"Timed out after 0.2 s waiting for the browser sign-in to {emulator.url}."
    assert info.value.hint is not None and "--auth-type pat" in info.value.hint


async def test_cancel_ends_the_wait(emulator: Emulator) -> None:
    login = BrowserLogin(emulator.url, listen=False, timeout=10)
    await login.start()
    asyncio.get_running_loop().call_later(0.05, login.cancel)
    with pytest.raises(LoginError) as info:
        await login.wait()
    assert info.value.message == "Sign-in cancelled."


async def test_a_refused_authorization_is_reported(emulator: Emulator) -> None:
    login = BrowserLogin(emulator.url, listen=False, timeout=10)
    await login.start()
    state = parse_qs(urlsplit(login.authorize_url).query)["state"][0]
    login.submit_redirect_url(f"http://localhost:8020/?error=access_denied&error_description=User+said+no"
                              f"&state={state}")
    with pytest.raises(LoginError) as info:
        await login.wait()
    assert info.value.message == "The workspace refused the sign-in: access_denied: User said no"


@pytest.mark.parametrize("pasted", ["http://localhost:8020/", "not a url", "http://localhost:8020/?state=x"])
async def test_a_wrong_paste_is_refused_and_the_wait_goes_on(emulator: Emulator, pasted: str) -> None:
    login = BrowserLogin(emulator.url, listen=False, timeout=10)
    await login.start()
    with pytest.raises(LoginError):
        login.submit_redirect_url(pasted)
    login.cancel()
    with pytest.raises(LoginError):
        await login.wait()


async def test_an_unregistered_redirect_is_refused_by_the_workspace(emulator: Emulator) -> None:
    """The emulator (like Databricks) refuses 127.0.0.1 with a random port for databricks-cli."""
    app = OAuthApp(redirect_uri=f"http://127.0.0.1:{free_port()}")
    async with BrowserLogin(emulator.url, app=app, timeout=10) as login:
        async with httpx.AsyncClient() as browser:
            response = await browser.get(login.authorize_url)
    assert response.status_code == 400 and "not registered" in response.text


def test_browser_detection() -> None:
    assert not browser_available({"BROWSER": "none", "DISPLAY": ":0"})
    assert browser_available({"BROWSER": "firefox"})
    assert not browser_available({"SSH_CONNECTION": "1 2 3 4"})
    import sys

    if sys.platform.startswith("linux"):
        assert not browser_available({})
        assert browser_available({"DISPLAY": ":0"})


async def test_tokens_are_stored_under_the_u2m_identity(emulator: Emulator) -> None:
    app = custom_app(emulator, free_port())
    async with BrowserLogin(emulator.url, app=app, timeout=10) as login:
        await play_browser(login.authorize_url)
        token = await login.wait()
    store = TokenStore()
    await complete_browser_login(login, token, store=store, token_registry=TokenSourceRegistry())
    stored = store.load_token(u2m_identity(emulator.url, "lakecode-tests"))
    assert stored is not None and stored.refresh_token == token.refresh_token
