"""What the agent loop tells its user interface, as it happens.

Every event is a small frozen dataclass with a ``type`` tag (its JSON Lines name) and a
``to_dict()`` that returns plain JSON-compatible data, so a CLI can write
``json.dumps(event.to_dict())`` per line, a TUI can ``match`` on the class, and tests can compare
values.

Order of a run (``Agent.run``)::

    RunStarted
    ( TurnStarted
      (TextChunk | ReasoningChunk | ToolCallStreaming | Retrying)*   as the model streams
      [ContextCompacted]                                             before a turn, or on overflow
      AssistantMessage                                               the turn's whole message
      TurnUsage
      ( ToolCallStarted
        (ToolCallApproved | ToolCallDenied)?                         absent when arguments are invalid
        [TaskListUpdated]
        ToolCallResult )*                                            in the order the model asked
      TurnFinished )*
    [Notice]*                                                         e.g. the conversation could not be saved
    RunFinished                                                       exactly once, last
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeAlias

from lakecode.llm.types import Message, ToolCall, Usage

__all__ = [
    "AgentEvent",
    "AssistantMessage",
    "ContextCompacted",
    "Notice",
    "Outcome",
    "ReasoningChunk",
    "Retrying",
    "RunFinished",
    "RunStarted",
    "TaskItem",
    "TaskListUpdated",
    "TaskStatus",
    "TextChunk",
    "ToolCallApproved",
    "ToolCallDenied",
    "ToolCallResult",
    "ToolCallStarted",
    "ToolCallStreaming",
    "TurnFinished",
    "TurnStarted",
    "TurnUsage",
    "usage_dict",
]

Outcome: TypeAlias = Literal["completed", "turn_limit", "interrupted", "error"]
TaskStatus: TypeAlias = Literal["todo", "doing", "done"]


def usage_dict(usage: Usage) -> dict[str, int]:
    """``usage`` as a JSON object."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def _call_dict(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "name": call.name, "arguments": dict(call.arguments)}


class _Event:
    """Base of all events: a ``type`` tag and a JSON-friendly ``to_dict``."""

    __slots__ = ()
    type: ClassVar[str]

    def _fields(self) -> Mapping[str, Any]:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The event as plain JSON data, with its ``type`` first."""
        return {"type": self.type, **self._fields()}


@dataclass(frozen=True, slots=True)
class RunStarted(_Event):
    """A run began: the user's prompt was added to the conversation."""

    type: ClassVar[str] = "run_started"
    conversation_id: str
    model: str
    prompt: str

    def _fields(self) -> Mapping[str, Any]:
        return {"conversation_id": self.conversation_id, "model": self.model, "prompt": self.prompt}


@dataclass(frozen=True, slots=True)
class TurnStarted(_Event):
    """A model turn (one request to the model) began. ``turn`` counts from 1 within the run."""

    type: ClassVar[str] = "turn_started"
    turn: int

    def _fields(self) -> Mapping[str, Any]:
        return {"turn": self.turn}


@dataclass(frozen=True, slots=True)
class TextChunk(_Event):
    """A fragment of the assistant's visible answer."""

    type: ClassVar[str] = "text_delta"
    text: str

    def _fields(self) -> Mapping[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class ReasoningChunk(_Event):
    """A fragment of the model's reasoning ("thinking")."""

    type: ClassVar[str] = "reasoning_delta"
    text: str

    def _fields(self) -> Mapping[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class ToolCallStreaming(_Event):
    """The model began writing a tool call (its arguments are still arriving)."""

    type: ClassVar[str] = "tool_call_streaming"
    index: int
    name: str

    def _fields(self) -> Mapping[str, Any]:
        return {"index": self.index, "name": self.name}


@dataclass(frozen=True, slots=True)
class Retrying(_Event):
    """The provider will retry the request after ``delay`` seconds (rate limit, 5xx, ...)."""

    type: ClassVar[str] = "retrying"
    attempt: int
    delay: float
    reason: str

    def _fields(self) -> Mapping[str, Any]:
        return {"attempt": self.attempt, "delay": self.delay, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ContextCompacted(_Event):
    """Older parts of the conversation were trimmed from what is sent to the model.

    Attributes:
        reason: "budget" (proactive, before a turn) or "overflow" (the model refused the length).
        tokens_before: estimated prompt tokens before compaction.
        tokens_after: estimated prompt tokens after.
        trimmed_outputs: tool outputs replaced by a short note so far.
        dropped_messages: messages left out so far (whole exchanges or tool steps).
    """

    type: ClassVar[str] = "context_compacted"
    reason: Literal["budget", "overflow"]
    tokens_before: int
    tokens_after: int
    trimmed_outputs: int
    dropped_messages: int

    def _fields(self) -> Mapping[str, Any]:
        return {"reason": self.reason, "tokens_before": self.tokens_before,
                "tokens_after": self.tokens_after, "trimmed_outputs": self.trimmed_outputs,
                "dropped_messages": self.dropped_messages}


@dataclass(frozen=True, slots=True)
class AssistantMessage(_Event):
    """The assistant's complete message for a turn (text, reasoning, tool calls)."""

    type: ClassVar[str] = "assistant_message"
    turn: int
    message: Message
    finish_reason: str

    def _fields(self) -> Mapping[str, Any]:
        return {"turn": self.turn, "text": self.message.text, "finish_reason": self.finish_reason,
                "tool_calls": [_call_dict(c) for c in self.message.tool_calls]}


@dataclass(frozen=True, slots=True)
class TurnUsage(_Event):
    """Token usage of one turn, and the running total of the conversation."""

    type: ClassVar[str] = "usage"
    turn: int
    usage: Usage
    total: Usage

    def _fields(self) -> Mapping[str, Any]:
        return {"turn": self.turn, "usage": usage_dict(self.usage), "total": usage_dict(self.total)}


@dataclass(frozen=True, slots=True)
class ToolCallStarted(_Event):
    """The agent is about to handle a tool call (validate, approve, run).

    Attributes:
        call: the call as the model asked for it.
        access: "read", "write" or "execute" ("" when the arguments were invalid).
        summary: one human line, e.g. "shell: pytest -q" or "file_editor view src/app.py".
    """

    type: ClassVar[str] = "tool_call_started"
    call: ToolCall
    access: str
    summary: str

    def _fields(self) -> Mapping[str, Any]:
        return {"call": _call_dict(self.call), "access": self.access, "summary": self.summary}


@dataclass(frozen=True, slots=True)
class ToolCallApproved(_Event):
    """The call may run. ``how``: "read-only", "auto", "once", "session" or "remembered"."""

    type: ClassVar[str] = "tool_call_approved"
    call_id: str
    how: str

    def _fields(self) -> Mapping[str, Any]:
        return {"call_id": self.call_id, "how": self.how}


@dataclass(frozen=True, slots=True)
class ToolCallDenied(_Event):
    """The call was not allowed to run; ``reason`` is what the model is told, ``how`` why
    (``Verdict.how``: "denied" by the user, "outside-project", or "no-terminal" to ask on)."""

    type: ClassVar[str] = "tool_call_denied"
    call_id: str
    reason: str
    how: str = "denied"

    def _fields(self) -> Mapping[str, Any]:
        return {"call_id": self.call_id, "reason": self.reason, "how": self.how}


@dataclass(frozen=True, slots=True)
class ToolCallResult(_Event):
    """The result fed back to the model for one call (also for denied and cancelled calls)."""

    type: ClassVar[str] = "tool_call_result"
    call_id: str
    name: str
    content: str
    is_error: bool
    duration: float = 0.0

    def _fields(self) -> Mapping[str, Any]:
        return {"call_id": self.call_id, "name": self.name, "content": self.content,
                "is_error": self.is_error, "duration": round(self.duration, 4)}


@dataclass(frozen=True, slots=True)
class TaskItem:
    """One entry of the model's plan."""

    title: str
    status: TaskStatus = "todo"


@dataclass(frozen=True, slots=True)
class TaskListUpdated(_Event):
    """The model changed its task list (the plan shown to the user)."""

    type: ClassVar[str] = "task_list"
    tasks: tuple[TaskItem, ...]

    def _fields(self) -> Mapping[str, Any]:
        return {"tasks": [{"title": t.title, "status": t.status} for t in self.tasks]}


@dataclass(frozen=True, slots=True)
class TurnFinished(_Event):
    """A turn is over: its message and all its tool results are in the history (and saved)."""

    type: ClassVar[str] = "turn_finished"
    turn: int
    finish_reason: str

    def _fields(self) -> Mapping[str, Any]:
        return {"turn": self.turn, "finish_reason": self.finish_reason}


@dataclass(frozen=True, slots=True)
class Notice(_Event):
    """Something the user should know that is not an error of the run (e.g. saving failed)."""

    type: ClassVar[str] = "notice"
    level: Literal["info", "warning"]
    message: str

    def _fields(self) -> Mapping[str, Any]:
        return {"level": self.level, "message": self.message}


@dataclass(frozen=True, slots=True)
class RunFinished(_Event):
    """The run is over; always the last event.

    Attributes:
        outcome: "completed" (the model answered without tools), "turn_limit", "interrupted"
            or "error" (the error is raised by the iterator right after this event).
        final_text: the text of the last assistant message of the run.
        turns: model turns taken in this run.
        usage: token usage of this run.
        total_usage: token usage of the whole conversation.
        error: the error message when ``outcome == "error"``.
    """

    type: ClassVar[str] = "run_finished"
    outcome: Outcome
    final_text: str
    turns: int
    usage: Usage = field(default_factory=Usage)
    total_usage: Usage = field(default_factory=Usage)
    conversation_id: str = ""
    error: str | None = None

    def _fields(self) -> Mapping[str, Any]:
        return {"outcome": self.outcome, "final_text": self.final_text, "turns": self.turns,
                "usage": usage_dict(self.usage), "total_usage": usage_dict(self.total_usage),
                "conversation_id": self.conversation_id, "error": self.error}


AgentEvent: TypeAlias = (
    RunStarted | TurnStarted | TextChunk | ReasoningChunk | ToolCallStreaming | Retrying
    | ContextCompacted | AssistantMessage | TurnUsage | ToolCallStarted | ToolCallApproved
    | ToolCallDenied | ToolCallResult | TaskListUpdated | TurnFinished | Notice | RunFinished
)
