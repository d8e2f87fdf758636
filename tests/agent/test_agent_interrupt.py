"""Interrupting the agent: mid-stream, mid-tool, mid-approval, and by cancelling the consumer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from agent_helpers import BlockingTool, EchoTool, assert_paired, collect, make_agent

from lakecode.agent import Agent, Approvals, ConversationStore
from lakecode.agent.events import AgentEvent, RunFinished, ToolCallResult, ToolCallStarted, ToolCallStreaming
from lakecode.agent.loop import CANCELLED_NOT_RUN, CANCELLED_RUNNING
from lakecode.agent.tools.base import ToolAccess
from lakecode.llm.types import Message, ReasoningDelta, TextDelta, ToolCall, ToolCallComplete, ToolCallDelta
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call


async def _run_until(agent: Agent, prompt: str, predicate: object) -> list[AgentEvent]:
    """Iterate a run, calling ``agent.interrupt()`` once ``predicate(event)`` holds."""
    events: list[AgentEvent] = []
    async for event in agent.run(prompt):
        events.append(event)
        if predicate(event):  # type: ignore[operator]
            agent.interrupt()
    return events


async def test_interrupt_mid_stream_keeps_text_and_complete_calls_only(tmp_path: Path) -> None:
    done_call = tool_call("echo", {"text": "a"}, id="k1")
    provider = ScriptedProvider().enqueue([ScriptedTurn(stall=True, events=[
        ReasoningDelta("thinking"), TextDelta("Working "), TextDelta("on it"),
        ToolCallDelta(0, id="k1", name="echo", arguments_fragment='{"text":'),
        ToolCallDelta(0, arguments_fragment='"a"}'), ToolCallComplete(done_call),
        ToolCallDelta(1, id="k2", name="echo", arguments_fragment='{"te'),
    ])])
    echo = EchoTool()
    store = ConversationStore()
    agent = make_agent(tmp_path, provider, tools=[echo], store=store)
    events = await _run_until(agent, "go", lambda e: isinstance(e, ToolCallStreaming) and e.index == 1)

    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert (finished.outcome, finished.final_text) == ("interrupted", "Working on it")
    user, assistant, result = agent.messages
    assert user.text == "go"
    assert assistant.text == "Working on it"
    assert assistant.tool_calls == (done_call,)  # the half-streamed k2 is dropped
    assert assistant.reasoning == "thinking" and not assistant.parts[0].replayable  # type: ignore[union-attr]
    assert (result.tool_call_id, result.text, result.is_error) == ("k1", CANCELLED_NOT_RUN, True)
    assert echo.calls == []
    assert_paired(agent.messages)
    assert store.load(agent.conversation.id).messages == agent.messages
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(r.call_id, r.content) for r in results] == [("k1", CANCELLED_NOT_RUN)]


async def test_interrupt_mid_stream_with_nothing_useful_records_nothing(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([ScriptedTurn(stall=True, events=[ReasoningDelta("hmm")])])
    agent = make_agent(tmp_path, provider, tools=[])
    events = await _run_until(agent, "go", lambda e: e.type == "reasoning_delta")
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "interrupted"
    assert [m.role for m in agent.messages] == ["user"]


async def test_interrupt_mid_tool_cancels_it_and_the_calls_after_it(tmp_path: Path) -> None:
    block, echo = BlockingTool(), EchoTool()
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[tool_call("echo", {"text": "first"}, id="t0"),
                                 tool_call("block", {}, id="t1"), tool_call("echo", {"text": "x"}, id="t2")]),
        "after the interruption",
    ])
    agent = make_agent(tmp_path, provider, tools=[block, echo])
    events = await _run_until(agent, "go", lambda e: isinstance(e, ToolCallStarted) and e.call.id == "t1")

    assert block.cancelled
    assert echo.calls == ["first"]
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "interrupted"
    tail = [(m.tool_call_id, m.text) for m in agent.messages[2:]]
    assert tail == [("t0", "echo: first"), ("t1", CANCELLED_RUNNING), ("t2", CANCELLED_NOT_RUN)]
    assert_paired(agent.messages)

    # The conversation goes on, and the model sees a valid history.
    await collect(agent, "continue")
    sent = provider.requests[-1].messages
    assert [m.role for m in sent] == ["user", "assistant", "tool", "tool", "tool", "user"]
    assert_paired(sent)


async def test_interrupt_kills_a_running_shell_command_quickly(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[
            tool_call("shell", {"command": "sleep 30; echo late > late.txt"}, id="s1")])])
    agent = make_agent(tmp_path, provider)
    started = time.monotonic()

    async def interrupt_soon() -> None:
        await asyncio.sleep(0.3)
        agent.interrupt()

    waiter = asyncio.create_task(interrupt_soon())
    events = await collect(agent, "go")
    await waiter
    assert time.monotonic() - started < 5
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "interrupted"
    assert agent.messages[-1].text == CANCELLED_RUNNING
    await asyncio.sleep(0.2)
    assert not (tmp_path / "late.txt").exists()


async def test_interrupt_while_waiting_for_approval(tmp_path: Path) -> None:
    asked = asyncio.Event()

    async def never_answers(call: ToolCall, access: ToolAccess) -> str:
        asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[tool_call("shell", {"command": "make"}, id="a1")])])
    agent = make_agent(tmp_path, provider, approvals=Approvals.interactive(never_answers))  # type: ignore[arg-type]

    async def interrupt_when_asked() -> None:
        await asked.wait()
        agent.interrupt()

    waiter = asyncio.create_task(interrupt_when_asked())
    events = await collect(agent, "go")
    await waiter
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "interrupted"
    assert (agent.messages[-1].tool_call_id, agent.messages[-1].text) == ("a1", CANCELLED_RUNNING)


async def test_cancelling_the_consumer_repairs_saves_and_propagates(tmp_path: Path) -> None:
    block = BlockingTool()
    store = ConversationStore()
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(text="on it", tool_calls=[tool_call("block", {}, id="c1"),
                                               tool_call("block", {}, id="c2")])])
    agent = make_agent(tmp_path, provider, tools=[block], store=store)
    consumer = asyncio.create_task(collect(agent, "go"))
    await block.started.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert not agent.running
    saved = store.load(agent.conversation.id).messages
    assert [(m.role, m.tool_call_id, m.text) for m in saved] == [
        ("user", None, "go"), ("assistant", None, "on it"),
        ("tool", "c1", CANCELLED_RUNNING), ("tool", "c2", CANCELLED_NOT_RUN)]


async def test_breaking_out_of_the_iterator_stops_the_run(tmp_path: Path) -> None:
    block = BlockingTool()
    provider = ScriptedProvider().enqueue([ScriptedTurn(tool_calls=[tool_call("block", {}, id="b1")])])
    agent = make_agent(tmp_path, provider, tools=[block])
    run = agent.run("go")
    async for event in run:
        if isinstance(event, ToolCallStarted):
            break
    await run.aclose()
    assert block.cancelled and not agent.running
    assert_paired(agent.messages)


async def test_interrupt_when_idle_is_a_no_op(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue(["hello"])
    agent = make_agent(tmp_path, provider, tools=[])
    agent.interrupt()
    events = await collect(agent, "hi")
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"


async def test_resumed_conversation_with_dangling_calls_gets_cancelled_results(tmp_path: Path) -> None:
    store = ConversationStore()
    conversation = store.new(model="scripted-model")
    conversation.append(Message.user("go"))
    conversation.append(Message.assistant("", (ToolCall.create("d1", "echo", {"text": "a"}),
                                               ToolCall.create("d2", "echo", {"text": "b"}))))
    conversation.append(Message.tool("d1", "echo: a", name="echo"))
    store.save(conversation)  # as if the process died while running d2

    provider = ScriptedProvider().enqueue(["resumed"])
    agent = make_agent(tmp_path, provider, tools=[EchoTool()], store=store,
                       conversation=store.load(conversation.id))
    await collect(agent, "again")
    sent = provider.requests[0].messages
    assert [(m.role, m.tool_call_id) for m in sent] == [
        ("user", None), ("assistant", None), ("tool", "d1"), ("tool", "d2"), ("user", None)]
    assert sent[3].text == CANCELLED_NOT_RUN
    assert_paired(sent)


async def test_an_interrupt_after_the_last_turn_still_ends_with_run_finished(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue(["all done"])
    agent = make_agent(tmp_path, provider, tools=[], store=ConversationStore())
    events = await _run_until(agent, "go", lambda e: e.type == "turn_finished")
    assert [e.type for e in events][-2:] == ["turn_finished", "run_finished"]
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"
