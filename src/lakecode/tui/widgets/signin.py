"""The browser sign-in panel: progress, the authorize URL to copy, a paste-back field.

The panel never signs in by itself: it posts ``SignInPanel.CancelRequested`` and
``RedirectPasted``, and the login screen runs the flow in a worker, calling ``show_url`` and
``show_progress`` as it goes. The authorize URL is shown in a read-only text area (select it with
the mouse or keyboard) with a Copy button; the pasted redirect address is masked, since it
carries the authorization code. Every part has a fixed size, so progress updates repaint one line
and never re-lay out the screen.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static, TextArea

__all__ = ["SignInPanel"]


class SignInPanel(Vertical):
    """Browser sign-in controls (see the module docstring)."""

    class CancelRequested(Message):
        """The user abandoned the sign-in."""

    class RedirectPasted(Message):
        """The user pasted the address the browser ended on.

        Attributes:
            url: the pasted text.
        """

        def __init__(self, url: str) -> None:
            super().__init__()
            self.url = url

    def compose(self) -> ComposeResult:
        yield Static("Contacting the workspace…", id="signin-status")
        with Horizontal(classes="signin-url-label"):
            yield Static("Open this address to sign in (select it, or press Copy):", classes="field-label")
            yield Button("Copy", id="signin-copy", compact=True)
        yield TextArea("", id="signin-url", read_only=True, soft_wrap=True, show_line_numbers=False,
                       compact=True)
        yield Static("No browser here? Sign in on any device, then paste the address it ends on "
                     "(http://localhost:…/?code=…):", classes="field-label")
        with Horizontal(classes="signin-paste-row"):
            yield Input(id="signin-paste", password=True,
                        placeholder="paste the redirected address here, then press Enter")
            yield Button("Submit", id="signin-submit", compact=True)
        with Horizontal(classes="dialog-buttons"):
            yield Button("Cancel sign-in \\[Esc]", id="signin-cancel", variant="warning", compact=True)

    # ---- what the screen tells it ---------------------------------------------------------------

    @property
    def authorize_url(self) -> str:
        """The URL shown (empty until the workspace answered)."""
        found = self.query("#signin-url").results(TextArea)
        return next((area.text for area in found), "")

    @property
    def status(self) -> str:
        """The status line's text."""
        return str(self.query_one("#signin-status", Static).render())

    def show_url(self, url: str) -> None:
        """Show the authorize URL."""
        self.query_one("#signin-url", TextArea).text = url

    def show_progress(self, text: str, *, error: bool = False) -> None:
        """A step of the sign-in (or a pasted address that was refused, with ``error``)."""
        status = self.query_one("#signin-status", Static)
        status.update(Text(f"✗ {text}" if error else text), layout=False)
        status.set_class(error, "error")

    def focus_paste(self) -> None:
        """Put the cursor in the paste-back field (no browser opened: pasting is the next step)."""
        self.query_one("#signin-paste", Input).focus()

    # ---- events ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#signin-cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.CancelRequested())

    @on(Button.Pressed, "#signin-copy")
    def _copy(self, event: Button.Pressed) -> None:
        event.stop()
        if self.authorize_url:
            self.app.copy_to_clipboard(self.authorize_url)
            self.app.notify("The sign-in address is on the clipboard.", timeout=3)

    @on(Button.Pressed, "#signin-submit")
    @on(Input.Submitted, "#signin-paste")
    def _pasted(self, event: Button.Pressed | Input.Submitted) -> None:
        event.stop()
        field = self.query_one("#signin-paste", Input)
        if field.value.strip():
            self.post_message(self.RedirectPasted(field.value.strip()))
            field.value = ""
