"""Per-turn overhead of the agent loop, excluding model and tool time.

A zero-latency scripted model answers every turn with a streamed sentence (20 text deltas) and
one call to a no-op tool; the loop runs until its turn limit. The time between consecutive
requests reaching the model is therefore the loop's own cost per turn (plus the fake model's
negligible cost): building the request (context view and estimate), handling ~30 stream events,
approving and running the no-op call, recording usage, emitting events through the queue and -
when a store is given - saving the conversation. The whole-run figure also includes the
consumer draining the events.

Run:  .venv/bin/python bench/agent_overhead.py [--turns 500]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from lakecode.agent import Agent, Approvals, ConversationStore
from lakecode.agent.events import TurnStarted
from lakecode.agent.tools.base import Tool, ToolAccess, ToolResult
from lakecode.llm.types import ChatRequest, StreamEvent, ToolCall, Usage
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn


class NoopTool(Tool):
    """Does nothing, instantly."""

    name = "noop"
    description = "Do nothing."
    parameters: Mapping[str, Any] = {"type": "object", "properties": {}}

    def check(self, args: Mapping[str, Any]) -> ToolAccess:
        return ToolAccess(kind="write", summary="noop", scope_key="noop")

    async def run(self, args: Mapping[str, Any]) -> ToolResult:
        return ToolResult("ok")


class TimedProvider(ScriptedProvider):
    """Notes when each request arrives (in the loop's task, not when events are consumed)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.stamps: list[float] = []

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.stamps.append(time.perf_counter())
        return self._yielding(super().stream_chat(request))

    @staticmethod
    async def _yielding(events: AsyncIterator[StreamEvent]) -> AsyncIterator[StreamEvent]:
        await asyncio.sleep(0)  # like a network read: the consumer gets to drain the events
        async for event in events:
            yield event


async def measure(turns: int, store: ConversationStore | None) -> tuple[list[float], float]:
    """Seconds per turn (request to request) and for the whole run, divided by ``turns``."""
    turn = ScriptedTurn(text="I am thinking about the next small step. " * 2, chunk_size=4,
                        tool_calls=[ToolCall.create("call", "noop", {})], usage=Usage(1000, 20, 1020))
    provider = TimedProvider(default=turn, context_window=10_000_000)
    agent = Agent(provider, "scripted-model", tools=[NoopTool()], approvals=Approvals.auto(),
                  store=store, max_turns=turns)
    started = time.perf_counter()
    started_turns = 0
    async for event in agent.run("benchmark"):  # a consumer that looks at every event
        started_turns += isinstance(event, TurnStarted)
    whole = (time.perf_counter() - started) / turns
    assert started_turns == turns
    stamps = provider.stamps
    return [b - a for a, b in itertools.pairwise(stamps)], whole


def report(label: str, result: tuple[list[float], float]) -> None:
    durations, whole = result
    ms = sorted(d * 1000 for d in durations)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"{label:<32} turns={len(ms) + 1:5d}  per turn: median={statistics.median(ms):.3f} ms  "
          f"p95={p95:.3f} ms  max={ms[-1]:.3f} ms  whole run={whole * 1000:.3f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=500)
    args = parser.parse_args()
    await measure(50, None)  # warm up imports and caches
    report("in memory (no store)", await measure(args.turns, None))
    with tempfile.TemporaryDirectory() as tmp:
        report("saved after every turn (fsync)", await measure(args.turns, ConversationStore(Path(tmp))))


if __name__ == "__main__":
    asyncio.run(main())
