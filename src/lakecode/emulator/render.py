"""Chat-completions bodies and stream chunks for a scripted reply, per model behaviour.

Content comes back the way each model family sends it: a plain string; a list of typed parts
(``reasoning`` with a ``summary`` list, then ``text``) for gpt-oss and for Claude with thinking
on, where streamed Claude fragments carry ``signature: ""`` and the real signature arrives late;
or a string ``reasoning_content`` field. Tool-only turns have ``content: ""``.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lakecode.emulator.catalog import Endpoint
from lakecode.emulator.config import EmulatorConfig
from lakecode.emulator.scripted_model import Conversation, Reply
from lakecode.emulator.sse import Event, comment, data, done

__all__ = ["ModelTurn", "completion_body", "fragments", "stream_events", "usage_for"]


def fragments(text: str, size: int) -> list[str]:
    """Split text into pieces of about ``size`` characters, on word boundaries when possible."""
    if not text:
        return []
    pieces: list[str] = []
    current = ""
    for word in re.findall(r"\S+\s*|\s+", text):
        if current and len(current) + len(word) > size:
            pieces.append(current)
            current = ""
        current += word
    if current:
        pieces.append(current)
    return pieces


def _signature(text: str) -> str:
    return "sig-" + hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ModelTurn:
    """One rendered model turn: the reply plus everything derived from the request."""

    endpoint: Endpoint
    reply: Reply
    conversation: Conversation
    reasoning: str | None
    call_ids: tuple[str, ...]
    usage: dict[str, int]
    created: int
    completion_id: str

    @classmethod
    def build(
        cls, endpoint: Endpoint, reply: Reply, conv: Conversation, body: Mapping[str, Any]
    ) -> ModelTurn:
        """Decide reasoning, ids and usage for ``reply`` to ``body``."""
        reasoning = _reasoning_text(endpoint, reply, conv, body)
        ids = tuple(c.id or f"call_{uuid.uuid4().hex[:24]}" for c in reply.tool_calls)
        return cls(
            endpoint=endpoint,
            reply=reply,
            conversation=conv,
            reasoning=reasoning,
            call_ids=ids,
            usage=usage_for(body, reply, reasoning),
            created=int(time.time()),
            completion_id=f"chatcmpl_{uuid.uuid4()}",
        )

    @property
    def typed_parts(self) -> bool:
        """True when content goes out as a list of typed parts."""
        return self.reasoning is not None and self.endpoint.reasoning in ("parts", "parts-with-signature")

    @property
    def signature(self) -> str | None:
        if self.endpoint.reasoning != "parts-with-signature" or self.reasoning is None:
            return None
        return self.reply.signature or _signature(self.reasoning)


def _reasoning_text(
    endpoint: Endpoint, reply: Reply, conv: Conversation, body: Mapping[str, Any]
) -> str | None:
    style = endpoint.reasoning
    if style == "none":
        return None
    if style == "parts-with-signature":
        thinking = body.get("thinking")
        if not isinstance(thinking, Mapping) or thinking.get("type") not in ("enabled", "adaptive"):
            return None
    if reply.reasoning:
        return reply.reasoning
    topic = conv.user.strip().splitlines()[0][:80] if conv.user.strip() else "the request"
    return f"Considering: {topic}"


def usage_for(body: Mapping[str, Any], reply: Reply, reasoning: str | None) -> dict[str, int]:
    """Deterministic token counts (about four characters a token), or the reply's override."""
    prompt = max(1, len(json.dumps(body.get("messages", body.get("input", "")))) // 4)
    produced = len(reply.text) + sum(len(c.arguments_json()) + len(c.name) for c in reply.tool_calls)
    reasoning_tokens = len(reasoning) // 4 if reasoning else 0
    completion = max(1, produced // 4 + reasoning_tokens)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if reply.usage:
        usage.update(reply.usage)
        if "total_tokens" not in reply.usage:
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return usage


def _reasoning_part(text: str, signature: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "summary_text", "text": text}
    if signature is not None:
        item["signature"] = signature
    return {"type": "reasoning", "summary": [item]}


def completion_body(turn: ModelTurn) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` body."""
    reply = turn.reply
    content: Any
    if turn.typed_parts:
        assert turn.reasoning is not None
        content = [_reasoning_part(turn.reasoning, turn.signature)]
        if reply.text:
            content.append({"type": "text", "text": reply.text})
    else:
        content = reply.text
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if turn.reasoning is not None and turn.endpoint.reasoning == "reasoning_content":
        message["reasoning_content"] = turn.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}
            for cid, c in zip(turn.call_ids, reply.tool_calls, strict=True)
        ]
    return {
        "id": turn.completion_id,
        "object": "chat.completion",
        "created": turn.created,
        "model": turn.endpoint.upstream_model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish}],
        "usage": turn.usage,
    }


def _chunk(turn: ModelTurn, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": turn.completion_id,
        "object": "chat.completion.chunk",
        "created": turn.created,
        "model": turn.endpoint.upstream_model,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return out


def _deltas(turn: ModelTurn, size: int, interleave: bool) -> Iterator[tuple[dict[str, Any], bool]]:
    """(delta, is_tool_fragment) in stream order, after the role-only first delta."""
    style = turn.endpoint.reasoning
    if turn.reasoning is not None:
        pieces = fragments(turn.reasoning, size)
        if style == "reasoning_content":
            for piece in pieces:
                yield {"reasoning_content": piece}, False
        else:
            empty_sig = "" if style == "parts-with-signature" else None
            for piece in pieces:
                yield {"content": [_reasoning_part(piece, empty_sig)]}, False
            if style == "parts-with-signature":
                yield {"content": [_reasoning_part("", turn.signature)]}, False
    for piece in fragments(turn.reply.text, size):
        yield (
            ({"content": [{"type": "text", "text": piece}]} if turn.typed_parts else {"content": piece}),
            False,
        )
    yield from _tool_deltas(turn, size, interleave)


def _tool_deltas(turn: ModelTurn, size: int, interleave: bool) -> Iterator[tuple[dict[str, Any], bool]]:
    calls = list(zip(turn.call_ids, turn.reply.tool_calls, strict=True))
    heads = [
        {
            "tool_calls": [
                {"index": i, "id": cid, "type": "function", "function": {"name": c.name, "arguments": ""}}
            ]
        }
        for i, (cid, c) in enumerate(calls)
    ]
    frags = [fragments(c.arguments_json(), size) for _, c in calls]

    def frag(i: int, piece: str) -> dict[str, Any]:
        return {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}

    if interleave and len(calls) > 1:
        for head in heads:
            yield head, False
        for j in range(max(len(f) for f in frags)):
            for i, pieces in enumerate(frags):
                if j < len(pieces):
                    yield frag(i, pieces[j]), True
        return
    for i, head in enumerate(heads):
        yield head, False
        for piece in frags[i]:
            yield frag(i, piece), True


def stream_events(turn: ModelTurn, config: EmulatorConfig) -> list[Event]:
    """Every SSE event of a streamed chat completion, honouring the stream options in ``config``."""
    events: list[Event] = []
    usage_mode = config.stream_usage
    if config.stream_keepalive:
        events.append(comment())
    deltas = [
        ({"role": "assistant"}, False),
        *_deltas(turn, config.stream_chunk_chars, config.interleave_tool_calls),
    ]
    total = turn.usage["completion_tokens"]
    for n, (delta, is_tool) in enumerate(deltas):
        chunk = _chunk(turn, delta)
        if usage_mode == "cumulative":
            chunk["usage"] = _partial_usage(turn.usage, total * n // max(1, len(deltas)))
        events.append(Event(data(chunk).text, tool_fragment=is_tool))
        if config.stream_keepalive and n == 0:
            events.append(comment())
    final = _chunk(turn, {}, turn.reply.finish)
    if usage_mode == "cumulative":
        final["usage"] = turn.usage
    events.append(data(final))
    if usage_mode in ("final", "final_bare"):
        last = _chunk(turn, None)
        if usage_mode == "final_bare":
            del last["choices"]
        last["usage"] = turn.usage
        events.append(data(last))
    if config.stream_done:
        events.append(done())
    return events


def _partial_usage(usage: Mapping[str, int], completion: int) -> dict[str, int]:
    prompt = usage["prompt_tokens"]
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
