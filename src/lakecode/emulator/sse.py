"""Server-sent events with fault hooks: per-chunk delays and streams cut mid-way.

A cut stream either ends cleanly without its terminator (``mode="eof"``) or breaks the
connection (``mode="abort"``): the handler raises ``StreamCut`` after the last chunk, and the
server closes the socket without finishing the chunked body, which is what a dropped upstream
connection looks like to a client. ``quiet_stream_cuts`` keeps those aborts out of the logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.responses import StreamingResponse

from lakecode.emulator.gate import StreamPlan

__all__ = ["Event", "StreamCut", "comment", "data", "done", "named", "quiet_stream_cuts", "sse_response"]


class StreamCut(Exception):
    """Raised inside a streaming body to break the connection on purpose."""


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE frame. ``counts`` is False for comments; ``tool_fragment`` marks argument deltas."""

    text: str
    counts: bool = True
    tool_fragment: bool = False


def data(payload: Any) -> Event:
    """A ``data: <json>`` event."""
    return Event(f"data: {json.dumps(payload, separators=(',', ':'))}\n\n")


def named(event: str, payload: Any, tool_fragment: bool = False) -> Event:
    """An ``event: <name>`` + ``data: <json>`` event (the Responses API form)."""
    body = json.dumps(payload, separators=(",", ":"))
    return Event(f"event: {event}\ndata: {body}\n\n", tool_fragment=tool_fragment)


def comment(text: str = "keep-alive") -> Event:
    """A ``: comment`` line (keep-alive)."""
    return Event(f": {text}\n\n", counts=False)


def done() -> Event:
    """The ``data: [DONE]`` terminator."""
    return Event("data: [DONE]\n\n")


async def _frames(events: Iterable[Event], plan: StreamPlan) -> AsyncIterator[bytes]:
    sent = 0
    for event in events:
        if plan.delay:
            await asyncio.sleep(plan.delay)
        yield event.text.encode()
        sent += event.counts
        cut = (plan.cut_after is not None and sent >= plan.cut_after) or (
            plan.cut_at_tool_call and event.tool_fragment
        )
        if cut:
            if plan.cut_mode == "abort":
                # Give the transport a moment to flush what was sent before the socket breaks.
                await asyncio.sleep(0.01)
                raise StreamCut("stream cut by fault injection")
            return


def sse_response(
    events: Iterable[Event], plan: StreamPlan, headers: dict[str, str] | None = None
) -> StreamingResponse:
    """A ``text/event-stream`` response of ``events``, disturbed as ``plan`` says."""
    hdrs = {"cache-control": "no-cache", **(headers or {})}
    return StreamingResponse(_frames(list(events), plan), media_type="text/event-stream", headers=hdrs)


_QUIET = (StreamCut, asyncio.CancelledError)


class _DropStreamCuts(logging.Filter):
    """Drops deliberate stream cuts, and the cancellation of streams still open at shutdown."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, _QUIET):
            return False
        return not (isinstance(exc, BaseExceptionGroup) and exc.subgroup(_QUIET) is not None)


_FILTER = _DropStreamCuts()


def quiet_stream_cuts() -> None:
    """Keep deliberate stream cuts out of uvicorn's error log (idempotent)."""
    logger = logging.getLogger("uvicorn.error")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
