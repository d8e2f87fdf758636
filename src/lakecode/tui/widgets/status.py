"""The status bar and the task list panel.

The status bar shows where turns go and what they cost: workspace host, model, sign-in method,
time left on the OAuth token, and tokens used in this conversation. The task panel shows the
plan the model keeps with the ``task_list`` tool, and hides itself while there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from lakecode.agent.events import TaskItem

__all__ = ["StatusBar", "StatusInfo", "TaskPanel", "format_expiry", "format_tokens"]


def format_tokens(count: int) -> str:
    """``1234`` → ``1.2k``; ``1_500_000`` → ``1.5M``."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


def format_expiry(expires_at: float | None, now: float) -> str:
    """Time left on a token, e.g. ``52 min``; "" when the token does not expire."""
    if expires_at is None:
        return ""
    left = expires_at - now
    if left <= 0:
        return "expired (renews on next request)"
    if left < 90:
        return f"{int(left)} s"
    if left < 5400:
        return f"{round(left / 60)} min"
    return f"{left / 3600:.1f} h"


@dataclass(frozen=True)
class StatusInfo:
    """What the status bar shows.

    Attributes:
        host: the workspace host or base URL ("" when not configured).
        model: the model id.
        auth: the sign-in method's label.
        expiry: time left on the token ("" for none).
        tokens: tokens used in this conversation.
        state: e.g. "connecting…", "not signed in" ("" when ready).
    """

    host: str = ""
    model: str = ""
    auth: str = ""
    expiry: str = ""
    tokens: int = 0
    state: str = ""


class StatusBar(Static):
    """One line at the bottom (see the module docstring)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.info = StatusInfo()

    def show(self, info: StatusInfo) -> None:
        """Replace what is shown (fitted to the bar's width; see ``_fit``)."""
        self.info = info
        parts: list[tuple[str, str]] = [
            (info.host.removeprefix("https://") or "not configured", "bold"),
            (info.model or "no model", "cyan"),
        ]
        if info.state:  # e.g. "not signed in": more important than what follows
            parts.append((info.state, "bold yellow"))
        if info.auth:
            parts.append((info.auth, ""))
        if info.expiry:
            parts.append((f"token {info.expiry}", "yellow" if "expired" in info.expiry else ""))
        parts.append((f"{format_tokens(info.tokens)} tokens", "dim"))
        text = Text(no_wrap=True, overflow="ellipsis")
        separator = _fit(parts, self.size.width)
        for i, (part, style) in enumerate(parts):
            if i:
                text.append(separator, style="dim")
            text.append(part, style=style)
        self.update(text)

    def on_resize(self) -> None:
        """Refit the line to the new width."""
        self.show(self.info)


def _fit(parts: list[tuple[str, str]], width: int) -> str:
    """The separator that lets ``parts`` fit in ``width`` columns (narrower when needed); in a
    narrow terminal the sign-in method is shortened to its abbreviation in parentheses, e.g.
    "Access token (PAT)" -> "PAT", then the host to its first name, so the token time and count
    stay visible. ``parts`` is changed in place."""
    wide, narrow = "  │  ", " │ "

    def length(separator: str) -> int:
        return sum(len(p) for p, _ in parts) + len(separator) * (len(parts) - 1)

    if width <= 0 or length(wide) <= width:
        return wide
    for i, (part, style) in enumerate(parts):
        if part.endswith(")") and "(" in part and length(narrow) > width:
            parts[i] = (part[part.rindex("(") + 1:-1], style)
    host, style = parts[0]
    if length(narrow) > width:
        host = host.removeprefix("http://")
    if length(narrow) > width and "." in host and not host.replace(".", "").replace(":", "").isdigit():
        host = host.split(".", 1)[0] + "…"  # dbc-a1b2345c-d6e7.cloud.databricks.com -> dbc-a1b2345c-d6e7…
    parts[0] = (host, style)
    return narrow


_GLYPHS = {"todo": "☐", "doing": "◐", "done": "☑"}


class TaskPanel(Static):
    """The model's plan (hidden while empty)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.tasks: tuple[TaskItem, ...] = ()

    def on_mount(self) -> None:
        self.display = False

    def show_tasks(self, tasks: Sequence[TaskItem]) -> None:
        """Replace the list."""
        self.tasks = tuple(tasks)
        self.display = bool(self.tasks)
        text = Text()
        text.append("Plan\n", style="bold")
        for task in self.tasks:
            style = {"done": "dim strike", "doing": "bold"}.get(task.status, "")
            text.append(f"{_GLYPHS.get(task.status, '•')} ", style="green" if task.status == "done" else "")
            text.append(f"{task.title}\n", style=style)
        self.update(text)
