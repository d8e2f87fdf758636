"""``/model``: pick the model quickly, from the running provider's (cached) listing.

The listing comes from the provider in use, so within the catalog's 5-minute cache it shows at
once; Refresh asks the workspace again. A model the workspace does not list can still be chosen
(after a confirmation), and any id can be typed.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from lakecode.errors import LakecodeError
from lakecode.tui.screens.dialogs import ConfirmScreen
from lakecode.tui.services import Session, list_models
from lakecode.tui.widgets.model_list import ModelPicker

__all__ = ["ModelPickerScreen"]


class ModelPickerScreen(ModalScreen[str | None]):
    """Choose a model; dismisses with its id (None: cancelled).

    Args:
        session: the running session (its provider lists the models).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="model.cancel"),
        Binding("ctrl+r", "refresh", "Refresh", id="model.refresh"),
    ]
    # Textual types this `ClassVar[...] | None`, which mypy reads as an instance variable
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-medium"), (37, "-tall")]  # noqa: RUF012
    """Terminal heights at which the list shrinks so that the id field and buttons stay visible."""

    def __init__(self, session: Session) -> None:
        super().__init__(classes="dialog-screen")
        self.session = session

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog model-dialog"):
            yield Static("Choose the model  (Enter to use it, Esc to cancel)", classes="dialog-title")
            yield ModelPicker(self.session.model or "", id="model-picker")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="model-cancel", compact=True)
                yield Button("Use this model", id="model-use", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#model-options").focus()
        self.load_models()

    @property
    def picker(self) -> ModelPicker:
        """The picker widget."""
        return self.query_one(ModelPicker)

    @work(exclusive=True, group="models")
    async def load_models(self, refresh: bool = False) -> None:
        """List the models (from the cache unless ``refresh``)."""
        provider = self.session.provider
        where = self.session.host or "the provider"
        if provider is None:
            error = self.session.provider_error
            self.picker.show_fallback(error.message if error else "Not connected")
            return
        self.picker.show_loading(where)
        try:
            listing = await list_models(provider, refresh=refresh)
        except LakecodeError as exc:
            if self.is_attached:
                self.picker.show_fallback(exc.message)
            return
        if self.is_attached:  # not when the dialog was closed meanwhile
            self.picker.show_listing(listing, where)

    def action_refresh(self) -> None:
        """Ask the workspace again."""
        self.load_models(refresh=True)

    def action_cancel(self) -> None:
        """Close without changing the model."""
        self.dismiss(None)

    @on(ModelPicker.RefreshRequested)
    def _refresh(self) -> None:
        self.action_refresh()

    @on(ModelPicker.Chosen)
    def _chosen(self, event: ModelPicker.Chosen) -> None:
        self.choose(event.model_id)

    @on(Button.Pressed, "#model-use")
    def _use(self) -> None:
        if self.picker.value:
            self.choose(self.picker.value)

    @on(Button.Pressed, "#model-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @work(exclusive=True, group="choose")
    async def choose(self, model_id: str) -> None:
        """Use ``model_id``, after a confirmation when the workspace does not list it."""
        if self.picker.is_listed(model_id) is False:
            question = (f"{model_id} is not listed by {self.session.host}. Turns will fail if the "
                        "workspace does not serve it. Use it anyway?")
            if not await self.app.push_screen_wait(ConfirmScreen(question, yes="Use it")):
                return
        self.dismiss(model_id)
