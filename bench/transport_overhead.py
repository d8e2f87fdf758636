"""Transport overhead: lakecode's ChatTransport next to a bare httpx.AsyncClient, in one run.

Run: ``.venv/bin/python -m bench.transport_overhead [--requests N] [--chunks N] [--pace MS]``

Three figures, each measured side by side (interleaved, same emulator, same connection pool):

1. **Non-streaming overhead** against the emulator: one chat turn (``stream: false``) through
   ``ChatTransport.complete`` versus ``client.post`` of the same pre-serialized body plus
   ``response.json()``. Target: ratio of medians <= 1.15.
2. **Streaming turn overhead** against the emulator: a whole SSE turn through
   ``ChatTransport.stream`` versus a bare ``aiter_lines`` + ``json.loads`` loop.
3. **Chunk-to-caller latency**: a tiny SSE server (uvicorn, in-process thread) writes each chunk
   with a ``time.perf_counter_ns()`` stamp as its text, paced so client and server never compete;
   the client computes ``now - stamp`` when the event reaches it, for lakecode (a ``TextDelta``)
   and for the bare loop (a parsed ``data:`` line). Also the emulator's ``slow_stream`` fault
   paces a real turn to show events arrive one by one, not in a burst.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import statistics
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from lakecode.emulator import Emulator, EmulatorConfig
from lakecode.llm.quirks import Dialect
from lakecode.llm.serialize import serialize_request
from lakecode.llm.types import ChatRequest, Message, TextDelta
from lakecode.llm.wire import ChatTransport

MODEL = "databricks-gpt-5-2"
PATH = "/serving-endpoints/chat/completions"


def _request(stream: bool) -> ChatRequest:
    history = (Message.system("You are terse."), Message.user("Say hello."),
               Message.assistant("Hello."), Message.user("Again, please."))
    return ChatRequest(model=MODEL, messages=history, max_tokens=256, stream=stream)


Call = Callable[[], Coroutine[Any, Any, Any]]
Timing = tuple[float, float]
"""(wall seconds, this thread's CPU seconds) for one call."""


async def _timed(fn: Call) -> Timing:
    wall, cpu = time.perf_counter(), time.thread_time()
    await fn()
    return time.perf_counter() - wall, time.thread_time() - cpu


async def _side_by_side(a: Call, b: Call, n: int) -> tuple[list[Timing], list[Timing]]:
    for _ in range(max(20, n // 10)):  # warm up both paths and the connection pool
        await a()
        await b()
    times_a: list[Timing] = []
    times_b: list[Timing] = []
    for i in range(n):  # alternate the order so drift hits both equally
        if i % 2:
            times_a.append(await _timed(a))
            times_b.append(await _timed(b))
        else:
            times_b.append(await _timed(b))
            times_a.append(await _timed(a))
    return times_a, times_b


def _row(label: str, lakecode: list[Timing], bare: list[Timing]) -> str:
    """Wall-clock figures (what a user waits) and client-thread CPU (robust to machine load;
    the emulator runs in another thread, so its work is not counted)."""
    wall_l, wall_b = [t[0] for t in lakecode], [t[0] for t in bare]
    ml, mb = statistics.median(wall_l), statistics.median(wall_b)
    paired = statistics.median(x / y for x, y in zip(wall_l, wall_b, strict=True))
    cl, cb = statistics.median(t[1] for t in lakecode), statistics.median(t[1] for t in bare)
    return (f"  {label:<22} wall: lakecode {ml * 1e3:6.3f} ms, bare httpx {mb * 1e3:6.3f} ms, "
            f"ratio of medians {ml / mb:5.3f}, median paired ratio {paired:5.3f}\n"
            f"  {'':<22} client CPU: lakecode {cl * 1e6:5.0f} us, bare httpx {cb * 1e6:5.0f} us, "
            f"ratio {cl / cb:5.3f} (+{(cl - cb) * 1e6:.0f} us per turn, n={len(lakecode)})")


async def _emulator_figures(emu: Emulator, n: int) -> list[str]:
    headers = {"Authorization": f"Bearer {emu.pat}"}
    async with httpx.AsyncClient(base_url=emu.url, headers=headers) as client:
        transport = ChatTransport(client)
        plain = _request(stream=False)
        payload = json.dumps(serialize_request(plain, Dialect.CHAT), separators=(",", ":")).encode()
        bare_headers = {"Content-Type": "application/json", "Accept": "application/json"}

        async def lake_json() -> None:
            finish = await transport.complete(PATH, plain)
            assert finish.message.text

        async def bare_json() -> None:
            response = await client.post(PATH, content=payload, headers=bare_headers)
            response.raise_for_status()
            assert response.json()["choices"][0]["message"]["content"]

        streamed = _request(stream=True)
        stream_payload = json.dumps(serialize_request(streamed, Dialect.CHAT)).encode()
        sse_headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}

        async def lake_sse() -> None:
            finish = await transport.complete(PATH, streamed)
            assert finish.message.text

        async def bare_sse() -> None:
            text: list[str] = []
            async with client.stream("POST", PATH, content=stream_payload, headers=sse_headers) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        choices = json.loads(line[6:]).get("choices") or [{}]
                        content = choices[0].get("delta", {}).get("content")
                        if content:
                            text.append(content)
            assert text

        rows = [_row("non-streaming turn", *await _side_by_side(lake_json, bare_json, n))]
        rows.append(_row("streaming turn (SSE)", *await _side_by_side(lake_sse, bare_sse, max(50, n // 2))))
        return rows


async def _paced_arrivals(emu: Emulator, pace: float) -> str:
    """Inter-arrival gaps of lakecode events on a turn the emulator paces with ``slow_stream``."""
    emu.faults.slow_stream(pace, count=None)
    headers = {"Authorization": f"Bearer {emu.pat}"}
    async with httpx.AsyncClient(base_url=emu.url, headers=headers) as client:
        transport = ChatTransport(client)
        request = ChatRequest(model=MODEL, messages=(Message.user("one two three four five six seven "
                                                                  "eight nine ten eleven twelve"),))
        arrivals: list[float] = []
        async for event in transport.stream(PATH, request):
            if isinstance(event, TextDelta):
                arrivals.append(time.perf_counter())
    emu.faults.clear()
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    return (f"  emulator slow_stream {pace * 1e3:.0f} ms: {len(arrivals)} text events, gaps "
            f"min {min(gaps) * 1e3:.1f} / median {statistics.median(gaps) * 1e3:.1f} ms "
            "(one event per chunk as it arrives; a buffered parser would show ~0 ms gaps)")


# ---- chunk-to-caller latency with server-side timestamps -----------------------------------


def _stamp_app(chunks: int, pace: float) -> Starlette:
    async def events() -> AsyncIterator[bytes]:
        yield b'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
        for _ in range(chunks):
            await asyncio.sleep(pace)
            stamp = str(time.perf_counter_ns())
            yield f'data: {{"choices":[{{"index":0,"delta":{{"content":"{stamp}|"}}}}]}}\n\n'.encode()
        yield b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'

    async def chat(request: Request) -> StreamingResponse:
        await request.body()
        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


class _Server:
    def __init__(self, app: Starlette) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        daemon=True)

    def __enter__(self) -> _Server:
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(5)


async def _latency(url: str, chunks: int, rounds: int) -> list[str]:
    request = ChatRequest(model="m", messages=(Message.user("go"),))
    payload = json.dumps(serialize_request(request, Dialect.CHAT)).encode()
    lake: list[float] = []
    bare: list[float] = []
    async with httpx.AsyncClient(base_url=url) as client:
        transport = ChatTransport(client)
        for _ in range(rounds):
            async for event in transport.stream("/v1/chat/completions", request):
                if isinstance(event, TextDelta):
                    lake.append((time.perf_counter_ns() - int(event.text.rstrip("|"))) / 1e6)
            async with client.stream("POST", "/v1/chat/completions", content=payload,
                                     headers={"Accept": "text/event-stream"}) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and '"content"' in line:
                        now = time.perf_counter_ns()
                        content = json.loads(line[6:])["choices"][0]["delta"]["content"]
                        bare.append((now - int(content.rstrip("|"))) / 1e6)
    def stats(values: list[float]) -> str:
        values = sorted(values)
        p95 = values[int(len(values) * 0.95) - 1]
        return f"median {statistics.median(values):.3f} ms, p95 {p95:.3f} ms, max {values[-1]:.3f} ms"
    return [f"  server write -> lakecode TextDelta: {stats(lake)}  (n={len(lake)})",
            f"  server write -> bare parsed line:  {stats(bare)}  (n={len(bare)})",
            f"  added by lakecode (median):        "
            f"{statistics.median(lake) - statistics.median(bare):.3f} ms per chunk"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="non-streaming requests per side")
    parser.add_argument("--chunks", type=int, default=40, help="chunks per latency stream")
    parser.add_argument("--rounds", type=int, default=5, help="latency streams per side")
    parser.add_argument("--pace", type=float, default=20.0, help="milliseconds between paced chunks")
    args = parser.parse_args()
    pace = args.pace / 1000
    print("lakecode transport overhead (side by side, one run)")
    with Emulator(EmulatorConfig(stream_chunk_chars=8)) as emu:
        for row in asyncio.run(_emulator_figures(emu, args.requests)):
            print(row)
        print("streaming latency")
        print(asyncio.run(_paced_arrivals(emu, pace)))
    with _Server(_stamp_app(args.chunks, pace)) as server:
        for row in asyncio.run(_latency(server.url, args.chunks, args.rounds)):
            print(row)


if __name__ == "__main__":
    main()
