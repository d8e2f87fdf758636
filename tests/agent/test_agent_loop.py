"""The agent loop driven by the scripted provider: tool loops, ordering, limits, usage, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_helpers import EchoTool, assert_paired, collect, kinds, make_agent

from lakecode.agent import Agent, Approvals, ConversationStore
from lakecode.agent.events import (
    AssistantMessage,
    ContextCompacted,
    Notice,
    Retrying,
    RunFinished,
    TextChunk,
    ToolCallResult,
    ToolCallStreaming,
    TurnUsage,
)
from lakecode.errors import ContextOverflowError, ModelBehaviourError, ServerError
from lakecode.llm.types import (
    Finish,
    Message,
    RetryNotice,
    TextDelta,
    TextPart,
    ToolCallComplete,
    Usage,
    UsageUpdate,
)
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call


async def test_multi_step_tool_loop_edits_a_file_and_reads_the_result(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(text="Creating it.", tool_calls=[tool_call(
            "file_editor", {"command": "create", "path": "hello.py", "file_text": "print('hi')\n"},
            id="c1")]),
        ScriptedTurn(tool_calls=[tool_call("shell", {"command": "python3 hello.py"}, id="c2")]),
        "It prints hi.",
    ])
    agent = make_agent(tmp_path, provider)
    events = await collect(agent, "write hello.py")

    assert (tmp_path / "hello.py").read_text() == "print('hi')\n"
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert (finished.outcome, finished.final_text, finished.turns) == ("completed", "It prints hi.", 3)
    assert len(provider.requests) == 3
    # The second request carries the first tool's result right after the call.
    second = provider.requests[1].messages
    assert [m.role for m in second] == ["user", "assistant", "tool"]
    assert second[2].tool_call_id == "c1" and second[2].text == "created hello.py (1 lines)"
    third = provider.requests[2].messages
    assert third[-1].tool_call_id == "c2" and third[-1].text.startswith("hi\n[exit code: 0")
    assert [m.role for m in agent.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert kinds(events)[:3] == ["run_started", "turn_started", "text_delta"]
    assert kinds(events).count("turn_finished") == 3
    assert {s.name for s in provider.requests[0].tools} == {"shell", "file_editor", "task_list"}


async def test_parallel_calls_run_in_order_and_results_follow_in_the_same_order(tmp_path: Path) -> None:
    echo = EchoTool()
    calls = [tool_call("echo", {"text": t}, id=f"id-{t}") for t in ("a", "b", "c")]
    provider = ScriptedProvider().enqueue([ScriptedTurn(tool_calls=calls), "done"])
    agent = make_agent(tmp_path, provider, tools=[echo])
    events = await collect(agent, "go")

    assert echo.calls == ["a", "b", "c"]
    sent = provider.requests[1].messages
    assert [c.id for c in sent[1].tool_calls] == ["id-a", "id-b", "id-c"]
    assert [(m.tool_call_id, m.text) for m in sent[2:]] == [
        ("id-a", "echo: a"), ("id-b", "echo: b"), ("id-c", "echo: c")]
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [r.call_id for r in results] == ["id-a", "id-b", "id-c"]
    # each call: started, approved, result - one call after the other
    tool_kinds = [k for k in kinds(events) if k.startswith("tool_call_") and k != "tool_call_streaming"]
    assert tool_kinds == ["tool_call_started", "tool_call_approved", "tool_call_result"] * 3
    assert_paired(agent.messages)


async def test_turn_limit_is_a_distinct_outcome(tmp_path: Path) -> None:
    provider = ScriptedProvider(default=ScriptedTurn(tool_calls=[tool_call("echo", {"text": "again"})]))
    agent = make_agent(tmp_path, provider, tools=[EchoTool()], max_turns=3)
    events = await collect(agent, "loop forever")
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert (finished.outcome, finished.turns) == ("turn_limit", 3)
    assert len(provider.requests) == 3
    assert_paired(agent.messages)


async def test_unknown_tool_and_bad_arguments_become_error_results(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[
            tool_call("nope", {}, id="u1"),
            tool_call("file_editor", {"command": "insert", "path": "a.txt", "insert_line": "3",
                                      "new_str": "x"}, id="u2"),
            tool_call("file_editor", {"command": "create", "path": "b.txt", "content": "x"}, id="u3"),
        ]),
        "ok",
    ])
    agent = make_agent(tmp_path, provider)
    events = await collect(agent, "try")
    results = {e.call_id: e for e in events if isinstance(e, ToolCallResult)}
    assert results["u1"].is_error
    assert results["u1"].content == (
        "unknown tool 'nope'; the available tools are: file_editor, shell, task_list")
    assert results["u2"].content.startswith("file_editor: 'insert_line' must be an integer, got string '3'")
    assert results["u3"].content.startswith(
        "file_editor: 'create' needs the 'file_text' argument")
    assert "tool_call_approved" not in kinds(events)  # nothing ran, nothing was asked
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"


async def test_text_streams_in_chunks_and_tool_calls_are_announced(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(text="abcdefgh", chunk_size=3, tool_calls=[tool_call("echo", {"text": "x"})]),
        "fin",
    ])
    agent = make_agent(tmp_path, provider, tools=[EchoTool()])
    events = await collect(agent, "go")
    chunks = [e.text for e in events if isinstance(e, TextChunk)]
    assert chunks == ["abc", "def", "gh", "fin"]
    assert [(e.index, e.name) for e in events if isinstance(e, ToolCallStreaming)] == [(0, "echo")]
    first = next(e for e in events if isinstance(e, AssistantMessage))
    assert first.message.text == "abcdefgh" and first.finish_reason == "tool_calls"


async def test_usage_per_turn_and_totals_across_runs(tmp_path: Path) -> None:
    store = ConversationStore()
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[tool_call("echo", {"text": "1"})], usage=Usage(100, 10, 110)),
        ScriptedTurn(text="one", usage=Usage(150, 5, 155, 2)),
        ScriptedTurn(text="two", usage=Usage(200, 20, 220)),
    ])
    agent = make_agent(tmp_path, provider, tools=[EchoTool()], store=store)
    first = await collect(agent, "first")
    turn_usage = [(e.turn, e.usage, e.total) for e in first if isinstance(e, TurnUsage)]
    assert turn_usage == [(1, Usage(100, 10, 110), Usage(100, 10, 110)),
                          (2, Usage(150, 5, 155, 2), Usage(250, 15, 265, 2))]
    second = await collect(agent, "second")
    done = second[-1]
    assert isinstance(done, RunFinished)
    assert done.usage == Usage(200, 20, 220)
    assert done.total_usage == Usage(450, 35, 485, 2)
    saved = store.load(agent.conversation.id)
    assert saved.usage == Usage(450, 35, 485, 2)
    assert [t.usage.total_tokens for t in saved.turns] == [110, 155, 220]
    assert [t.finish_reason for t in saved.turns] == ["tool_calls", "stop", "stop"]


async def test_usage_falls_back_to_the_last_usage_update(tmp_path: Path) -> None:
    message = Message.assistant("hi")
    provider = ScriptedProvider().enqueue([ScriptedTurn(events=[
        TextDelta("hi"), UsageUpdate(Usage(7, 1, 8)), Finish("stop", message)])])
    agent = make_agent(tmp_path, provider, tools=[])
    events = await collect(agent, "x")
    assert [e.usage for e in events if isinstance(e, TurnUsage)] == [Usage(7, 1, 8)]


async def test_empty_text_next_to_tool_calls_is_not_kept(tmp_path: Path) -> None:
    call = tool_call("echo", {"text": "x"}, id="e1")
    finish_message = Message(role="assistant", parts=(TextPart(""), TextPart("  ")), tool_calls=(call,))
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(events=[ToolCallComplete(call), Finish("tool_calls", finish_message)]), "done"])
    agent = make_agent(tmp_path, provider, tools=[EchoTool()])
    await collect(agent, "go")
    assert agent.messages[1].parts == () and agent.messages[1].tool_calls == (call,)
    assert provider.requests[1].messages[1].parts == ()


async def test_system_prompt_comes_first_once(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue(["a", "b"])
    agent = make_agent(tmp_path, provider, tools=[], system_prompt="You are lakecode.")
    await collect(agent, "one")
    await collect(agent, "two")
    roles = [m.role for m in provider.requests[1].messages]
    assert roles == ["system", "user", "assistant", "user"]
    assert provider.requests[1].messages[0].text == "You are lakecode."


async def test_provider_error_ends_the_run_with_an_event_then_raises(tmp_path: Path) -> None:
    store = ConversationStore()
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(text="partial", error=ServerError("upstream broke", status_code=503))])
    agent = make_agent(tmp_path, provider, tools=[], store=store)
    seen = []
    with pytest.raises(ServerError, match="upstream broke"):
        async for event in agent.run("hello"):
            seen.append(event)
    last = seen[-1]
    assert isinstance(last, RunFinished)
    assert (last.outcome, last.error) == ("error", "upstream broke")
    saved = store.load(agent.conversation.id)
    assert [(m.role, m.text) for m in saved.messages] == [("user", "hello"), ("assistant", "partial")]


async def test_sending_a_failed_prompt_again_does_not_ask_it_twice(tmp_path: Path) -> None:
    """The TUI keeps a failed prompt in the input; pressing Enter again retries it. The earlier,
    unanswered copy is saved (nothing is lost) and not sent a second time; a different prompt is."""
    store = ConversationStore()
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(error=ServerError("upstream broke", status_code=503)), "answer", "second"])
    agent = make_agent(tmp_path, provider, tools=[], store=store)
    with pytest.raises(ServerError):
        await collect(agent, "hello")
    assert [(m.role, m.text) for m in store.load(agent.conversation.id).messages] == [("user", "hello")]
    await collect(agent, "hello")
    await collect(agent, "hello")  # answered now: asking again is a new question
    sent = [[(m.role, m.text) for m in r.messages if m.role != "system"] for r in provider.requests]
    assert sent[1] == [("user", "hello")]
    assert sent[2] == [("user", "hello"), ("assistant", "answer"), ("user", "hello")]


async def test_retry_notices_become_events_and_restart_the_turn(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([ScriptedTurn(events=[
        TextDelta("garbage"), RetryNotice(1, 0.5, "429 rate limited"), TextDelta("good"),
        Finish("stop", Message.assistant("good"))])])
    agent = make_agent(tmp_path, provider, tools=[])
    events = await collect(agent, "x")
    retry = next(e for e in events if isinstance(e, Retrying))
    assert (retry.attempt, retry.delay, retry.reason) == (1, 0.5, "429 rate limited")
    assert agent.messages[-1].text == "good"


async def test_context_overflow_compacts_once_and_retries_once(tmp_path: Path) -> None:
    big = "line\n" * 4000
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[tool_call("echo", {"text": big}, id="b1")]),
        ScriptedTurn(tool_calls=[tool_call("echo", {"text": "small"}, id="b2")]),
        ContextOverflowError("Input is too long for requested model.", status_code=400),
        "recovered",
    ])
    agent = make_agent(tmp_path, provider, tools=[EchoTool()])
    events = await collect(agent, "go")
    compacted = [e for e in events if isinstance(e, ContextCompacted)]
    assert len(compacted) == 1 and compacted[0].reason == "overflow"
    assert compacted[0].tokens_after < compacted[0].tokens_before
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"
    assert len(provider.requests) == 4
    failed, retried = provider.requests[2].messages, provider.requests[3].messages
    assert sum(len(m.text) for m in retried) < sum(len(m.text) for m in failed) // 10
    assert_paired(list(retried))
    # the stored history is complete: compaction only changes what is sent
    assert agent.messages[2].text == f"echo: {big}"


async def test_a_second_overflow_ends_the_run(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ContextOverflowError("prompt is too long", status_code=400),
        ContextOverflowError("prompt is too long", status_code=400),
        "never",
    ])
    agent = make_agent(tmp_path, provider, tools=[])
    with pytest.raises(ContextOverflowError):
        await collect(agent, "go")
    assert len(provider.requests) == 2
    assert provider.pending == 1


async def test_one_run_at_a_time(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([ScriptedTurn(text="slow", delay=0.2)])
    agent = make_agent(tmp_path, provider, tools=[])
    first = agent.run("one")
    assert isinstance(await first.__anext__(), object)
    with pytest.raises(RuntimeError, match="already running"):
        await agent.run("two").__anext__()
    rest = [e async for e in first]
    assert isinstance(rest[-1], RunFinished)


async def test_denied_call_is_reported_to_the_model(tmp_path: Path) -> None:
    async def deny(call: object, access: object) -> str:
        return "deny"

    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[tool_call("shell", {"command": "touch x"}, id="d1")]), "ok"])
    agent = make_agent(tmp_path, provider, approvals=Approvals.interactive(deny))  # type: ignore[arg-type]
    events = await collect(agent, "go")
    assert "tool_call_denied" in kinds(events)
    result = provider.requests[1].messages[-1]
    assert result.tool_call_id == "d1" and result.is_error
    assert result.text.startswith("Denied: the user did not approve shell: touch x.")
    assert not (tmp_path / "x").exists()


def test_agent_never_imports_databricks_cli_or_tui() -> None:
    import subprocess
    import sys

    code = ("import sys, lakecode.agent, lakecode.testing.fake_provider;"
            "bad=[m for m in sys.modules"
            " if m.startswith(('lakecode.databricks','lakecode.cli','lakecode.tui'))];"
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_agent_class_is_exported() -> None:
    assert Agent.__module__ == "lakecode.agent.loop"


async def test_an_unusable_reply_is_explained_to_the_model_once(tmp_path: Path) -> None:
    bad = ModelBehaviourError("The arguments of tool call 'shell' are not a JSON object: '{\"comm'")
    provider = ScriptedProvider().enqueue([ScriptedTurn(text="Running it", error=bad), "fixed"])
    agent = make_agent(tmp_path, provider, tools=[])
    events = await collect(agent, "go")
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"
    assert [(m.role, m.text) for m in provider.requests[1].messages] == [
        ("user", "go"), ("assistant", "Running it"),
        ("user", f"[lakecode] Your last reply could not be used: {bad.message} Please send it again; "
                 "the arguments of a tool call must be one JSON object.")]
    assert any(isinstance(e, Notice) for e in events)


async def test_two_unusable_replies_in_a_row_end_the_run(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue(
        [ModelBehaviourError("bad one"), ModelBehaviourError("bad two"), "x"])
    agent = make_agent(tmp_path, provider, tools=[])
    with pytest.raises(ModelBehaviourError, match="bad two"):
        await collect(agent, "go")
    assert len(provider.requests) == 2


def test_default_system_prompt_names_the_project_and_the_tools(tmp_path: Path) -> None:
    from lakecode.agent import ProjectScope, default_system_prompt

    text = default_system_prompt(ProjectScope.at(tmp_path), extra="Use tabs.")
    assert f"Project directory: {tmp_path.resolve()}" in text
    assert all(name in text for name in ("file_editor", "shell", "task_list"))
    assert text.rstrip().endswith("Use tabs.")


async def test_every_event_serialises_to_a_json_line(tmp_path: Path) -> None:
    import json

    provider = ScriptedProvider().enqueue([
        ScriptedTurn(reasoning="hm", text="plan", chunk_size=2, usage=Usage(3, 4, 7), tool_calls=[
            tool_call("task_list", {"command": "set", "tasks": [{"title": "é"}]}),
            tool_call("shell", {"command": "echo hi"}),
            tool_call("file_editor", {"command": "view", "path": "../x"})]),
        ScriptedTurn(events=[RetryNotice(1, 0.1, "429")], text="ok"),
        "ok",
    ])
    agent = make_agent(tmp_path, provider, approvals=Approvals.headless())
    events = await collect(agent, "go")
    lines = [json.dumps(e.to_dict()) for e in events]
    decoded = [json.loads(line) for line in lines]
    assert {d["type"] for d in decoded} >= {
        "run_started", "turn_started", "text_delta", "reasoning_delta", "tool_call_streaming",
        "assistant_message", "usage", "tool_call_started", "tool_call_approved", "tool_call_denied",
        "tool_call_result", "task_list", "turn_finished", "retrying", "run_finished"}
    assert decoded[-1]["type"] == "run_finished" and decoded[-1]["usage"]["total_tokens"] == 7
