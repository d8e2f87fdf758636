"""The Textual app: ``lakecode`` with no command opens it.

``LakecodeApp`` reads the settings (and this run's environment overrides), shows the chat
screen, and opens the settings on top when nothing is configured yet (first run) or the settings
file is broken. Everything else is a screen's workflow (``screens/chat.py``,
``screens/settings.py``). The headless CLI never imports this package.

App-wide keys: **Ctrl+C** copies a selection if there is one, else interrupts the running turn,
else (pressed twice) quits; **Ctrl+Q** quits at once.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.widgets import TextArea

from lakecode.tui.screens.chat import ChatScreen
from lakecode.tui.services import Services, Session

__all__ = ["LakecodeApp", "run_tui"]


class LakecodeApp(App[int]):
    """lakecode's terminal UI.

    Args:
        services: the outside world (tests inject fakes); defaults to the real one.
    """

    TITLE = "lakecode"
    CSS_PATH = Path(__file__).with_name("app.tcss")
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "ctrl_c", "Interrupt / quit", id="app.ctrl_c", priority=True, show=False),
    ]

    def __init__(self, services: Services | None = None) -> None:
        super().__init__()
        self.services = services or Services()
        self.session = Session(self.services)
        self.chat: ChatScreen | None = None

    async def on_mount(self) -> None:
        await asyncio.to_thread(self.session.load)
        self.chat = ChatScreen(self.session, self.services)
        await self.push_screen(self.chat)
        error = self.session.load_error
        if error is not None:
            self.notify(f"{error.describe()}\nThe file is kept as a backup when you save new settings.",
                        title="Settings file unreadable", severity="error", timeout=20)
        if self.session.missing or error is not None:
            self.chat.action_settings(first_run=True)
        else:
            self.chat.connect()
        self.call_after_refresh(self._freeze_heap)

    @staticmethod
    def _freeze_heap() -> None:
        """Exempt everything built at start-up from garbage collection.

        A full collection walks every tracked object; with Textual, httpx and pydantic loaded that
        is tens of thousands of objects and a pause long enough to be felt. Objects alive once the
        UI is up live until exit anyway, so later collections need not look at them.
        """
        gc.freeze()

    async def on_unmount(self) -> None:
        await self.session.aclose()

    def action_ctrl_c(self) -> None:
        """Copy a selection if there is one; else interrupt, or quit on a second press."""
        focused = self.focused
        if isinstance(focused, TextArea) and focused.selected_text:
            self.copy_to_clipboard(focused.selected_text)
            return
        selected = self.screen.get_selected_text()
        if selected:
            self.copy_to_clipboard(selected)
            self.screen.clear_selection()
            return
        if self.screen is self.chat:
            self.chat.ctrl_c()
        else:
            self.notify("Press Esc to close this dialog.", timeout=3)


def run_tui() -> int:
    """Open the terminal UI; returns the exit code."""
    result = LakecodeApp().run()
    return result if isinstance(result, int) else 0
