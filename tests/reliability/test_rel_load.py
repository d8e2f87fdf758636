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


async def test_streams_under_rate_limits_and_5xx_all_finish(emu: Emulator) -> None:
    """100 concurrent streams while the service answers 40 of them 429 and 30 of them 503."""
    emu.faults.rate_limit(retry_after=1, count=40, method="POST")
    emu.faults.server_error(503, count=30, method="POST")
    clock = SharedClock(emu)
    tasks_before = asyncio.all_tasks()
    p = provider(emu, clock=clock)
    results = await asyncio.wait_for(asyncio.gather(*(
        _text(p, MODELS[i % len(MODELS)], f"busy {i}") for i in range(100))), timeout=180)
    assert results == [f"Echo: busy {i}" for i in range(100)]
    statuses = [r.status for r in emu.requests if r.path.endswith("/chat/completions")]
    assert statuses.count(429) == 40 and statuses.count(503) == 30 and statuses.count(200) == 100
    await p.aclose()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == tasks_before


async def test_cancelling_half_of_the_streams_leaks_nothing(emu: Emulator) -> None:
    emu.faults.slow_stream(0.02, count=None)
    fds_before = open_fds()
    tasks_before = asyncio.all_tasks()
    p = provider(emu, clock=SharedClock(emu))
    started = asyncio.Event()
    count = 0

    async def one(i: int) -> str:
        nonlocal count
        request = ChatRequest(model=MODELS[i % len(MODELS)], messages=(Message.user(f"long {i} " * 5),))
        text = ""
        async for event in p.stream_chat(request):
            count += 1
            if count >= 20:
                started.set()
            if isinstance(event, Finish):
                text = event.message.text
        return text

    tasks = [asyncio.ensure_future(one(i)) for i in range(60)]
    await asyncio.wait_for(started.wait(), timeout=60)
    for task in tasks[::2]:
        task.cancel()
    done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=120)
    assert all(isinstance(r, asyncio.CancelledError) for r in done[::2])
    assert list(done[1::2]) == ["Echo: " + f"long {i} " * 5 for i in range(1, 60, 2)]
    # The provider still works after the cancellations (no slot of the per-endpoint cap leaked).
    emu.faults.clear()
    assert await asyncio.wait_for(_text(p, MODELS[0], "after"), timeout=30) == "Echo: after"
    await p.aclose()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == tasks_before
    assert await settle_fds(fds_before) <= fds_before


async def test_a_real_short_token_lifetime_under_load() -> None:
    """Tokens that really live 4 s while 200 streams run for several seconds: every stream
    finishes and tokens are minted about once per half-lifetime, never per request."""
    import time

    config = EmulatorConfig(token_ttl=4.0, synthetic_endpoints=len(MODELS), stream_chunk_chars=6)
    with Emulator(config) as server:
        server.faults.slow_stream(0.08, count=None)
        p = provider(server, auth="oauth-m2m")
        started = time.monotonic()
        results = await asyncio.wait_for(asyncio.gather(*(
            _text(p, MODELS[i % len(MODELS)], f"real {i}") for i in range(STREAMS))), timeout=240)
        elapsed = time.monotonic() - started
        await p.aclose()
        mints = server.token_requests.count("client_credentials")
    assert results == [f"Echo: real {i}" for i in range(STREAMS)]
    assert elapsed > 2.0  # the run outlived the first token's refresh point
    assert 2 <= mints <= elapsed / 1.5 + 2, (mints, elapsed)
