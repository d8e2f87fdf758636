"""A minimal Anthropic Messages dialect on ``/serving-endpoints/anthropic/v1/messages`` and the
gateway's ``/ai-gateway/anthropic/v1/messages`` (Claude models only).

Enough for a stock Anthropic client: text, ``tool_use`` / ``tool_result`` blocks, ``thinking``
blocks with a signature, and the SSE stream (``message_start`` ... ``content_block_delta`` with
``text_delta`` / ``input_json_delta`` / ``thinking_delta`` / ``signature_delta`` ...
``message_stop``). As on every route, the credential is ``Authorization: Bearer``; an
``x-api-key`` header alone is rejected.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lakecode.emulator.catalog import Endpoint
from lakecode.emulator.chat import TOOLS_FORMAT, gateway_absent, read_json
from lakecode.emulator.errors import json_response
from lakecode.emulator.gate import current_state, error, guard, rate_limited, stream_plan
from lakecode.emulator.render import fragments, usage_for
from lakecode.emulator.scripted_model import Conversation, Reply, Turn, content_text
from lakecode.emulator.sse import Event, named, sse_response
from lakecode.emulator.state import EmulatorState

__all__ = ["gateway_messages", "messages"]

MESSAGES_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "tools",
        "tool_choice",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "thinking",
        "metadata",
        "output_config",
        "context_management",
    }
)
_TOOL_KEYS = frozenset({"name", "description", "input_schema", "type", "cache_control"})


async def messages(request: Request) -> Response:
    """``POST /serving-endpoints/anthropic/v1/messages``."""
    return await _handle(request, gateway=False)


async def gateway_messages(request: Request) -> Response:
    """``POST /ai-gateway/anthropic/v1/messages``."""
    return await _handle(request, gateway=True)


async def _handle(request: Request, *, gateway: bool) -> Response:
    st = current_state(request)
    body, bad = await read_json(request)
    model = body.get("model") if isinstance(body, dict) else None
    denied = await guard(request, st, model if isinstance(model, str) else None)
    if denied is not None:
        return denied
    if gateway and (absent := gateway_absent(st)) is not None:
        return absent
    if bad or not isinstance(body, dict):
        return error(st, 400, "BAD_REQUEST", bad or "the body must be a JSON object")
    ep = None
    if isinstance(model, str):
        ep = st.catalog.gateway_model(model) if gateway else st.catalog.serving(model)
    if ep is None:
        return error(st, 404, "ENDPOINT_NOT_FOUND", f"Endpoint with name '{model}' does not exist.")
    limited = rate_limited(st, ep)
    if limited is not None:
        return limited
    problem = _check(st, ep, body)
    if problem is not None:
        return error(st, 400, "BAD_REQUEST", problem)
    conv = _conversation(body, str(model))
    reply = st.scripted_model.respond(conv)
    if reply.error is not None:
        return reply.error.response()
    message = _message(ep, reply, conv, body)
    if body.get("stream"):
        return sse_response(
            _events(message, st.config.stream_chunk_chars), stream_plan(request, st, str(model))
        )
    return json_response(message)


def _check(st: EmulatorState, ep: Endpoint, body: Mapping[str, Any]) -> str | None:
    if "anthropic/v1/messages" not in ep.api_types:
        return f"Model {ep.name} does not support the Anthropic Messages API"
    if st.config.strict:
        for key in body:
            if key not in MESSAGES_KEYS:
                return f"{key}: Extra inputs are not permitted"
        for i, tool in enumerate(body.get("tools") or ()):
            if not isinstance(tool, Mapping) or "name" not in tool:
                return f"tools.{i}.custom.name: Field required"
            for key in tool:
                if key not in _TOOL_KEYS:
                    return f"tools.{i}.custom.{key}: Extra inputs are not permitted"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int):
        return "max_tokens: Field required"
    if ep.max_tokens is not None and max_tokens > ep.max_tokens:
        return f"max_tokens ({max_tokens}) cannot exceed {ep.max_tokens}"
    for param in ep.unsupported_params:
        if param in body:
            return f"BAD_REQUEST: Model {ep.upstream_model} does not support the {param} parameter"
    if ep.rejects_tools and body.get("tools"):
        return TOOLS_FORMAT
    return None


def _conversation(body: Mapping[str, Any], model: str) -> Conversation:
    turns: list[Turn] = []
    if body.get("system"):
        turns.append(Turn("system", content_text(body["system"])))
    for m in body.get("messages") or ():
        if not isinstance(m, Mapping):
            continue
        content = m.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        role = str(m.get("role"))
        text = "".join(
            str(b.get("text", "")) for b in blocks if isinstance(b, Mapping) and b.get("type") == "text"
        )
        calls = tuple(
            (str(b.get("id")), str(b.get("name")))
            for b in blocks
            if isinstance(b, Mapping) and b.get("type") == "tool_use"
        )
        for b in blocks:
            if isinstance(b, Mapping) and b.get("type") == "tool_result":
                turns.append(
                    Turn("tool", content_text(b.get("content")), tool_call_id=str(b.get("tool_use_id")))
                )
        if role == "assistant" or text:
            turns.append(Turn(role, text, calls))
    tools = [str(t["name"]) for t in body.get("tools") or () if isinstance(t, Mapping) and "name" in t]
    return Conversation(tuple(turns), model, tuple(tools))


def _message(ep: Endpoint, reply: Reply, conv: Conversation, body: Mapping[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    thinking = body.get("thinking")
    if (
        isinstance(thinking, Mapping)
        and thinking.get("type") in ("enabled", "adaptive")
        and ep.reasoning != "none"
    ):
        text = reply.reasoning or f"Considering: {conv.user[:80]}"
        content.append(
            {"type": "thinking", "thinking": text, "signature": reply.signature or "sig-" + uuid.uuid4().hex}
        )
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        args = call.arguments if isinstance(call.arguments, dict) else {}
        content.append(
            {
                "type": "tool_use",
                "id": call.id or f"toolu_bdrk_{uuid.uuid4().hex[:24]}",
                "name": call.name,
                "input": args,
            }
        )
    usage = usage_for(body, reply, None)
    stop = (
        "tool_use"
        if reply.tool_calls
        else {"length": "max_tokens"}.get(reply.finish_reason or "", "end_turn")
    )
    return {
        "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": ep.upstream_model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]},
    }


def _events(message: dict[str, Any], size: int) -> list[Event]:
    def ev(kind: str, tool_fragment: bool = False, **payload: Any) -> Event:
        return named(kind, {"type": kind, **payload}, tool_fragment)

    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1},
    }
    out = [ev("message_start", message=start), ev("ping")]
    for index, block in enumerate(message["content"]):
        head, deltas = _block_parts(block, size)
        out.append(ev("content_block_start", index=index, content_block=head))
        out.extend(
            ev("content_block_delta", delta["type"] == "input_json_delta", index=index, delta=delta)
            for delta in deltas
        )
        out.append(ev("content_block_stop", index=index))
    out.append(
        ev(
            "message_delta",
            delta={"stop_reason": message["stop_reason"], "stop_sequence": None},
            usage={"output_tokens": message["usage"]["output_tokens"]},
        )
    )
    out.append(ev("message_stop"))
    return out


def _block_parts(block: dict[str, Any], size: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``content_block_start`` body and the deltas that stream one content block."""
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": ""}, [
            {"type": "text_delta", "text": piece} for piece in fragments(block["text"], size)
        ]
    if kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": p} for p in fragments(block["thinking"], size)]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
        return {"type": "thinking", "thinking": "", "signature": ""}, deltas
    head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
    args = json.dumps(block["input"], separators=(",", ":"))
    return head, [{"type": "input_json_delta", "partial_json": piece} for piece in fragments(args, size)]
