"""Data plane: chat completions, invocations, the AI Gateway chat route and embeddings.

Model behaviour follows the catalogue entry: caps, unsupported parameters, tool refusal,
Responses-only models, readiness and context limits always apply; schema and history checks
(``lakecode.emulator.validate``) apply in strict mode.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lakecode.emulator.catalog import Endpoint
from lakecode.emulator.errors import json_response
from lakecode.emulator.gate import current_state, error, guard, rate_limited, stream_plan
from lakecode.emulator.render import ModelTurn, completion_body, stream_events
from lakecode.emulator.scripted_model import Conversation
from lakecode.emulator.sse import sse_response
from lakecode.emulator.state import EmulatorState
from lakecode.emulator.validate import check_chat, check_thinking_replay, thinking_enabled

__all__ = [
    "chat_completions",
    "embeddings",
    "gateway_absent",
    "gateway_chat",
    "invocations",
    "read_json",
    "serving_subpath",
]

PATH_FORM = (
    "Path must be of form /serving-endpoints/<endpoint_name>/invocations or "
    "/serving-endpoints/<endpoint_name>/served-models/<served_model_name>/invocations"
)
PYFUNC_INPUT = (
    "Invalid input. The input must be a JSON dictionary with exactly one of the input fields "
    "{'instances','dataframe_records','dataframe_split','inputs'}."
)
TOOLS_FORMAT = (
    "Model response did not respect the required format. Please try again or use a different model."
)
_PYFUNC_KEYS = ("instances", "dataframe_records", "dataframe_split", "inputs")


async def read_json(request: Request) -> tuple[Any, str | None]:
    """The JSON body, or ``(None, problem)`` when it is missing or malformed."""
    raw = await request.body()
    if not raw:
        return None, "Bad request: the request body is empty"
    try:
        return json.loads(raw), None
    except ValueError:
        return None, "Bad request: the request body is not valid JSON"


def gateway_absent(st: EmulatorState) -> Response | None:
    """The answer of a host without the AI Gateway, or None when the gateway is on."""
    mode = st.config.gateway
    if mode == "404":
        return error(st, 404, "ENDPOINT_NOT_FOUND", "No API found for this path on this workspace.")
    if mode == "501":
        return error(st, 501, "NOT_IMPLEMENTED", "AI Gateway is not implemented for this workspace.")
    if mode == "feature_disabled":
        return error(st, 400, "FEATURE_DISABLED", "AI Gateway is not available for this workspace")
    return None


async def chat_completions(request: Request) -> Response:
    """``POST /serving-endpoints/chat/completions`` (``model`` in the body)."""
    st = current_state(request)
    body, bad = await read_json(request)
    model = body.get("model") if isinstance(body, dict) else None
    denied = await guard(request, st, model if isinstance(model, str) else None)
    if denied is not None:
        return denied
    if bad or not isinstance(body, dict):
        return error(st, 400, "BAD_REQUEST", bad or "Bad request: the body must be a JSON object")
    if not isinstance(model, str) or not model:
        return error(st, 400, "BAD_REQUEST", "Bad request: 'model' is required on this route")
    ep = st.catalog.serving(model)
    if ep is None:
        return error(st, 404, "ENDPOINT_NOT_FOUND", f"Endpoint with name '{model}' does not exist.")
    return serve_chat(request, st, ep, body, model, route="serving")


async def invocations(request: Request) -> Response:
    """``POST /serving-endpoints/{name}/invocations`` (no ``model``; adds ``served-model-name``)."""
    st = current_state(request)
    name = request.path_params["name"]
    body, bad = await read_json(request)
    denied = await guard(request, st, name)
    if denied is not None:
        return denied
    ep = st.catalog.serving(name)
    if ep is None:
        return error(st, 404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist.")
    if bad or not isinstance(body, dict):
        return error(st, 400, "BAD_REQUEST", bad or "Bad request: the body must be a JSON object")
    if ep.task == "llm/v1/embeddings":
        response = _embed(st, ep, body)
    elif ep.task is None:
        response = _pyfunc(st, body)
    else:
        response = serve_chat(request, st, ep, body, name, route="invocations")
    response.headers["served-model-name"] = ep.served_model_name or ep.name
    return response


async def gateway_chat(request: Request) -> Response:
    """``POST /ai-gateway/mlflow/v1/chat/completions`` (endpoint or Unity Catalog name)."""
    st = current_state(request)
    body, bad = await read_json(request)
    model = body.get("model") if isinstance(body, dict) else None
    denied = await guard(request, st, model if isinstance(model, str) else None)
    if denied is not None:
        return denied
    absent = gateway_absent(st)
    if absent is not None:
        return absent
    if bad or not isinstance(body, dict):
        return error(st, 400, "BAD_REQUEST", bad or "the body must be a JSON object", gateway=True)
    ep = st.catalog.gateway_model(model) if isinstance(model, str) else None
    if ep is None:
        return error(st, 404, "NOT_FOUND", "llm model not found", gateway=True)
    return serve_chat(request, st, ep, body, str(model), route="gateway")


async def serving_subpath(request: Request) -> Response:
    """Any other ``/serving-endpoints/...`` path: the real 404 text."""
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    return error(st, 404, "ENDPOINT_NOT_FOUND", PATH_FORM)


def model_refusal(ep: Endpoint, body: Mapping[str, Any]) -> tuple[int, str, str] | None:
    """What this model refuses about a chat body: ``(status, error_code, message)`` or None."""
    if not ep.ready:
        return 400, "INVALID_STATE", f"Endpoint {ep.name} is not ready. Current state: NOT_READY."
    if ep.task == "llm/v1/embeddings":
        return 400, "BAD_REQUEST", "Missing required embeddings parameter: 'input'"
    if ep.task is None:
        return 400, "BAD_REQUEST", PYFUNC_INPUT
    if ep.responses_only:
        return 400, "BAD_REQUEST", f"Model {ep.name} only supports the Responses API"
    if ep.rejects_tools and body.get("tools"):
        return 400, "BAD_REQUEST", TOOLS_FORMAT
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and ep.max_tokens is not None and max_tokens > ep.max_tokens:
        return 400, "BAD_REQUEST", f"max_tokens ({max_tokens}) cannot exceed {ep.max_tokens}"
    for param in ep.unsupported_params:
        if param in body:
            message = f"BAD_REQUEST: Model {ep.upstream_model} does not support the {param} parameter"
            return 400, "BAD_REQUEST", message
    if ep.context_window:
        prompt = len(json.dumps(body.get("messages", ""))) // 4
        wanted = max_tokens if isinstance(max_tokens, int) else 0
        if prompt + wanted > ep.context_window:
            limit = f"{prompt} + {wanted} > {ep.context_window}"
            return 400, "BAD_REQUEST", f"input length and max_tokens exceed context limit: {limit}"
    return None


def _tool_names(body: Mapping[str, Any]) -> list[str]:
    names = []
    for tool in body.get("tools") or ():
        if isinstance(tool, Mapping):
            fn = tool.get("function") if isinstance(tool.get("function"), Mapping) else tool
            if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
                names.append(fn["name"])
    return names


def serve_chat(
    request: Request, st: EmulatorState, ep: Endpoint, body: dict[str, Any], model: str, *, route: str
) -> Response:
    """Validate, ask the scripted model, and answer as JSON or SSE."""
    gw = route == "gateway"
    limited = rate_limited(st, ep)
    if limited is not None:
        return limited
    if st.config.strict:
        problem = check_chat(body, gateway=gw, invocations=route == "invocations", family=ep.family)
        if problem is None and ep.reasoning == "parts-with-signature" and thinking_enabled(body):
            replay = check_thinking_replay(body["messages"], st.signatures)
            problem = (replay, "BAD_REQUEST") if replay else None
        if problem is not None:
            return error(st, 400, problem[1], problem[0], gateway=gw)
    refusal = model_refusal(ep, body)
    if refusal is not None:
        return error(st, *refusal, gateway=gw)
    raw = body.get("messages")
    messages = [m for m in raw if isinstance(m, Mapping)] if isinstance(raw, list) else []
    conv = Conversation.from_chat(messages, model, _tool_names(body))
    reply = st.scripted_model.respond(conv)
    if reply.error is not None:
        return reply.error.response()
    turn = ModelTurn.build(ep, reply, conv, body)
    if turn.signature:
        st.signatures.add(turn.signature)
    if body.get("stream"):
        plan = stream_plan(request, st, model)
        return sse_response(stream_events(turn, st.config), plan)
    return json_response(completion_body(turn))


def _vector(text: str, dims: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % len(digest)] - 128) / 128, 6) for i in range(dims)]


def _embed(st: EmulatorState, ep: Endpoint, body: Mapping[str, Any]) -> Response:
    inputs = body.get("input")
    if inputs is None:
        return error(st, 400, "BAD_REQUEST", "Missing required embeddings parameter: 'input'")
    texts = [inputs] if isinstance(inputs, str) else [str(t) for t in inputs]
    tokens = max(1, sum(len(t) for t in texts) // 4)
    return json_response(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": _vector(t, ep.embedding_dimensions)}
                for i, t in enumerate(texts)
            ],
            "model": ep.upstream_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _pyfunc(st: EmulatorState, body: Mapping[str, Any]) -> Response:
    present = [k for k in _PYFUNC_KEYS if k in body]
    if len(present) != 1:
        return error(st, 400, "BAD_REQUEST", PYFUNC_INPUT)
    rows = body[present[0]]
    n = len(rows) if isinstance(rows, list) else 1
    return json_response({"predictions": [round(0.1 * (i % 10), 1) for i in range(n)]})


async def embeddings(request: Request) -> Response:
    """``POST /serving-endpoints/embeddings`` (OpenAI embeddings, ``model`` in the body)."""
    st = current_state(request)
    body, bad = await read_json(request)
    model = body.get("model") if isinstance(body, dict) else None
    denied = await guard(request, st, model if isinstance(model, str) else None)
    if denied is not None:
        return denied
    if bad or not isinstance(body, dict):
        return error(st, 400, "BAD_REQUEST", bad or "Bad request: the body must be a JSON object")
    ep = st.catalog.serving(model) if isinstance(model, str) else None
    if ep is None:
        return error(st, 404, "ENDPOINT_NOT_FOUND", f"Endpoint with name '{model}' does not exist.")
    if ep.task != "llm/v1/embeddings":
        return error(st, 400, "BAD_REQUEST", f"Endpoint {ep.name} does not serve embeddings.")
    return _embed(st, ep, body)
