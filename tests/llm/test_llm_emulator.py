"""The LLM layer against the workspace emulator (strict mode): every chat route and Responses."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from llm_helpers import collect, finish_of, kitchen_sink_history

from lakecode.emulator import Emulator
from lakecode.errors import ContextOverflowError, RateLimitError, StreamError
from lakecode.llm.openai_compat import build_openai_compatible_provider
from lakecode.llm.quirks import Dialect, ModelMemory, ModelQuirks
from lakecode.llm.retry import RetryPolicy
from lakecode.llm.serialize import CHAT_MESSAGE_KEYS
from lakecode.llm.types import (
    ChatRequest,
    Message,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    ToolSpec,
)
from lakecode.llm.wire import ChatTransport
from lakecode.testing.fakes import FakeClock

SHELL = ToolSpec("shell", "Run a command", {"type": "object", "properties": {"command": {"type": "string"}}})
READ = ToolSpec("read_file", "Read a file", {"properties": {"path": {"type": "string"}}, "strict": True})
CHAT_ROUTES = [
    ("serving", "/serving-endpoints/chat/completions", Dialect.CHAT),
    ("invocations", "/serving-endpoints/{model}/invocations", Dialect.INVOCATIONS),
    ("gateway", "/ai-gateway/mlflow/v1/chat/completions", Dialect.CHAT),
]
ROUTE_IDS = [r[0] for r in CHAT_ROUTES]
RESPONSES = ("responses", "/serving-endpoints/responses", Dialect.RESPONSES)


class Session:
    """A transport bound to the emulator, with a fake clock for retries."""

    def __init__(self, emu: Emulator, http: httpx.AsyncClient, memory: ModelMemory | None = None) -> None:
        self.emu = emu
        self.clock = FakeClock()
        self.transport = ChatTransport(http, clock=self.clock, memory=memory, rng=random.Random(3),
                                       user_agent_suffix="auth/pat")

    def stream(self, route: tuple[str, str, Dialect], request: ChatRequest,
               quirks: ModelQuirks | None = None) -> AsyncIterator[StreamEvent]:
        _, path, dialect = route
        return self.transport.stream(path.format(model=request.model), request, dialect=dialect,
                                     quirks=quirks)

    def chat_posts(self) -> list[Any]:
        return [r for r in self.emu.requests if r.method == "POST"]


@pytest.fixture
async def session(emulator: Emulator) -> AsyncIterator[Session]:
    async with httpx.AsyncClient(base_url=emulator.url,
                                 headers={"Authorization": f"Bearer {emulator.pat}"}) as http:
        yield Session(emulator, http)


def _request(model: str, text: str, **kw: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message.user(text),), **kw)


async def _tool_round_trip(session: Session, route: tuple[str, str, Dialect], model: str,
                           stream: bool) -> None:
    session.emu.scripted_model.enqueue([
        {"tool_calls": [{"name": "shell", "arguments": {"command": "ls"}},
                        {"name": "read_file", "arguments": {"path": "a.py"}}]},
        "All done.",
    ])
    request = _request(model, "list files", tools=(SHELL, READ), tool_choice="auto", stream=stream)
    first = finish_of(await collect(session.stream(route, request)))
    assert first.reason == "tool_calls"
    assert [(c.name, dict(c.arguments)) for c in first.message.tool_calls] == [
        ("shell", {"command": "ls"}), ("read_file", {"path": "a.py"})]
    results = tuple(Message.tool(c.id, f"output of {c.name}", name=c.name) for c in first.message.tool_calls)
    follow = replace(request, messages=(*request.messages, first.message, *results))
    second = finish_of(await collect(session.stream(route, follow)))
    assert second.reason == "stop" and second.message.text == "All done."
    posts = session.chat_posts()
    assert [p.status for p in posts] == [200, 200]
    for post in posts:
        assert post.header("user-agent").startswith("lakecode/") and post.header("x-api-key") is None
        assert post.auth_kind == "bearer"


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("route", CHAT_ROUTES, ids=ROUTE_IDS)
async def test_tool_round_trip_on_each_chat_route(session: Session, route: Any, stream: bool) -> None:
    await _tool_round_trip(session, route, "databricks-gpt-5-2", stream)
    body = session.chat_posts()[1].json
    assistant = body["messages"][1]
    assert set(assistant) <= CHAT_MESSAGE_KEYS["assistant"] and assistant["content"] is None
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "tool", "tool"]


@pytest.mark.emulator_config(interleave_tool_calls=True, stream_usage="cumulative", stream_done=False,
                             stream_keepalive=True, stream_chunk_chars=3)
async def test_interleaved_calls_cumulative_usage_no_done(session: Session) -> None:
    await _tool_round_trip(session, CHAT_ROUTES[0], "team-llm-prod", True)


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
async def test_tool_round_trip_on_responses(session: Session, stream: bool) -> None:
    await _tool_round_trip(session, RESPONSES, "databricks-gpt-5-2", stream)
    body = session.chat_posts()[1].json
    kinds = [item.get("type", "message") for item in body["input"]]
    assert kinds == ["message", "function_call", "function_call", "function_call_output",
                     "function_call_output"]


CLAUDE = ModelQuirks(reasoning_style="thinking")


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("route", CHAT_ROUTES, ids=ROUTE_IDS)
async def test_claude_reasoning_with_late_signature_is_replayed(session: Session, route: Any,
                                                                stream: bool) -> None:
    session.emu.scripted_model.enqueue([
        {"reasoning": "I should list the files first.", "signature": "sig-123",
         "tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}]},
        "Done.",
    ])
    request = _request("databricks-claude-sonnet-4-5", "list", tools=(SHELL,), max_tokens=4096,
                       thinking_budget=1024, stream=stream)
    events = await collect(session.stream(route, request, CLAUDE))
    first = finish_of(events)
    assert first.message.parts == (ReasoningPart("I should list the files first.", "sig-123"),)
    thought = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert thought == "I should list the files first."
    call = first.message.tool_calls[0]
    follow = replace(request, messages=(*request.messages, first.message, Message.tool(call.id, "a.py")))
    second = finish_of(await collect(session.stream(route, follow, CLAUDE)))
    assert second.message.text == "Done."
    replayed = session.chat_posts()[1].json["messages"][1]
    assert set(replayed) <= {"role", "content", "tool_calls"}
    assert replayed["content"] == [{"type": "reasoning", "summary": [
        {"type": "summary_text", "text": "I should list the files first.", "signature": "sig-123"}]}]


@pytest.mark.parametrize("route", CHAT_ROUTES, ids=ROUTE_IDS)
async def test_gpt_oss_typed_parts_and_deepseek_reasoning_content(session: Session, route: Any) -> None:
    session.emu.scripted_model.enqueue([{"text": "answer", "reasoning": "think"},
                                        {"text": "answer 2", "reasoning": "hmm"}, "again"])
    events = await collect(session.stream(route, _request("databricks-gpt-oss-120b", "q")))
    finish = finish_of(events)
    assert finish.message.text == "answer" and finish.message.reasoning == "think"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "answer"
    deep = finish_of(await collect(session.stream(route, _request("databricks-deepseek-r1", "q"))))
    assert deep.message.text == "answer 2" and deep.message.reasoning == "hmm"
    assert not any(isinstance(p, ReasoningPart) and p.replayable for p in deep.message.parts)
    follow = _request("databricks-deepseek-r1", "q")
    follow = replace(follow, messages=(*follow.messages, deep.message, Message.user("more")))
    assert finish_of(await collect(session.stream(route, follow))).message.text == "again"
    assert "hmm" not in str(session.chat_posts()[-1].json)


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("route", [*CHAT_ROUTES, RESPONSES], ids=[*ROUTE_IDS, "responses"])
async def test_f13_kitchen_sink_history_accepted_by_strict_emulator(session: Session, route: Any,
                                                                    stream: bool) -> None:
    """F12/F13/F14/F19/F20/F21: every internal field and every history fault, accepted."""
    many_tools = tuple(ToolSpec(f"tool_{i}", f"synthetic {i}", {"properties": {}, "strict": True})
                       for i in range(30))
    dialect = route[2]
    model = "databricks-gpt-5-2" if dialect is Dialect.RESPONSES else "databricks-claude-sonnet-4-5"
    quirks = ModelQuirks() if dialect is Dialect.RESPONSES else CLAUDE
    request = ChatRequest(model=model, messages=kitchen_sink_history(), tools=(SHELL, READ, *many_tools),
                          tool_choice="auto", max_tokens=8000, thinking_budget=2048, reasoning_effort="low",
                          stream=stream)
    finish = finish_of(await collect(session.stream(route, request, quirks)))
    assert finish.message.text.startswith("Echo: next")
    (post,) = session.chat_posts()
    assert post.status == 200
    assert "strict" not in str(post.json)


async def test_f22_rate_limit_retry_after_on_emulator(session: Session) -> None:
    session.emu.faults.rate_limit(retry_after=2, endpoint="databricks-*")
    events = await collect(session.stream(CHAT_ROUTES[0], _request("databricks-gpt-5-2", "hi")))
    assert finish_of(events).message.text == "Echo: hi"
    assert session.clock.sleeps == [2.0]
    assert [p.status for p in session.chat_posts()] == [429, 200]


async def test_f22_exhausted_retries_name_code_and_endpoint(session: Session) -> None:
    session.emu.faults.rate_limit(endpoint="databricks-*", count=None)
    with pytest.raises(RateLimitError) as info:
        await collect(session.stream(CHAT_ROUTES[0], _request("databricks-gpt-5-2", "hi")))
    assert "REQUEST_LIMIT_EXCEEDED" in str(info.value) and "databricks-gpt-5-2" in str(info.value)
    assert len(session.chat_posts()) == RetryPolicy().max_attempts


@pytest.mark.parametrize("name", ["context_overflow_nested", "context_overflow_flat"])
async def test_f23_context_overflow_from_emulator(session: Session, name: str) -> None:
    session.emu.faults.error(name, endpoint="databricks-*")
    with pytest.raises(ContextOverflowError):
        await collect(session.stream(CHAT_ROUTES[0], _request("databricks-gpt-5-2", "hi")))
    assert len(session.chat_posts()) == 1


@pytest.mark.parametrize("route", CHAT_ROUTES, ids=ROUTE_IDS)
async def test_f24_cap_learned_from_the_emulator(session: Session, route: Any) -> None:
    request = _request("databricks-llama-4-maverick", "hi", max_tokens=10_000)
    await collect(session.stream(route, request))
    await collect(session.stream(route, request))
    posts = session.chat_posts()
    assert [(p.status, p.json["max_tokens"]) for p in posts] == [(400, 10_000), (200, 8192), (200, 8192)]


@pytest.mark.parametrize("route", CHAT_ROUTES, ids=ROUTE_IDS)
async def test_f26_temperature_healed_from_the_emulator(session: Session, route: Any) -> None:
    request = _request("databricks-claude-opus-4-7", "hi", temperature=0.2)
    await collect(session.stream(route, request))
    await collect(session.stream(route, request))
    posts = session.chat_posts()
    assert [(p.status, "temperature" in p.json) for p in posts] == [(400, True), (200, False), (200, False)]


async def test_f26_table_entry_sends_no_temperature(session: Session) -> None:
    quirks = ModelQuirks(unsupported_params=frozenset({"temperature", "top_p", "top_k"}))
    request = _request("databricks-claude-opus-4-7", "hi", temperature=0.2)
    await collect(session.stream(CHAT_ROUTES[0], request, quirks))
    assert [(p.status, "temperature" in p.json) for p in session.chat_posts()] == [(200, False)]


async def test_responses_temperature_healed(session: Session) -> None:
    await collect(session.stream(RESPONSES, _request("databricks-gpt-5-2", "hi", temperature=0.2)))
    assert [(p.status, "temperature" in p.json) for p in session.chat_posts()] == [(400, True), (200, False)]


async def test_stream_cut_after_output_is_not_retried(session: Session) -> None:
    session.emu.faults.cut_stream(after_chunks=2)
    seen: list[StreamEvent] = []
    with pytest.raises(StreamError):
        async for event in session.stream(CHAT_ROUTES[0], _request("databricks-gpt-5-2", "a long echo")):
            seen.append(event)
    assert seen and len(session.chat_posts()) == 1


async def test_stream_cut_before_output_is_retried(session: Session) -> None:
    session.emu.faults.cut_stream(after_chunks=1)  # only the role-only first delta got through
    events = await collect(session.stream(CHAT_ROUTES[0], _request("databricks-gpt-5-2", "hi")))
    assert finish_of(events).message.text == "Echo: hi" and len(session.chat_posts()) == 2


async def test_openai_compatible_provider_against_serving_endpoints(emulator: Emulator) -> None:
    provider = build_openai_compatible_provider(emulator.url + "/serving-endpoints", emulator.pat,
                                                clock=FakeClock())
    try:
        listing = await provider.list_models()
        assert listing.models == () and listing.warnings  # no /models there: a warning, not a failure
        emulator.scripted_model.enqueue([{"tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}]},
                                         "fine"])
        request = _request("team-llm-prod", "go", tools=(SHELL,))
        first = finish_of(await collect(provider.stream_chat(request)))
        call = first.message.tool_calls[0]
        follow = replace(request, messages=(*request.messages, first.message, Message.tool(call.id, "x")))
        assert finish_of(await collect(provider.stream_chat(follow))).message.text == "fine"
        posts = [r for r in emulator.requests if r.method == "POST"]
        assert [p.path for p in posts] == ["/serving-endpoints/chat/completions"] * 2
        assert all(p.auth_kind == "bearer" and p.header("x-api-key") is None for p in posts)
        assert emulator.pat not in str(listing)
    finally:
        await provider.aclose()
