"""Request serializers: one whitelist per dialect; only fields a route accepts reach the wire.

Databricks rejects unknown keys ("Extra inputs are not permitted", ``json: unknown field``), so
bodies are *built* from the provider-neutral types key by key - never by dumping an internal
object - and then filtered once more through the dialect's whitelist (F12, F13). What each
dialect may carry:

* chat (``Dialect.CHAT``, ``Dialect.INVOCATIONS`` without ``model``): ``CHAT_BODY_KEYS``;
  system/user messages ``{role, content}``, assistant ``{role, content, tool_calls}``, tool
  ``{role, tool_call_id, content}``; tools ``{type: "function", function: {name, description,
  parameters}}``.
* Responses (``Dialect.RESPONSES``): ``RESPONSES_BODY_KEYS``; ``input`` items
  ``{role, content}``, ``function_call``, ``function_call_output`` and ``reasoning``; flat tools
  ``{type: "function", name, description, parameters}``; ``max_output_tokens``.

Never sent: ``strict``, ``store``, vendor reasoning fields (``reasoning_content``,
``thinking_blocks``, ``reasoning_details``), ``name``/``is_error`` of tool messages (F14).
Tool schemas always carry ``parameters`` with a top-level ``"type": "object"``.

Reasoning is replayed only in the wire form the service returned it: on chat routes a
``{"type": "reasoning", "summary": [{"type": "summary_text", "text", "signature"}]}`` part inside
the assistant ``content`` list (and only when the model takes list content); on the Responses
route a ``reasoning`` input item that has its id. Anything else is stripped.

Content is a plain string whenever that says everything (the most widely accepted form); the
list form is used only to replay reasoning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lakecode.llm.history import normalize_history
from lakecode.llm.quirks import Dialect, ModelQuirks
from lakecode.llm.types import ChatRequest, Message, ReasoningPart, TextPart, ToolCall, ToolSpec

__all__ = [
    "CHAT_BODY_KEYS",
    "CHAT_MESSAGE_KEYS",
    "ESSENTIAL_KEYS",
    "MAX_ITEM_ID_LENGTH",
    "RESPONSES_BODY_KEYS",
    "serialize_request",
    "tool_parameters",
    "truncate_id",
]

CHAT_BODY_KEYS: frozenset[str] = frozenset({
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
    "stream", "stream_options", "tools", "tool_choice", "reasoning_effort", "thinking",
    "output_config",
})
"""Every top-level key a chat-completions body may carry."""

CHAT_MESSAGE_KEYS: Mapping[str, frozenset[str]] = {
    "system": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls"}),
    "tool": frozenset({"role", "tool_call_id", "content"}),
}
"""Every key a chat message of each role may carry."""

RESPONSES_BODY_KEYS: frozenset[str] = frozenset({
    "model", "input", "max_output_tokens", "temperature", "top_p", "stream", "tools",
    "tool_choice", "reasoning",
})
"""Every top-level key a Responses body may carry."""

ESSENTIAL_KEYS: frozenset[str] = frozenset({"model", "messages", "input", "stream"})
"""Keys ``ModelQuirks.unsupported_params`` can never remove."""

MAX_ITEM_ID_LENGTH = 64
"""Responses ids longer than this fail with "string too long" when replayed."""

_TOOL_CHOICES = frozenset({"auto", "none", "required"})
_EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 24576,
                  "max": 32768}
_MIN_THINKING_BUDGET = 1024
_THINKING_HEADROOM = 4096
_TEXT_JOIN = "\n\n"


def serialize_request(request: ChatRequest, dialect: Dialect,
                      quirks: ModelQuirks | None = None, *, normalize: bool = True) -> dict[str, Any]:
    """The JSON body for ``request`` on a route speaking ``dialect``.

    Args:
        request: the provider-neutral request.
        dialect: the route's dialect.
        quirks: how this model wants requests shaped (defaults: ``ModelQuirks()``).
        normalize: run ``normalize_history`` first (pass False only if already done).

    Returns:
        A dict holding only whitelisted keys, ready for ``json.dumps``.
    """
    quirks = quirks or ModelQuirks()
    if normalize:
        request = replace(request, messages=normalize_history(request.messages))
    if dialect is Dialect.RESPONSES:
        body = _responses_body(request, quirks)
        allowed = RESPONSES_BODY_KEYS
    else:
        body = _chat_body(request, quirks, with_model=dialect is Dialect.CHAT)
        allowed = CHAT_BODY_KEYS
    drop = quirks.unsupported_params - ESSENTIAL_KEYS
    return {k: v for k, v in body.items() if k in allowed and k not in drop}


# ---- shared options ----------------------------------------------------------------------------


def _options(request: ChatRequest, quirks: ModelQuirks, *, responses: bool) -> dict[str, Any]:
    """Output budget, sampling and reasoning options, with caps and reasoning rules applied."""
    out: dict[str, Any] = {}
    max_tokens = request.max_tokens
    thinking = _thinking(request, quirks)
    if thinking is not None and max_tokens is None:
        budget = thinking.get("budget_tokens", 0)
        max_tokens = budget + _THINKING_HEADROOM if budget else None
    if max_tokens is not None and quirks.max_tokens_cap is not None:
        max_tokens = min(max_tokens, quirks.max_tokens_cap)
    if thinking is not None and "budget_tokens" in thinking and max_tokens is not None:
        budget = min(thinking["budget_tokens"], max_tokens - 1)
        thinking = {**thinking, "budget_tokens": budget} if budget >= _MIN_THINKING_BUDGET else None
    if max_tokens is not None:
        out["max_output_tokens" if responses else quirks.max_tokens_key] = max_tokens
    if thinking is None:
        # Claude rejects sampling changes while thinking is on; only send them without it.
        if request.temperature is not None:
            out["temperature"] = request.temperature
        if request.top_p is not None:
            out["top_p"] = request.top_p
    elif not responses:
        out["thinking"] = thinking
        if thinking["type"] == "adaptive" and request.reasoning_effort:
            out["output_config"] = {"effort": request.reasoning_effort}
    if quirks.reasoning_style == "effort" and request.reasoning_effort:
        if responses:
            out["reasoning"] = {"effort": request.reasoning_effort}
        else:
            out["reasoning_effort"] = request.reasoning_effort
    return out


def _thinking(request: ChatRequest, quirks: ModelQuirks) -> dict[str, Any] | None:
    if quirks.reasoning_style == "adaptive":
        if request.thinking_budget or request.reasoning_effort:
            return {"type": "adaptive"}
        return None
    if quirks.reasoning_style != "thinking":
        return None
    budget = request.thinking_budget
    if budget is None and request.reasoning_effort:
        budget = _EFFORT_BUDGET.get(request.reasoning_effort.lower())
    if not budget:
        return None
    return {"type": "enabled", "budget_tokens": max(_MIN_THINKING_BUDGET, budget)}


def tool_parameters(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's JSON Schema as sent: an object schema, without ``strict`` or ``$schema`` (F14)."""
    params = {k: v for k, v in schema.items() if k not in ("strict", "$schema")}
    params["type"] = "object"
    params.setdefault("properties", {})
    return params


def _tool_choice(choice: str | None, *, responses: bool) -> str | dict[str, Any] | None:
    if choice is None or choice in _TOOL_CHOICES:
        return choice
    if responses:
        return {"type": "function", "name": choice}
    return {"type": "function", "function": {"name": choice}}


def _arguments_json(call: ToolCall) -> str:
    if call.arguments_json:
        return call.arguments_json
    return json.dumps(dict(call.arguments), separators=(",", ":"))


def _joined_text(message: Message) -> str:
    parts = message.parts
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text
    return _TEXT_JOIN.join(p.text for p in parts if isinstance(p, TextPart))


# ---- chat completions ----------------------------------------------------------------------


def _chat_body(request: ChatRequest, quirks: ModelQuirks, *, with_model: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if with_model:
        body["model"] = request.model
    body["messages"] = [_chat_message(m, quirks) for m in request.messages]
    if request.tools and quirks.supports_tools:
        body["tools"] = [_chat_tool(t) for t in request.tools]
        choice = _tool_choice(request.tool_choice, responses=False)
        if choice is not None:
            body["tool_choice"] = choice
    body.update(_options(request, quirks, responses=False))
    if request.stream:
        body["stream"] = True
        if quirks.stream_usage:
            body["stream_options"] = {"include_usage": True}
    return body


def _chat_tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool_parameters(tool.parameters),
        },
    }


def _chat_message(message: Message, quirks: ModelQuirks) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "",
                "content": _joined_text(message)}
    if message.role != "assistant":
        return {"role": message.role, "content": _joined_text(message)}
    out: dict[str, Any] = {"role": "assistant", "content": _assistant_content(message, quirks)}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.name, "arguments": _arguments_json(c)}}
            for c in message.tool_calls
        ]
    return out


def _assistant_content(message: Message, quirks: ModelQuirks) -> str | list[dict[str, Any]] | None:
    """A string, a list of parts (only to replay reasoning), or None beside tool calls (F19)."""
    replay = quirks.list_content and any(_chat_replayable(p) for p in message.parts)
    if not replay:
        text = _joined_text(message)
        return text if text.strip() else None
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.text.strip():
                parts.append({"type": "text", "text": part.text})
        elif _chat_replayable(part):
            summary: dict[str, Any] = {"type": "summary_text", "text": part.text}
            if part.signature:
                summary["signature"] = part.signature
            parts.append({"type": "reasoning", "summary": [summary]})
    return parts or None


def _chat_replayable(part: object) -> bool:
    """Reasoning the chat routes returned as a typed part (not a Responses reasoning item)."""
    return isinstance(part, ReasoningPart) and part.replayable and part.item_id is None


# ---- Responses -------------------------------------------------------------------------------


def truncate_id(value: str) -> str:
    """``value`` if it fits ``MAX_ITEM_ID_LENGTH``, else a stable shortened form of it.

    The short form keeps a prefix and appends a digest of the whole id, so two long ids that
    share a prefix stay distinct and a call and its output still quote the same id.
    """
    if len(value) <= MAX_ITEM_ID_LENGTH:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return f"{value[:MAX_ITEM_ID_LENGTH - 17]}_{digest}"


def _responses_body(request: ChatRequest, quirks: ModelQuirks) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model, "input": _responses_input(request.messages)}
    if request.tools and quirks.supports_tools:
        body["tools"] = [
            {"type": "function", "name": t.name, "description": t.description,
             "parameters": tool_parameters(t.parameters)}
            for t in request.tools
        ]
        choice = _tool_choice(request.tool_choice, responses=True)
        if choice is not None:
            body["tool_choice"] = choice
    body.update(_options(request, quirks, responses=True))
    if request.stream:
        body["stream"] = True
    return body


def _responses_input(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            items.append({"type": "function_call_output",
                          "call_id": truncate_id(message.tool_call_id or ""),
                          "output": _joined_text(message)})
        elif message.role == "assistant":
            items.extend(_responses_assistant(message))
        else:
            items.append({"role": message.role, "content": _joined_text(message)})
    return items


def _responses_assistant(message: Message) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    texts: list[str] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif part.replayable and part.item_id:
            item: dict[str, Any] = {
                "type": "reasoning", "id": truncate_id(part.item_id),
                "summary": [{"type": "summary_text", "text": part.text}] if part.text else [],
            }
            if part.signature:
                item["encrypted_content"] = part.signature
            items.append(item)
    text = _TEXT_JOIN.join(t for t in texts if t.strip())
    if text:
        items.append({"role": "assistant", "content": text})
    for call in message.tool_calls:
        items.append({"type": "function_call", "call_id": truncate_id(call.id),
                      "name": call.name, "arguments": _arguments_json(call)})
    return items
