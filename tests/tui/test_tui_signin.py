"""Browser sign-in (U2M) from the settings screen; the test plays the browser with httpx."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
from textual.pilot import Pilot
from textual.widgets import Button, Static
from tui_helpers import SIZE, fill, mode, settings_screen, wait_for

from lakecode.config.paths import settings_path, tokens_dir
from lakecode.emulator import Emulator
from lakecode.tui.app import LakecodeApp
from lakecode.tui.screens.chat import ChatScreen
from lakecode.tui.screens.login import LoginScreen
from lakecode.tui.screens.settings import SettingsScreen
from lakecode.tui.widgets.model_list import ModelPicker

MODEL = "databricks-claude-sonnet-4-5"


async def authorize(url: str, browser: httpx.AsyncClient | None = None) -> str:
    """What a browser does: open the authorize URL and return where the workspace redirects."""
    client = browser or httpx.AsyncClient()
    try:
        response = await client.get(url)
    finally:
        if browser is None:
            await client.aclose()
    assert response.status_code in (301, 302, 303), response.text
    return response.headers["location"]


async def start_sign_in(pilot: Pilot[LakecodeApp], screen: SettingsScreen) -> LoginScreen:
    """Press Sign in and wait for the dialog to show the authorize URL."""
    screen.query_one("#signin-start", Button).press()
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LoginScreen), what="the sign-in dialog")
    login = pilot.app.screen
    assert isinstance(login, LoginScreen)
    await wait_for(pilot, lambda: login.panel.authorize_url, what="the authorize URL")
    return login


def sign_in_line(screen: SettingsScreen) -> str:
    """The sign-in result line of the settings screen."""
    return str(screen.query_one("#signin-result", Static).render())


async def test_sign_in_from_the_button_completes_through_the_loopback_callback(
        make_app: Callable[..., LakecodeApp], emulator: Emulator) -> None:
    opened: list[str] = []

    async def no_browser(url: str) -> bool:
        opened.append(url)
        return False

    app = make_app(open_browser=no_browser)
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        fill(screen, host=emulator.url)
        picker = screen.query_one(ModelPicker)
        await wait_for(pilot, lambda: "press Sign in" in picker.status, what="the not-signed-in fallback")
        assert sign_in_line(screen) == "Not signed in yet."
        login = await start_sign_in(pilot, screen)
        url = login.panel.authorize_url
        assert url.startswith(f"{emulator.url}/oidc/v1/authorize?")
        assert "redirect_uri=http%3A%2F%2Flocalhost%3A80" in url and "code_challenge_method=S256" in url
        await wait_for(pilot, lambda: "No browser can be opened here" in login.panel.status)
        assert opened == [url]
        callback = await authorize(url)
        async with httpx.AsyncClient() as browser:
            page = await browser.get(callback)
        assert page.status_code == 200 and "signed in" in page.text.lower()
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        assert sign_in_line(screen).startswith(f"✓ Signed in to {emulator.url}")
        assert "token valid for" in sign_in_line(screen)
        await wait_for(pilot, lambda: "models loaded" in picker.status, what="the models after sign-in")
        picker.select(MODEL)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await wait_for(pilot, lambda: app.session.provider is not None, what="the provider")
        await wait_for(pilot, lambda: "min" in app.screen.query_one("#status").info.expiry,
                       what="the token countdown")
    saved = tomllib.loads(settings_path().read_text())["databricks"]
    assert saved == {"host": emulator.url, "auth_type": "external-browser", "route": "auto"}
    tokens = list((tokens_dir() / "oauth").glob("*.json"))
    assert len(tokens) == 1 and mode(tokens[0]) == 0o600
    assert emulator.token_requests.count("authorization_code") == 1


async def test_sign_in_by_pasting_the_redirected_address(make_app: Callable[..., LakecodeApp],
                                                         emulator: Emulator) -> None:
    async def no_browser(url: str) -> bool:
        return False

    app = make_app(open_browser=no_browser)
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        fill(screen, host=emulator.url)
        login = await start_sign_in(pilot, screen)
        paste = login.query_one("#signin-paste")
        # No browser opened, so the cursor waits in the paste field: typing goes straight there.
        await wait_for(pilot, lambda: login.focused is paste, what="the paste field's focus")
        await pilot.press(*"http://localhost:8020/no-query-here", "enter")
        await wait_for(pilot, lambda: "no ?code=" in login.panel.status, what="the paste problem")
        assert app.screen is login and paste.value == ""  # still waiting
        paste.value = await authorize(login.panel.authorize_url)
        login.query_one("#signin-submit", Button).press()
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        assert sign_in_line(screen).startswith("✓ Signed in")
    assert emulator.token_requests.count("authorization_code") == 1


async def test_sign_in_can_be_cancelled_and_fails_clearly(make_app: Callable[..., LakecodeApp],
                                                          emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        screen.query_one("#signin-start", Button).press()
        await pilot.pause()
        assert sign_in_line(screen) == "✗ Enter the workspace host first."
        assert screen.focused is screen.query_one("#host")
        fill(screen, host=emulator.url)
        login = await start_sign_in(pilot, screen)
        redirect = parse_qs(urlsplit(login.panel.authorize_url).query)["redirect_uri"][0]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="the dialog to close")
        assert "Sign-in cancelled" in sign_in_line(screen)
        # the listener is closed: a browser arriving late finds nobody
        async with httpx.AsyncClient() as browser:
            try:
                await browser.get(f"{redirect}/?code=x&state=y", timeout=2)
                reached = True
            except httpx.TransportError:
                reached = False
        assert not reached
    assert emulator.token_requests.count("authorization_code") == 0
