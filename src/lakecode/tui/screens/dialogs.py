"""Small modal dialogs: a yes/no question, help, and the saved-conversation picker."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from lakecode.agent.store import ConversationStore, ConversationSummary
from lakecode.tui.widgets.prompt import SLASH_COMMANDS

__all__ = ["HELP_TEXT", "ConfirmScreen", "HelpScreen", "ResumeScreen", "summary_row"]


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True for yes.

    Args:
        question: the question.
        yes: the label of the confirming button.
        no: the label of the other button.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog-screen")
        self._question, self._yes, self._no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog confirm-dialog"):
            yield Static(Text(self._question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._no} \\[n]", id="confirm-no", compact=True)
                yield Button(f"{self._yes} \\[y]", id="confirm-yes", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-yes", Button).focus()

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


HELP_TEXT = "\n".join([
    "# lakecode",
    "",
    "Type a task and press **Enter**. The agent reads files and runs read-only tools on its own,",
    "and asks before it writes a file or runs a command.",
    "",
    "## Commands",
    "",
    *(f"- `{name}` — {about}" for name, about in SLASH_COMMANDS.items()),
    "",
    "## Keys",
    "",
    "- **Enter** send · **Ctrl+J** new line (also Shift+Enter / Alt+Enter where the terminal "
    "reports them) · **Up/Down** at the first/last line: earlier prompts · **Tab** completes a command",
    "- **Esc** or **Ctrl+C** interrupt the running turn · **Ctrl+C** twice when idle: quit",
    "- Approvals: **y** approve once · **a** always for this session · **n** deny",
    "- **F2** settings · **F3** model · **F1** this help · **Ctrl+Q** quit at once",
    "- Select text with the mouse; **Ctrl+C** copies a selection.",
    "",
    "Settings live in `$LAKECODE_HOME/settings.toml` (default `~/.lakecode`); secrets and sign-ins",
    "in its private token store, never in settings.toml. Environment variables (`DATABRICKS_HOST`,",
    "`DATABRICKS_TOKEN`, `LLM_MODEL`, …) win over saved settings for one run and are never saved.",
])


class HelpScreen(ModalScreen[None]):
    """Keys and commands."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,f1", "close", "Close", id="help.close"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help-dialog", id="help-scroll"):
            yield Markdown(HELP_TEXT)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()  # arrows and PageUp/PageDown scroll a long help

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)


def summary_row(summary: ConversationSummary) -> Text:
    """One line for a saved conversation: title, model, last update."""
    updated = datetime.fromtimestamp(summary.updated).astimezone().strftime("%Y-%m-%d %H:%M")
    text = Text(no_wrap=True, overflow="ellipsis")
    title = summary.title or "(untitled)"
    text.append((title if len(title) <= 40 else title[:39] + "…").ljust(40), style="bold")
    model = summary.model or "?"
    text.append(f"  {model if len(model) <= 28 else model[:27] + '…':<28}", style="cyan")
    text.append(f"  {updated}", style="dim")
    text.append(f"  {summary.turns} turn{'s' if summary.turns != 1 else ''}", style="dim")
    return text


class ResumeScreen(ModalScreen[str | None]):
    """Pick a saved conversation; dismisses with its id (None: cancelled).

    Args:
        store: where conversations are saved.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="resume.cancel"),
    ]

    def __init__(self, store: ConversationStore) -> None:
        super().__init__(classes="dialog-screen")
        self._store = store

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog resume-dialog"):
            yield Static("Resume a conversation  (Enter to open, Esc to cancel)", classes="dialog-title")
            yield Static("Loading saved conversations…", id="resume-status")
            yield OptionList(id="resume-list")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(exclusive=True, group="resume-list")
    async def _load(self) -> None:
        listing = await asyncio.to_thread(self._store.list)
        options = self.query_one("#resume-list", OptionList)
        options.set_options(Option(summary_row(s), id=s.id) for s in listing.conversations)
        count = len(listing.conversations)
        status = f"{count} saved conversation{'s' if count != 1 else ''}" if count else \
            "No saved conversations yet."
        if listing.problems:
            status += f" ({len(listing.problems)} could not be read)"
        self.query_one("#resume-status", Static).update(Text(status))
        if count:
            options.highlighted = 0
            options.focus()

    def action_cancel(self) -> None:
        """Close without choosing."""
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#resume-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
