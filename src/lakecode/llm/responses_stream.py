"""The Responses API assembler: stream events (or one whole response) to ``StreamEvent``s.

Event names as the OpenAI Responses API streams them: ``response.output_item.added`` /
``.done`` (``message``, ``function_call`` and ``reasoning`` items),
``response.output_text.delta``, ``response.reasoning_summary_text.delta`` (and
``response.reasoning_text.delta``), ``response.function_call_arguments.delta`` / ``.done``,
``response.completed`` / ``response.incomplete`` (with ``usage``), and ``response.failed`` /
``error``. Finished items are authoritative: they fix arguments, carry ``encrypted_content``
(kept as the reasoning signature, with the item id, for replay) and supply text that was not
streamed. A non-streaming body's ``output`` goes through the same item handling.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lakecode.llm.assembly import Assembly, CallBuffer, ReasoningBlock, content_events, stream_failure
from lakecode.llm.types import StreamEvent, ToolCallDelta

__all__ = ["ResponsesAssembler"]


class ResponsesAssembler:
    """Turns Responses API stream events (or one whole response) into ``StreamEvent``s."""

    def __init__(self) -> None:
        self._a = Assembly()
        self._by_item: dict[str, CallBuffer] = {}
        self._reasoning: dict[str, ReasoningBlock] = {}
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

    def _reasoning_block(self, item_id: str | None) -> ReasoningBlock:
        block = self._reasoning.get(item_id) if item_id else None
        if block is None:
            block = ReasoningBlock(item_id=item_id)
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
                     ) -> tuple[CallBuffer, ToolCallDelta]:
        item_id = item.get("id") if isinstance(item.get("id"), str) else None
        call_id = item.get("call_id") if isinstance(item.get("call_id"), str) else None
        buf = self._by_item.get(item_id or call_id or "")
        if buf is None:
            self._a.close_block()
            buf = CallBuffer(len(self._a.calls), id=call_id or item_id,
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
            events.extend(content_events(self._a, item.get("content")))
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
        raise stream_failure(error.get("code"), error.get("message"))


_Handler = Callable[["ResponsesAssembler", Mapping[str, Any]], list[StreamEvent]]
_RESPONSES_HANDLERS: dict[str, _Handler] = {
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
