"""Helpers for the LLM-layer unit tests: SSE bodies, a recording mock server, event collection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from lakecode.llm.quirks import Dialect, ModelMemory, ModelQuirks
from lakecode.llm.types import ChatRequest, Finish, Message, StreamEvent
from lakecode.llm.wire import ChatTransport
from lakecode.testing.fakes import FakeClock

Handler = Callable[[httpx.Request], httpx.Response]


def sse(chunks: Iterable[Any], *, done: bool = True, extra: str = "") -> bytes:
    """An SSE body: one ``data:`` event per chunk (dicts are JSON-encoded), then ``[DONE]``."""
    out = []
    for chunk in chunks:
        data = chunk if isinstance(chunk, str) else json.dumps(chunk)
        out.append(f"data: {data}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return (extra + "".join(out)).encode()


def responses_sse(events: Iterable[dict[str, Any]]) -> bytes:
    """A Responses-API SSE body: ``event: <type>`` + ``data:`` per event, no ``[DONE]``."""
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None,
          usage: dict[str, Any] | None = None) -> dict[str, Any]:
    """A chat.completion.chunk with one choice (or none when ``delta`` is None and no finish)."""
    body: dict[str, Any] = {"object": "chat.completion.chunk"}
    if delta is not None or finish is not None:
        choice: dict[str, Any] = {"index": 0, "delta": delta if delta is not None else {}}
        if finish is not None:
            choice["finish_reason"] = finish
        body["choices"] = [choice]
    else:
        body["choices"] = []
    if usage is not None:
        body["usage"] = usage
    return body


def sse_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/event-stream", **(headers or {})},
                          content=body)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def chat_completion(message: dict[str, Any], finish: str = "stop",
                    usage: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"object": "chat.completion",
                            "choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return body


@dataclass
class Recorder:
    """A MockTransport handler answering from a queue of responses and recording requests.

    Each queued item is an ``httpx.Response``, an exception to raise, or a callable taking the
    request. The last item repeats when the queue runs dry.
    """

    answers: list[Any]
    requests: list[httpx.Request] = field(default_factory=list)
    clock: FakeClock | None = None
    times: list[float] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.clock is not None:
            self.times.append(self.clock.monotonic())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            result: httpx.Response = answer(request)
            return result
        assert isinstance(answer, httpx.Response)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def make_transport(recorder: Recorder, *, clock: FakeClock | None = None,
                   memory: ModelMemory | None = None, **kw: Any) -> tuple[ChatTransport, httpx.AsyncClient]:
    clock = clock or recorder.clock or FakeClock()
    recorder.clock = clock
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder), base_url="https://ws.example.com")
    import random

    return ChatTransport(client, clock=clock, memory=memory, rng=random.Random(7), **kw), client


async def collect(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [e async for e in events]


def finish_of(events: Sequence[StreamEvent]) -> Finish:
    finishes = [e for e in events if isinstance(e, Finish)]
    assert len(finishes) == 1, events
    assert events[-1] is finishes[0]
    return finishes[0]


async def run(recorder: Recorder, request: ChatRequest, *, dialect: Dialect = Dialect.CHAT,
              quirks: ModelQuirks | None = None, url: str = "/serving-endpoints/chat/completions",
              **kw: Any) -> list[StreamEvent]:
    transport, client = make_transport(recorder, **kw)
    async with client:
        return await collect(transport.stream(url, request, dialect=dialect, quirks=quirks))


def user_request(text: str = "hi", **kw: Any) -> ChatRequest:
    return ChatRequest(model=kw.pop("model", "databricks-test"), messages=(Message.user(text),), **kw)


def kitchen_sink_history() -> tuple[Message, ...]:
    """A history using every field and part kind lakecode can produce, plus every known fault:
    empty text beside tool calls, whitespace parts, a system message in the middle, same-role
    runs, an unanswered call, an orphan result, non-replayable and signed reasoning."""
    from lakecode.llm.types import ReasoningPart, TextPart, ToolCall

    call_a = ToolCall.create("call_A", "read_file", {"path": "a.py"})
    call_b = ToolCall(id="call_B", name="shell", arguments={"cmd": "ls"}, arguments_json='{"cmd": "ls"}')
    call_c = ToolCall.create("call_C" + "x" * 80, "shell", {"cmd": "pwd"})
    return (
        Message.system("You are lakecode."),
        Message.user("first"),
        Message.user("second"),
        Message(role="assistant", parts=(
            ReasoningPart("plan", signature="sig-123"),
            ReasoningPart("vendor chatter", replayable=False),
            TextPart(""), TextPart("   "),
        ), tool_calls=(call_a, call_b)),
        Message.tool("call_B", "b-out", name="shell", is_error=False),
        Message.system("Be brief."),
        Message.tool("call_A", "", name="read_file", is_error=True),
        Message.tool("call_ZZZ", "orphan", name="shell"),
        Message(role="assistant", parts=(ReasoningPart("r2", signature=None, item_id="rs_" + "y" * 90),
                                         TextPart("Let me run it.")), tool_calls=(call_c,)),
        Message.user("   "),
        Message.user("thanks"),
        Message.assistant("done"),
        Message.assistant("really done"),
        Message.user("next"),
    )
