"""A connection that drops after the model finished still yields a complete turn;
one that drops before it propagates (the transport turns it into StreamError)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from lakecode.llm.quirks import Dialect
from lakecode.llm.stream import iter_sse_events
from lakecode.llm.types import Finish, TextDelta


class _DroppingStream(httpx.AsyncByteStream):
    def __init__(self, chunks: list[dict[str, object]]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        raise httpx.ReadError("connection reset by peer")


def _chunk(content: str | None, finish: str | None = None) -> dict[str, object]:
    delta = {"content": content} if content is not None else {}
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                                                            "finish_reason": finish}]}


async def _events(chunks: list[dict[str, object]]) -> list[object]:
    response = httpx.Response(200, headers={"content-type": "text/event-stream"},
                              stream=_DroppingStream(chunks))
    return [event async for event in iter_sse_events(response, Dialect.CHAT)]


async def test_drop_after_finish_reason_completes_the_turn() -> None:
    events = await _events([_chunk("hel"), _chunk("lo"), _chunk(None, "stop")])
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hel", "lo"]
    finish = events[-1]
    assert isinstance(finish, Finish)
    assert finish.reason == "stop" and finish.message.text == "hello"


async def test_drop_before_finish_reason_propagates_the_transport_error() -> None:
    with pytest.raises(httpx.ReadError):
        await _events([_chunk("hel")])
