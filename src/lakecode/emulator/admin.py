"""Admin routes under ``/__emulator`` (loopback only, no auth) to drive a running emulator.

=======  =================================  ====================================================
method   path                               effect
=======  =================================  ====================================================
GET      /__emulator/state                  url, workspace id and the throwaway credentials
POST     /__emulator/reset                  fresh state (new credentials; config kept)
GET      /__emulator/requests               the request log (no secrets); DELETE clears it
GET      /__emulator/token-requests         token endpoint calls: total, by grant type, records
GET      /__emulator/faults                 active faults; POST adds one (JSON ``Fault`` fields,
                                            e.g. ``{"kind": "rate_limit", "retry_after": 2}``);
                                            DELETE clears all
DELETE   /__emulator/faults/{id}            removes one fault
POST     /__emulator/clock/advance          ``{"seconds": 3700}``
POST     /__emulator/tokens/expire          expire OAuth tokens now (``{"include_pats": true}``)
POST     /__emulator/tokens/revoke          ``{"token": "..."}``
GET      /__emulator/config                 the live config; PATCH sets switches, e.g.
                                            ``{"gateway": "404", "strict": false}``
POST     /__emulator/scripted/enqueue       ``{"replies": ["text", {"tool_calls": [...]}]}``
=======  =================================  ====================================================
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakecode.emulator.errors import json_response
from lakecode.emulator.faults import Fault
from lakecode.emulator.gate import current_state
from lakecode.emulator.state import EmulatorState

__all__ = ["PATCHABLE", "routes"]

# Config fields that may change at run time (scalars only).
PATCHABLE = frozenset(
    {
        "token_ttl",
        "expires_in_as_string",
        "rotate_refresh_tokens",
        "consent",
        "strict",
        "invalid_token_style",
        "host_metadata",
        "gateway",
        "codex_models",
        "gateway_error_style",
        "model_services_require_org_id",
        "stream_usage",
        "stream_done",
        "stream_keepalive",
        "stream_chunk_chars",
        "interleave_tool_calls",
    }
)
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

Handler = Callable[[Request], Awaitable[Response]]


def _loopback_only(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        client = request.client.host if request.client else ""
        if client not in _LOOPBACK:
            return json_response({"error": "the admin API only answers loopback clients"}, 403)
        try:
            return await handler(request)
        except (ValueError, TypeError, KeyError) as exc:
            return json_response({"error": str(exc)}, 400)

    return wrapped


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


async def state(request: Request) -> Response:
    st = current_state(request)
    return json_response(
        {
            "url": st.base_url,
            "workspace_id": st.workspace_id,
            "pat": st.pat,
            "client_id": st.client_id,
            "client_secret": st.client_secret,
            "requests": len(st.log),
            "token_requests": len(st.token_requests),
            "scripted_pending": st.scripted_model.pending,
        }
    )


async def reset(request: Request) -> Response:
    ref = request.app.state.ref
    ref.current = EmulatorState.create(ref.current.config, ref.current.base_url)
    return await state(request)


async def requests_(request: Request) -> Response:
    st = current_state(request)
    if request.method == "DELETE":
        st.log.clear()
        return json_response({"cleared": True})
    return json_response({"requests": [dataclasses.asdict(r) for r in st.log.snapshot()]})


async def token_requests(request: Request) -> Response:
    tr = current_state(request).token_requests
    return json_response(
        {
            "total": len(tr),
            "by_grant_type": tr.by_grant_type(),
            "records": [dataclasses.asdict(r) for r in tr.records],
        }
    )


async def faults(request: Request) -> Response:
    st = current_state(request)
    if request.method == "POST":
        fault = st.faults.add(Fault.from_dict(await _body(request)))
        return json_response(fault.as_dict(), 201)
    if request.method == "DELETE":
        st.faults.clear()
        return json_response({"cleared": True})
    return json_response({"faults": [f.as_dict() for f in st.faults.list()]})


async def fault_one(request: Request) -> Response:
    removed = current_state(request).faults.remove(request.path_params["fault_id"])
    return json_response({"removed": removed}, 200 if removed else 404)


async def clock_advance(request: Request) -> Response:
    st = current_state(request)
    st.clock.advance(float((await _body(request))["seconds"]))
    return json_response({"time": st.clock.time(), "offset": st.clock.offset})


async def tokens_expire(request: Request) -> Response:
    body = await _body(request)
    n = current_state(request).tokens.expire_all(bool(body.get("include_pats", False)))
    return json_response({"expired": n})


async def tokens_revoke(request: Request) -> Response:
    revoked = current_state(request).tokens.revoke(str((await _body(request))["token"]))
    return json_response({"revoked": revoked}, 200 if revoked else 404)


async def config(request: Request) -> Response:
    st = current_state(request)
    if request.method == "PATCH":
        changes = await _body(request)
        bad = set(changes) - PATCHABLE
        if bad:
            raise ValueError(f"not changeable at run time: {', '.join(sorted(bad))}")
        for key, value in changes.items():
            setattr(st.config, key, value)
    cfg = st.config
    return json_response({name: getattr(cfg, name) for name in sorted(PATCHABLE)})


async def enqueue(request: Request) -> Response:
    st = current_state(request)
    st.scripted_model.enqueue((await _body(request))["replies"])
    return json_response({"pending": st.scripted_model.pending})


def routes() -> list[BaseRoute]:
    """The admin routes (mounted before the catch-all)."""
    p = "/__emulator"
    table: list[tuple[str, Handler, list[str]]] = [
        ("/state", state, ["GET"]),
        ("/reset", reset, ["POST"]),
        ("/requests", requests_, ["GET", "DELETE"]),
        ("/token-requests", token_requests, ["GET"]),
        ("/faults", faults, ["GET", "POST", "DELETE"]),
        ("/faults/{fault_id}", fault_one, ["DELETE"]),
        ("/clock/advance", clock_advance, ["POST"]),
        ("/tokens/expire", tokens_expire, ["POST"]),
        ("/tokens/revoke", tokens_revoke, ["POST"]),
        ("/config", config, ["GET", "PATCH"]),
        ("/scripted/enqueue", enqueue, ["POST"]),
    ]
    return [Route(p + path, _loopback_only(handler), methods=methods) for path, handler, methods in table]
