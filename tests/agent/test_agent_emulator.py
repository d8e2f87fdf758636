"""The agent over the real wire layer against the workspace emulator (loopback, strict mode)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from agent_helpers import assert_paired, collect

from lakecode.agent import Agent, Approvals, ConversationStore, ProjectScope, default_tools
from lakecode.agent.events import AgentEvent, ContextCompacted, RunFinished, TaskListUpdated, TextChunk
from lakecode.emulator import DEMO_PROMPT, Emulator
from lakecode.llm.openai_compat import OpenAICompatibleProvider, build_openai_compatible_provider

MODEL = "databricks-claude-sonnet-4-5"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as server:
        yield server


@pytest.fixture
async def provider(emu: Emulator) -> AsyncIterator[OpenAICompatibleProvider]:
    emu.reset()
    client = build_openai_compatible_provider(f"{emu.url}/serving-endpoints", emu.pat)
    yield client
    await client.aclose()


def agent_for(project: Path, provider: OpenAICompatibleProvider, **kw: object) -> Agent:
    scope = ProjectScope.at(project)
    return Agent(provider, MODEL, tools=default_tools(scope), approvals=Approvals.auto(), cwd=project,
                 **kw)  # type: ignore[arg-type]


async def test_the_demo_scenario_runs_end_to_end(tmp_path: Path, provider: OpenAICompatibleProvider) -> None:
    store = ConversationStore()
    agent = agent_for(tmp_path, provider, store=store)
    events = await collect(agent, DEMO_PROMPT)
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.outcome == "completed"
    assert "they all pass" in finished.final_text
    assert (tmp_path / "fizzbuzz.py").exists() and (tmp_path / "test_fizzbuzz.py").exists()
    shell_results = [m.text for m in agent.messages if m.role == "tool" and m.name == "shell"]
    assert shell_results[0].startswith("3 tests passed\n[exit code: 0")
    plans = [e for e in events if isinstance(e, TaskListUpdated)]
    assert [t.status for t in plans[-1].tasks] == ["done", "done", "done"]
    assert finished.total_usage.total_tokens > 0
    assert store.load(agent.conversation.id).messages == agent.messages
    assert_paired(agent.messages)


async def test_nested_context_overflow_compacts_once_and_retries(tmp_path: Path, emu: Emulator,
                                                                 provider: OpenAICompatibleProvider) -> None:
    emu.faults.error("context_overflow_nested", count=1, method="POST")
    emu.scripted_model.enqueue(["fits now"])
    agent = agent_for(tmp_path, provider)
    events = await collect(agent, "hello")
    assert [e.reason for e in events if isinstance(e, ContextCompacted)] == ["overflow"]
    assert isinstance(events[-1], RunFinished) and events[-1].final_text == "fits now"


async def test_an_interrupted_turn_leaves_a_history_the_strict_service_accepts(
        tmp_path: Path, emu: Emulator, provider: OpenAICompatibleProvider) -> None:
    emu.scripted_model.enqueue([
        {"text": "I will look around first. " * 20,
         "tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}]},
        "Understood, stopping.",
    ])
    emu.faults.slow_stream(0.02)
    agent = agent_for(tmp_path, provider)
    events: list[AgentEvent] = []
    async for event in agent.run("look around"):
        events.append(event)
        if isinstance(event, TextChunk):
            agent.interrupt()
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "interrupted"
    emu.faults.clear()
    follow_up = await collect(agent, "never mind")
    assert isinstance(follow_up[-1], RunFinished)
    assert follow_up[-1].outcome == "completed" and follow_up[-1].final_text == "Understood, stopping."
    assert_paired(agent.messages)
