"""The history normalizer: conversation invariants enforced before every send.

Databricks (and the models behind it) reject histories that other services tolerate. This pure
function rewrites any history into one every route accepts, without changing what was said:

* empty or whitespace-only text parts vanish everywhere; a user, system or assistant turn left
  with nothing to say is dropped (F19) - an assistant turn with tool calls but no text keeps
  no text at all, so the serializer sends ``content: null``;
* reasoning that may not be replayed (``ReasoningPart.replayable`` False) is dropped, and an
  assistant turn holding nothing but reasoning is dropped too;
* every assistant tool call is followed immediately by the results for all its ids, in call
  order; a call without a result (interrupted, cancelled) gets a synthetic "cancelled" result,
  and results that answer no earlier call are dropped (F20);
* all system content moves into one system message at the front, and consecutive messages with
  the same role (user/user, assistant/assistant) are merged, keeping their order (F21);
* tool messages appear only directly after the assistant message that called them, and an
  empty tool result becomes a short placeholder (empty text blocks are rejected).

The function is idempotent: normalizing a normalized history returns an equal one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lakecode.llm.types import Message, Part, ReasoningPart, TextPart, ToolCall

__all__ = ["CANCELLED_RESULT", "EMPTY_RESULT", "MERGE_SEPARATOR", "normalize_history"]

CANCELLED_RESULT = "Tool call cancelled: it was interrupted before it produced a result."
"""Text of the synthetic result inserted for a tool call that has none."""

EMPTY_RESULT = "(no output)"
"""Text sent for a tool result whose content is empty."""

MERGE_SEPARATOR = "\n\n"
"""Joins the texts of consecutive same-role messages when they are merged."""


def normalize_history(messages: Sequence[Message]) -> tuple[Message, ...]:
    """A copy of ``messages`` that satisfies every invariant in the module docstring.

    Args:
        messages: the conversation as stored, in order.

    Returns:
        The conversation to send: an optional system message first, then user/assistant
        turns, each assistant tool call answered by its results directly after it.
    """
    system_parts: list[Part] = []
    body: list[Message] = []
    for message in messages:
        cleaned = _clean(message)
        if cleaned is None:
            continue
        if cleaned.role == "system":
            system_parts.extend(cleaned.parts)
        else:
            body.append(cleaned)
    paired = _pair_tool_results(body)
    merged = _merge_same_role(paired)
    if system_parts:
        merged.insert(0, Message(role="system", parts=_join_texts(system_parts)))
    return tuple(merged)


def _clean(message: Message) -> Message | None:
    """``message`` without empty parts or unreplayable reasoning; None if nothing is left."""
    parts = message.parts
    if (len(parts) == 1 and not message.tool_calls and type(parts[0]) is TextPart
            and message.role != "tool"):  # the common case, kept cheap
        return message if parts[0].text.strip() else None
    if message.role == "tool":
        text = message.text
        if text.strip() and len(parts) == 1:
            return message
        return replace(message, parts=(TextPart(text if text.strip() else EMPTY_RESULT),))
    kept = tuple(p for p in message.parts if _keep_part(p, message.role))
    calls = _unique_calls(message.tool_calls) if message.role == "assistant" else ()
    has_text = any(isinstance(p, TextPart) for p in kept)
    if not has_text and not calls:
        return None
    if kept == message.parts and calls == message.tool_calls:
        return message
    return replace(message, parts=kept, tool_calls=calls)


def _keep_part(part: Part, role: str) -> bool:
    if isinstance(part, TextPart):
        return bool(part.text.strip())
    if role != "assistant" or not part.replayable:
        return False
    return bool(part.text) or bool(part.signature)


def _unique_calls(calls: tuple[ToolCall, ...]) -> tuple[ToolCall, ...]:
    """The calls with duplicate or empty ids removed (no result could be paired with them)."""
    seen: set[str] = set()
    unique: list[ToolCall] = []
    for call in calls:
        if call.id and call.id not in seen:
            seen.add(call.id)
            unique.append(call)
    return tuple(unique) if len(unique) != len(calls) else calls


def _pair_tool_results(body: list[Message]) -> list[Message]:
    """Move each tool result right after its call; synthesize missing ones; drop orphans."""
    if not any(m.role == "tool" or m.tool_calls for m in body):
        return body
    # The results each call id could take, in order of appearance, with their positions.
    available: dict[str, list[tuple[int, Message]]] = {}
    for position, message in enumerate(body):
        if message.role == "tool" and message.tool_call_id:
            available.setdefault(message.tool_call_id, []).append((position, message))
    out: list[Message] = []
    for position, message in enumerate(body):
        if message.role == "tool":
            continue  # placed after its caller below, or an orphan
        out.append(message)
        for call in message.tool_calls:
            out.append(_take_result(available, call, position))
    return out


def _take_result(available: dict[str, list[tuple[int, Message]]], call: ToolCall,
                 caller_position: int) -> Message:
    candidates = available.get(call.id, [])
    for i, (position, result) in enumerate(candidates):
        if position > caller_position:
            del candidates[i]
            return result
    return Message.tool(call.id, CANCELLED_RESULT, name=call.name, is_error=True)


def _merge_same_role(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    for message in messages:
        previous = out[-1] if out else None
        if (previous is not None and previous.role == message.role
                and message.role in ("user", "assistant") and not previous.tool_calls):
            out[-1] = replace(
                previous,
                parts=_join_texts(previous.parts + message.parts),
                tool_calls=message.tool_calls,
            )
        else:
            out.append(message)
    return out


def _join_texts(parts: Sequence[Part]) -> tuple[Part, ...]:
    """``parts`` with each run of adjacent text parts joined by ``MERGE_SEPARATOR``."""
    out: list[Part] = []
    for part in parts:
        last = out[-1] if out else None
        if isinstance(part, TextPart) and isinstance(last, TextPart):
            out[-1] = TextPart(last.text + MERGE_SEPARATOR + part.text)
        elif isinstance(part, ReasoningPart | TextPart):
            out.append(part)
    return tuple(out)
