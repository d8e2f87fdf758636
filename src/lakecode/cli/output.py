"""How headless runs show what happens: human progress, or JSON Lines events.

Both renderers take the agent's events (``lakecode.agent.events``) one at a time and keep to the
headless output discipline: **stdout carries only the result** (the final answer, or JSON Lines
with ``--json``), everything else goes to stderr. Every string is redacted before it is written.

``Progress`` (the default) writes a compact transcript to its ``log`` stream: one line per turn,
one per tool call with a one-line summary of its result, retries, notices and a closing usage
line. The final answer goes to ``answer``. Colour is used only when asked for (the CLI asks when
stderr is a terminal and ``NO_COLOR`` is unset).

``JsonEvents`` (``--json``) writes one JSON object per line, as documented by the JSON Schema
shipped beside this module (``run_events.schema.json``) and in ``docs/headless.md``. Every line
has ``type`` and ``v`` (the schema version); the last line is ``finished`` or ``error`` and
carries the exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import click

from lakecode.agent.events import (
    AgentEvent,
    AssistantMessage,
    ContextCompacted,
    Notice,
    ReasoningChunk,
    Retrying,
    RunFinished,
    RunStarted,
    TaskListUpdated,
    TextChunk,
    ToolCallDenied,
    ToolCallResult,
    ToolCallStarted,
    ToolCallStreaming,
    TurnStarted,
    TurnUsage,
    usage_dict,
)
from lakecode.agent.loop import CANCELLED_NOT_RUN, CANCELLED_RUNNING
from lakecode.llm.types import Usage
from lakecode.redact import redact

__all__ = [
    "SCHEMA_VERSION",
    "JsonEvents",
    "Progress",
    "Renderer",
    "RunContext",
    "result_summary",
    "use_color",
]

SCHEMA_VERSION = 1
"""The ``v`` of every JSON line; bumped only for changes that break readers."""

_SUMMARY_CHARS = 100
_MARKS = {"todo": "[ ]", "doing": "[~]", "done": "[x]"}


@dataclass(frozen=True)
class RunContext:
    """What a renderer is told before the agent starts.

    Attributes:
        provider: "databricks" or "openai-compatible".
        cwd: the project directory.
        resumed: the run continues a saved conversation.
    """

    provider: str
    cwd: str
    resumed: bool = False


class Renderer(Protocol):
    """What the headless driver calls while a run goes on."""

    def begin(self, context: RunContext) -> None:
        """Before the first event."""

    def event(self, event: AgentEvent) -> None:
        """Each agent event, as it happens."""

    def interrupting(self) -> None:
        """The user pressed Ctrl+C; the run is being stopped."""

    def finished(self, event: RunFinished, exit_code: int) -> None:
        """The run ended without an error (completed, turn limit or interrupted)."""

    def error(self, name: str, message: str, hint: str | None, exit_code: int,
              conversation_id: str | None) -> None:
        """The run could not start, or ended with an error."""


def use_color(stream: TextIO) -> bool:
    """Whether to style text written to ``stream``: a terminal, and ``NO_COLOR`` unset."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def _clean(value: Any) -> Any:
    """``value`` with every string redacted (dict keys are ours and left alone)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _first_line(text: str, limit: int = _SUMMARY_CHARS) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return "(no output)"


def result_summary(content: str) -> str:
    """One line for a tool result: its first line, the shell's exit status, and the line count."""
    lines = [line for line in content.splitlines() if line.strip()]
    first = _first_line(content)
    status = next((line.strip() for line in reversed(lines)
                   if line.startswith(("[exit code:", "[timed out"))), None)
    extra = [] if status is None or status == first else [status]
    more = len(lines) - 1 - len(extra)
    if more > 0:
        extra.append(f"+{more} line{'s' if more != 1 else ''}")
    return f"{first}  ({', '.join(extra)})" if extra else first


def _tool_status(event: ToolCallResult, denied: set[str]) -> str:
    if event.call_id in denied:
        return "denied"
    if event.is_error and event.content in (CANCELLED_RUNNING, CANCELLED_NOT_RUN):
        return "cancelled"
    return "error" if event.is_error else "ok"


def _tokens(usage: Usage) -> str:
    return (f"{usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion = "
            f"{usage.total_tokens:,} tokens")


class Progress:
    """Human-readable progress on ``log`` (stderr), the answer on ``answer`` (stdout).

    Args:
        answer: where the final answer goes.
        log: where progress goes.
        color: use ANSI styles on ``log``.
        indent: prefix of every progress line (the demo indents its transcript).
        answer_prefix: prefix of every line of the answer (the demo marks it).
    """

    def __init__(self, answer: TextIO, log: TextIO, *, color: bool = False, indent: str = "",
                 answer_prefix: str = "", live: bool = False) -> None:
        self.answer = answer
        self.log = log
        self.color = color
        self.indent = indent
        self.answer_prefix = answer_prefix
        self.live = live
        self._denied: set[str] = set()
        self._context = RunContext(provider="", cwd="")
        self._streamed = 0  # characters of the current turn's stream (for the live line)
        self._live_shown = False

    def _style(self, text: str, **style: Any) -> str:
        return click.style(text, **style) if self.color else text

    def _say(self, text: str, **style: Any) -> None:
        self._clear_live()
        for line in redact(text).splitlines() or [""]:
            self.log.write(self.indent + self._style(line, **style) + "\n")
        self.log.flush()

    def begin(self, context: RunContext) -> None:
        """Nothing to show until the agent says which conversation this is."""
        self._context = context

    def _clear_live(self) -> None:
        if self._live_shown:
            self.log.write("\r\x1b[2K")
            self._live_shown = False

    def _live(self, what: str) -> None:
        """One line, rewritten in place, while the model streams (only on a terminal)."""
        self.log.write(f"\r\x1b[2K{self.indent}  {self._style(f'… {what}', dim=True)}")
        self.log.flush()
        self._live_shown = True

    def event(self, event: AgentEvent) -> None:
        """Show ``event`` if it is worth a line (see the module docstring)."""
        if isinstance(event, TextChunk | ReasoningChunk | ToolCallStreaming):
            if self.live:
                self._streamed += len(getattr(event, "text", ""))
                what = ({TextChunk: "writing", ReasoningChunk: "thinking"}.get(type(event))
                        if not isinstance(event, ToolCallStreaming) else f"writing a {event.name} call")
                self._live(f"{what} ({self._streamed:,} characters)")
            return
        if isinstance(event, TurnStarted):
            self._streamed = 0
        if isinstance(event, RunStarted):
            verb = "continuing" if self._context.resumed else "conversation"
            self._say(f"lakecode · {event.model} ({self._context.provider}) · {self._context.cwd} · "
                      f"{verb} {event.conversation_id}", dim=True)
        elif isinstance(event, TurnStarted):
            self._say(f"turn {event.turn}", bold=True)
        elif isinstance(event, AssistantMessage):
            self._message(event)
        elif isinstance(event, ToolCallStarted):
            self._say(f"  → {event.summary}", fg="cyan")
        elif isinstance(event, ToolCallDenied):
            self._denied.add(event.call_id)
            self._say(f"    ✗ {' '.join(event.reason.split())}", fg="yellow")
        elif isinstance(event, ToolCallResult):
            self._result(event)
        elif isinstance(event, TaskListUpdated):
            plan = " · ".join(f"{_MARKS.get(t.status, '[ ]')} {t.title}" for t in event.tasks)
            self._say(f"    plan: {plan}", dim=True)
        elif isinstance(event, Retrying):
            # (long enough for the service's own sentence, which names the endpoint)
            self._say(f"  ↻ {_first_line(event.reason, 220)}; retrying in {event.delay:.1f} s "
                      f"(attempt {event.attempt})", fg="yellow")
        elif isinstance(event, ContextCompacted):
            self._say(f"  context compacted: about {event.tokens_before:,} → {event.tokens_after:,} "
                      "tokens", dim=True)
        elif isinstance(event, Notice):
            self._say(f"  {event.level}: {event.message}", fg="yellow" if event.level == "warning" else None)

    def _message(self, event: AssistantMessage) -> None:
        text = event.message.text.strip()
        if not text:
            return
        if event.message.tool_calls:
            for line in text.splitlines():
                self._say(f"  {line}")
            return
        self._clear_live()
        self.log.flush()
        self.answer.write("".join(f"{self.answer_prefix}{line}\n" for line in redact(text).splitlines()))
        self.answer.flush()

    def _result(self, event: ToolCallResult) -> None:
        status = _tool_status(event, self._denied)
        if status == "denied" or (status == "ok" and event.name == "task_list"):
            return  # shown already: the refusal when it happened, the plan as it changed
        mark, colour = {"ok": ("✓", "green"), "cancelled": ("■", "yellow")}.get(status, ("✗", "red"))
        self._say(f"    {mark} {result_summary(event.content)}", fg=colour)

    def interrupting(self) -> None:
        """Acknowledge Ctrl+C at once, before the run has wound down."""
        self._say("interrupting: stopping the model and any running command…", fg="yellow")

    def finished(self, event: RunFinished, exit_code: int) -> None:
        """A closing line: how it ended, turns and tokens."""
        how = {"completed": "done", "turn_limit": "stopped at the turn limit",
               "interrupted": "interrupted"}.get(event.outcome, event.outcome)
        plural = "s" if event.turns != 1 else ""
        self._say(f"{how} after {event.turns} turn{plural} · {_tokens(event.usage)}",
                  fg=None if exit_code == 0 else "yellow")
        if event.outcome == "turn_limit":
            self._say("the model had not finished; raise --max-turns or continue with --resume",
                      fg="yellow")

    def error(self, name: str, message: str, hint: str | None, exit_code: int,
              conversation_id: str | None) -> None:
        """The error, then its hint, on ``log``."""
        self._say(f"error: {message}", fg="red")
        if hint:
            self._say(f"  hint: {hint}")


class JsonEvents:
    """JSON Lines on ``out`` (stdout), one object per event (see the module docstring)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._denied: set[str] = set()
        self._turn = 0
        self._context = RunContext(provider="", cwd="")

    def write(self, type_: str, **fields: Any) -> None:
        """Write one line: ``{"type": type_, "v": SCHEMA_VERSION, **fields}`` (redacted)."""
        line = {"type": type_, "v": SCHEMA_VERSION, **_clean(fields)}
        self.out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.out.flush()

    def begin(self, context: RunContext) -> None:
        """Remember the context for the ``run_started`` line."""
        self._context = context

    def event(self, event: AgentEvent) -> None:
        """Translate ``event`` into zero or one documented line."""
        if isinstance(event, RunStarted):
            self.write("run_started", conversation_id=event.conversation_id, model=event.model,
                       provider=self._context.provider, cwd=self._context.cwd,
                       resumed=self._context.resumed)
        elif isinstance(event, TurnStarted):
            self._turn = event.turn
            self.write("turn_started", turn=event.turn)
        elif isinstance(event, AssistantMessage):
            if event.message.text.strip():
                self.write("text", turn=event.turn, text=event.message.text,
                           final=not event.message.tool_calls)
        elif isinstance(event, TurnUsage):
            self.write("usage", turn=event.turn, usage=usage_dict(event.usage),
                       total=usage_dict(event.total))
        else:
            self._tool_event(event)

    def _tool_event(self, event: AgentEvent) -> None:
        if isinstance(event, ToolCallStarted):
            call = event.call
            self.write("tool_call", turn=self._turn, id=call.id, name=call.name,
                       arguments=dict(call.arguments), access=event.access, summary=event.summary)
        elif isinstance(event, ToolCallDenied):
            self._denied.add(event.call_id)
        elif isinstance(event, ToolCallResult):
            self.write("tool_result", turn=self._turn, id=event.call_id, name=event.name,
                       status=_tool_status(event, self._denied), output=event.content,
                       duration=round(event.duration, 3))
        elif isinstance(event, TaskListUpdated):
            self.write("task_list", tasks=[{"title": t.title, "status": t.status} for t in event.tasks])
        elif isinstance(event, Retrying):
            self.write("retry", attempt=event.attempt, delay=event.delay, reason=event.reason)
        elif isinstance(event, Notice):
            self.write("notice", level=event.level, message=event.message)
        elif isinstance(event, ContextCompacted):
            self.write("notice", level="info",
                       message=f"context compacted ({event.reason}): about {event.tokens_before} -> "
                               f"{event.tokens_after} tokens")

    def interrupting(self) -> None:
        """Nothing: the ``finished`` line says the run was interrupted."""

    def finished(self, event: RunFinished, exit_code: int) -> None:
        """The last line of a run that ended without an error."""
        self.write("finished", outcome=event.outcome, exit_code=exit_code, final_text=event.final_text,
                   turns=event.turns, usage=usage_dict(event.usage),
                   total_usage=usage_dict(event.total_usage), conversation_id=event.conversation_id)

    def error(self, name: str, message: str, hint: str | None, exit_code: int,
              conversation_id: str | None) -> None:
        """The last line of a run that could not start or ended with an error."""
        self.write("error", exit_code=exit_code, error=name, message=message, hint=hint,
                   conversation_id=conversation_id)
