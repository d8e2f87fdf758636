"""The gate every emulated route passes: fault injection, authentication, error envelopes.

Order, as a real deployment behaves: a wrong host (303 to ``/login``) answers before anything
looks at credentials; then the credential is checked; then response faults (429, 5xx, named
errors, delays) apply. Stream faults are taken separately by the streaming handlers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from lakecode.emulator.auth import credential, invalid_token_response, missing_credential_response
from lakecode.emulator.catalog import Endpoint
from lakecode.emulator.errors import databricks_error, json_response, named_error, openai_error
from lakecode.emulator.faults import Fault
from lakecode.emulator.state import EmulatorState

__all__ = ["StreamPlan", "current_state", "error", "guard", "rate_limited", "stream_plan"]

_LOGIN_HTML = (
    "<!doctype html><html><head><title>Databricks - Sign In</title></head>"
    "<body><h1>Sign in to Databricks</h1><p>Please sign in to continue.</p></body></html>"
)
_SERVER_CODES = {
    500: "INTERNAL_ERROR",
    502: "TEMPORARILY_UNAVAILABLE",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def current_state(request: Request) -> EmulatorState:
    """The emulator state serving this request (swapped on reset)."""
    state: EmulatorState = request.app.state.ref.current
    return state


def error(st: EmulatorState, status: int, code: str, message: str, *, gateway: bool = False) -> Response:
    """An error in the envelope of the route: Databricks, or OpenAI-style on the gateway if so set."""
    if gateway and st.config.gateway_error_style == "openai":
        return openai_error(status, message, code=code)
    return databricks_error(status, code, message)


async def guard(
    request: Request, st: EmulatorState, endpoint: str | None = None, *, auth: bool = True
) -> Response | None:
    """Apply faults and authentication; a Response means "answer with this", None "go on"."""
    method, path = request.method, request.url.path
    request.state.emu_endpoint = endpoint
    pre = st.faults.take_pre_auth(method, path, endpoint)
    if pre is not None:
        request.state.emu_fault = pre.id
        if pre.kind == "redirect_login":
            return _redirect_login(pre.variant == "html")
        st.tokens.expire_all()
    if auth:
        kind, token = credential(request.headers)
        if kind == "none":
            return missing_credential_response()
        if token is None or st.tokens.check(token) != "ok":
            return invalid_token_response(st.config.invalid_token_style)
    fault = st.faults.take_response(method, path, endpoint)
    if fault is None:
        return None
    request.state.emu_fault = fault.id
    return await _fault_response(fault, st, endpoint)


def rate_limited(st: EmulatorState, endpoint: Endpoint) -> Response | None:
    """429 when the endpoint's own QPS limit is exceeded (``Endpoint.qps_limit``)."""
    if endpoint.qps_limit is None or not st.over_rate_limit(endpoint.name, endpoint.qps_limit):
        return None
    spec = named_error("rate_limit", endpoint.name)
    return json_response(spec.body, spec.status, {"retry-after": "1"})


def _redirect_login(html: bool) -> Response:
    if html:
        return Response(_LOGIN_HTML, 303, headers={"location": "/login"}, media_type="text/html")
    return Response(b"", 303, headers={"location": "/login"})


async def _fault_response(fault: Fault, st: EmulatorState, endpoint: str | None) -> Response | None:
    kind = fault.kind
    if kind == "delay":
        await asyncio.sleep(fault.delay)
        return None
    if kind == "rate_limit":
        name = {"tokens": "rate_limit_tokens", "rest": "rate_limit_rest"}.get(
            fault.variant or "", "rate_limit"
        )
        spec = named_error(name, endpoint or "this endpoint")
        return json_response(spec.body, spec.status, _retry_after(fault))
    if kind == "server_error":
        status = fault.status or 500
        code = _SERVER_CODES.get(status, "INTERNAL_ERROR")
        message = f"{code}: the service failed (injected {status})."
        return databricks_error(status, code, message, _retry_after(fault))
    if kind == "permission_denied":
        return named_error("permission_denied", endpoint or "this endpoint").response()
    if kind == "invalid_token":
        return invalid_token_response(fault.variant or st.config.invalid_token_style)
    if kind == "error":
        return named_error(fault.name or "internal_error", endpoint).response()
    # kind == "status": a custom body
    status = fault.status or 500
    if isinstance(fault.body, str):
        return Response(fault.body, status, media_type="text/plain")
    return json_response(fault.body if fault.body is not None else {}, status)


def _retry_after(fault: Fault) -> dict[str, str] | None:
    return {"retry-after": str(fault.retry_after)} if fault.retry_after is not None else None


@dataclass(frozen=True)
class StreamPlan:
    """How to disturb one streamed response."""

    delay: float = 0.0
    cut_after: int | None = None
    cut_at_tool_call: bool = False
    cut_mode: str = "abort"

    @property
    def cuts(self) -> bool:
        return self.cut_after is not None or self.cut_at_tool_call


def stream_plan(request: Request, st: EmulatorState, endpoint: str | None) -> StreamPlan:
    """Take the stream faults that apply to this request."""
    faults = st.faults.take_stream(request.method, request.url.path, endpoint)
    delay, cut_after, at_tool, mode = 0.0, None, False, "abort"
    for fault in faults:
        request.state.emu_fault = fault.id
        if fault.kind == "slow_stream":
            delay = fault.delay
        else:
            at_tool = fault.at == "tool_call"
            cut_after = fault.after_chunks if not at_tool else None
            if not at_tool and cut_after is None:
                cut_after = 2
            mode = fault.mode
    return StreamPlan(delay, cut_after, at_tool, mode)
