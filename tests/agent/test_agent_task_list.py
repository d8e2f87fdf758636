"""The task_list tool: the model's visible plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_helpers import collect, make_agent

from lakecode.agent.events import TaskItem, TaskListUpdated
from lakecode.agent.tools import TaskListTool, ToolArgumentError
from lakecode.llm.types import Message, ToolCall
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call


async def test_set_update_view() -> None:
    tool = TaskListTool()
    result = await tool.run({"command": "set",
                             "tasks": [{"title": "write test"}, {"title": "fix", "status": "doing"}]})
    assert result.content == "Task list (0/2 done):\n0. [ ] write test\n1. [~] fix"
    assert result.events == (TaskListUpdated((TaskItem("write test", "todo"), TaskItem("fix", "doing"))),)
    result = await tool.run({"command": "update", "index": 0, "status": "done"})
    assert result.content == "Task list (1/2 done):\n0. [x] write test\n1. [~] fix"
    assert tool.tasks[0] == TaskItem("write test", "done")
    result = await tool.run({"command": "view"})
    assert result.events == () and result.content.startswith("Task list (1/2 done)")


async def test_bad_index_is_an_error_result() -> None:
    tool = TaskListTool()
    result = await tool.run({"command": "update", "index": 0, "status": "done"})
    assert (result.content, result.is_error) == (
        "task_list: no task at index 0 (valid: none: the list is empty; use set)", True)
    await tool.run({"command": "set", "tasks": [{"title": "a"}, {"title": "b"}]})
    result = await tool.run({"command": "update", "index": 2, "status": "done"})
    assert result.content == "task_list: no task at index 2 (valid: 0 to 1)" and result.is_error


@pytest.mark.parametrize(("args", "message"), [
    ({"command": "set"}, "task_list: 'set' needs the 'tasks' argument"),
    ({"command": "update", "index": 1}, "task_list: 'update' needs the 'status' argument"),
    ({"command": "update", "index": 1, "status": "finished"}, "task_list: 'status' must be one of"),
    ({"command": "set", "tasks": [{"titel": "x"}]},
     "task_list: missing required argument 'tasks[0].title' (you passed 'tasks[0].titel'"),
    ({"command": "set", "tasks": "do it"}, "task_list: 'tasks' must be an array, got string"),
])
def test_validation(args: dict[str, object], message: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        TaskListTool().check(args)
    assert info.value.message.startswith(message)


def test_task_list_never_needs_approval() -> None:
    access = TaskListTool().check({"command": "view"})
    assert access.kind == "read"


async def test_the_agent_emits_task_list_events_and_restores_the_plan(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[tool_call("task_list", {"command": "set", "tasks": [
            {"title": "plan", "status": "done"}, {"title": "build"}]})]),
        ScriptedTurn(tool_calls=[
            tool_call("task_list", {"command": "update", "index": 1, "status": "doing"})]),
        "working",
    ])
    agent = make_agent(tmp_path, provider)
    events = await collect(agent, "go")
    updates = [e for e in events if isinstance(e, TaskListUpdated)]
    assert [[(t.title, t.status) for t in u.tasks] for u in updates] == [
        [("plan", "done"), ("build", "todo")], [("plan", "done"), ("build", "doing")]]
    kinds = [e.type for e in events]
    assert kinds.index("task_list") < kinds.index("tool_call_result")

    restored = TaskListTool()
    restored.restore(agent.messages)
    assert restored.tasks == (TaskItem("plan", "done"), TaskItem("build", "doing"))


def test_restore_skips_failed_and_unanswered_calls() -> None:
    good = ToolCall.create("g", "task_list", {"command": "set", "tasks": [{"title": "a"}]})
    bad = ToolCall.create("b", "task_list", {"command": "set", "tasks": [{"title": "b"}]})
    dangling = ToolCall.create("d", "task_list", {"command": "set", "tasks": [{"title": "d"}]})
    history = [Message.assistant("", (good, bad)), Message.tool("g", "ok"),
               Message.tool("b", "no", is_error=True), Message.assistant("", (dangling,))]
    tool = TaskListTool()
    tool.restore(history)
    assert tool.tasks == (TaskItem("a", "todo"),)
