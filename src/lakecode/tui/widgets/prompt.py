"""The prompt: a multi-line text area where Enter sends and Ctrl+J adds a line.

Keys (shown in the footer):

* **Enter** sends (posts ``PromptInput.Submitted``);
* **Ctrl+J** inserts a newline in every terminal; **Shift+Enter** and **Alt+Enter** do too
  where the terminal reports them (kitty keyboard protocol, most macOS terminals with Option as
  Meta). Pasted text keeps its newlines and never sends;
* **Up** on the first line and **Down** on the last line walk the history of sent prompts;
  the text being written is kept and comes back after the newest entry;
* **Tab** completes a slash command when one matches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

__all__ = ["SLASH_COMMANDS", "PromptInput"]

SLASH_COMMANDS: dict[str, str] = {
    "/settings": "open the settings (provider, workspace, sign-in, model)",
    "/model": "pick the model",
    "/new": "start a new conversation",
    "/resume": "continue a saved conversation",
    "/help": "keys and commands",
    "/exit": "quit lakecode",
}

_NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter", "ctrl+enter"})


class PromptInput(TextArea):
    """The prompt (see the module docstring).

    Args:
        history: earlier prompts, oldest first.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Send", id="prompt.send"),
        Binding("ctrl+j", "newline", "Newline", id="prompt.newline"),
    ]

    class Submitted(Message):
        """The user sent the prompt.

        Attributes:
            text: what was written (not stripped of inner whitespace).
        """

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, history: Sequence[str] = (), *, id: str | None = None) -> None:
        super().__init__("", id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         compact=True, highlight_cursor_line=False,
                         placeholder="Ask lakecode to do something…  (Enter sends, Ctrl+J adds a line, "
                                     "/help lists commands)")
        self.prompt_history: list[str] = list(history)
        self._position: int | None = None  # index into history while browsing
        self._draft = ""

    # ---- actions ---------------------------------------------------------------------------------

    def action_submit(self) -> None:
        """Send the prompt (ignored when it is blank)."""
        text = self.text
        if not text.strip():
            return
        self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)

    def remember(self, text: str) -> None:
        """Add a sent prompt to the history (no consecutive duplicates) and stop browsing."""
        if text.strip() and (not self.prompt_history or self.prompt_history[-1] != text):
            self.prompt_history.append(text)
        self._position = None
        self._draft = ""

    def set_text(self, text: str) -> None:
        """Replace the content and put the cursor at the end."""
        self.load_text(text)
        self.move_cursor(self.document.end)

    # ---- keys -----------------------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        handled = True
        if key == "enter":
            self.action_submit()
        elif key in _NEWLINE_KEYS:
            self.action_newline()
        elif key == "up" and self.cursor_location[0] == 0 and self.prompt_history:
            handled = self._browse(-1)
        elif key == "down" and self.cursor_location[0] == self.document.line_count - 1:
            handled = self._browse(1)
        elif key == "tab":
            handled = self._complete()
        else:
            handled = False
        if handled:
            event.stop()
            event.prevent_default()

    def _browse(self, step: int) -> bool:
        if self._position is None:
            if step > 0:
                return False
            self._draft = self.text
            self._position = len(self.prompt_history)
        position = self._position + step
        if position < 0:
            return True  # already at the oldest entry
        if position >= len(self.prompt_history):
            self._position = None
            self.set_text(self._draft)
            return True
        self._position = position
        self.set_text(self.prompt_history[position])
        return True

    def _complete(self) -> bool:
        text = self.text
        if not text.startswith("/") or " " in text or "\n" in text:
            return False
        matches = [name for name in SLASH_COMMANDS if name.startswith(text)]
        if len(matches) == 1 and matches[0] != text:
            self.set_text(matches[0])
            return True
        return False
