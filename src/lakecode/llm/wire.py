"""The OpenAI-compatible wire client: one model turn over one ``httpx.AsyncClient``.

``ChatTransport.stream(url, request, dialect=..., quirks=..., endpoint=...)`` is the only way
lakecode sends a chat turn. For each call it:

1. normalizes the history (``lakecode.llm.history``) once;
2. applies what the session learned about the model (``ModelMemory``) to the caller's
   ``ModelQuirks`` and serializes with the dialect's whitelist (``lakecode.llm.serialize``);
3. POSTs it - never following redirects, with ``User-Agent: lakecode/<v> python/<v> os/<os>``
   (plus the provider's suffix such as ``auth/pat``), ``Content-Type: application/json``,
   ``Accept: text/event-stream`` when streaming, and never an ``x-api-key`` header;
4. reads error bodies (also in streaming mode) and turns them into ``lakecode.errors`` through
   the one parser, ``lakecode.llm.errors.error_from_response``;
5. retries through the one retry layer (``lakecode.llm.retry``), yielding ``RetryNotice``s;
6. self-heals once per cause: a 400 naming an unsupported parameter drops it, a 400
   "max_tokens ... cannot exceed N" clamps to N - both remembered in ``ModelMemory`` so later
   requests are right the first time (F24, F26);
7. parses the SSE stream or the JSON body with the same assemblers (``lakecode.llm.stream``),
   yielding each event as soon as it is parsed, ending with ``Finish``.

Authentication is the client's business (an ``httpx.Auth`` configured on it). Logs (logger
``lakecode.llm.wire``, DEBUG) carry the route path, status, ``x-request-id``, endpoint and
timing - never headers, tokens or bodies.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import platform
import random
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import httpx

from lakecode import __version__
from lakecode.clock import Clock, system_clock
from lakecode.errors import (
    MaxTokensExceededError,
    StreamError,
    UnsupportedParameterError,
)
from lakecode.llm.errors import error_from_response, error_from_transport
from lakecode.llm.history import normalize_history
from lakecode.llm.quirks import Dialect, ModelMemory, ModelQuirks
from lakecode.llm.retry import RetryPolicy, retrying
from lakecode.llm.serialize import ESSENTIAL_KEYS, serialize_request
from lakecode.llm.stream import decode_json, iter_sse_events, parse_response_body
from lakecode.llm.types import ChatRequest, Finish, StreamEvent

__all__ = ["MAX_CONCURRENT_PER_ENDPOINT", "ChatTransport", "user_agent"]

_log = logging.getLogger(__name__)

MAX_CONCURRENT_PER_ENDPOINT = 4
"""Requests one transport runs at once against one endpoint (F22: rate limits are per endpoint
and some pay-per-token models allow only 1-2 QPS); more wait for a free slot."""
_MAX_TOKEN_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_FORBIDDEN_HEADERS = ("x-api-key",)


def _os_name() -> str:
    if sys.platform.startswith("win"):
        return "windows"
    return sys.platform.rstrip("0123456789") or "unknown"


def user_agent(suffix: str | None = None) -> str:
    """``lakecode/<version> python/<version> os/<os>``, then ``suffix`` (e.g. ``auth/pat``)."""
    base = f"lakecode/{__version__} python/{platform.python_version()} os/{_os_name()}"
    return f"{base} {suffix}" if suffix else base


class ChatTransport:
    """Sends chat turns over an OpenAI-compatible wire (see the module docstring).

    Args:
        http: the client to send with, configured with auth (and a base URL if the caller
            passes paths). The transport does not own it and never closes it.
        clock: time for backoff (inject ``FakeClock`` in tests).
        retry: retry limits (defaults: ``lakecode.llm.retry`` constants).
        memory: the provider's self-healing memory; a private one when omitted.
        user_agent_suffix: appended to the User-Agent, e.g. ``"auth/oauth-m2m"``.
        headers: extra headers for every request (e.g. ``X-Databricks-Workspace-Id``).
        rng: the jitter source (seed it for deterministic tests).
        max_concurrency: requests in flight per endpoint (None: no cap); further requests wait.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
        memory: ModelMemory | None = None,
        user_agent_suffix: str | None = None,
        headers: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        max_concurrency: int | None = MAX_CONCURRENT_PER_ENDPOINT,
    ) -> None:
        self._http = http
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._memory = memory if memory is not None else ModelMemory()
        self._rng = rng or random.Random()
        self._max_concurrency = max_concurrency
        self._slots: dict[str, asyncio.Semaphore] = {}
        base = {"User-Agent": user_agent(user_agent_suffix), "Content-Type": "application/json"}
        base.update({k: v for k, v in (headers or {}).items() if k.lower() not in _FORBIDDEN_HEADERS})
        self._stream_headers = {**base, "Accept": "text/event-stream"}
        self._json_headers = {**base, "Accept": "application/json"}

    @property
    def memory(self) -> ModelMemory:
        """The self-healing memory this transport records into."""
        return self._memory

    @property
    def user_agent(self) -> str:
        """The User-Agent sent on every request."""
        return self._stream_headers["User-Agent"]

    def stream(
        self,
        url: str,
        request: ChatRequest,
        *,
        dialect: Dialect = Dialect.CHAT,
        quirks: ModelQuirks | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Run one model turn; yield its events as they arrive, ending with ``Finish``.

        Args:
            url: an absolute URL, or a path resolved against the client's base URL.
            request: the turn; ``request.stream`` picks SSE or a single JSON response.
            dialect: the route's dialect (``Dialect.INVOCATIONS`` omits ``model``).
            quirks: how this model wants requests shaped; learned limits are applied on top.
            endpoint: the serving endpoint / model name, for error messages and logs
                (defaults to ``request.model``).
            headers: extra headers for this call only.

        Raises:
            lakecode.errors.APIError: (subclasses) after retries and self-healing; a
                ``ContextOverflowError`` is surfaced for the agent to compact and retry.
            lakecode.errors.ModelBehaviourError: the model produced an unusable tool call.
        """
        return self._run(url, request, dialect, quirks or ModelQuirks(),
                         endpoint or request.model, headers)

    async def complete(self, url: str, request: ChatRequest, **kwargs: Any) -> Finish:
        """Run one turn (as ``stream``) and return only its ``Finish``."""
        finish: Finish | None = None
        async for event in self.stream(url, request, **kwargs):
            if isinstance(event, Finish):
                finish = event
        if finish is None:  # pragma: no cover - the parsers always end with Finish
            raise StreamError("The model turn ended without a result.", url=url)
        return finish

    async def _run(self, url: str, request: ChatRequest, dialect: Dialect, quirks: ModelQuirks,
                   endpoint: str, headers: Mapping[str, str] | None
                   ) -> AsyncGenerator[StreamEvent, None]:
        request = replace(request, messages=normalize_history(request.messages))
        healed: set[str] = set()
        while True:
            effective = self._memory.apply(request.model, quirks)
            body = serialize_request(request, dialect, effective, normalize=False)
            attempt = functools.partial(
                self._attempt, url, json.dumps(body, separators=(",", ":")).encode(),
                stream=request.stream, dialect=dialect, endpoint=endpoint, headers=headers)
            try:
                async with aclosing(retrying(attempt, clock=self._clock, policy=self._retry,
                                             rng=self._rng)) as events:
                    async for event in events:
                        yield event
                return
            except (UnsupportedParameterError, MaxTokensExceededError) as error:
                if not self._heal(error, body, request.model, healed):
                    raise
                _log.info("self-healing request for %s: %s", endpoint, error.message)

    def _heal(self, error: UnsupportedParameterError | MaxTokensExceededError,
              body: Mapping[str, Any], model: str, healed: set[str]) -> bool:
        """Record the fix for ``error`` if it applies to ``body`` and was not tried yet."""
        if isinstance(error, MaxTokensExceededError):
            key = next((k for k in _MAX_TOKEN_KEYS if k in body), None)
            sent = body.get(key) if key else None
            if "max_tokens" in healed or not isinstance(sent, int) or sent <= error.cap:
                return False
            healed.add("max_tokens")
            self._memory.cap_max_tokens(model, error.cap)
            return True
        param = error.parameter
        if param in ESSENTIAL_KEYS or param not in body or f"param:{param}" in healed:
            return False
        healed.add(f"param:{param}")
        self._memory.drop_param(model, param)
        return True

    async def _attempt(self, url: str, payload: bytes, *, stream: bool, dialect: Dialect,
                       endpoint: str, headers: Mapping[str, str] | None
                       ) -> AsyncGenerator[StreamEvent, None]:
        """One attempt, holding one of the endpoint's concurrency slots while it runs."""
        exchange = self._exchange(url, payload, stream=stream, dialect=dialect, endpoint=endpoint,
                                  headers=headers)
        if self._max_concurrency is None:
            async with aclosing(exchange) as events:
                async for event in events:
                    yield event
            return
        slot = self._slots.get(endpoint)
        if slot is None:
            slot = self._slots[endpoint] = asyncio.Semaphore(self._max_concurrency)
        async with slot, aclosing(exchange) as events:
            async for event in events:
                yield event

    async def _exchange(self, url: str, payload: bytes, *, stream: bool, dialect: Dialect,
                        endpoint: str, headers: Mapping[str, str] | None
                        ) -> AsyncGenerator[StreamEvent, None]:
        """One HTTP exchange: send, check the status, parse. Errors are ``lakecode.errors``."""
        base = self._stream_headers if stream else self._json_headers
        merged = {**base, **headers} if headers else base
        request = self._http.build_request("POST", url, content=payload, headers=merged)
        if "x-api-key" in request.headers:  # e.g. a default header on a shared client
            del request.headers["x-api-key"]
        started = self._clock.monotonic()
        try:
            response = await self._http.send(request, stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            _log.debug("POST %s endpoint=%s failed: %s", request.url.path, endpoint,
                       type(exc).__name__)
            raise error_from_transport(exc, _where(request), what=endpoint) from exc
        try:
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("POST %s status=%s request_id=%s endpoint=%s elapsed=%.3fs",
                           request.url.path, response.status_code,
                           response.headers.get("x-request-id"), endpoint,
                           self._clock.monotonic() - started)
            content_type = response.headers.get("content-type", "")
            if not 200 <= response.status_code < 300 or "html" in content_type:
                await response.aread()
                raise error_from_response(response, endpoint=endpoint, now=self._clock.time())
            if "text/event-stream" in content_type:
                async with aclosing(iter_sse_events(response, dialect)) as events:
                    async for event in events:
                        yield event
            else:
                await response.aread()
                for event in parse_response_body(_json(response), dialect):
                    yield event
        except httpx.TimeoutException as exc:
            raise StreamError(f"The response from {endpoint} timed out mid-way.",
                              url=_where(request)) from exc
        except httpx.TransportError as exc:
            raise StreamError(
                f"The connection to {endpoint} dropped mid-response ({type(exc).__name__}).",
                url=_where(request)) from exc
        finally:
            await response.aclose()


def _where(request: httpx.Request) -> str:
    """The request URL without its query (for messages; computed only on failures)."""
    return str(request.url.copy_with(query=None))


def _json(response: httpx.Response) -> Any:
    try:
        return decode_json(response.content)
    except ValueError as exc:
        where = _where(response.request)
        raise StreamError(f"{where} answered {response.status_code} with a body that is not JSON.",
                          url=where) from exc
