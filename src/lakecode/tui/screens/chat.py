"""The chat screen: transcript, prompt, plan, status bar - and the workflows behind them.

It owns the session's workflows, each in an exclusive async worker:

* **connect** — build the provider from the settings (in a thread: profile auth may block);
* **turn** — run the agent on a prompt and show its events as they arrive; approvals are asked
  inline on the tool's card; Esc or Ctrl+C interrupt (the agent repairs and saves the
  conversation); an error is shown with its hint and the prompt goes back into the input;
* **settings / model / resume** — open the dialogs and apply what they return: saved settings
  build a *new* provider (the old one is closed once no turn uses it); a model choice builds a
  new agent on the same conversation.

Slash commands: /settings, /model, /new, /resume, /help, /exit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Static

from lakecode.agent.approvals import Approvals, Decision
from lakecode.agent.events import (
    AgentEvent,
    Notice,
    Retrying,
    TaskListUpdated,
    ToolCallStarted,
    ToolCallStreaming,
    TurnStarted,
    TurnUsage,
)
from lakecode.agent.loop import Agent
from lakecode.agent.store import Conversation
from lakecode.agent.tools.base import ToolAccess
from lakecode.agent.tools.task_list import TaskListTool
from lakecode.config.settings import Settings
from lakecode.config.store import save_settings
from lakecode.errors import AuthError, ConfigError, LakecodeError
from lakecode.llm.types import ToolCall
from lakecode.tui.forms import AUTH_LABELS
from lakecode.tui.screens.dialogs import HelpScreen, ResumeScreen
from lakecode.tui.screens.model_picker import ModelPickerScreen
from lakecode.tui.screens.settings import SettingsScreen
from lakecode.tui.services import Services, Session, token_expiry, token_source
from lakecode.tui.widgets.prompt import SLASH_COMMANDS, PromptInput
from lakecode.tui.widgets.status import StatusBar, StatusInfo, TaskPanel, format_expiry
from lakecode.tui.widgets.transcript import NoticeEntry, Transcript, UserEntry

__all__ = ["ChatScreen"]

_QUIT_WINDOW = 2.0
_STATUS_PERIOD = 15.0
_CONFIRM_TIMEOUT = 2.0
"""Seconds a confirmation ("Settings saved.", "Model: …") stays; the status bar shows it too."""


_F2_HINT = "Press F2 to open the settings and sign in again, or fix the configuration."
# Hints that name something outside the app (an environment variable, a profile file) still help
# in the TUI; one that says "run lakecode auth login" is answered by the settings screen instead.
_OUTSIDE = ("override",  # "DATABRICKS_TOKEN is set and overrides any stored login: ..."
            "profile [",  # "Update the token in profile [dev] of ~/.databrickscfg ..."
            "LLM_API_KEY was not accepted")


def tui_description(error: LakecodeError) -> str:
    """``error.describe()`` as the chat shows it: sign-in and configuration errors whose hint is a
    ``lakecode`` command point to the settings screen (F2) instead, keeping the hint when it names
    an environment variable or a profile file that only the user can change."""
    hint = error.hint or ""
    if not isinstance(error, ConfigError | AuthError) or "`lakecode " not in hint:
        return error.describe()  # (e.g. "Pick another model with /model." fits the TUI as it is)
    if any(name in hint for name in _OUTSIDE):
        return f"{error.message}\n  hint: {hint}\n  {_F2_HINT}"
    return f"{error.message}\n  hint: {_F2_HINT}"


class ChatScreen(Screen[None]):
    """The main screen (see the module docstring).

    Args:
        session: the configuration and provider.
        services: the outside world.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "interrupt", "Interrupt", id="chat.interrupt"),
        Binding("f1", "help", "Help", id="chat.help"),
        Binding("f2", "settings", "Settings", id="chat.settings"),
        Binding("f3", "model", "Model", id="chat.model"),
    ]

    def __init__(self, session: Session, services: Services) -> None:
        super().__init__(id="chat")
        self.session = session
        self.services = services
        self.approvals = Approvals.interactive(self._ask)
        self.agent: Agent | None = None
        self._conversation: Conversation | None = None
        self.running = False
        self.tokens = 0
        self._quit_armed_at: float | None = None
        self.connecting = False
        self._asking: set[str] = set()

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-main"):
            yield Transcript(id="transcript")
            yield TaskPanel(id="tasks")
        yield Static("", id="activity")
        yield PromptInput(id="prompt")
        yield StatusBar(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(PromptInput).focus()
        self.set_interval(_STATUS_PERIOD, self.update_status)
        self.update_status()
        await self.transcript.add(NoticeEntry(self._welcome(), "welcome"))

    def _welcome(self) -> str:
        cwd = self.services.cwd
        home = Path(self.services.environ.get("HOME") or Path.home())
        shown = f"~/{cwd.relative_to(home)}" if cwd.is_relative_to(home) and cwd != home else str(cwd)
        return (f"lakecode works in {shown}. Describe a task and press Enter (Ctrl+J adds a line). "
                "It reads on its own and asks before it writes a file or runs a command. "
                "/help lists commands and keys; F2 opens the settings.")

    # ---- parts ----------------------------------------------------------------------------------

    @property
    def transcript(self) -> Transcript:
        """The transcript widget."""
        return self.query_one(Transcript)

    @property
    def prompt(self) -> PromptInput:
        """The prompt widget."""
        return self.query_one(PromptInput)

    def set_activity(self, text: str) -> None:
        """The line above the prompt (what the agent is doing)."""
        activity = self.query_one("#activity", Static)
        activity.update(text)
        activity.display = bool(text)

    def update_status(self) -> None:
        """Refresh the status bar (also every 15 s, for the token countdown)."""
        session, settings = self.session, self.session.settings
        if settings.provider == "databricks":
            auth = AUTH_LABELS.get(settings.databricks.auth_type, settings.databricks.auth_type)
            if settings.databricks.auth_type == "profile" and settings.databricks.profile:
                auth = f"profile {settings.databricks.profile}"
        else:
            auth = "API key"
        state = ""
        if session.missing:
            state = "not configured: /settings"
        elif self.connecting:
            state = "connecting…"
        elif session.provider is None and isinstance(session.provider_error, AuthError):
            state = "not signed in: /settings"
        elif session.provider is None and session.provider_error is not None:
            state = "cannot connect: /settings"
        expiry = format_expiry(token_expiry(session.provider), self.services.clock.time())
        self.query_one(StatusBar).show(StatusInfo(host=session.host or "", model=session.model or "",
                                                  auth=auth, expiry=expiry, tokens=self.tokens,
                                                  state=state))
        self._renew_if_due()

    def _renew_if_due(self) -> None:
        """Renew an OAuth token in the background shortly before it expires, so the next turn
        does not wait for it (and an expired sign-in shows up while idle, not mid-task)."""
        source = token_source(self.session.provider)
        token = source.cached() if source is not None else None
        if token is not None and not self.running and not token.is_fresh(self.services.clock.time()):
            self.renew_token()

    @work(exclusive=True, group="token")
    async def renew_token(self) -> None:
        """Get a valid token for the provider (fetching or refreshing it as needed)."""
        source = token_source(self.session.provider)
        if source is None:
            return
        try:
            await source.token()
        except LakecodeError as exc:
            if self.is_attached:
                self.notify(f"{exc.describe()}\nPress F2 to sign in again.", title="Sign-in expired",
                            severity="warning", timeout=15)
            return
        if self.is_attached:
            self.update_status()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show Interrupt only while a turn runs."""
        if action == "interrupt":
            return self.running
        return True

    # ---- connecting -----------------------------------------------------------------------------

    @work(exclusive=True, group="connect")
    async def connect(self) -> None:
        """Build the provider for the current settings; say what is wrong if it cannot be built."""
        self.connecting = True
        self.update_status()
        try:
            await self.session.connect()
        finally:
            self.connecting = False
        if not self.is_attached:
            return
        self.update_status()
        if token_source(self.session.provider) is not None:
            self.renew_token()  # signs in now (shows the token's lifetime) rather than on the first turn
        error = self.session.provider_error
        if error is not None:
            self.notify(error.describe(), title="Not connected", severity="warning", timeout=12)

    def settings_applied(self, settings: Settings | None) -> None:
        """A settings dialog closed: adopt what was saved and reconnect."""
        if settings is None:
            if self.session.missing:
                self.show_not_configured()
            return
        self.session.use_saved(settings)
        # the next turn builds an agent on the new provider, continuing this conversation; a
        # running turn finishes on the old provider, which is closed after it
        self.connect()
        self.notify("Settings saved.", timeout=_CONFIRM_TIMEOUT)

    def show_not_configured(self) -> None:
        """Say what is missing and how to fix it."""
        missing = "; ".join(self.session.missing)
        self.notify(f"lakecode is not configured yet ({missing}). Type /settings or press F2.",
                    severity="warning", timeout=10)
        self.update_status()

    # ---- input ----------------------------------------------------------------------------------

    @on(PromptInput.Submitted)
    def _submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        text = event.text.strip()
        if text.startswith("/") and "\n" not in text:
            self.prompt.remember(text)
            self.prompt.clear()
            self.command(text)
            return
        if self.running:
            self.notify("A turn is running: wait for it, or press Esc to interrupt it.", timeout=4)
            return
        self.prompt.remember(event.text)
        self.prompt.clear()
        self.run_prompt(event.text)

    @on(PromptInput.Changed)
    def _prompt_changed(self, event: PromptInput.Changed) -> None:
        text = event.text_area.text
        if not self.running:
            if text.startswith("/") and " " not in text and "\n" not in text:
                matches = [f"{name} — {about}" for name, about in SLASH_COMMANDS.items()
                           if name.startswith(text)]
                self.set_activity("   ".join(matches) if matches else "Unknown command: /help lists them")
            else:
                self.set_activity("")

    def command(self, text: str) -> None:
        """Run a slash command."""
        name = text.split()[0].lower()
        actions = {"/settings": self.action_settings, "/model": self.action_model,
                   "/new": self.new_conversation, "/resume": self.action_resume,
                   "/help": self.action_help, "/exit": self.app.exit, "/quit": self.app.exit}
        action = actions.get(name)
        if action is None:
            self.notify(f"Unknown command {name}. Commands: {', '.join(SLASH_COMMANDS)}.",
                        severity="warning", timeout=5)
            return
        action()

    # ---- a turn ---------------------------------------------------------------------------------

    async def _agent_for_run(self) -> Agent:
        session = self.session
        for worker in [w for w in self.workers if w.group == "connect" and w.is_running]:
            await worker.wait()
        if session.provider is None and not session.missing:
            await session.connect()
            self.update_status()
        agent = self.agent
        if agent is not None and agent.provider is session.provider and agent.model == session.model:
            return agent
        conversation = agent.conversation if agent is not None else self._conversation
        self.agent = session.new_agent(self.approvals, conversation)
        return self.agent

    @work(exclusive=True, group="turn")
    async def run_prompt(self, prompt: str) -> None:
        """Run one task: stream the agent's events into the transcript."""
        await self.transcript.add(UserEntry(prompt))
        self.running = True
        self.refresh_bindings()
        self.set_activity("Thinking…   (Esc interrupts)")
        failure: LakecodeError | None = None
        await self.session.set_busy(True)
        try:
            agent = await self._agent_for_run()
            async for event in agent.run(prompt):
                await self._show(event)
        except LakecodeError as exc:
            failure = exc
        finally:
            self.running = False
            await self.session.set_busy(False)
            if self.is_attached:  # not when the app is shutting down
                self.refresh_bindings()
                self.set_activity("")
                self.update_status()
        if failure is not None and self.is_attached:
            await self._failed(failure, prompt)

    async def _show(self, event: AgentEvent) -> None:
        if isinstance(event, TurnUsage):
            self.tokens = event.total.total_tokens
            self.update_status()
        elif isinstance(event, TaskListUpdated):
            self.query_one(TaskPanel).show_tasks(event.tasks)
        elif isinstance(event, Notice):
            self.notify(event.message, severity="warning" if event.level == "warning" else "information")
        else:
            self._activity_for(event)
        await self.transcript.handle(event)

    def _activity_for(self, event: AgentEvent) -> None:
        if self._asking:
            return  # events are shown a little after they happen; the open question wins
        if isinstance(event, Retrying):
            self.set_activity(f"Retrying in {event.delay:.0f} s ({event.reason})…   (Esc interrupts)")
        elif isinstance(event, ToolCallStreaming):
            self.set_activity(f"Writing a {event.name} call…   (Esc interrupts)")
        elif isinstance(event, ToolCallStarted):
            self.set_activity(f"Running {event.summary}…   (Esc interrupts)")
        elif isinstance(event, TurnStarted):
            self.set_activity("Thinking…   (Esc interrupts)")

    async def _failed(self, error: LakecodeError, prompt: str) -> None:
        """Show the error with its hint and give the prompt back, so nothing typed is lost."""
        text = tui_description(error)
        await self.transcript.add(NoticeEntry(f"✗ {text}", "error"))
        self.notify(text, title=type(error).__name__, severity="error", timeout=10)
        if not self.prompt.text.strip():
            self.prompt.set_text(prompt)
        if isinstance(error, ConfigError | AuthError):
            self.update_status()

    async def _ask(self, call: ToolCall, access: ToolAccess) -> Decision:
        """The approval callback: ask on the call's card, then give the prompt its focus back."""
        self._asking.add(call.id)
        self.set_activity(f"Approve {access.summary}?  y once · a always this session · n deny")
        try:
            return await self.transcript.ask(call, access)
        finally:
            self._asking.discard(call.id)
            if self.is_attached:
                self.set_activity(f"Running {access.summary}…   (Esc interrupts)")
                self.prompt.focus()

    # ---- interrupt and quit ---------------------------------------------------------------------

    def action_interrupt(self) -> None:
        """Stop the running turn (the conversation is repaired and saved)."""
        if self.running and self.agent is not None:
            self.agent.interrupt()
            self.set_activity("Interrupting…")

    def ctrl_c(self) -> None:
        """Ctrl+C: interrupt a running turn; when idle, quit on a second press within 2 s."""
        if self.running:
            self.action_interrupt()
            return
        now = self.services.clock.monotonic()
        if self._quit_armed_at is not None and now - self._quit_armed_at <= _QUIT_WINDOW:
            self.app.exit()
            return
        self._quit_armed_at = now
        self.notify("Press Ctrl+C again to quit.", timeout=_QUIT_WINDOW)

    # ---- dialogs --------------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show keys and commands."""
        self.app.push_screen(HelpScreen())

    def action_settings(self, first_run: bool = False) -> None:
        """Open the settings."""
        self.app.push_screen(SettingsScreen(self.session, self.services, first_run=first_run),
                             self.settings_applied)

    def action_model(self) -> None:
        """Open the model picker."""
        if self.session.missing:
            self.action_settings()
            return
        self.app.push_screen(ModelPickerScreen(self.session), self._model_chosen)

    def _model_chosen(self, model: str | None) -> None:
        if model:
            self.use_model(model)

    @work(exclusive=True, group="model")
    async def use_model(self, model: str) -> None:
        """Use ``model`` from now on (and save it as the default)."""
        session = self.session
        saved = session.saved.model_copy(update={"model": model})
        try:
            await asyncio.to_thread(save_settings, saved, self.services.settings_file)
        except OSError as exc:
            self.notify(f"Could not save the model choice: {exc}", severity="error")
        else:
            session.use_saved(saved)
        session.model_choice = model
        if "model" in session.overrides.applied:
            var = session.overrides.applied["model"]
            self.notify(f"Using {model} for this session; {var} in the environment still wins next time.",
                        timeout=6)
        else:
            self.notify(f"Model: {model}", timeout=_CONFIRM_TIMEOUT)
        self.update_status()

    def action_resume(self) -> None:
        """Pick a saved conversation to continue."""
        if self.running:
            self.notify("Interrupt the running turn first (Esc).", timeout=4)
            return
        self.app.push_screen(ResumeScreen(self.services.conversation_store), self._resume_chosen)

    def _resume_chosen(self, conversation_id: str | None) -> None:
        if conversation_id:
            self.resume(conversation_id)

    @work(exclusive=True, group="resume")
    async def resume(self, conversation_id: str) -> None:
        """Load a saved conversation, show it, and continue it with the current model."""
        store = self.services.conversation_store
        try:
            conversation = await asyncio.to_thread(store.load, conversation_id)
        except LakecodeError as exc:
            self.notify(exc.describe(), severity="error", timeout=10)
            return
        if not self.is_attached:
            return
        await self._reset(conversation)
        await self.transcript.show_history(conversation.messages)
        self.tokens = conversation.usage.total_tokens
        if self.session.provider is not None and self.session.model:
            self.agent = self.session.new_agent(self.approvals, conversation)
            for tool in self.agent.tools.values():
                if isinstance(tool, TaskListTool):
                    self.query_one(TaskPanel).show_tasks(tool.tasks)
        self.update_status()
        self.notify(f"Resumed: {conversation.title or conversation.id}", timeout=4)

    async def _reset(self, conversation: Conversation | None) -> None:
        self.agent = None
        self._conversation = conversation
        self.tokens = 0
        self.query_one(TaskPanel).show_tasks(())
        await self.transcript.clear()

    def new_conversation(self) -> None:
        """Start over with an empty conversation (the current one stays saved)."""
        if self.running:
            self.notify("Interrupt the running turn first (Esc).", timeout=4)
            return

        async def reset() -> None:
            await self._reset(None)
            await self.transcript.add(NoticeEntry("New conversation.", "info"))
            self.update_status()

        self.run_worker(reset(), group="reset", exclusive=True)
