"""Building blocks shared by the chat and Responses assemblers (internal to ``lakecode.llm``).

``Assembly`` collects the assistant message being streamed - text and reasoning blocks in order
of arrival, tool calls by index, the last usage - and turns it into the closing
``ToolCallComplete`` events and the ``Finish``. ``content_events`` is the one place that reads a
message or delta ``content`` (a string, null, a part or a list of typed parts), for both modes
and both dialects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lakecode.errors import APIError, ModelBehaviourError
from lakecode.llm.errors import ErrorInfo, classify
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
    Usage,
    UsageUpdate,
)

__all__ = [
    "Assembly",
    "CallBuffer",
    "ReasoningBlock",
    "content_events",
    "parse_tool_arguments",
    "parse_usage",
    "stream_failure",
]

_ARGS_SNIPPET = 200


def parse_tool_arguments(name: str, text: str) -> dict[str, Any]:
    """The arguments of tool ``name`` as a dict.

    Empty text means ``{}``. Two benign forms are repaired: a leading ``"{}"`` fragment before
    the real arguments (some streams send it first), and an object double-encoded as a JSON
    string. Anything else is refused: guessing would run a tool with input the model never meant.

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


def stream_failure(code: Any, message: Any) -> APIError:
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
class CallBuffer:
    """A tool call being streamed: its index, id, name and argument fragments."""

    index: int
    id: str | None = None
    name: str | None = None
    fragments: list[str] = field(default_factory=list)


@dataclass
class ReasoningBlock:
    """One reasoning block: its text fragments, last signature, replayability and item id."""

    texts: list[str] = field(default_factory=list)
    signature: str | None = None
    replayable: bool = True
    item_id: str | None = None


class Assembly:
    """The parts of the assistant message being assembled, in order of arrival."""

    def __init__(self) -> None:
        self.parts: list[ReasoningBlock | list[str]] = []
        self.calls: dict[int, CallBuffer] = {}
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
                  block: ReasoningBlock | None = None) -> ReasoningDelta | None:
        if block is None:
            last = self.parts[-1] if self.parts else None
            if isinstance(last, ReasoningBlock) and last.replayable == replayable:
                block = last
            else:
                block = ReasoningBlock(replayable=replayable)
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


def content_events(assembly: Assembly, content: Any) -> list[StreamEvent]:
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
