"""Response parsing: SSE streams and plain JSON bodies become ``StreamEvent``s.

Both modes run through the same assemblers, so content handling cannot drift between them:
a non-streaming response is fed as if it were one big chunk. The parser tolerates what the
service really sends (F15-F18):

* ``content`` as a string, null, or a list of typed parts: ``text`` parts are visible text,
  ``reasoning`` parts with a ``summary`` go to the reasoning channel with their signature
  (replayable), unknown part types are ignored; a string ``reasoning_content`` (or
  ``reasoning``) delta is reasoning that is shown but never replayed;
* consecutive reasoning fragments form one block that keeps the last non-empty ``signature``
  (Claude sends ``signature: ""`` first and the real one late); text or a tool call ends it;
* deltas without ``content``, chunks without ``delta`` or without ``choices`` (usage-only);
* tool calls accumulated by ``index`` (``id``/``name`` once, ``arguments`` concatenated), emitted
  as ``ToolCallComplete`` in index order when the turn finishes;
* usage is cumulative: the last value wins, values are never summed;
* ``:`` keep-alives, blank lines, a missing ``[DONE]``.

Tool arguments that do not parse to a JSON object: the parser repairs the two known benign
forms - a leading ``"{}"`` fragment before the real arguments, and an object double-encoded as
a JSON string - and empty arguments mean ``{}``. Anything else raises ``ModelBehaviourError``
naming the tool: guessing arguments would run a tool with input the model never meant.

Text is always valid Unicode: JSON can escape a lone UTF-16 surrogate (``\\ud83d`` without its
pair), which no UTF-8 output, file or server accepts, so ``decode_json`` turns any such
character into U+FFFD (a surrogate pair escaped together is an ordinary character already).

A stream that ends (or drops) before the model finished - no ``finish_reason`` and no
``[DONE]`` (chat), no ``response.completed`` (Responses) - raises ``StreamError``. Every chunk
is surfaced as soon as it is parsed: nothing is buffered beyond the assembly of the final
``Finish`` message.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any

import httpx
from httpx_sse import EventSource

from lakecode.errors import StreamError
from lakecode.llm.assembly import (
    Assembly,
    CallBuffer,
    content_events,
    parse_tool_arguments,
    parse_usage,
    stream_failure,
)
from lakecode.llm.quirks import Dialect
from lakecode.llm.responses_stream import ResponsesAssembler
from lakecode.llm.types import StreamEvent, ToolCallDelta

__all__ = [
    "ChatAssembler",
    "ResponsesAssembler",
    "iter_sse_events",
    "parse_response_body",
    "parse_tool_arguments",
    "parse_usage",
]

_DONE = "[DONE]"


class ChatAssembler:
    """Turns chat-completions chunks (or one whole response) into ``StreamEvent``s.

    Feed every parsed chunk to ``feed_chunk`` (or a non-streaming body to ``feed_response``),
    then call ``finish`` once for the ``ToolCallComplete`` events and the ``Finish``.
    """

    def __init__(self) -> None:
        self._a = Assembly()
        self.done = False
        """``[DONE]`` was seen (set by the SSE reader)."""

    @property
    def finished(self) -> bool:
        """The model said it was done (a ``finish_reason`` or ``[DONE]``)."""
        return self.done or self._a.finish_reason is not None

    def feed_chunk(self, chunk: Mapping[str, Any]) -> list[StreamEvent]:
        """Events for one ``chat.completion.chunk`` (any shape, including usage-only)."""
        events: list[StreamEvent] = []
        error = chunk.get("error")
        if error is not None and not chunk.get("choices"):
            detail = error if isinstance(error, Mapping) else {"message": error}
            raise stream_failure(detail.get("code") or detail.get("type"), detail.get("message"))
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices:
            choice = choices[0]
            if isinstance(choice, Mapping):
                delta = choice.get("delta")
                if delta is None:
                    delta = choice.get("message")  # some servers stream whole messages
                if isinstance(delta, Mapping):
                    events.extend(self._delta(delta, streaming=True))
                reason = choice.get("finish_reason")
                if isinstance(reason, str) and reason:
                    self._a.finish_reason = reason
        if chunk.get("usage") is not None:
            update = self._a.set_usage(chunk["usage"])
            if update is not None:
                events.append(update)
        return events

    def feed_response(self, body: Mapping[str, Any]) -> list[StreamEvent]:
        """Events for a whole non-streaming ``chat.completion`` (same content handling)."""
        events: list[StreamEvent] = []
        choices = body.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
            choice = choices[0]
            message = choice.get("message")
            if isinstance(message, Mapping):
                events.extend(self._delta(message, streaming=False))
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                self._a.finish_reason = reason
        elif body.get("error") is not None:
            return self.feed_chunk(body)
        update = self._a.set_usage(body.get("usage"))
        if update is not None:
            events.append(update)
        return events

    def finish(self) -> list[StreamEvent]:
        """The closing events; raises ``ModelBehaviourError`` for unusable tool calls."""
        return self._a.finish("stop")

    def _delta(self, delta: Mapping[str, Any], *, streaming: bool) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for key in ("reasoning_content", "reasoning"):
            value = delta.get(key)
            if isinstance(value, str) and value:
                ev = self._a.reasoning(value, None, replayable=False)
                if ev is not None:
                    events.append(ev)
        events.extend(content_events(self._a, delta.get("content")))
        calls = delta.get("tool_calls")
        if isinstance(calls, list) and calls:
            events.extend(self._tool_calls(calls, streaming=streaming))
        return events

    def _tool_calls(self, calls: list[Any], *, streaming: bool) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        for position, raw in enumerate(calls):
            if not isinstance(raw, Mapping):
                continue
            index = self._call_index(raw, position, streaming)
            buf = self._a.calls.get(index)
            if buf is None:
                self._a.close_block()
                buf = self._a.calls[index] = CallBuffer(index)
            raw_function = raw.get("function")
            function: Mapping[str, Any] = raw_function if isinstance(raw_function, Mapping) else {}
            new_id = raw.get("id") if isinstance(raw.get("id"), str) and not buf.id else None
            name = function.get("name")
            new_name = name if isinstance(name, str) and name and not buf.name else None
            buf.id = buf.id or new_id
            buf.name = buf.name or new_name
            fragment = function.get("arguments")
            if isinstance(fragment, Mapping):  # some servers send an object, not a string
                fragment = json.dumps(fragment, separators=(",", ":"))
            fragment = fragment if isinstance(fragment, str) else ""
            if fragment:
                buf.fragments.append(fragment)
            events.append(ToolCallDelta(index, new_id, new_name, fragment))
        return events

    def _call_index(self, raw: Mapping[str, Any], position: int, streaming: bool) -> int:
        index = raw.get("index")
        if isinstance(index, int) and not isinstance(index, bool):
            return index
        if not streaming:
            return position
        # No index: a new id starts a new call, otherwise it continues the latest one.
        call_id = raw.get("id")
        known = [b for b in self._a.calls.values() if call_id and b.id == call_id]
        if known:
            return known[0].index
        if call_id or not self._a.calls:
            return max(self._a.calls, default=-1) + 1
        return max(self._a.calls)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89abAB]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_unicode(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_unicode(v) for v in value]
    return value


def decode_json(data: str | bytes) -> Any:
    """``json.loads`` whose strings are valid Unicode (lone surrogates become U+FFFD).

    Only a body holding a surrogate escape is walked, so the common case costs one search.

    Raises:
        ValueError: the data is not JSON.
    """
    value = json.loads(data)
    if isinstance(data, str):
        found = _SURROGATE_ESCAPE.search(data) is not None
    else:
        found = _SURROGATE_ESCAPE_BYTES.search(data) is not None
    return _valid_unicode(value) if found else value


def _decode(data: str) -> Mapping[str, Any]:
    try:
        value = decode_json(data)
    except ValueError as exc:
        raise StreamError(f"The model service sent an event that is not JSON: {data[:100]!r}") from exc
    if not isinstance(value, Mapping):
        raise StreamError(f"The model service sent an unexpected event: {data[:100]!r}")
    return value


async def iter_sse_events(response: httpx.Response, dialect: Dialect
                          ) -> AsyncGenerator[StreamEvent, None]:
    """Events from an SSE response body, each yielded as soon as its chunk is parsed.

    Raises:
        StreamError: the stream ended before the model finished, or sent garbage.
        ModelBehaviourError: a tool call is unusable (see ``parse_tool_arguments``).
        APIError: an error event inside the stream (classified like an HTTP error).
    """
    async with aclosing(EventSource(response).aiter_sse()) as source:
        if dialect is Dialect.RESPONSES:
            responses = ResponsesAssembler()
            async for sse in source:
                if not sse.data or sse.data == _DONE:
                    continue
                data = _decode(sse.data)
                kind = data.get("type")
                for event in responses.feed_event(kind if isinstance(kind, str) else sse.event, data):
                    yield event
            if not responses.completed:
                raise StreamError("The response stream ended before the model finished.")
            for event in responses.finish():
                yield event
            return
        chat = ChatAssembler()
        try:
            async for sse in source:
                data_text = sse.data
                if not data_text:
                    continue
                if data_text.strip() == _DONE:
                    chat.done = True
                    break
                for event in chat.feed_chunk(_decode(data_text)):
                    yield event
        except httpx.TransportError:
            # [DONE] is not guaranteed: a connection that drops after the model finished
            # (finish_reason seen) still delivered a complete turn.
            if not chat.finished:
                raise
        if not chat.finished:
            raise StreamError("The response stream ended before the model finished.")
        for event in chat.finish():
            yield event
        if chat.done:
            await _drain(source)


async def _drain(source: AsyncGenerator[Any, None]) -> None:
    """Read what follows ``[DONE]`` (the end of the chunked body) so the connection goes back
    to the pool instead of being closed; the turn is complete, so a failure here is ignored."""
    try:
        async for _ in source:
            pass
    except httpx.TransportError:
        pass


def parse_response_body(body: Any, dialect: Dialect) -> list[StreamEvent]:
    """Events for a non-streaming JSON body, exactly as a stream of it would give.

    Raises:
        StreamError: the body is not a response object.
        ModelBehaviourError: a tool call is unusable.
    """
    if not isinstance(body, Mapping):
        raise StreamError("The model service answered with JSON that is not a response object.")
    if dialect is Dialect.RESPONSES:
        responses = ResponsesAssembler()
        return [*responses.feed_response(body), *responses.finish()]
    chat = ChatAssembler()
    return [*chat.feed_response(body), *chat.finish()]
