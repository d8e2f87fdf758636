"""The model picker: recommended models, then the workspace's own, and a field for any model id.

The widget only shows what it is given; the screen that owns it loads the listing in a worker
(``show_loading`` → ``show_listing`` or ``show_fallback``) and hears about the user's choices
through messages:

* ``ModelPicker.RefreshRequested`` — the Refresh button;
* ``ModelPicker.Chosen`` — Enter on a model or in the id field (the /model dialog closes on it).

Every row names its source (discovered / cached / curated) and whether the model can call
tools. A model id that is not in the list (a saved one, or one typed by hand) is kept, shown at
the top as "not in the list", and selected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from lakecode.llm.types import ModelInfo, ModelListing

__all__ = ["ModelPicker", "ModelTiers", "curated_models", "model_tiers"]

_PREFIX = "model:"


@dataclass(frozen=True)
class ModelTiers:
    """A listing split for display.

    Attributes:
        recommended: the recommended models the workspace lists (or, when discovery failed, the
            curated recommended models).
        workspace: the other models the workspace lists (or, when discovery failed, the other
            curated models).
        discovered: whether discovery (live or cached) produced the listing.
    """

    recommended: tuple[ModelInfo, ...]
    workspace: tuple[ModelInfo, ...]
    discovered: bool

    @property
    def ids(self) -> set[str]:
        """Every id shown."""
        return {m.id for m in (*self.recommended, *self.workspace)}

    @property
    def listed_ids(self) -> set[str]:
        """Ids the workspace itself listed (discovered or cached)."""
        return {m.id for m in (*self.recommended, *self.workspace) if m.source != "curated"}


def model_tiers(models: Iterable[ModelInfo]) -> ModelTiers:
    """Split chat models into the recommended tier and the workspace tier.

    When discovery (live or cached) produced any model, only models the workspace lists are
    shown: a curated model it does not serve would fail every turn (ENDPOINT_NOT_FOUND). Curated
    entries are shown only when nothing was discovered (then the curated list is all there is).
    """
    chat = [m for m in models if m.chat]
    discovered = any(m.source != "curated" for m in chat)
    shown = [m for m in chat if m.source != "curated" or not discovered]
    recommended = tuple(m for m in shown if m.recommended)
    rest = tuple(m for m in shown if not m.recommended)
    return ModelTiers(recommended, rest, discovered)


def curated_models() -> tuple[ModelInfo, ...]:
    """The shipped curated list (used when nothing can be discovered)."""
    from lakecode.databricks.catalog.classify import curated_info
    from lakecode.databricks.catalog.curated import load_curated

    return tuple(curated_info(entry) for entry in load_curated().entries)


_SOURCE_WIDTH = 10  # "discovered"
_TOOLS_WIDTH = 8  # "no tools"
_STATUS_WIDTH = 2 + _SOURCE_WIDTH + 2 + _TOOLS_WIDTH
_NOT_READY = "  not ready"  # follows the id, in the id column
_MIN_NAME = 8  # a display name column narrower than this is left out
_DEFAULT_WIDTH = 100  # until the list is laid out


@dataclass(frozen=True)
class _Columns:
    """Column widths of the model rows, fitted to the list's width so that no row wraps."""

    id: int
    name: int

    @classmethod
    def fit(cls, models: Sequence[ModelInfo], width: int, current: str = "") -> _Columns:
        """Fit the columns to ``width`` cells: the display name gives way first, then the id."""
        longest = max((len(m.id) + (0 if m.ready else len(_NOT_READY)) for m in models), default=20)
        id_width = max(min(max(longest, len(current)), 48, width - _STATUS_WIDTH), 12)
        name = width - id_width - _STATUS_WIDTH - 2
        return cls(id_width, name if name >= _MIN_NAME else 0)


def _fit(text: str, width: int, style: str = "") -> Text:
    """``text`` padded, or cut with an ellipsis, to exactly ``width`` cells."""
    fitted = Text(text, style=style)
    fitted.truncate(max(width, 0), overflow="ellipsis", pad=True)
    return fitted


def _row(info: ModelInfo, columns: _Columns) -> Text:
    tools = {True: "tools ✓", False: "no tools", None: "tools ?"}[info.supports_tools]
    text = Text(no_wrap=True, overflow="ellipsis")
    room = columns.id - len(_NOT_READY)
    if info.ready or room < 4:
        text.append_text(_fit(info.id, columns.id, "bold"))
    else:
        shown = _fit(info.id, room, "bold")
        shown.rstrip()  # the marker follows the id directly
        text.append_text(shown)
        text.append_text(_fit(_NOT_READY, columns.id - shown.cell_len, "yellow"))
    if columns.name:
        name = info.display_name if info.display_name and info.display_name != info.id else ""
        text.append("  ")
        text.append_text(_fit(name, columns.name, "dim"))
    text.append("  ")
    source_style = {"discovered": "green", "cached": "yellow", "curated": "magenta"}.get(info.source, "")
    text.append_text(_fit(info.source, _SOURCE_WIDTH, source_style))
    text.append("  ")
    tools_style = {True: "green", False: "red", None: "dim"}[info.supports_tools]
    text.append(tools, style=tools_style)
    return text


def _unlisted_row(model_id: str, columns: _Columns, width: int, *, discovered: bool) -> Text:
    """The row of a model id no listing has (saved or typed), with as much of the note as fits."""
    why = "not listed by the workspace" if discovered else "kept as typed"
    room = width - columns.id
    note = next((n for n in (f"  not in the list ({why})", "  not in the list") if len(n) <= room),
                "  not in the list")
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append_text(_fit(model_id, columns.id, "bold"))
    text.append_text(_fit(note, room, "yellow"))
    return text


def _header(title: str) -> Option:
    return Option(Text(title, style="bold underline"), disabled=True)


class ModelPicker(Vertical):
    """The model list, its status line, a Refresh button and the model id field.

    Args:
        value: the model selected at first (kept and shown even when no listing has it).
    """

    class RefreshRequested(Message):
        """The user asked for a fresh listing (bypassing the 5-minute cache)."""

    class Chosen(Message):
        """The user confirmed a model (Enter on a row or in the id field).

        Attributes:
            model_id: the id, verbatim.
        """

        def __init__(self, model_id: str) -> None:
            super().__init__()
            self.model_id = model_id

    def __init__(self, value: str = "", *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._value = value
        self._tiers = ModelTiers((), (), False)
        self._width = 0

    def compose(self) -> ComposeResult:
        with Horizontal(classes="model-status-row"):
            yield Static("", id="model-status")
            yield Button("Refresh", id="model-refresh", compact=True)
        yield OptionList(id="model-options")
        yield Label("Model id (pick above, or type any id; sent exactly as written)", classes="field-label")
        yield Input(self._value, placeholder="e.g. databricks-claude-sonnet-4-5", id="model")

    # ---- what the owner tells it ----------------------------------------------------------------

    @property
    def value(self) -> str:
        """The model id in the field (stripped)."""
        return self.query_one("#model", Input).value.strip()

    @property
    def tiers(self) -> ModelTiers:
        """What is shown."""
        return self._tiers

    @property
    def status(self) -> str:
        """The status line's text."""
        return str(self.query_one("#model-status", Static).render())

    def is_listed(self, model_id: str) -> bool | None:
        """Whether the workspace lists ``model_id``; None when discovery did not answer."""
        if not self._tiers.discovered:
            return None
        return model_id in self._tiers.listed_ids

    def info(self, model_id: str) -> ModelInfo | None:
        """What the listing says about ``model_id``, or None."""
        return next((m for m in (*self._tiers.recommended, *self._tiers.workspace) if m.id == model_id),
                    None)

    @property
    def showing(self) -> bool:
        """Whether the picker can show anything (False once its dialog is being closed).

        Textual removes a widget's children before the widget itself, so a worker that finishes
        while the dialog closes can find the picker still attached but empty: then the ``show_*``
        methods do nothing.
        """
        return self.is_attached and bool(self.query("#model-options"))

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Replace the status line."""
        if not self.showing:
            return
        status = self.query_one("#model-status", Static)
        status.update(Text(text), layout=False)  # a fixed-size line: repaint it, nothing else
        status.set_class(error, "error")

    def show_loading(self, where: str) -> None:
        """Show that models are being loaded from ``where``."""
        self.set_status(f"Loading models from {where}…")

    def show_listing(self, listing: ModelListing, where: str) -> None:
        """Show a provider's listing (it may itself be a fallback; the status line says so)."""
        if not self.showing:
            return
        tiers = model_tiers(listing.models)
        if tiers.discovered:
            n = len(tiers.listed_ids)
            cached = any(m.source == "cached" for m in listing.models)
            extra = " (cached: discovery failed just now)" if cached else ""
            self.set_status(f"{n} models loaded from {where}{extra}")
        else:
            reason = listing.warnings[0] if listing.warnings else listing.status or "No models were listed."
            self.set_status(f"{reason.rstrip('.')} — showing the recommended list", error=True)
        if not self.value and tiers.discovered:
            # nothing chosen yet: suggest the first recommended model the workspace serves
            listed = [m for m in (*tiers.recommended, *tiers.workspace) if m.source != "curated"]
            suggested = next((m for m in listed if m.recommended and m.supports_tools), None)
            if suggested is not None:
                self.query_one("#model", Input).value = suggested.id
        self._fill(tiers)

    def show_fallback(self, reason: str, models: Sequence[ModelInfo] | None = None) -> None:
        """Show the curated list because the workspace could not be asked (``reason``)."""
        if not self.showing:
            return
        self.set_status(f"{reason.rstrip('.')} — showing the recommended list", error=True)
        self._fill(model_tiers(curated_models() if models is None else models))

    def select(self, model_id: str) -> None:
        """Put ``model_id`` in the field and highlight its row (adding one if it is unknown)."""
        self._value = model_id
        self.query_one("#model", Input).value = model_id
        self._fill(self._tiers)

    # ---- rendering ------------------------------------------------------------------------------

    def _row_width(self) -> int:
        """Cells a row may take without wrapping (the scrollbar's room is always kept)."""
        options = self.query_one("#model-options", OptionList)
        padding = options.get_component_styles("option-list--option").padding.width
        width = options.content_region.width - options.styles.scrollbar_size_vertical - padding
        return width if width > 0 else _DEFAULT_WIDTH

    def _fill(self, tiers: ModelTiers) -> None:
        self._tiers = tiers
        options = self.query_one("#model-options", OptionList)
        current = self.value or self._value
        shown = (*tiers.recommended, *tiers.workspace)
        self._width = self._row_width()
        columns = _Columns.fit(shown, self._width, current)
        rows: list[Option | None] = []
        if current and current not in tiers.ids:
            rows.append(_header("Selected"))
            label = _unlisted_row(current, columns, self._width, discovered=tiers.discovered)
            rows.append(Option(label, id=_PREFIX + current))
        if tiers.recommended:
            rows.append(_header("Recommended"))
            rows.extend(Option(_row(m, columns), id=_PREFIX + m.id) for m in tiers.recommended)
        if tiers.workspace:
            title = "In this workspace" if tiers.discovered else "Other known models (unverified)"
            rows.append(_header(title))
            rows.extend(Option(_row(m, columns), id=_PREFIX + m.id) for m in tiers.workspace
                        if m.id not in {r.id for r in tiers.recommended})
        options.set_options(rows)
        if current:
            options.highlighted = options.get_option_index(_PREFIX + current)

    def on_resize(self) -> None:
        """Refit the rows to the new width (after the list itself is laid out)."""
        self.call_after_refresh(self._refit)

    def _refit(self) -> None:
        if self.showing and self._row_width() != self._width:
            self._fill(self._tiers)

    # ---- events ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#model-refresh")
    def _refresh(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.RefreshRequested())

    @on(OptionList.OptionHighlighted, "#model-options")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        option_id = event.option.id or ""
        if not option_id.startswith(_PREFIX):
            return
        model_id = option_id.removeprefix(_PREFIX)
        field = self.query_one("#model", Input)
        if field.value != model_id:  # idempotent: typing an id highlights its row, and back
            field.value = model_id

    @on(OptionList.OptionSelected, "#model-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id.startswith(_PREFIX):
            model_id = option_id.removeprefix(_PREFIX)
            self.query_one("#model", Input).value = model_id
            self.post_message(self.Chosen(model_id))

    @on(Input.Changed, "#model")
    def _typed(self, event: Input.Changed) -> None:
        options = self.query_one("#model-options", OptionList)
        try:
            index = options.get_option_index(_PREFIX + event.value.strip())
        except OptionDoesNotExist:
            return  # an id typed by hand that no row has: kept as typed
        if options.highlighted != index:
            options.highlighted = index

    @on(Input.Submitted, "#model")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.post_message(self.Chosen(event.value.strip()))
