"""Snapshots (pytest-textual-snapshot, 120 x 40): the settings screen per sign-in method, the chat
mid-turn. Deterministic: a fixed host, a scripted provider with a fixed model list, no clocks,
no temporary paths or ports on screen. Update with ``pytest tests/tui --snapshot-update``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import SIZE, choose_method, fill, settings_screen, wait_for

from lakecode.config.settings import Settings
from lakecode.config.store import save_settings
from lakecode.llm.types import ModelInfo, Usage
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call
from lakecode.tui.app import LakecodeApp
from lakecode.tui.screens.chat import ChatScreen
from lakecode.tui.screens.settings import SettingsScreen
from lakecode.tui.widgets.model_list import ModelPicker

HOST = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"
MODELS = (
    ModelInfo("databricks-claude-sonnet-4-5", "Claude Sonnet 4.5", "claude", "discovered",
              supports_tools=True, recommended=True),
    ModelInfo("databricks-gpt-5-2", "GPT-5.2", "gpt", "discovered", supports_tools=True, recommended=True),
    ModelInfo("databricks-claude-sonnet-4-6", "Claude Sonnet 4.6", "claude", "curated",
              supports_tools=True, recommended=True),
    ModelInfo("team-llm-prod", "", "other", "discovered", supports_tools=True),
    ModelInfo("databricks-meta-llama-3-3-70b-instruct", "Meta Llama 3.3 70B", "llama", "discovered",
              supports_tools=False),
)


@pytest.fixture
def snapshot_app(make_app: Callable[..., LakecodeApp], hermetic_env: Path) -> Callable[..., LakecodeApp]:
    """An app on a scripted provider, working in ~/project (shown as such)."""
    project = hermetic_env / "project"
    project.mkdir(exist_ok=True)

    def make(provider: ScriptedProvider | None = None) -> LakecodeApp:
        scripted = provider or ScriptedProvider(models=MODELS)
        return make_app(cwd=project, provider_factory=lambda overrides: scripted)

    return make


async def _settings(pilot: Pilot[Any], method: str, **values: str) -> None:
    screen = await settings_screen(pilot)
    fill(screen, host=HOST)
    await choose_method(pilot, screen, method)
    fill(screen, **values)
    screen.refresh_models()
    picker = screen.query_one(ModelPicker)
    await wait_for(pilot, lambda: "models loaded" in picker.status or "recommended" in picker.status)
    await pilot.app.workers.wait_for_complete()
    screen.query_one("#host").focus()
    await pilot.pause()


def test_settings_browser_sign_in(snapshot_app: Callable[..., LakecodeApp], snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _settings(pilot, "external-browser")

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_settings_service_principal(snapshot_app: Callable[..., LakecodeApp], snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _settings(pilot, "oauth-m2m", client_id="not-a-uuid", client_secret="s3cret")

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_settings_access_token(snapshot_app: Callable[..., LakecodeApp], snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _settings(pilot, "pat", pat="dapi-not-shown-on-screen")
        screen = pilot.app.screen
        assert isinstance(screen, SettingsScreen)
        screen.query_one("#settings-body").scroll_end(animate=False)  # the model list
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_settings_cli_profile(snapshot_app: Callable[..., LakecodeApp], snap_compare: Any,
                              hermetic_env: Path) -> None:
    (hermetic_env / ".databrickscfg").write_text(
        f"[dev]\nhost = {HOST}\nauth_type = databricks-cli\n\n[ci]\nhost = {HOST}\ntoken = dapi-x\n")

    async def run_before(pilot: Pilot[Any]) -> None:
        await _settings(pilot, "profile")

    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=run_before)


def test_chat_mid_turn(snapshot_app: Callable[..., LakecodeApp], snap_compare: Any,
                       hermetic_env: Path) -> None:
    (hermetic_env / "project").mkdir(exist_ok=True)
    (hermetic_env / "project" / "cli.py").write_text(
        "import sys\n\n\ndef main() -> None:\n    print(sys.argv)\n")
    save_settings(Settings.model_validate({"model": "databricks-claude-sonnet-4-5",
                                           "databricks": {"host": HOST, "auth_type": "pat"}}))
    plan = tool_call("task_list", {"command": "set", "tasks": [
        {"title": "Read the CLI", "status": "done"}, {"title": "Add --verbose", "status": "doing"},
        {"title": "Test it", "status": "todo"}]}, id="call_plan")
    look = tool_call("file_editor", {"command": "view", "path": "cli.py"}, id="call_look")
    edit = tool_call("file_editor", {"command": "create", "path": "verbose.py",
                                     "file_text": "VERBOSE = False\n\n\ndef enable() -> None:\n"
                                                  "    global VERBOSE\n    VERBOSE = True\n"}, id="call_edit")
    provider = ScriptedProvider(models=MODELS).enqueue([
        ScriptedTurn(reasoning="The flag needs a module-level switch.", text="I'll plan this first.",
                     tool_calls=[plan], usage=Usage(1200, 80, 1280)),
        ScriptedTurn(text="Reading `cli.py`:", tool_calls=[look], usage=Usage(1500, 40, 1540)),
        ScriptedTurn(text="Now the **switch** itself:", tool_calls=[edit], usage=Usage(1700, 90, 1790)),
    ])

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.session.provider)
        chat = app.screen
        assert isinstance(chat, ChatScreen)
        chat.prompt.load_text("add a --verbose flag to cli.py")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "call_edit" in chat.transcript.cards
                       and chat.transcript.cards["call_edit"].state == "waiting", what="the write question")
        await pilot.pause()

    assert snap_compare(snapshot_app(provider), terminal_size=SIZE, run_before=run_before)
