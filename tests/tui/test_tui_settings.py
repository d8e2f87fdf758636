"""The settings screen, driven with the pilot against the workspace emulator."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr
from rich.text import Text
from textual.widgets import Input, Label, OptionList, RadioButton, Select, Static
from tui_helpers import SIZE, choose_method, fill, mode, settings_screen, wait_for

from lakecode.config.paths import settings_path, tokens_dir
from lakecode.config.settings import Settings
from lakecode.config.store import save_settings
from lakecode.databricks.auth.store import TokenStore, api_key_key, client_secret_key, pat_key
from lakecode.emulator import Emulator
from lakecode.llm.types import ModelInfo, ModelListing
from lakecode.tui.app import LakecodeApp
from lakecode.tui.screens.chat import ChatScreen
from lakecode.tui.screens.dialogs import ConfirmScreen
from lakecode.tui.screens.settings import SettingsScreen
from lakecode.tui.widgets.choice import ChoiceSet
from lakecode.tui.widgets.model_list import ModelPicker

MODEL = "databricks-claude-sonnet-4-5"
SERVED_RECOMMENDED = ["databricks-claude-sonnet-4-5", "databricks-gpt-5-2", "databricks-gpt-oss-120b",
                      "databricks-llama-4-maverick"]
"""The curated recommended models the emulator serves, in listing order."""
UNSERVED = "databricks-claude-sonnet-4-6"
"""Curated and recommended, but not served by the emulator."""


def _saved() -> dict[str, object]:
    return tomllib.loads(settings_path().read_text())


def _secret_files() -> list[Path]:
    root = tokens_dir() / "secrets"
    return sorted(root.glob("*.json")) if root.exists() else []


def _discovery_calls(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path == "/api/2.0/serving-endpoints")


async def _models_loaded(pilot, screen: SettingsScreen) -> ModelPicker:  # type: ignore[no-untyped-def]
    picker = screen.query_one(ModelPicker)
    await wait_for(pilot, lambda: "models loaded" in picker.status, what="the model list")
    return picker


async def test_first_run_opens_settings_and_escape_cancels(make_app: Callable[..., LakecodeApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        assert screen.first_run
        assert "Welcome to lakecode" in str(screen.query_one("#settings-welcome", Static).render())
        assert screen.focused is screen.query_one("#host")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        assert "not configured" in app.screen.query_one("#status").info.state
        assert any("not configured yet" in n.message for n in app._notifications)
    assert not settings_path().exists()


@pytest.mark.parametrize(
    ("method", "hint"),
    [
        ("external-browser", "redirect URI http://localhost:8020"),
        ("oauth-m2m", "Service principals"),
        ("pat", "Access tokens"),
        ("profile", "databricks auth login --host https://dbc-a1b2345c-d6e7.cloud.databricks.com"),
    ],
)
async def test_method_switching_shows_fields_and_hint(make_app: Callable[..., LakecodeApp], method: str,
                                                      hint: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        fill(screen, host="DBC-A1B2345C-D6E7.cloud.databricks.com/serving-endpoints/")
        await choose_method(pilot, screen, method)
        shown = {m for m in ("external-browser", "oauth-m2m", "pat", "profile")
                 if screen.query_one(f"#fields-{m}").display}
        assert shown == {method}
        text = str(screen.query_one("#method-hint", Static).render())
        assert hint in " ".join(text.split())


async def test_hints_before_a_host_is_typed_read_naturally(make_app: Callable[..., LakecodeApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        hint = screen.query_one("#method-hint", Static)
        text = " ".join(str(hint.render()).split())
        assert text.startswith("Sign in opens your workspace in the browser (or shows a link")
        assert "<workspace URL>" not in text
        fill(screen, host="dbc-a1b2345c-d6e7.cloud.databricks.com")
        await pilot.pause()
        text = " ".join(str(hint.render()).split())
        assert text.startswith("Sign in opens https://dbc-a1b2345c-d6e7.cloud.databricks.com in your browser")
        fill(screen, host="")
        await choose_method(pilot, screen, "pat")
        text = " ".join(str(hint.render()).split())
        assert text.startswith("Create a token in your workspace: your user menu → Settings")


async def test_host_is_normalised_as_typed_and_bad_hosts_say_why(
        make_app: Callable[..., LakecodeApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        feedback = screen.query_one("#host-feedback", Static)
        fill(screen, host="ADB-1234567890123456.7.AzureDatabricks.net/serving-endpoints/")
        await pilot.pause()
        assert str(feedback.render()) == "→ https://adb-1234567890123456.7.azuredatabricks.net"
        await pilot.press("tab")  # leaving the field puts the normalised form in it
        assert screen.query_one("#host", Input).value == "https://adb-1234567890123456.7.azuredatabricks.net"
        fill(screen, host="http://example.com")
        await pilot.pause()
        assert "Refusing plain http://" in str(feedback.render())
        assert feedback.has_class("error")
        fill(screen, host="ftp://dbc-1.cloud.databricks.com")
        await pilot.pause()
        assert "is not a workspace URL" in str(feedback.render())


async def test_pat_save_writes_settings_and_token_store(make_app: Callable[..., LakecodeApp],
                                                        emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat=emulator.pat)
        picker = await _models_loaded(pilot, screen)
        assert MODEL in picker.tiers.listed_ids
        picker.select(MODEL)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
        chat = app.screen
        await wait_for(pilot, lambda: app.session.provider is not None, what="the provider")
        await wait_for(pilot, lambda: not chat.connecting)
        info = chat.query_one("#status").info
        assert (info.host, info.model, info.auth, info.state) == (
            emulator.url, MODEL, "Access token (PAT)", "")
    saved = _saved()
    assert saved["model"] == MODEL and saved["provider"] == "databricks"
    assert saved["databricks"] == {"host": emulator.url, "auth_type": "pat", "route": "auto"}
    assert emulator.pat not in settings_path().read_text()
    assert TokenStore().get_secret(pat_key(emulator.url)) == SecretStr(emulator.pat)
    files = _secret_files()
    assert len(files) == 1 and mode(files[0]) == 0o600
    assert mode(settings_path()) == 0o600


async def test_saving_a_credential_the_workspace_just_rejected_asks_first(
        make_app: Callable[..., LakecodeApp], emulator: Emulator) -> None:
    bad = "dapi" + "0" * 32
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat=bad, model=MODEL)
        picker = screen.query_one(ModelPicker)
        await wait_for(pilot, lambda: "rejected the credential" in picker.status, what="the rejection")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        assert "The workspace rejected this credential" in app.screen._question
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        assert not settings_path().exists()  # nothing written
        fill(screen, pat=emulator.pat)  # fixed: discovery succeeds, and saving asks nothing
        await wait_for(pilot, lambda: "models loaded" in picker.status, what="the models")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen), what="the chat screen")
    assert TokenStore().get_secret(pat_key(emulator.url)) == SecretStr(emulator.pat)


async def test_stored_secret_shows_as_placeholder_and_empty_keeps_it(
        make_app: Callable[..., LakecodeApp], emulator: Emulator) -> None:
    TokenStore().put_secret(pat_key(emulator.url), emulator.pat)
    save_settings(Settings.model_validate(
        {"model": MODEL, "databricks": {"host": emulator.url, "auth_type": "pat"}}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.press("f2")
        screen = await settings_screen(pilot)
        pat = screen.query_one("#pat", Input)
        await wait_for(pilot, lambda: pat.placeholder.startswith("•••• stored"),
                       what="the stored placeholder")
        assert pat.value == ""
        await _models_loaded(pilot, screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    assert TokenStore().get_secret(pat_key(emulator.url)) == SecretStr(emulator.pat)
    assert len(_secret_files()) == 1


async def test_model_list_refreshes_uses_cache_and_falls_back(make_app: Callable[..., LakecodeApp],
                                                              emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat="dapi-wrong-token")
        picker = screen.query_one(ModelPicker)
        await wait_for(pilot, lambda: "showing the recommended list" in picker.status, what="the fallback")
        assert picker.query_one("#model-status").has_class("error")
        assert picker.tiers.recommended and all(m.source == "curated" for m in picker.tiers.recommended)
        assert not picker.tiers.discovered
        fill(screen, pat=emulator.pat)
        await _models_loaded(pilot, screen)
        assert picker.tiers.discovered
        rows = {m.id: m for m in (*picker.tiers.recommended, *picker.tiers.workspace)}
        assert rows[MODEL].source == "discovered" and rows[MODEL].supports_tools is True
        assert "team-llm-prod" in rows  # a workspace model the curated list does not know
        before = _discovery_calls(emulator)
        screen.action_refresh_models()  # bypasses the cache
        await wait_for(pilot, lambda: _discovery_calls(emulator) > before, what="a fresh discovery")
        await _models_loaded(pilot, screen)
        picker.select(MODEL)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        calls = _discovery_calls(emulator)
        await pilot.press("f2")  # reopening is served from the 5-minute cache
        screen = await settings_screen(pilot)
        await _models_loaded(pilot, screen)
        assert _discovery_calls(emulator) == calls


async def test_saved_unknown_model_is_kept_and_saving_it_asks(make_app: Callable[..., LakecodeApp],
                                                              emulator: Emulator) -> None:
    TokenStore().put_secret(pat_key(emulator.url), emulator.pat)
    save_settings(Settings.model_validate({"model": "team-llm-experimental",
                                           "databricks": {"host": emulator.url, "auth_type": "pat"}}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.press("f2")
        screen = await settings_screen(pilot)
        picker = await _models_loaded(pilot, screen)
        options = picker.query_one("#model-options")
        assert options.highlighted_option.id == "model:team-llm-experimental"
        assert "not in the list" in str(options.highlighted_option.prompt)
        assert picker.value == "team-llm-experimental"
        assert picker.is_listed("team-llm-experimental") is False
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert not [n for n in app._notifications if n.severity == "error"]
    assert _saved()["model"] == "team-llm-experimental"


async def test_typed_model_id_is_saved_verbatim(make_app: Callable[..., LakecodeApp],
                                                emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat=emulator.pat)
        picker = await _models_loaded(pilot, screen)
        fill(screen, model="team-llm-prod")
        await pilot.pause()
        assert picker.query_one("#model-options").highlighted_option.id == "model:team-llm-prod"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    assert _saved()["model"] == "team-llm-prod"


def _rows_fit(options: OptionList) -> bool:
    """Every option takes one line, within the list's width."""
    width = options.scrollable_content_region.width
    return options.virtual_size.height == options.option_count and all(
        Text.assemble(o.prompt).cell_len <= width for o in options.options)


def _row(options: OptionList, model_id: str) -> str:
    return str(options.get_option(f"model:{model_id}").prompt)


async def test_settings_are_readable_at_80_columns(make_app: Callable[..., LakecodeApp],
                                                   emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await settings_screen(pilot)
        methods = screen.query_one("#auth_type", ChoiceSet)
        buttons = list(methods.query(RadioButton))
        assert [str(b.label) for b in buttons] == [
            "Browser sign-in (U2M)", "Service principal (M2M)", "Access token (PAT)", "CLI profile"]
        await wait_for(pilot, lambda: methods.has_class("-wrapped"), what="the methods to wrap")
        await pilot.pause()
        assert len({b.region.y for b in buttons}) == 2  # two rows of two
        for button in buttons:  # each one whole, inside the set and the screen
            assert methods.region.contains_region(button.region)
            assert button.region.width >= len(str(button.label)) + 4
            assert button.region.right <= 80
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat=emulator.pat)
        picker = await _models_loaded(pilot, screen)
        options = picker.query_one("#model-options", OptionList)
        await wait_for(pilot, lambda: _rows_fit(options), what="one line per model")
        long_id = "il_model_service.default.il-claude-sonnet-5"
        assert _row(options, long_id).split() == [long_id, "discovered", "tools", "✓"]
        assert _row(options, "team-llm-canary").split() == ["team-llm-canary", "not", "ready", "discovered",
                                                           "tools", "✓"]
        picker.select("team-llm-typo")  # the "Selected" row keeps as much of its note as fits
        assert _rows_fit(options)
        assert " ".join(_row(options, "team-llm-typo").split()) == "team-llm-typo not in the list"
        await pilot.resize_terminal(120, 40)  # wider: one row of methods, display names back
        await wait_for(pilot, lambda: not methods.has_class("-wrapped"), what="one row of methods")
        await wait_for(pilot, lambda: "Claude Sonnet 4.5" in _row(options, MODEL), what="the names")
        await pilot.pause()
        assert len({b.region.y for b in buttons}) == 1
        assert _rows_fit(options)
        assert " ".join(_row(options, MODEL).split()) == f"{MODEL} Claude Sonnet 4.5 discovered tools ✓"


async def test_a_listing_that_arrives_while_the_picker_is_removed_is_dropped(
        make_app: Callable[..., LakecodeApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await pilot.app.workers.wait_for_complete()
        picker = screen.query_one(ModelPicker)
        shown = picker.tiers
        await picker.remove_children()  # what Textual does first when the dialog closes
        assert picker.is_attached
        listing = ModelListing((ModelInfo(MODEL, source="discovered", recommended=True),))
        picker.show_loading("the workspace")  # a worker finishing now: nothing to show, no error
        picker.show_listing(listing, "the workspace")
        picker.show_fallback("gone")
        assert picker.tiers is shown and not picker.showing


def _option_ids(picker: ModelPicker) -> list[str]:
    options = picker.query_one("#model-options", OptionList).options
    return [o.id.removeprefix("model:") for o in options if o.id]


async def test_recommended_tier_lists_only_models_the_workspace_serves(
        make_app: Callable[..., LakecodeApp], emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat="dapi-wrong-token")
        picker = screen.query_one(ModelPicker)
        await wait_for(pilot, lambda: "showing the recommended list" in picker.status, what="the fallback")
        fallback = [m.id for m in picker.tiers.recommended]
        assert UNSERVED in fallback and {m.source for m in picker.tiers.recommended} == {"curated"}
        fill(screen, pat=emulator.pat)
        await _models_loaded(pilot, screen)
        assert [m.id for m in picker.tiers.recommended] == SERVED_RECOMMENDED
        assert {m.source for m in (*picker.tiers.recommended, *picker.tiers.workspace)} == {"discovered"}
        ids = _option_ids(picker)
        assert UNSERVED not in ids
        assert ids[:len(SERVED_RECOMMENDED)] == SERVED_RECOMMENDED


async def test_unserved_model_is_marked_and_saving_it_or_a_typed_id_asks(
        make_app: Callable[..., LakecodeApp], emulator: Emulator) -> None:
    TokenStore().put_secret(pat_key(emulator.url), emulator.pat)
    save_settings(Settings.model_validate({"model": UNSERVED,
                                           "databricks": {"host": emulator.url, "auth_type": "pat"}}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
        await pilot.press("f2")
        screen = await settings_screen(pilot)
        picker = await _models_loaded(pilot, screen)
        options = picker.query_one("#model-options", OptionList)
        assert _option_ids(picker)[0] == UNSERVED  # the "Selected" row, on top
        assert options.highlighted_option is not None
        assert options.highlighted_option.id == f"model:{UNSERVED}"
        assert "not in the list (not listed by the workspace)" in str(options.highlighted_option.prompt)
        assert picker.is_listed(UNSERVED) is False
        fill(screen, model="team-llm-typo")  # an id typed by hand, then the Save button
        await pilot.pause()
        await pilot.click("#settings-save")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        question = str(app.screen.query_one(".dialog-text", Static).render())
        assert question.startswith(f"team-llm-typo is not listed by {emulator.url}.")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        assert _saved()["model"] == UNSERVED


async def test_curated_model_from_the_fallback_list_saves_without_asking(
        make_app: Callable[..., LakecodeApp], emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat="dapi-wrong-token")
        picker = screen.query_one(ModelPicker)
        await wait_for(pilot, lambda: "showing the recommended list" in picker.status, what="the fallback")
        picker.select(UNSERVED)
        assert picker.is_listed(UNSERVED) is None  # nothing was discovered: nothing to check against
        await pilot.click("#settings-save")
        await wait_for(pilot, lambda: not isinstance(app.screen, SettingsScreen), what="the save")
        assert isinstance(app.screen, ChatScreen)  # not a ConfirmScreen
    assert _saved()["model"] == UNSERVED


async def test_m2m_validates_the_client_id_and_stores_the_secret(make_app: Callable[..., LakecodeApp],
                                                                 emulator: Emulator) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "oauth-m2m")
        fill(screen, host=emulator.url, client_id="my-service-principal", model=MODEL)
        await pilot.pause()
        assert "Not a UUID" in str(screen.query_one("#client_id-feedback", Static).render())
        await pilot.press("ctrl+s")
        problems = screen.query_one("#settings-problems", Static)
        await wait_for(pilot, lambda: "UUID" in str(problems.render()), what="the problem line")
        assert screen.focused is screen.query_one("#client_id")
        fill(screen, client_id=emulator.client_id, client_secret=emulator.client_secret)
        await _models_loaded(pilot, screen)
        assert emulator.token_requests.count("client_credentials") >= 1
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    saved = _saved()["databricks"]
    assert saved == {"host": emulator.url, "auth_type": "oauth-m2m", "client_id": emulator.client_id,
                     "route": "auto"}
    key = client_secret_key(emulator.url, emulator.client_id)
    assert TokenStore().get_secret(key) == SecretStr(emulator.client_secret)
    assert emulator.client_secret not in settings_path().read_text()
    assert all(mode(f) == 0o600 for f in _secret_files())


async def test_profile_choice_fills_host_and_uses_the_profile(make_app: Callable[..., LakecodeApp],
                                                              emulator: Emulator, hermetic_env: Path) -> None:
    (hermetic_env / ".databrickscfg").write_text(
        f"[dev]\nhost = {emulator.url}\ntoken = {emulator.pat}\n\n"
        "[azure]\nhost = https://adb-1234567890123456.7.azuredatabricks.net\nauth_type = databricks-cli\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "profile")
        select = screen.query_one("#profile", Select)
        prompts = [str(prompt) for prompt, _ in select._options]
        assert any(p.startswith(f"dev  —  {emulator.url}  (pat)") for p in prompts)
        select.value = "dev"
        await pilot.pause()
        assert screen.query_one("#host", Input).value == emulator.url
        hint = " ".join(str(screen.query_one("#method-hint", Static).render()).split())
        assert f"databricks auth login --host {emulator.url}" in hint
        picker = await _models_loaded(pilot, screen)
        picker.select(MODEL)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    saved = _saved()["databricks"]
    assert saved == {"host": emulator.url, "auth_type": "profile", "profile": "dev", "route": "auto"}
    assert not _secret_files()


async def test_environment_overrides_are_shown_and_never_saved(make_app: Callable[..., LakecodeApp],
                                                               emulator: Emulator) -> None:
    environ = {"DATABRICKS_HOST": emulator.url, "DATABRICKS_TOKEN": emulator.pat,
               "LLM_MODEL": f"databricks/{MODEL}"}
    app = make_app(environ)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))  # complete: no first run
        await wait_for(pilot, lambda: app.session.provider is not None, what="the provider")
        await pilot.press("f2")
        screen = await settings_screen(pilot)
        host = screen.query_one("#host", Input)
        assert host.disabled and host.value == emulator.url
        label = str(screen.query_one("#label-host", Label).render())
        assert "DATABRICKS_HOST (environment; not saved)" in label
        pat = screen.query_one("#pat", Input)
        assert pat.disabled and pat.placeholder == "from DATABRICKS_TOKEN (environment; not saved)"
        notice = str(screen.query_one("#env-notice", Static).render())
        assert "DATABRICKS_HOST" in notice and "LLM_MODEL" in notice
        assert screen.query_one("#model", Input).disabled
        await _models_loaded(pilot, screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    text = settings_path().read_text()
    assert emulator.url not in text and MODEL not in text and emulator.pat not in text
    assert not _secret_files()


async def test_openai_compatible_stores_the_api_key(make_app: Callable[..., LakecodeApp],
                                                    emulator: Emulator) -> None:
    base = f"{emulator.url}/serving-endpoints"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        screen.query_one("#provider-openai-compatible").value = True
        await pilot.pause()
        assert not screen.query_one("#databricks-section").display
        assert screen.query_one("#openai-section").display
        picker = screen.query_one(ModelPicker)
        await wait_for(pilot, lambda: picker.status.startswith("Enter the base URL"), what="the hint")
        assert not picker.tiers.listed_ids  # Databricks' curated list means nothing here
        fill(screen, base_url=base, api_key=emulator.pat, model=MODEL)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    saved = _saved()
    assert saved["provider"] == "openai-compatible" and saved["openai"] == {"base_url": base}
    assert TokenStore().get_secret(api_key_key(base)) == SecretStr(emulator.pat)
    assert emulator.pat not in settings_path().read_text()


async def test_corrupt_settings_are_backed_up_on_save(make_app: Callable[..., LakecodeApp],
                                                      emulator: Emulator) -> None:
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text("provider = [this is not toml\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        assert any("not valid TOML" in n.message for n in app._notifications)
        await choose_method(pilot, screen, "pat")
        fill(screen, host=emulator.url, pat=emulator.pat, model=MODEL)
        await _models_loaded(pilot, screen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen))
    backups = list(settings_path().parent.glob("settings.toml.corrupt-*"))
    assert len(backups) == 1 and "this is not toml" in backups[0].read_text()
    assert _saved()["model"] == MODEL
