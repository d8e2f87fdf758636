"""The shipped ScriptedProvider: what it streams, what it records, how it fails."""

from __future__ import annotations

import asyncio

import pytest

from lakecode.errors import RateLimitError
from lakecode.llm.provider import Provider
from lakecode.llm.types import (
    ChatRequest,
    Finish,
    Message,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCallComplete,
    ToolCallDelta,
    Usage,
    UsageUpdate,
)
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, ScriptExhaustedError, tool_call


def request(text: str = "hi") -> ChatRequest:
    return ChatRequest(model="scripted-model", messages=(Message.user(text),))


async def play(provider: ScriptedProvider, req: ChatRequest | None = None) -> list[StreamEvent]:
    return [e async for e in provider.stream_chat(req or request())]


def test_it_is_a_provider() -> None:
    assert isinstance(ScriptedProvider(), Provider)


async def test_a_full_turn_streams_like_a_real_provider() -> None:
    call = tool_call("shell", {"command": "ls"}, id="c1")
    provider = ScriptedProvider().enqueue([ScriptedTurn(
        text="abcd", reasoning="xy", reasoning_signature="sig", chunk_size=2, tool_calls=[call],
        usage=Usage(5, 6, 11))])
    events = await play(provider)
    assert events[:4] == [ReasoningDelta("xy", "sig"), TextDelta("ab"), TextDelta("cd"),
                          ToolCallDelta(0, id="c1", name="shell", arguments_fragment='{"comman')]
    assert events[4:7] == [ToolCallDelta(0, arguments_fragment='d":"ls"}'), ToolCallComplete(call),
                           UsageUpdate(Usage(5, 6, 11))]
    finish = events[7]
    assert isinstance(finish, Finish)
    assert finish.reason == "tool_calls" and finish.usage == Usage(5, 6, 11)
    assert finish.message == Message(role="assistant", parts=(ReasoningPart("xy", "sig"), TextPart("abcd")),
                                     tool_calls=(call,))


async def test_strings_and_exceptions_and_requests_are_recorded() -> None:
    provider = ScriptedProvider().enqueue(["hello", RateLimitError("slow down", status_code=429)])
    events = await play(provider, request("one"))
    assert events == [TextDelta("hello"), Finish("stop", Message.assistant("hello"))]
    with pytest.raises(RateLimitError, match="slow down"):
        await play(provider, request("two"))
    assert [r.messages[0].text for r in provider.requests] == ["one", "two"]
    with pytest.raises(ScriptExhaustedError, match="no turn left for request #3"):
        await play(provider)


async def test_default_turn_models_and_close() -> None:
    provider = ScriptedProvider(default="again", context_window=1234)
    assert [e for e in await play(provider) if isinstance(e, TextDelta)] == [TextDelta("again")]
    assert [e for e in await play(provider) if isinstance(e, TextDelta)] == [TextDelta("again")]
    info = await provider.model_info("scripted-model")
    assert info is not None and info.context_window == 1234 and info.supports_tools
    assert await provider.model_info("other") is None
    assert [m.id for m in (await provider.list_models()).models] == ["scripted-model"]
    await provider.aclose()
    assert provider.closed


async def test_exact_events_error_after_events_and_stall() -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(events=[TextDelta("only")]),
        ScriptedTurn(text="part", error=RateLimitError("late", status_code=429)),
        ScriptedTurn(text="waiting", stall=True),
    ])
    assert await play(provider) == [TextDelta("only")]  # no Finish: a stream that stops short
    seen: list[StreamEvent] = []
    with pytest.raises(RateLimitError):
        async for event in provider.stream_chat(request()):
            seen.append(event)
    assert seen == [TextDelta("part")]
    stream = provider.stream_chat(request())
    assert await stream.__anext__() == TextDelta("waiting")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(stream.__anext__(), 0.05)
    assert provider.pending == 0
