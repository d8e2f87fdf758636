"""A scripted model provider for tests and demos: it answers from a queue, never from a network.

``ScriptedProvider`` implements ``lakecode.llm.provider.Provider``. Tests ``enqueue`` the turns
the "model" will take, run the code under test, then assert on ``requests`` (every
``ChatRequest`` received, in order)::

    provider = ScriptedProvider()
    provider.enqueue([
        ScriptedTurn(text="Let me look.", tool_calls=[tool_call("shell", {"command": "ls"})]),
        "Done: the directory holds two files.",        # a plain text answer
        RateLimitError("slow down", status_code=429),  # raised instead of answering
    ])

Each queued item is one model turn: a ``ScriptedTurn``, a ``str`` (a text-only answer) or an
exception instance (raised when the turn is requested). A turn streams like a real provider:
reasoning deltas, text deltas (split into ``chunk_size`` pieces), tool-call deltas keyed by
index followed by ``ToolCallComplete``, a ``UsageUpdate`` when usage is given, and ``Finish``
with the assembled message. ``events`` replaces all of that with an exact event list; ``error``
raises after the events; ``stall`` blocks forever after the events (until cancelled), which is
how tests interrupt a model mid-stream.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakecode.errors import LakecodeError
from lakecode.llm.types import (
    ChatRequest,
    Finish,
    Message,
    ModelInfo,
    ModelListing,
    Part,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallComplete,
    ToolCallDelta,
    Usage,
    UsageUpdate,
)

__all__ = ["ScriptExhaustedError", "ScriptedProvider", "ScriptedTurn", "tool_call"]

_ids = itertools.count(1)


def tool_call(name: str, arguments: Mapping[str, Any], *, id: str | None = None) -> ToolCall:
    """A complete ``ToolCall`` with a generated id (``call_1``, ``call_2``, ...) unless given."""
    return ToolCall.create(id or f"call_{next(_ids)}", name, arguments)


class ScriptExhaustedError(LakecodeError):
    """The provider was asked for a turn but its script is empty."""


@dataclass(frozen=True)
class ScriptedTurn:
    """One scripted model turn.

    Attributes:
        text: the visible answer.
        reasoning: reasoning text, streamed before the answer.
        reasoning_signature: the signature carried by the last reasoning delta.
        tool_calls: calls the model makes this turn.
        usage: the usage reported at the end (None: no usage is reported).
        finish_reason: defaults to "tool_calls" when there are calls, else "stop".
        error: raised after the turn's events have been streamed (mid-stream failure).
        delay: seconds to wait before the first event.
        chunk_delay: seconds to wait before each event.
        chunk_size: characters per text/reasoning delta (0: one delta each).
        events: exact events to stream instead of the ones derived from the fields above
            (no ``Finish`` is added; leave it out to simulate a stream that stops short).
        stall: after the events (and before ``Finish``), wait until cancelled.
    """

    text: str = ""
    reasoning: str = ""
    reasoning_signature: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    finish_reason: str | None = None
    error: BaseException | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int = 0
    events: Sequence[StreamEvent] | None = None
    stall: bool = False

    def message(self) -> Message:
        """The assistant message this turn assembles to."""
        parts: list[Part] = []
        if self.reasoning:
            parts.append(ReasoningPart(self.reasoning, self.reasoning_signature))
        if self.text:
            parts.append(TextPart(self.text))
        return Message(role="assistant", parts=tuple(parts), tool_calls=tuple(self.tool_calls))

    def stream_events(self) -> list[StreamEvent]:
        """The events streamed for this turn, without the final ``Finish``."""
        if self.events is not None:
            return list(self.events)
        out: list[StreamEvent] = []
        for i, piece in enumerate(_chunks(self.reasoning, self.chunk_size)):
            last = i == len(_chunks(self.reasoning, self.chunk_size)) - 1
            out.append(ReasoningDelta(piece, self.reasoning_signature if last else None))
        out.extend(TextDelta(piece) for piece in _chunks(self.text, self.chunk_size))
        for index, call in enumerate(self.tool_calls):
            args = call.arguments_json
            half = len(args) // 2
            out.append(ToolCallDelta(index, id=call.id, name=call.name, arguments_fragment=args[:half]))
            out.append(ToolCallDelta(index, arguments_fragment=args[half:]))
            out.append(ToolCallComplete(call))
        if self.usage is not None:
            out.append(UsageUpdate(self.usage))
        return out

    def finish(self) -> Finish:
        """The ``Finish`` event that ends this turn."""
        reason = self.finish_reason or ("tool_calls" if self.tool_calls else "stop")
        return Finish(reason, self.message(), self.usage or Usage())


def _chunks(text: str, size: int) -> list[str]:
    if not text:
        return []
    if size <= 0:
        return [text]
    return [text[i:i + size] for i in range(0, len(text), size)]


def _as_turn(item: ScriptedTurn | str | BaseException) -> ScriptedTurn:
    if isinstance(item, ScriptedTurn):
        return item
    if isinstance(item, str):
        return ScriptedTurn(text=item)
    return ScriptedTurn(events=(), error=item)


@dataclass
class ScriptedProvider:
    """A ``Provider`` that plays back scripted turns and records every request.

    Args:
        models: what ``list_models``/``model_info`` report (default: one tool-capable model
            ``scripted-model`` with ``context_window``).
        context_window: the context window of the default model (None: unknown).
        default: the turn played when the queue is empty (None: raise ``ScriptExhaustedError``).
        name: the provider name shown in displays.

    Attributes:
        requests: every ``ChatRequest`` received, in order.
        closed: True once ``aclose`` was awaited.
    """

    models: Sequence[ModelInfo] = ()
    context_window: int | None = None
    default: ScriptedTurn | str | None = None
    name: str = "scripted"
    requests: list[ChatRequest] = field(default_factory=list)
    closed: bool = False
    _queue: deque[ScriptedTurn] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if not self.models:
            self.models = (ModelInfo(id="scripted-model", display_name="Scripted model",
                                     supports_tools=True, context_window=self.context_window),)

    def enqueue(self, turns: Iterable[ScriptedTurn | str | BaseException]) -> ScriptedProvider:
        """Append turns to the script; returns self so calls can be chained."""
        self._queue.extend(_as_turn(t) for t in turns)
        return self

    @property
    def pending(self) -> int:
        """How many scripted turns have not been played yet."""
        return len(self._queue)

    async def list_models(self, *, refresh: bool = False) -> ModelListing:
        """The configured models."""
        return ModelListing(models=tuple(self.models), status=f"{len(self.models)} scripted models")

    async def model_info(self, model_id: str) -> ModelInfo | None:
        """The configured model with this id, or None."""
        return next((m for m in self.models if m.id == model_id), None)

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Record ``request`` and play the next scripted turn."""
        self.requests.append(request)
        if self._queue:
            turn = self._queue.popleft()
        elif self.default is not None:
            turn = _as_turn(self.default)
        else:
            turn = ScriptedTurn(events=(), error=ScriptExhaustedError(
                f"ScriptedProvider has no turn left for request #{len(self.requests)}"))
        return self._play(turn)

    async def _play(self, turn: ScriptedTurn) -> AsyncIterator[StreamEvent]:
        if turn.delay:
            await asyncio.sleep(turn.delay)
        for event in turn.stream_events():
            if turn.chunk_delay:
                await asyncio.sleep(turn.chunk_delay)
            yield event
        if turn.error is not None:
            raise turn.error
        if turn.stall:
            await asyncio.Event().wait()
        if turn.events is None:
            yield turn.finish()

    async def aclose(self) -> None:
        """Mark the provider closed."""
        self.closed = True
