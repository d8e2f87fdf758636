"""A minimal but correct OpenAI Responses dialect on ``/serving-endpoints/responses``.

Input items: messages (``role`` + string or ``input_text``/``output_text`` parts),
``function_call`` and ``function_call_output``; ``instructions`` becomes the system prompt.
Tools are flat (``{type: "function", name, parameters}``); the nested chat form fails with
``Missing required parameter: 'tools[0].name'.`` Streams use named events with a
``sequence_number`` (``response.created`` ... ``response.output_text.delta`` ...
``response.function_call_arguments.delta`` ... ``response.completed``) and no ``[DONE]``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lakecode.emulator.catalog import Endpoint
from lakecode.emulator.chat import gateway_absent, read_json
from lakecode.emulator.errors import json_response
from lakecode.emulator.gate import current_state, error, guard, rate_limited, stream_plan
from lakecode.emulator.render import fragments, usage_for
from lakecode.emulator.scripted_model import Conversation, Reply, Turn, content_text
from lakecode.emulator.sse import Event, named, sse_response
from lakecode.emulator.state import EmulatorState

__all__ = ["gateway_responses", "responses"]

RESPONSES_KEYS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "stream",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "parallel_tool_calls",
        "store",
        "include",
        "text",
        "metadata",
        "previous_response_id",
        "truncation",
        "user",
        "service_tier",
    }
)


async def responses(request: Request) -> Response:
    """``POST /serving-endpoints/responses``."""
    return await _handle(request, gateway=False)


async def gateway_responses(request: Request) -> Response:
    """``POST /ai-gateway/mlflow/v1/responses``."""
    return await _handle(request, gateway=True)


async def _handle(request: Request, *, gateway: bool) -> Response:
    st = current_state(request)
    body, bad = await read_json(request)
    model = body.get("model") if isinstance(body, dict) else None
    denied = await guard(request, st, model if isinstance(model, str) else None)
    if denied is not None:
        return denied
    if gateway:
        absent = gateway_absent(st)
        if absent is not None:
            return absent
    if bad or not isinstance(body, dict):
        return error(st, 400, "BAD_REQUEST", bad or "the body must be a JSON object", gateway=gateway)
    if not isinstance(model, str):
        return error(st, 400, "BAD_REQUEST", "Missing required parameter: 'model'.", gateway=gateway)
    ep = st.catalog.gateway_model(model) if gateway else st.catalog.serving(model)
    if ep is None:
        if gateway:
            return error(st, 404, "NOT_FOUND", "llm model not found", gateway=True)
        return error(st, 404, "ENDPOINT_NOT_FOUND", f"Endpoint with name '{model}' does not exist.")
    limited = rate_limited(st, ep)
    if limited is not None:
        return limited
    problem = _check(st, ep, body)
    if problem is not None:
        return error(st, 400, "BAD_REQUEST", problem, gateway=gateway)
    conv = _conversation(body, model)
    reply = st.scripted_model.respond(conv)
    if reply.error is not None:
        return reply.error.response()
    result = _Result.build(ep, reply, conv, body)
    if body.get("stream"):
        plan = stream_plan(request, st, model)
        return sse_response(_events(result, st.config.stream_chunk_chars), plan)
    return json_response(result.response("completed"))


def _check(st: EmulatorState, ep: Endpoint, body: Mapping[str, Any]) -> str | None:
    if not ep.supports_responses:
        return f"Model {ep.name} does not support the Responses API"
    if st.config.strict:
        for key in body:
            if key not in RESPONSES_KEYS:
                return f"Unknown parameter: '{key}'."
        for i, tool in enumerate(body.get("tools") or ()):
            if not isinstance(tool, Mapping) or not tool.get("name"):
                return f"Missing required parameter: 'tools[{i}].name'."
        if "input" not in body:
            return "Missing required parameter: 'input'."
    for param in ("temperature", "top_p"):
        if param in body and (param in ep.unsupported_params or ep.family == "gpt"):
            return f"Unsupported parameter: '{param}' is not supported with this model."
    cap = body.get("max_output_tokens")
    if isinstance(cap, int) and ep.max_tokens is not None and cap > ep.max_tokens:
        return f"max_output_tokens ({cap}) cannot exceed {ep.max_tokens}"
    return None


def _conversation(body: Mapping[str, Any], model: str) -> Conversation:
    turns: list[Turn] = []
    if isinstance(body.get("instructions"), str):
        turns.append(Turn("system", body["instructions"]))
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "message")
        if kind == "function_call":
            call = (str(item.get("call_id", "")), str(item.get("name", "")))
            if turns and turns[-1].role == "assistant" and turns[-1].tool_calls:
                last = turns.pop()
                turns.append(Turn("assistant", last.text, (*last.tool_calls, call)))
            else:
                turns.append(Turn("assistant", "", (call,)))
        elif kind == "function_call_output":
            output = item.get("output")
            turns.append(Turn("tool", content_text(output), tool_call_id=str(item.get("call_id", ""))))
        elif kind == "message":
            role = str(item.get("role", "user"))
            turns.append(Turn("system" if role == "developer" else role, content_text(item.get("content"))))
    tools = [str(t["name"]) for t in body.get("tools") or () if isinstance(t, Mapping) and t.get("name")]
    return Conversation(tuple(turns), model, tuple(tools))


class _Result:
    """A rendered Responses answer: output items plus the envelope around them."""

    def __init__(self, ep: Endpoint, reply: Reply, body: Mapping[str, Any], usage: dict[str, int]) -> None:
        self.ep, self.reply, self.body = ep, reply, body
        self.id = f"resp_{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.message_id = f"msg_{uuid.uuid4().hex}"
        self.calls = [
            (f"fc_{uuid.uuid4().hex}", c.id or f"call_{uuid.uuid4().hex[:24]}", c) for c in reply.tool_calls
        ]
        self.usage = {
            "input_tokens": usage["prompt_tokens"],
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": usage["completion_tokens"],
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage["total_tokens"],
        }

    @classmethod
    def build(cls, ep: Endpoint, reply: Reply, conv: Conversation, body: Mapping[str, Any]) -> _Result:
        return cls(ep, reply, body, usage_for({"input": body.get("input")}, reply, None))

    def message_item(self, status: str, text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "id": self.message_id,
            "status": status,
            "role": "assistant",
            "content": [] if status != "completed" else [self.text_part(text)],
        }

    @staticmethod
    def text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def call_item(self, index: int, status: str) -> dict[str, Any]:
        item_id, call_id, call = self.calls[index]
        args = call.arguments_json() if status == "completed" else ""
        return {
            "type": "function_call",
            "id": item_id,
            "call_id": call_id,
            "name": call.name,
            "arguments": args,
            "status": status,
        }

    def output(self) -> list[dict[str, Any]]:
        items = [self.message_item("completed", self.reply.text)] if self.reply.text else []
        return items + [self.call_item(i, "completed") for i in range(len(self.calls))]

    def response(self, status: str) -> dict[str, Any]:
        done = status == "completed"
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": self.body.get("instructions"),
            "max_output_tokens": self.body.get("max_output_tokens"),
            "model": self.ep.upstream_model,
            "output": self.output() if done else [],
            "parallel_tool_calls": self.body.get("parallel_tool_calls", True),
            "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "store": False,
            "temperature": 1.0,
            "text": {"format": {"type": "text"}},
            "tool_choice": self.body.get("tool_choice", "auto"),
            "tools": list(self.body.get("tools") or []),
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": self.usage if done else None,
            "user": None,
            "metadata": {},
        }


def _events(result: _Result, size: int) -> list[Event]:
    seq = iter(range(1_000_000))

    def ev(kind: str, tool_fragment: bool = False, **payload: Any) -> Event:
        return named(kind, {"type": kind, "sequence_number": next(seq), **payload}, tool_fragment)

    out = [ev("response.created", response=result.response("in_progress"))]
    out.append(ev("response.in_progress", response=result.response("in_progress")))
    index = 0
    if result.reply.text:
        out.extend(_message_events(result, index, size, ev))
        index += 1
    for i in range(len(result.calls)):
        item_id = result.calls[i][0]
        out.append(
            ev("response.output_item.added", output_index=index, item=result.call_item(i, "in_progress"))
        )
        args = result.calls[i][2].arguments_json()
        for piece in fragments(args, size):
            out.append(
                ev(
                    "response.function_call_arguments.delta",
                    True,
                    item_id=item_id,
                    output_index=index,
                    delta=piece,
                )
            )
        out.append(
            ev(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                name=result.calls[i][2].name,
                arguments=args,
            )
        )
        out.append(ev("response.output_item.done", output_index=index, item=result.call_item(i, "completed")))
        index += 1
    out.append(ev("response.completed", response=result.response("completed")))
    return out


def _message_events(result: _Result, index: int, size: int, ev: Any) -> Iterator[Event]:
    text, mid = result.reply.text, result.message_id
    where = {"item_id": mid, "output_index": index, "content_index": 0}
    yield ev("response.output_item.added", output_index=index, item=result.message_item("in_progress", ""))
    yield ev("response.content_part.added", **where, part=result.text_part(""))
    for piece in fragments(text, size):
        yield ev("response.output_text.delta", **where, delta=piece, logprobs=[])
    yield ev("response.output_text.done", **where, text=text, logprobs=[])
    yield ev("response.content_part.done", **where, part=result.text_part(text))
    yield ev("response.output_item.done", output_index=index, item=result.message_item("completed", text))
