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

A stream that ends (or drops) before the model finished - no ``finish_reason`` and no
``[DONE]`` (chat), no ``response.completed`` (Responses) - raises ``StreamError``. Every chunk
is surfaced as soon as it is parsed: nothing is buffered beyond the assembly of the final
``Finish`` message.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import EventSource

from lakecode.errors import APIError, ModelBehaviourError, StreamError
from lakecode.llm.errors import ErrorInfo, classify
from lakecode.llm.quirks import Dialect
from lakecode.llm.types import (
    Finish,
    Message,
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

__all__ = [
    "ChatAssembler",
    "ResponsesAssembler",
    "iter_sse_events",
    "parse_response_body",
    "parse_tool_arguments",
    "parse_usage",
]

_DONE = "[DONE]"
_ARGS_SNIPPET = 200


def parse_tool_arguments(name: str, text: str) -> dict[str, Any]:
    """The arguments of tool ``name`` as a dict (see the module docstring for the repairs).

    Raises:
        ModelBehaviourError: the text is not a JSON object and no repair applies.
    """
    stripped = text.strip()
    if not stripped:
        return {}
    candidates = [stripped]
    if stripped.startswith("{}") and len(stripped) > 2:
        candidates.append(stripped[2:].lstrip())
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, dict):
            return value
    snippet = stripped if len(stripped) <= _ARGS_SNIPPET else stripped[:_ARGS_SNIPPET] + "…"
    raise ModelBehaviourError(
        f"The model called tool {name!r} with arguments that are not a JSON object: {snippet}",
        hint="Retry the turn; if it keeps happening, pick a model with reliable tool calling.",
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_usage(raw: Any) -> Usage | None:
    """A ``Usage`` from a chat (``prompt_tokens``...) or Responses (``input_tokens``...) object."""
    if not isinstance(raw, Mapping):
        return None
    prompt = _int(raw.get("prompt_tokens", raw.get("input_tokens")))
    completion = _int(raw.get("completion_tokens", raw.get("output_tokens")))
    details = raw.get("completion_tokens_details") or raw.get("output_tokens_details")
    reasoning = _int(raw.get("reasoning_tokens"))
    if not reasoning and isinstance(details, Mapping):
        reasoning = _int(details.get("reasoning_tokens"))
    total = _int(raw.get("total_tokens")) or prompt + completion
    return Usage(prompt, completion, total, reasoning)


def _stream_failure(code: Any, message: Any) -> APIError:
    """The error for a failure reported inside a 200 stream (OpenAI-style ``error`` events)."""
    text = str(message or "the model service reported an error mid-stream")
    code_text = str(code) if code else None
    lowered = f"{code_text or ''} {text}".lower()
    status = 500
    if "rate" in lowered and "limit" in lowered:
        status = 429
    elif any(w in lowered for w in ("context", "too long", "invalid", "unsupported")):
        status = 400
    return classify(ErrorInfo(status=status, error_code=code_text, message=text))


@dataclass
class _CallBuffer:
    index: int
    id: str | None = None
    name: str | None = None
    fragments: list[str] = field(default_factory=list)


@dataclass
class _ReasoningBlock:
    texts: list[str] = field(default_factory=list)
    signature: str | None = None
    replayable: bool = True
    item_id: str | None = None


class _Assembly:
    """The parts of the assistant message being assembled, in order of arrival."""

    def __init__(self) -> None:
        self.parts: list[_ReasoningBlock | list[str]] = []
        self.calls: dict[int, _CallBuffer] = {}
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def text(self, text: str) -> TextDelta | None:
        if not text:
            return None
        last = self.parts[-1] if self.parts else None
        if isinstance(last, list):
            last.append(text)
        else:
            self.parts.append([text])
        return TextDelta(text)

    def reasoning(self, text: str, signature: str | None, *, replayable: bool,
                  block: _ReasoningBlock | None = None) -> ReasoningDelta | None:
        if block is None:
            last = self.parts[-1] if self.parts else None
            if isinstance(last, _ReasoningBlock) and last.replayable == replayable:
                block = last
            else:
                block = _ReasoningBlock(replayable=replayable)
                self.parts.append(block)
        if text:
            block.texts.append(text)
        if signature:
            block.signature = signature
        if not text and not signature:
            return None
        return ReasoningDelta(text, signature or None)

    def close_block(self) -> None:
        """End the current text/reasoning block (a tool call started)."""
        if self.parts and self.parts[-1] != []:
            self.parts.append([])

    def set_usage(self, raw: Any) -> UsageUpdate | None:
        usage = parse_usage(raw)
        if usage is None:
            return None
        self.usage = usage
        return UsageUpdate(usage)

    def finish(self, default_reason: str) -> list[StreamEvent]:
        """``ToolCallComplete`` for every call (index order), then ``Finish``."""
        events: list[StreamEvent] = []
        calls: list[ToolCall] = []
        for buf in sorted(self.calls.values(), key=lambda b: b.index):
            name = buf.name or ""
            if not name:
                raise ModelBehaviourError("The model sent a tool call without a tool name.")
            text = "".join(buf.fragments)
            arguments = parse_tool_arguments(name, text)
            call = ToolCall(id=buf.id or f"call_{buf.index}", name=name, arguments=arguments,
                            arguments_json=text.strip() if _is_object(text) else
                            json.dumps(arguments, separators=(",", ":")))
            calls.append(call)
            events.append(ToolCallComplete(call))
        parts: list[Part] = []
        for piece in self.parts:
            if isinstance(piece, list):
                if piece:
                    parts.append(TextPart("".join(piece)))
            elif piece.texts or piece.signature:
                parts.append(ReasoningPart("".join(piece.texts), piece.signature,
                                           piece.replayable, piece.item_id))
        reason = self.finish_reason or ("tool_calls" if calls else default_reason)
        message = Message(role="assistant", parts=tuple(parts), tool_calls=tuple(calls))
        events.append(Finish(reason, message, self.usage or Usage()))
        return events


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


class ChatAssembler:
    """Turns chat-completions chunks (or one whole response) into ``StreamEvent``s.

    Feed every parsed chunk to ``feed_chunk`` (or a non-streaming body to ``feed_response``),
    then call ``finish`` once for the ``ToolCallComplete`` events and the ``Finish``.
    """

    def __init__(self) -> None:
        self._a = _Assembly()
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
            raise _stream_failure(detail.get("code") or detail.get("type"), detail.get("message"))
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
        events.extend(_content_events(self._a, delta.get("content")))
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
                buf = self._a.calls[index] = _CallBuffer(index)
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


def _content_events(assembly: _Assembly, content: Any) -> list[StreamEvent]:
    """Events for a message/delta ``content``: a string, null, a part or a list of parts."""
    if content is None:
        return []
    if isinstance(content, str):
        ev = assembly.text(content)
        return [ev] if ev is not None else []
    items: Iterable[Any] = content if isinstance(content, list) else [content]
    events: list[StreamEvent] = []
    for part in items:
        if isinstance(part, str):
            text_ev = assembly.text(part)
            if text_ev is not None:
                events.append(text_ev)
            continue
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind in ("text", "output_text") and isinstance(part.get("text"), str):
            text_ev = assembly.text(part["text"])
            if text_ev is not None:
                events.append(text_ev)
        elif kind == "reasoning":
            for summary in part.get("summary") or ():
                if not isinstance(summary, Mapping):
                    continue
                text = summary.get("text")
                signature = summary.get("signature")
                reasoning_ev = assembly.reasoning(text if isinstance(text, str) else "",
                                                  signature if isinstance(signature, str) else None,
                                                  replayable=True)
                if reasoning_ev is not None:
                    events.append(reasoning_ev)
    return events


class ResponsesAssembler:
    """Turns Responses API stream events (or one whole response) into ``StreamEvent``s."""

    def __init__(self) -> None:
        self._a = _Assembly()
        self._by_item: dict[str, _CallBuffer] = {}
        self._reasoning: dict[str, _ReasoningBlock] = {}
        self._texted: set[str] = set()
        self.completed = False
        """A terminal event (``response.completed``/``response.incomplete``) was seen."""

    def feed_event(self, kind: str, data: Mapping[str, Any]) -> list[StreamEvent]:
        """Events for one Responses stream event of type ``kind``."""
        handler = _RESPONSES_HANDLERS.get(kind)
        if handler is None:
            return []
        events: list[StreamEvent] = handler(self, data)
        return events

    def feed_response(self, body: Mapping[str, Any]) -> list[StreamEvent]:
        """Events for a whole non-streaming Responses body (same item handling)."""
        events: list[StreamEvent] = []
        for item in body.get("output") or ():
            if isinstance(item, Mapping):
                events.extend(self._item_done(item))
        events.extend(self._terminal(body))
        return events

    def finish(self) -> list[StreamEvent]:
        """The closing events; raises ``ModelBehaviourError`` for unusable tool calls."""
        return self._a.finish("stop")

    def _text_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        item_id = data.get("item_id")
        if isinstance(item_id, str):
            self._texted.add(item_id)
        delta = data.get("delta")
        ev = self._a.text(delta) if isinstance(delta, str) else None
        return [ev] if ev is not None else []

    def _reasoning_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta")
        item_id = data.get("item_id")
        block = self._reasoning_block(item_id if isinstance(item_id, str) else None)
        ev = self._a.reasoning(delta if isinstance(delta, str) else "", None, replayable=True,
                               block=block)
        return [ev] if ev is not None else []

    def _reasoning_block(self, item_id: str | None) -> _ReasoningBlock:
        block = self._reasoning.get(item_id) if item_id else None
        if block is None:
            block = _ReasoningBlock(item_id=item_id)
            self._a.parts.append(block)
            if item_id:
                self._reasoning[item_id] = block
        return block

    def _item_added(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        item = data.get("item")
        if not isinstance(item, Mapping):
            return []
        if item.get("type") == "reasoning":
            item_id = item.get("id")
            self._reasoning_block(item_id if isinstance(item_id, str) else None)
            return []
        if item.get("type") != "function_call":
            return []
        return [self._call_buffer(item, announce=True)[1]]

    def _call_buffer(self, item: Mapping[str, Any], *, announce: bool
                     ) -> tuple[_CallBuffer, ToolCallDelta]:
        item_id = item.get("id") if isinstance(item.get("id"), str) else None
        call_id = item.get("call_id") if isinstance(item.get("call_id"), str) else None
        buf = self._by_item.get(item_id or call_id or "")
        if buf is None:
            self._a.close_block()
            buf = _CallBuffer(len(self._a.calls), id=call_id or item_id,
                              name=item.get("name") if isinstance(item.get("name"), str) else None)
            self._a.calls[buf.index] = buf
            self._by_item[item_id or call_id or str(buf.index)] = buf
            args = item.get("arguments")
            if announce and isinstance(args, str) and args:
                buf.fragments.append(args)
            return buf, ToolCallDelta(buf.index, buf.id, buf.name, "".join(buf.fragments))
        return buf, ToolCallDelta(buf.index)

    def _args_delta(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        item_id = data.get("item_id")
        buf = self._by_item.get(item_id) if isinstance(item_id, str) else None
        delta = data.get("delta")
        if buf is None or not isinstance(delta, str) or not delta:
            return []
        buf.fragments.append(delta)
        return [ToolCallDelta(buf.index, arguments_fragment=delta)]

    def _args_done(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        item_id = data.get("item_id")
        buf = self._by_item.get(item_id) if isinstance(item_id, str) else None
        if buf is not None and isinstance(data.get("arguments"), str):
            buf.fragments = [data["arguments"]]
        return []

    def _output_item_done(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        item = data.get("item")
        return self._item_done(item) if isinstance(item, Mapping) else []

    def _item_done(self, item: Mapping[str, Any]) -> list[StreamEvent]:
        """A finished output item: authoritative for arguments, signature and missing text."""
        kind = item.get("type")
        events: list[StreamEvent] = []
        if kind == "function_call":
            buf, delta = self._call_buffer(item, announce=False)
            if delta.id is not None or delta.name is not None:
                events.append(delta)
            if isinstance(item.get("arguments"), str):
                buf.fragments = [item["arguments"]]
        elif kind == "reasoning":
            item_id = item.get("id") if isinstance(item.get("id"), str) else None
            block = self._reasoning_block(item_id)
            if not block.texts:
                for summary in item.get("summary") or ():
                    if isinstance(summary, Mapping) and isinstance(summary.get("text"), str):
                        ev = self._a.reasoning(summary["text"], None, replayable=True, block=block)
                        if ev is not None:
                            events.append(ev)
            encrypted = item.get("encrypted_content")
            if isinstance(encrypted, str) and encrypted:
                block.signature = encrypted
        elif kind == "message" and item.get("id") not in self._texted:
            events.extend(_content_events(self._a, item.get("content")))
        return events

    def _terminal(self, response: Mapping[str, Any]) -> list[StreamEvent]:
        self.completed = True
        events: list[StreamEvent] = []
        update = self._a.set_usage(response.get("usage"))
        if update is not None:
            events.append(update)
        if response.get("status") == "incomplete":
            details = response.get("incomplete_details")
            why = details.get("reason") if isinstance(details, Mapping) else None
            self._a.finish_reason = "length" if why in (None, "max_output_tokens") else str(why)
        return events

    def _completed(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        response = data.get("response")
        if not isinstance(response, Mapping):
            self.completed = True
            return []
        events: list[StreamEvent] = []
        if not self._a.parts and not self._a.calls:  # nothing streamed: read the final object
            for item in response.get("output") or ():
                if isinstance(item, Mapping):
                    events.extend(self._item_done(item))
        events.extend(self._terminal(response))
        return events

    def _failed(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        response = data.get("response")
        error = response.get("error") if isinstance(response, Mapping) else data
        if not isinstance(error, Mapping):
            error = {}
        raise _stream_failure(error.get("code"), error.get("message"))


_RESPONSES_HANDLERS: dict[str, Any] = {
    "response.output_text.delta": ResponsesAssembler._text_delta,
    "response.reasoning_summary_text.delta": ResponsesAssembler._reasoning_delta,
    "response.reasoning_text.delta": ResponsesAssembler._reasoning_delta,
    "response.output_item.added": ResponsesAssembler._item_added,
    "response.output_item.done": ResponsesAssembler._output_item_done,
    "response.function_call_arguments.delta": ResponsesAssembler._args_delta,
    "response.function_call_arguments.done": ResponsesAssembler._args_done,
    "response.completed": ResponsesAssembler._completed,
    "response.incomplete": ResponsesAssembler._completed,
    "response.failed": ResponsesAssembler._failed,
    "error": ResponsesAssembler._failed,
}


def _decode(data: str) -> Mapping[str, Any]:
    try:
        value = json.loads(data)
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
        async for sse in source:
            data_text = sse.data
            if not data_text:
                continue
            if data_text.strip() == _DONE:
                chat.done = True
                break
            for event in chat.feed_chunk(_decode(data_text)):
                yield event
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
