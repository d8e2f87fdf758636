"""A tool call in the transcript: what it does, its arguments, its approval, and its result.

While the agent waits for the user, the card shows an ``ApprovalBar`` (approve once, always for
this session, deny; keys ``y`` / ``a`` / ``n``) and ``ToolCard.ask`` returns the decision. Long
arguments and long output are folded into collapsibles so the transcript stays readable.
Everything the model or a tool wrote is rendered as plain text, never as markup.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Collapsible, Static

from lakecode.agent.approvals import Decision, scope_description
from lakecode.agent.tools.base import ToolAccess
from lakecode.llm.types import ToolCall

__all__ = ["ApprovalBar", "ToolCard", "format_arguments"]

_FOLD_LINES = 12
_FOLD_CHARS = 1200
_MAX_SHOWN_LINES = 400


def _clip(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= _MAX_SHOWN_LINES:
        return text
    hidden = len(lines) - _MAX_SHOWN_LINES
    return "\n".join([*lines[:_MAX_SHOWN_LINES], f"… {hidden} more lines"])


def format_arguments(arguments: Mapping[str, Any]) -> str:
    """Arguments as readable ``key: value`` lines; multi-line strings become indented blocks."""
    lines: list[str] = []
    for key, value in arguments.items():
        if isinstance(value, str) and "\n" in value:
            lines.append(f"{key}: |")
            lines.extend(f"  {line}" for line in value.splitlines())
        elif isinstance(value, str):
            lines.append(f"{key}: {value}")
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return _clip("\n".join(lines))


def _is_long(text: str) -> bool:
    return text.count("\n") >= _FOLD_LINES or len(text) > _FOLD_CHARS


class ApprovalBar(Vertical, can_focus=True):
    """Approve once / always for this session / deny, by button or key."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide('once')", "Approve once", id="approval.once"),
        Binding("a", "decide('session')", "Always (session)", id="approval.session"),
        Binding("n", "decide('deny')", "Deny", id="approval.deny"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__(classes="approval-bar")
        self._question = question
        self.decision: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

    def compose(self) -> ComposeResult:
        yield Static(Text(self._question), classes="approval-question")
        with Horizontal(classes="approval-buttons"):
            yield Button("Approve once \\[y]", id="approve-once", variant="success", compact=True)
            yield Button("Always this session \\[a]", id="approve-session", variant="primary", compact=True)
            yield Button("Deny \\[n]", id="approve-deny", variant="error", compact=True)

    def action_decide(self, decision: Decision) -> None:
        """Answer the question (first answer wins)."""
        if not self.decision.done():
            self.decision.set_result(decision)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        choice: dict[str | None, Decision] = {"approve-once": "once", "approve-session": "session",
                                              "approve-deny": "deny"}
        decision = choice.get(event.button.id)
        if decision is not None:
            self.action_decide(decision)


class ToolCard(Vertical):
    """One tool call (see the module docstring).

    Args:
        call: the call as the model made it.
        summary: one human line, e.g. "shell: pytest -q".
    """

    def __init__(self, call: ToolCall, summary: str) -> None:
        super().__init__(classes="tool-card")
        self.call = call
        self.summary = summary or call.name
        self.state = "requested"
        self.result: str | None = None
        self._note = ""
        self._approval = ""
        self._asked = False

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="tool-header")
        # the plan panel shows the task list; its arguments would only repeat it
        args = "" if self.call.name == "task_list" else format_arguments(self.call.arguments)
        if args and _is_long(args):
            with Collapsible(title="Arguments", collapsed=True, classes="tool-args"):
                yield Static(Text(args))
        elif args:
            yield Static(Text(args), classes="tool-args-inline")
        yield Vertical(classes="tool-approval-slot")

    def _header(self) -> Text:
        glyph = {"requested": "•", "waiting": "?", "running": "▶", "done": "✓", "error": "✗",
                 "denied": "⊘"}.get(self.state, "•")
        style = {"done": "green", "error": "red", "denied": "yellow", "waiting": "bold yellow"}.get(
            self.state, "cyan")
        text = Text()
        text.append(f"{glyph} ", style=style)
        text.append(self.call.name, style="bold")
        detail = self.summary
        for prefix in (f"{self.call.name}:", f"{self.call.name} "):
            detail = detail.removeprefix(prefix)
        detail = detail.strip()
        if detail and detail != self.call.name:
            text.append(f"  {detail}")
        text.append(f"   {self._state_text()}", style=f"dim {style}")
        return text

    def _state_text(self) -> str:
        return {"requested": "", "waiting": "waiting for approval", "running": "running…"}.get(
            self.state, self._note)

    def set_state(self, state: str, note: str = "") -> None:
        """Change the header's state (``running``, ``done``, ``error``, ``denied``, ...)."""
        self.state = state
        self._note = note
        self.set_class(state == "error", "-error")
        self.set_class(state == "denied", "-denied")
        self.query_one(".tool-header", Static).update(self._header())

    def approved(self, how: str) -> None:
        """The call may run (``how``: read-only, auto, once, session, remembered)."""
        labels = {"read-only": "read-only", "auto": "auto-approved", "once": "approved once",
                  "session": "approved for this session", "remembered": "approved (this session)"}
        self.set_state("running", labels.get(how, how))
        self._approval = labels.get(how, how)

    def denied(self, reason: str) -> None:
        """The call was refused; the model is told ``reason``."""
        self.set_state("denied", "denied")
        self.mount(Static(Text(reason), classes="tool-result -denied"))

    async def show_result(self, content: str, is_error: bool, duration: float) -> None:
        """Show what the tool returned (folded when long)."""
        self.result = content
        took = f"{duration:.0f} s" if duration >= 1 and not self._asked else ""  # only slow ones
        note = " · ".join(p for p in (self._approval, took) if p)
        if self.call.name == "task_list" and not is_error:
            self.set_state("done", note)  # the plan panel shows the list
        elif self.state != "denied":
            self.set_state("error" if is_error else "done", note)
            text = _clip(content.rstrip()) or "(no output)"
            lines = text.count("\n") + 1
            classes = "tool-result -error" if is_error else "tool-result"
            if _is_long(text):
                body = Collapsible(Static(Text(text)), title=f"Output · {lines} lines",
                                   collapsed=True, classes=classes)
                await self.mount(body)
            else:
                await self.mount(Static(Text(text), classes=classes))

    async def ask(self, access: ToolAccess) -> Decision:
        """Show the approval bar, wait for the user's decision, and remove the bar."""
        self.set_state("waiting")
        self._asked = True
        question = f"Allow {access.kind}: {access.summary}?"
        if access.scope_key:
            question += f"  (Always = {scope_description(access.scope_key)}, for this session)"
        bar = ApprovalBar(question)
        await self.query_one(".tool-approval-slot").mount(bar)
        folded = list(self.query(".tool-args").results(Collapsible))
        for collapsible in folded:
            collapsible.collapsed = False  # the user should see what they approve
        bar.focus(scroll_visible=False)
        try:
            return await bar.decision
        finally:
            for collapsible in folded:
                collapsible.collapsed = True
            await bar.remove()
            self.set_state("requested")
