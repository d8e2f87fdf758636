"""The chat screen: streamed turns, tool cards, approvals, interrupts, errors, history, commands."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import Collapsible, OptionList
from tui_helpers import SIZE, wait_for

from lakecode.config.settings import Settings
from lakecode.config.store import save_settings
from lakecode.databricks.auth.store import TokenStore, client_secret_key, pat_key
from lakecode.emulator import Emulator
from lakecode.errors import ConfigError
from lakecode.llm.types import Usage
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call
from lakecode.testing.fakes import FakeClock
from lakecode.tui.app import LakecodeApp
from lakecode.tui.screens.chat import ChatScreen
from lakecode.tui.screens.dialogs import ConfirmScreen, HelpScreen, ResumeScreen
from lakecode.tui.screens.model_picker import ModelPickerScreen
from lakecode.tui.widgets.prompt import PromptInput
from lakecode.tui.widgets.status import TaskPanel
from lakecode.tui.widgets.tool_card import ApprovalBar, ToolCard
from lakecode.tui.widgets.transcript import AssistantEntry, NoticeEntry, UserEntry

HOST = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"


@pytest.fixture
def scripted() -> ScriptedProvider:
    """The model, scripted per test."""
    return ScriptedProvider()


@pytest.fixture
def chat_app(make_app: Callable[..., LakecodeApp], scripted: ScriptedProvider) -> LakecodeApp:
    """The app, configured (PAT settings) and talking to ``scripted``."""
    save_settings(Settings.model_validate({"model": "scripted-model",
                                           "databricks": {"host": HOST, "auth_type": "pat"}}))
    return make_app(provider_factory=lambda overrides: scripted)


async def ready(pilot) -> ChatScreen:  # type: ignore[no-untyped-def]
    """Wait for the chat screen with a provider."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ChatScreen) and app.session.provider is not None
                   and not app.screen.connecting, what="the chat screen")
    return app.screen


async def send(pilot, chat: ChatScreen, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``text`` into the prompt and press Enter."""
    chat.prompt.load_text(text)
    chat.prompt.focus()
    await pilot.press("enter")


async def idle(pilot, chat: ChatScreen) -> None:  # type: ignore[no-untyped-def]
    """Wait for the turn to end."""
    await wait_for(pilot, lambda: not chat.running and not any(
        w.group == "turn" and w.is_running for w in chat.workers), what="the turn to end")


async def test_full_turn_with_tool_call_and_approval(chat_app: LakecodeApp, scripted: ScriptedProvider,
                                                     project: Path) -> None:
    plan = tool_call("task_list", {"command": "set", "tasks": [
        {"title": "Create hello.py", "status": "doing"}, {"title": "Report", "status": "todo"}]})
    create = tool_call("file_editor", {"command": "create", "path": "hello.py",
                                       "file_text": "print('hello')\n"})
    scripted.enqueue([
        ScriptedTurn(reasoning="The user wants a file.", text="I'll create **hello.py**.",
                     tool_calls=[plan, create], usage=Usage(100, 20, 120), chunk_size=4),
        ScriptedTurn(text="Done: created `hello.py`.", usage=Usage(150, 10, 160)),
    ])
    async with chat_app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await send(pilot, chat, "create hello.py")
        await wait_for(pilot, lambda: chat.query(ApprovalBar), what="the approval question")
        card = chat.transcript.cards[create.id]
        assert card.state == "waiting"
        assert "file_text: |" in str(card.query_one(".tool-args-inline").render())
        assert isinstance(chat.focused, ApprovalBar)
        assert str(chat.query_one(".approval-question").render()) == (
            "Allow write: file_editor create hello.py?  (Always = every file edit, for this session)")
        assert "Approve file_editor" in str(chat.query_one("#activity").render())
        tasks = chat.query_one(TaskPanel)
        assert tasks.display and [t.title for t in tasks.tasks] == ["Create hello.py", "Report"]
        await pilot.press("y")
        await idle(pilot, chat)
        assert (project / "hello.py").read_text() == "print('hello')\n"
        assert card.state == "done" and "approved once" in card._note
        assert not chat.query(ApprovalBar)
        assert chat.focused is chat.prompt
        answers = list(chat.query(AssistantEntry))
        assert [a.text for a in answers] == ["I'll create **hello.py**.", "Done: created `hello.py`."]
        reasoning = answers[0].query_one(".reasoning", Collapsible)
        assert reasoning.display and reasoning.collapsed and reasoning.title == "Thought"
        assert answers[0].reasoning == "The user wants a file."
        assert [u.prompt for u in chat.query(UserEntry)] == ["create hello.py"]
        assert chat.query_one("#status").info.tokens == 280
        assert chat.transcript.cards[plan.id].state == "done"  # read-only: no question asked
    assert len(scripted.requests) == 2


async def test_deny_and_approve_for_the_session(chat_app: LakecodeApp, scripted: ScriptedProvider,
                                                project: Path) -> None:
    first = tool_call("shell", {"command": "echo one"})
    second = tool_call("shell", {"command": "echo two"})
    write = tool_call("file_editor", {"command": "create", "path": "x.txt", "file_text": "x"})
    scripted.enqueue([ScriptedTurn(tool_calls=[first, second, write]), "I will not write x.txt."])
    async with chat_app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await send(pilot, chat, "run things")
        await wait_for(pilot, lambda: chat.query(ApprovalBar), what="the first question")
        await pilot.press("a")  # always, for `echo` commands this session
        await wait_for(pilot, lambda: write.id in chat.transcript.cards
                       and chat.transcript.cards[write.id].state == "waiting", what="the write question")
        await pilot.press("n")
        await idle(pilot, chat)
        cards = chat.transcript.cards
        assert cards[first.id].state == "done" and "one" in (cards[first.id].result or "")
        assert "approved" in cards[second.id]._note and cards[second.id].result is not None
        assert cards[write.id].state == "denied"
        assert not (project / "x.txt").exists()
    tool_results = [m for m in scripted.requests[1].messages if m.role == "tool"]
    assert tool_results[-1].text.startswith("Denied")


async def test_ctrl_c_interrupts_a_turn_and_twice_quits_when_idle(chat_app: LakecodeApp,
                                                                  scripted: ScriptedProvider) -> None:
    scripted.enqueue([ScriptedTurn(text="Working on it", stall=True)])
    async with chat_app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await send(pilot, chat, "a long task")
        await wait_for(pilot, lambda: any(a.text == "Working on it" for a in chat.query(AssistantEntry)),
                       what="the streamed text")
        assert chat.running
        await pilot.press("ctrl+c")
        await idle(pilot, chat)
        notices = [n.message for n in chat.query(NoticeEntry)]
        assert any(n.startswith("Interrupted") for n in notices)
        assert chat.app.is_running
        await pilot.press("ctrl+c")
        assert any("Press Ctrl+C again to quit" in n.message for n in chat.app._notifications)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not chat.app.is_running, what="the app to quit")


async def test_escape_interrupts_and_an_error_keeps_the_prompt(chat_app: LakecodeApp,
                                                               scripted: ScriptedProvider) -> None:
    scripted.enqueue([ConfigError("The model endpoint is gone.", hint="Pick another model with /model.")])
    async with chat_app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await send(pilot, chat, "do the thing\nwith two lines")
        await idle(pilot, chat)
        assert chat.prompt.text == "do the thing\nwith two lines"  # nothing typed is lost
        errors = [n for n in chat.app._notifications if n.severity == "error"]
        assert errors and "The model endpoint is gone." in errors[-1].message
        assert "hint: Pick another model with /model." in errors[-1].message
        assert any("The model endpoint is gone." in n.message for n in chat.query(NoticeEntry))
        scripted.enqueue([ScriptedTurn(text="Thinking hard", stall=True)])
        await pilot.press("enter")
        await wait_for(pilot, lambda: chat.running)
        await pilot.press("escape")
        await idle(pilot, chat)
        assert any(n.message.startswith("Interrupted") for n in chat.query(NoticeEntry))


async def test_prompt_newlines_history_and_completion(chat_app: LakecodeApp,
                                                      scripted: ScriptedProvider) -> None:
    scripted.default = "ok"
    async with chat_app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        prompt = chat.query_one(PromptInput)
        await pilot.press("f", "ctrl+j", "g")
        assert prompt.text == "f\ng"
        await pilot.press("enter")
        await idle(pilot, chat)
        await send(pilot, chat, "second")
        await idle(pilot, chat)
        prompt.load_text("draft")
        await pilot.press("up")
        assert prompt.text == "second"
        await pilot.press("up")
        assert prompt.text == "f\ng"
        await pilot.press("up")  # the oldest stays
        assert prompt.text == "f\ng"
        await pilot.press("down", "down")  # the cursor sits on the last line of "f\ng" first
        assert prompt.text == "second"
        await pilot.press("down")
        assert prompt.text == "draft"
        prompt.load_text("/res")
        await pilot.press("tab")
        assert prompt.text == "/resume"
        assert [r.messages[-1].text for r in scripted.requests] == ["f\ng", "second"]


async def test_slash_commands(chat_app: LakecodeApp, scripted: ScriptedProvider) -> None:
    scripted.default = "Noted."
    async with chat_app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await send(pilot, chat, "remember this")
        await idle(pilot, chat)
        first_id = chat.agent.conversation.id if chat.agent else ""
        await send(pilot, chat, "/help")
        await wait_for(pilot, lambda: isinstance(chat.app.screen, HelpScreen))
        await pilot.press("escape")
        await send(pilot, chat, "/bogus")
        assert any("Unknown command /bogus" in n.message for n in chat.app._notifications)
        await send(pilot, chat, "/new")
        await wait_for(pilot, lambda: not chat.query(UserEntry), what="an empty transcript")
        assert chat.agent is None
        await send(pilot, chat, "/model")
        await wait_for(pilot, lambda: isinstance(chat.app.screen, ModelPickerScreen))
        picker_screen = chat.app.screen
        await wait_for(pilot, lambda: "models loaded" in picker_screen.picker.status)
        await pilot.press("escape")
        await send(pilot, chat, "/resume")
        await wait_for(pilot, lambda: isinstance(chat.app.screen, ResumeScreen))
        resume = chat.app.screen
        status = resume.query_one("#resume-status")
        await wait_for(pilot, lambda: "1 saved conversation" in str(status.render()))
        await pilot.press("enter")
        await wait_for(pilot, lambda: [u.prompt for u in chat.query(UserEntry)] == ["remember this"],
                       what="the resumed transcript")
        assert [a.text for a in chat.query(AssistantEntry)] == ["Noted."]
        await send(pilot, chat, "and more")
        await idle(pilot, chat)
        assert chat.agent is not None and chat.agent.conversation.id == first_id
        assert [m.text for m in scripted.requests[-1].messages if m.role == "user"] == [
            "remember this", "and more"]
        await send(pilot, chat, "/exit")
        await wait_for(pilot, lambda: not chat.app.is_running, what="the app to quit")


async def test_model_command_switches_the_model_and_saves_it(make_app: Callable[..., LakecodeApp],
                                                             emulator: Emulator) -> None:
    TokenStore().put_secret(pat_key(emulator.url), emulator.pat)
    save_settings(Settings.model_validate({"model": "databricks-claude-sonnet-4-5",
                                           "databricks": {"host": emulator.url, "auth_type": "pat"}}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPickerScreen))
        picker = app.screen.picker
        await wait_for(pilot, lambda: "models loaded" in picker.status, what="the listing")
        picker.query_one("#model").value = "databricks-gpt-5-2"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is chat)
        await wait_for(pilot, lambda: chat.query_one("#status").info.model == "databricks-gpt-5-2")
        emulator.scripted_model.enqueue(["Hello from GPT."])
        await send(pilot, chat, "hi")
        await idle(pilot, chat)
        assert [a.text for a in chat.query(AssistantEntry)] == ["Hello from GPT."]
    chat_calls = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert chat_calls[-1].json["model"] == "databricks-gpt-5-2"
    assert 'model = "databricks-gpt-5-2"' in (Path(app.services.conversation_store.directory).parent
                                               / "settings.toml").read_text()


async def test_model_dialog_one_enter_on_a_row_uses_it(make_app: Callable[..., LakecodeApp],
                                                       emulator: Emulator) -> None:
    TokenStore().put_secret(pat_key(emulator.url), emulator.pat)
    save_settings(Settings.model_validate({"model": "databricks-claude-sonnet-4-5",
                                           "databricks": {"host": emulator.url, "auth_type": "pat"}}))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPickerScreen))
        picker = app.screen.picker
        await wait_for(pilot, lambda: "models loaded" in picker.status, what="the listing")
        # only models the workspace serves: none of them needs a "not listed, use anyway?" answer
        recommended = [m.id for m in picker.tiers.recommended]
        assert recommended == ["databricks-claude-sonnet-4-5", "databricks-gpt-5-2",
                               "databricks-gpt-oss-120b", "databricks-llama-4-maverick"]
        options = picker.query_one("#model-options", OptionList)
        assert options.has_focus
        await pilot.press(*["down"] * (len(recommended) - 1))
        assert options.highlighted_option is not None
        assert options.highlighted_option.id == "model:databricks-llama-4-maverick"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ModelPickerScreen),
                       what="the dialog to close")
        assert app.screen is chat  # closed by the one Enter: no confirmation in between
        await wait_for(pilot, lambda: chat.query_one("#status").info.model == "databricks-llama-4-maverick")
    assert 'model = "databricks-llama-4-maverick"' in (Path(app.services.conversation_store.directory).parent
                                                        / "settings.toml").read_text()


async def test_model_dialog_fits_80_by_24(make_app: Callable[..., LakecodeApp], emulator: Emulator) -> None:
    TokenStore().put_secret(pat_key(emulator.url), emulator.pat)
    save_settings(Settings.model_validate({"model": "databricks-claude-sonnet-4-5",
                                           "databricks": {"host": emulator.url, "auth_type": "pat"}}))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPickerScreen))
        picker = app.screen.picker
        await wait_for(pilot, lambda: "models loaded" in picker.status, what="the listing")
        options = picker.query_one("#model-options", OptionList)
        width = options.scrollable_content_region.width
        await wait_for(pilot, lambda: options.virtual_size.height == options.option_count,
                       what="one line per model")
        assert all(Text.assemble(o.prompt).cell_len <= width for o in options.options)
        dialog = app.screen.query_one(".model-dialog").region
        for widget in ("#model", "#model-use", "#model-cancel"):  # the field and buttons on screen
            region = app.screen.query_one(widget).region
            assert dialog.contains_region(region) and region.bottom <= 23, widget


async def test_confirmations_leave_the_status_bar_readable(chat_app: LakecodeApp) -> None:
    async with chat_app.run_test(size=SIZE, notifications=True) as pilot:
        chat = await ready(pilot)
        chat.use_model("scripted-model-2")
        await wait_for(pilot, lambda: any(t.region.height for t in chat.query("Toast")), what="the toast")
        toast = chat.query_one("Toast")
        status = chat.query_one("#status")
        assert "Model: scripted-model-2" in str(toast.render())
        assert status.region.y >= toast.region.bottom  # above the status bar, not over it
        assert status.info.model == "scripted-model-2"
        [note] = [n for n in chat_app._notifications if n.message == "Model: scripted-model-2"]
        assert note.timeout == 2.0


async def test_chat_turn_through_the_emulator(make_app: Callable[..., LakecodeApp], emulator: Emulator,
                                              project: Path) -> None:
    TokenStore().put_secret(pat_key(emulator.url), emulator.pat)
    save_settings(Settings.model_validate({"model": "databricks-claude-sonnet-4-5",
                                           "databricks": {"host": emulator.url, "auth_type": "pat"}}))
    emulator.scripted_model.enqueue([
        {"text": "Let me look.",
         "tool_calls": [{"name": "shell", "arguments": {"command": "echo hi there"}}]},
        "The command printed: hi there.",
    ])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        info = chat.query_one("#status").info
        assert (info.host, info.auth) == (emulator.url, "Access token (PAT)")
        await send(pilot, chat, "say hi")
        await wait_for(pilot, lambda: chat.query(ApprovalBar), what="the approval question")
        await pilot.press("y")
        await idle(pilot, chat)
        card = next(iter(chat.query(ToolCard)))
        assert card.state == "done" and "hi there" in (card.result or "")
        assert [a.text for a in chat.query(AssistantEntry)][-1] == "The command printed: hi there."
        assert chat.query_one("#status").info.tokens > 0


async def test_saving_settings_builds_a_new_provider_and_closes_the_old(
        make_app: Callable[..., LakecodeApp]) -> None:
    save_settings(Settings.model_validate({"model": "scripted-model",
                                           "databricks": {"host": HOST, "auth_type": "pat"}}))
    TokenStore().put_secret(pat_key(HOST), "dapi-stored")
    built: list[ScriptedProvider] = []

    def factory(overrides: object) -> ScriptedProvider:
        built.append(ScriptedProvider(default="ok"))
        return built[-1]

    app = make_app(provider_factory=factory)
    async with app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        first = app.session.provider
        await send(pilot, chat, "hello")
        await idle(pilot, chat)
        await pilot.press("f2")
        await wait_for(pilot, lambda: not isinstance(app.screen, ChatScreen) and app.screen._ready)
        app.screen.query_one("#model").value = "scripted-model-2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="not listed: sure?")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is chat and app.session.provider not in (None, first),
                       what="the new provider")
        await wait_for(pilot, lambda: built[0].closed, what="the old provider to close")
        assert app.session.provider is built[-1] and not built[-1].closed
        await send(pilot, chat, "again")
        await idle(pilot, chat)
        assert chat.agent is not None and chat.agent.provider is built[-1]
        assert chat.agent.model == "scripted-model-2"
        assert [m.text for m in built[-1].requests[0].messages if m.role == "user"] == ["hello", "again"]


async def test_oauth_token_is_renewed_in_the_background(make_app: Callable[..., LakecodeApp],
                                                        emulator: Emulator) -> None:
    TokenStore().put_secret(client_secret_key(emulator.url, emulator.client_id), emulator.client_secret)
    save_settings(Settings.model_validate({"model": "databricks-claude-sonnet-4-5", "databricks": {
        "host": emulator.url, "auth_type": "oauth-m2m", "client_id": emulator.client_id}}))
    clock = FakeClock(start=time.time())  # the emulator's tokens carry real `exp` claims
    app = make_app(clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        status = chat.query_one("#status")
        await wait_for(pilot, lambda: status.info.expiry == "60 min", what="the first token")
        assert status.info.auth == "Service principal (M2M)"
        assert emulator.token_requests.count("client_credentials") == 1
        clock.advance(3400)  # inside the refresh margin: renewed before anything needs it
        emulator.clock.advance(3400)  # the workspace's clock moves too, so new tokens live 60 min
        assert status.info.expiry == "60 min"  # not yet redrawn
        chat.update_status()
        await wait_for(pilot, lambda: emulator.token_requests.count("client_credentials") == 2,
                       what="the renewal")
        await wait_for(pilot, lambda: status.info.expiry == "60 min")


async def test_the_status_bar_fits_an_80_column_terminal(make_app: Callable[..., LakecodeApp],
                                                         emulator: Emulator) -> None:
    TokenStore().put_secret(client_secret_key(emulator.url, emulator.client_id), emulator.client_secret)
    save_settings(Settings.model_validate({"model": "databricks-claude-sonnet-4-5", "databricks": {
        "host": emulator.url, "auth_type": "oauth-m2m", "client_id": emulator.client_id}}))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        chat = await ready(pilot)
        status = chat.query_one("#status")
        await wait_for(pilot, lambda: status.info.expiry == "60 min", what="the first token")
        await pilot.pause()
        line = str(status.render())
        host = emulator.url.removeprefix("http://")
        assert line == f"{host} │ databricks-claude-sonnet-4-5 │ M2M │ token 60 min │ 0 tokens"
        assert len(line) <= 80
        await pilot.resize_terminal(130, 40)
        await pilot.pause()
        assert str(status.render()) == (f"{emulator.url}  │  databricks-claude-sonnet-4-5  │  "
                                        "Service principal (M2M)  │  token 60 min  │  0 tokens")


def test_a_workspace_host_is_shortened_to_its_first_name_when_narrow() -> None:
    from lakecode.tui.widgets.status import _fit

    parts = [("dbc-a1b2345c-d6e7.cloud.databricks.com", "bold"), ("databricks-claude-sonnet-4-5", ""),
             ("Browser sign-in (U2M)", ""), ("token 52 min", ""), ("1.2k tokens", "")]
    assert _fit(parts, 80) == " │ "
    assert [p for p, _ in parts] == ["dbc-a1b2345c-d6e7…", "databricks-claude-sonnet-4-5", "U2M",
                                     "token 52 min", "1.2k tokens"]
    wide = [("dbc-x.cloud.databricks.com", ""), ("m", "")]
    assert _fit(wide, 130) == "  │  " and wide[0][0] == "dbc-x.cloud.databricks.com"


def test_sign_in_errors_in_the_chat_point_to_the_settings_screen() -> None:
    from lakecode.errors import AuthError, ServerError
    from lakecode.tui.screens.chat import tui_description

    stored = AuthError("https://h rejected the credential.",
                       hint="Create a new personal access token and run `lakecode auth login --host "
                            "https://h --auth-type pat` (or set DATABRICKS_TOKEN).")
    assert tui_description(stored) == ("https://h rejected the credential.\n  hint: Press F2 to open the "
                                       "settings and sign in again, or fix the configuration.")
    env_hint = ("DATABRICKS_TOKEN is set and overrides any stored login: replace it, or unset it and "
                "run `lakecode auth login --host https://h --auth-type pat`.")
    from_env = AuthError("https://h rejected the credential.", hint=env_hint)
    assert tui_description(from_env).splitlines()[1:] == [
        f"  hint: {env_hint}",
        "  Press F2 to open the settings and sign in again, or fix the configuration."]
    other = ServerError("boom", status_code=503)
    assert tui_description(other) == other.describe()


async def test_help_scrolls_to_its_end_in_a_short_terminal(chat_app: LakecodeApp) -> None:
    async with chat_app.run_test(size=(100, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(chat_app.screen, HelpScreen))
        scroll = chat_app.screen.query_one("#help-scroll")
        assert chat_app.screen.focused is scroll
        await pilot.pause()
        assert scroll.max_scroll_y > 0  # longer than the screen
        await pilot.press("end")
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y


async def test_a_resumed_conversation_shows_its_calls_as_they_were(chat_app: LakecodeApp,
                                                                   scripted: ScriptedProvider) -> None:
    run = tool_call("shell", {"command": "echo hi"})
    write = tool_call("file_editor", {"command": "create", "path": "a.txt", "file_text": "x"})
    scripted.enqueue([ScriptedTurn(tool_calls=[run, write]), "Both handled."])
    async with chat_app.run_test(size=SIZE) as pilot:
        chat = await ready(pilot)
        await send(pilot, chat, "do two things")
        await wait_for(pilot, lambda: chat.query(ApprovalBar), what="the first question")
        await pilot.press("n")  # deny the command
        await wait_for(pilot, lambda: len(chat.query(ApprovalBar)) == 1 and run.id not in chat._asking,
                       what="the second question")
        await pilot.press("y")
        await idle(pilot, chat)
        live = [str(c.query_one(".tool-header").render()) for c in chat.query(ToolCard)]
        conversation_id = chat.agent.conversation.id if chat.agent else ""
        await send(pilot, chat, "/new")
        await wait_for(pilot, lambda: not chat.query(ToolCard), what="an empty transcript")
        chat.resume(conversation_id)
        await wait_for(pilot, lambda: len(chat.query(ToolCard)) == 2, what="the resumed cards")
        await pilot.pause()
        replayed = [str(c.query_one(".tool-header").render()) for c in chat.query(ToolCard)]
    assert live[0].startswith("⊘ shell  echo hi") and replayed[0] == "⊘ shell  echo hi   denied"
    assert replayed[1].startswith("✓ file_editor  create a.txt")
