"""Load: 200 concurrent chat streams through one provider, tokens expiring underneath them.

Asserted: every stream completes with the right text; the service principal's token is minted
once at the start and once per expiry (single flight, however many streams are waiting); the
requests after an expiry carry the new token; and nothing leaks - file descriptors and asyncio
tasks are back to where they were once the provider is closed.
"""

from __future__ import annotations

import asyncio

import pytest
from reliability_helpers import SharedClock, open_fds, provider, settle_fds

from lakecode.emulator import Emulator, EmulatorConfig
from lakecode.llm.types import ChatRequest, Finish, Message

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(300)]

STREAMS = 200
MODELS = [f"synthetic-chat-{i:05d}" for i in range(10)]
TTL = 600.0


@pytest.fixture
def emu() -> Emulator:
    config = EmulatorConfig(token_ttl=TTL, synthetic_endpoints=len(MODELS), stream_chunk_chars=6)
    with Emulator(config) as server:
        yield server  # type: ignore[misc]


async def test_200_concurrent_streams_refresh_once_per_expiry_and_leak_nothing(emu: Emulator) -> None:
    emu.faults.slow_stream(0.002, count=None)  # keep many streams in flight at once
    clock = SharedClock(emu)
    fds_before = open_fds()
    tasks_before = asyncio.all_tasks()
    p = provider(emu, auth="oauth-m2m", clock=clock)
    done = 0
    expired = asyncio.Event()

    async def one(i: int) -> str:
        nonlocal done
        text = f"stream number {i} says hello"
        request = ChatRequest(model=MODELS[i % len(MODELS)], messages=(Message.user(text),))
        finish = None
        async for event in p.stream_chat(request):
            if isinstance(event, Finish):
                finish = event
        done += 1
        if done == STREAMS // 2:
            clock.advance(TTL + 1)  # every token minted so far is now expired, server-side too
            expired.set()
        assert finish is not None
        return finish.message.text

    texts = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(STREAMS))), timeout=240)
    assert texts == [f"Echo: stream number {i} says hello" for i in range(STREAMS)]
    assert expired.is_set()
    # One mint at the start, one after the expiry: single flight across 200 streams.
    assert emu.token_requests.count("client_credentials") == 2
    chats = [r for r in emu.requests if r.path == "/serving-endpoints/chat/completions"]
    assert len(chats) >= STREAMS
    assert {r.status for r in chats} <= {200, 400, 401}
    assert sum(1 for r in chats if r.status == 200) == STREAMS
    # 400s only for Gemini-backed endpoints rejecting stream_options, healed by dropping it.
    rejected = [r for r in chats if r.status == 400]
    assert all("stream_options" in r.json for r in rejected)
    for model in {r.json["model"] for r in rejected}:
        assert "stream_options" not in [r for r in chats if r.json["model"] == model][-1].json
    assert len({r.token_id for r in chats if r.status == 200}) == 2
    await p.aclose()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == tasks_before
    assert await settle_fds(fds_before) <= fds_before


async def test_streams_on_one_endpoint_queue_behind_the_cap_without_deadlock(emu: Emulator) -> None:
    """F22 caps requests in flight per endpoint: 64 streams to one endpoint all finish."""
    p = provider(emu)
    results = await asyncio.wait_for(asyncio.gather(*(
        _text(p, MODELS[0], f"same endpoint {i}") for i in range(64))), timeout=120)
    assert results == [f"Echo: same endpoint {i}" for i in range(64)]
    await p.aclose()


async def _text(p: object, model: str, text: str) -> str:
    request = ChatRequest(model=model, messages=(Message.user(text),))
    finish = None
    async for event in p.stream_chat(request):  # type: ignore[attr-defined]
        if isinstance(event, Finish):
            finish = event
    assert finish is not None
    return finish.message.text
