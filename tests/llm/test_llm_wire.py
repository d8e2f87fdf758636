"""The transport: headers, retries (F22), self-healing (F24, F26), overflow (F23), redirects."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from typing import Any

import httpx
import pytest
from llm_helpers import (
    Recorder,
    chunk,
    collect,
    finish_of,
    json_response,
    make_transport,
    run,
    sse,
    sse_response,
    user_request,
)

from lakecode import __version__
from lakecode.errors import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ContextOverflowError,
    MaxTokensExceededError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnsupportedParameterError,
    WrongHostError,
)
from lakecode.llm.quirks import Dialect, ModelMemory, ModelQuirks
from lakecode.llm.retry import MAX_ATTEMPTS, MAX_RETRY_AFTER, RetryPolicy
from lakecode.llm.types import RetryNotice, TextDelta
from lakecode.testing.fakes import FakeClock

ENDPOINT = "databricks-meta-llama-3-3-70b-instruct"
OK = sse([chunk({"role": "assistant", "content": "ok"}), chunk({}, finish="stop")])
RATE_LIMIT = {"error_code": "REQUEST_LIMIT_EXCEEDED",
              "message": f"Exceeded workspace QPS rate limit for {ENDPOINT}. Please use a provisioned "
                         "throughput Foundation Model APIs endpoint for a higher rate limit."}


def ok() -> httpx.Response:
    return sse_response(OK)


def error(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return json_response(body, status=status, headers=headers)


# ---- headers -----------------------------------------------------------------------------------


async def test_headers_user_agent_and_no_api_key() -> None:
    recorder = Recorder([ok()])
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder), base_url="https://ws.example.com",
                               headers={"x-api-key": "leak", "Authorization": "Bearer t"})
    from lakecode.llm.wire import ChatTransport
    transport = ChatTransport(client, clock=FakeClock(), user_agent_suffix="auth/pat",
                              headers={"X-Databricks-Workspace-Id": "123", "X-API-Key": "leak2"})
    async with client:
        await collect(transport.stream("/serving-endpoints/chat/completions", user_request()))
        await collect(transport.stream("/serving-endpoints/chat/completions",
                                       user_request(stream=False), headers={"x-api-key": "leak3"}))
    first, second = recorder.requests
    ua = first.headers["user-agent"]
    assert ua.startswith(f"lakecode/{__version__} python/") and " os/" in ua and ua.endswith(" auth/pat")
    assert first.headers["accept"] == "text/event-stream" and second.headers["accept"] == "application/json"
    for request in recorder.requests:
        assert "x-api-key" not in request.headers
        assert request.headers["authorization"] == "Bearer t"
        assert request.headers["x-databricks-workspace-id"] == "123"
        assert request.headers["content-type"] == "application/json"


async def test_invocations_route_has_no_model_in_body() -> None:
    recorder = Recorder([ok()])
    await run(recorder, user_request(model=ENDPOINT), dialect=Dialect.INVOCATIONS,
              url=f"/serving-endpoints/{ENDPOINT}/invocations")
    assert recorder.requests[0].url.path == f"/serving-endpoints/{ENDPOINT}/invocations"
    assert "model" not in recorder.bodies()[0]


async def test_redirect_to_login_is_not_followed() -> None:
    recorder = Recorder([httpx.Response(303, headers={"location": "/login?next=x"})])
    with pytest.raises(WrongHostError) as info:
        await run(recorder, user_request())
    assert len(recorder.requests) == 1
    assert "not enabled" not in str(info.value)


async def test_html_200_is_a_wrong_host() -> None:
    page = httpx.Response(200, headers={"content-type": "text/html"}, content=b"<html><title>Sign in</title>")
    with pytest.raises(WrongHostError):
        await run(Recorder([page]), user_request())


# ---- F22: retries --------------------------------------------------------------------------


async def test_f22_retry_after_honoured_on_fake_clock() -> None:
    clock = FakeClock()
    recorder = Recorder([error(429, RATE_LIMIT, {"retry-after": "2"}), ok()], clock=clock)
    events = await run(recorder, user_request(model=ENDPOINT))
    assert len(recorder.times) == 2 and recorder.times[1] - recorder.times[0] >= 2.0
    notices = [e for e in events if isinstance(e, RetryNotice)]
    assert notices == [RetryNotice(attempt=1, delay=2.0, reason=notices[0].reason)]
    assert "REQUEST_LIMIT_EXCEEDED" in notices[0].reason
    assert finish_of(events).message.text == "ok"


async def test_f22_without_retry_after_uses_capped_jittered_backoff() -> None:
    clock = FakeClock()
    recorder = Recorder([error(429, RATE_LIMIT)], clock=clock)
    with pytest.raises(RateLimitError) as info:
        await run(recorder, user_request(model=ENDPOINT))
    assert len(recorder.requests) == MAX_ATTEMPTS
    policy = RetryPolicy()
    for n, slept in enumerate(clock.sleeps, start=1):
        assert 0.0 <= slept <= min(policy.max_backoff, policy.initial_backoff * 2 ** (n - 1))
    text = str(info.value)
    assert "REQUEST_LIMIT_EXCEEDED" in text and ENDPOINT in text and "Exceeded workspace QPS" in text
    assert f"gave up after {MAX_ATTEMPTS} attempts" in text
    assert info.value.endpoint == ENDPOINT and info.value.status_code == 429


async def test_f22_huge_retry_after_is_capped() -> None:
    clock = FakeClock()
    recorder = Recorder([error(429, RATE_LIMIT, {"retry-after": "3600"}), ok()], clock=clock)
    await run(recorder, user_request())
    assert clock.sleeps == [MAX_RETRY_AFTER]


async def test_f22_bad_request_is_sent_exactly_once() -> None:
    body = {"error_code": "BAD_REQUEST", "message": "messages: roles must alternate"}
    recorder = Recorder([error(400, body)])
    with pytest.raises(BadRequestError):
        await run(recorder, user_request())
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404, 422])
async def test_other_4xx_never_retried(status: int) -> None:
    recorder = Recorder([error(status, {"error_code": "X", "message": "no"})])
    with pytest.raises(Exception) as info:
        await run(recorder, user_request())
    assert len(recorder.requests) == 1
    if status == 404:
        assert isinstance(info.value, NotFoundError)


@pytest.mark.parametrize("status", [408, 499, 500, 502, 503, 504])
async def test_transient_statuses_retried(status: int) -> None:
    recorder = Recorder([error(status, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}), ok()])
    events = await run(recorder, user_request())
    assert len(recorder.requests) == 2 and finish_of(events).message.text == "ok"


async def test_connection_errors_and_timeouts_retried() -> None:
    recorder = Recorder([httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), ok()])
    events = await run(recorder, user_request())
    assert len(recorder.requests) == 3 and finish_of(events).message.text == "ok"
    assert sum(isinstance(e, RetryNotice) for e in events) == 2
    with pytest.raises(APITimeoutError):
        await run(Recorder([httpx.ConnectTimeout("slow")]), user_request(), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(APIConnectionError, match="Could not reach"):
        await run(Recorder([httpx.ConnectError("refused")]), user_request(),
                  retry=RetryPolicy(max_attempts=2))


async def test_deadline_stops_retries() -> None:
    clock = FakeClock()
    recorder = Recorder([error(503, {"message": "busy"}, {"retry-after": "40"})], clock=clock)
    with pytest.raises(ServerError, match="gave up after 3 attempts"):
        await run(recorder, user_request(), retry=RetryPolicy(deadline=100.0))
    assert clock.sleeps == [40.0, 40.0]


async def test_error_body_read_in_streaming_mode() -> None:
    recorder = Recorder([error(400, {"error_code": "BAD_REQUEST",
                                     "message": "tools.0.custom.strict: Extra inputs are not permitted"})])
    with pytest.raises(BadRequestError, match="Extra inputs are not permitted"):
        await run(recorder, user_request())


async def test_stream_cut_before_any_event_is_retried() -> None:
    cut = sse_response(sse([], done=False))
    recorder = Recorder([cut, ok()])
    events = await run(recorder, user_request())
    assert len(recorder.requests) == 2 and finish_of(events).message.text == "ok"


async def test_closing_the_stream_early_closes_the_response() -> None:
    closed: list[bool] = []

    class Tracked(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield OK

        async def aclose(self) -> None:
            closed.append(True)

    recorder = Recorder([lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"},
                                                  stream=Tracked())])
    transport, client = make_transport(recorder)
    async with client:
        stream = transport.stream("/x", user_request())
        first = await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
    assert first is not None and closed == [True]


# ---- F23: context overflow is surfaced, both envelopes --------------------------------------

NESTED = {"error_code": "BAD_REQUEST", "message": json.dumps({
    "external_model_provider": "databricks-model-serving",
    "external_model_error": {"error": {"type": "invalid_request_error",
                                       "message": "Input is too long for requested model."}}})}
FLAT = {"error_code": "BAD_REQUEST",
        "message": "input length and max_tokens exceed context limit: 196758 + 8192 > 200000"}


@pytest.mark.parametrize("body", [NESTED, FLAT], ids=["nested", "flat"])
async def test_f23_context_overflow_classified_and_surfaced(body: dict[str, Any]) -> None:
    recorder = Recorder([error(400, body)])
    with pytest.raises(ContextOverflowError) as info:
        await run(recorder, user_request(model=ENDPOINT))
    assert len(recorder.requests) == 1 and info.value.endpoint == ENDPOINT


# ---- F24 / F26: self-healing ---------------------------------------------------------------

CAP_400 = {"error_code": "BAD_REQUEST", "message": "max_tokens (10000) cannot exceed 8192"}
TEMP_400 = {"error_code": "BAD_REQUEST",
            "message": "Model us.anthropic.claude-opus-4-7 does not support the temperature parameter"}


async def test_f24_max_tokens_clamped_once_and_remembered() -> None:
    memory = ModelMemory()
    recorder = Recorder([error(400, CAP_400), ok()])
    request = user_request(model=ENDPOINT, max_tokens=10_000)
    events = await run(recorder, request, memory=memory)
    assert finish_of(events).message.text == "ok"
    assert [b.get("max_tokens") for b in recorder.bodies()] == [10_000, 8192]
    later = Recorder([ok()])
    await run(later, request, memory=memory)
    assert [b["max_tokens"] for b in later.bodies()] == [8192]


async def test_f24_cap_error_not_healed_twice() -> None:
    recorder = Recorder([error(400, CAP_400)])
    with pytest.raises(MaxTokensExceededError) as info:
        await run(recorder, user_request(max_tokens=10_000))
    assert len(recorder.requests) == 2 and info.value.cap == 8192


async def test_f26_table_entry_omits_temperature_first_time() -> None:
    recorder = Recorder([ok()])
    quirks = ModelQuirks(unsupported_params=frozenset({"temperature"}))
    await run(recorder, user_request(model="databricks-claude-opus-4-7", temperature=0.2), quirks=quirks)
    assert len(recorder.requests) == 1 and "temperature" not in recorder.bodies()[0]


async def test_f26_unsupported_parameter_healed_once_and_remembered() -> None:
    memory = ModelMemory()
    model = "databricks-claude-opus-4-7"
    recorder = Recorder([error(400, TEMP_400), ok()])
    request = user_request(model=model, temperature=0.2)
    await run(recorder, request, memory=memory)
    assert [("temperature" in b) for b in recorder.bodies()] == [True, False]
    later = Recorder([ok()])
    await run(later, replace(request, messages=request.messages * 1), memory=memory)
    assert len(later.requests) == 1 and "temperature" not in later.bodies()[0]
    other = Recorder([ok()])
    await run(other, replace(request, model="databricks-gpt-5-2"), memory=memory)
    assert other.bodies()[0]["temperature"] == 0.2  # memory is per model


async def test_f26_parameter_not_sent_is_not_healed() -> None:
    recorder = Recorder([error(400, TEMP_400)])
    with pytest.raises(UnsupportedParameterError):
        await run(recorder, user_request())
    assert len(recorder.requests) == 1


async def test_heal_then_rate_limit_still_retries() -> None:
    clock = FakeClock()
    answers = [error(400, TEMP_400), error(429, RATE_LIMIT, {"retry-after": "1"}), ok()]
    recorder = Recorder(answers, clock=clock)
    events = await run(recorder, user_request(temperature=0.5))
    assert len(recorder.requests) == 3 and finish_of(events).message.text == "ok"
    assert clock.sleeps == [1.0]


def test_retry_policy_delay_bounds() -> None:
    policy = RetryPolicy()
    rng = random.Random(1)
    for retry in range(1, 12):
        assert 0 <= policy.delay(retry, None, rng) <= policy.max_backoff
    assert policy.delay(3, 2.5, rng) == 2.5
    assert policy.delay(1, -4, rng) == 0.0


# ---- streaming without buffering, logging without secrets ----------------------------------


async def test_each_chunk_is_surfaced_before_the_next_is_sent() -> None:
    import asyncio

    gate = asyncio.Event()

    class Paced(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield sse([chunk({"role": "assistant", "content": "first"})], done=False)
            await asyncio.wait_for(gate.wait(), timeout=5)  # only sent once "first" was seen
            yield sse([chunk({"content": " second"}, finish="stop")])

    recorder = Recorder([lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"},
                                                  stream=Paced())])
    transport, client = make_transport(recorder)
    seen: list[Any] = []
    async with client:
        async for event in transport.stream("/x", user_request()):
            seen.append(event)
            if event == TextDelta("first"):
                gate.set()
    assert finish_of(seen).message.text == "first second"


async def test_logs_carry_request_id_and_route_but_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    secret = "dapi0123456789abcdef0123456789abcdef"
    recorder = Recorder([error(429, RATE_LIMIT, {"retry-after": "1", "x-request-id": "req-42"}), ok()])
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder), base_url="https://ws.example.com",
                               headers={"Authorization": f"Bearer {secret}"})
    from lakecode.llm.wire import ChatTransport
    transport = ChatTransport(client, clock=FakeClock())
    with caplog.at_level(logging.DEBUG, logger="lakecode.llm"):
        async with client:
            await collect(transport.stream("/serving-endpoints/chat/completions",
                                           user_request("top secret prompt", model=ENDPOINT)))
    text = caplog.text
    assert "req-42" in text and "/serving-endpoints/chat/completions" in text and ENDPOINT in text
    assert "status=429" in text and "status=200" in text
    assert secret not in text and "Bearer" not in text and "top secret prompt" not in text


async def test_stream_is_read_to_the_end_after_done_so_the_connection_is_reused() -> None:
    finished: list[bool] = []

    class Tail(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield OK
            yield b"\n"  # whatever follows [DONE] (the end of the chunked body on a real socket)
            finished.append(True)

    recorder = Recorder([lambda r: httpx.Response(200, headers={"content-type": "text/event-stream"},
                                                  stream=Tail())])
    events = await run(recorder, user_request())
    assert finish_of(events).message.text == "ok" and finished == [True]


async def test_connection_pool_keeps_one_connection_across_streamed_turns(emulator: Any) -> None:
    async with httpx.AsyncClient(base_url=emulator.url,
                                 headers={"Authorization": f"Bearer {emulator.pat}"}) as client:
        from lakecode.llm.wire import ChatTransport
        transport = ChatTransport(client, clock=FakeClock())
        for _ in range(3):
            await collect(transport.stream("/serving-endpoints/chat/completions",
                                           user_request(model="databricks-gpt-5-2")))
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 1


async def test_f22_concurrency_is_capped_per_endpoint() -> None:
    import asyncio

    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def answer(request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        in_flight[model] = in_flight.get(model, 0) + 1
        peak[model] = max(peak.get(model, 0), in_flight[model])
        await asyncio.sleep(0.01)
        in_flight[model] -= 1
        return sse_response(OK)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="https://ws.example.com")
    from lakecode.llm.wire import ChatTransport
    transport = ChatTransport(client, clock=FakeClock(), max_concurrency=2)
    async with client:
        turns = [collect(transport.stream("/x", user_request(model=m))) for m in ["a"] * 6 + ["b"] * 3]
        results = await asyncio.gather(*turns)
    assert all(finish_of(r).message.text == "ok" for r in results)
    assert peak == {"a": 2, "b": 2}
