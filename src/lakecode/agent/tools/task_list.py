"""The ``task_list`` tool: a short plan the model keeps and the user sees.

Commands: ``set`` replaces the list with ``tasks`` (each ``{"title", "status"}``; status defaults
to "todo"), ``update`` changes the ``status`` of the task at ``index`` (0-based: the first
task is 0, as numbered by ``view``), ``view`` shows the list. Every change emits a
``TaskListUpdated`` event. The list lives in memory; ``restore`` rebuilds it from a resumed
conversation's history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from lakecode.agent.events import TaskItem, TaskListUpdated, TaskStatus
from lakecode.agent.tools.base import Tool, ToolAccess, ToolArgumentError, ToolResult, validate_arguments
from lakecode.llm.types import Message

__all__ = ["TaskListTool"]

_STATUSES = ("todo", "doing", "done")
_MARKS = {"todo": "[ ]", "doing": "[~]", "done": "[x]"}
_MAX_TASKS = 50
_MAX_TITLE = 200


class TaskListTool(Tool):
    """Keeps the model's plan. Read-only as far as approvals go: it touches nothing on disk."""

    name = "task_list"
    description = (
        "Keep a short plan of the current work, visible to the user. Commands: set (replace the "
        "list with tasks, each {title, status}), update (set the status of the task at index, "
        "0-based: the first task is 0, as numbered by view), view. Status is todo, doing or done. "
        "Use it for multi-step work: set the plan first, mark a task doing when you start it and "
        "done when finished."
    )
    parameters: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": ["set", "update", "view"]},
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "status": {"type": "string", "enum": list(_STATUSES)},
                    },
                    "required": ["title"],
                },
            },
            "index": {"type": "integer", "description": "update: the task's position, from 0."},
            "status": {"type": "string", "enum": list(_STATUSES)},
        },
        "required": ["command"],
    }

    def __init__(self) -> None:
        self._tasks: list[TaskItem] = []

    @property
    def tasks(self) -> tuple[TaskItem, ...]:
        """The current plan."""
        return tuple(self._tasks)

    def check(self, args: Mapping[str, Any]) -> ToolAccess:
        """Validate the arguments (``set`` needs tasks; ``update`` needs index and status)."""
        validate_arguments(self.name, args, self.parameters)
        command = args["command"]
        if command == "set" and args.get("tasks") is None:
            raise ToolArgumentError("task_list: 'set' needs the 'tasks' argument (a list of {title, status})")
        if command == "set" and len(args["tasks"]) > _MAX_TASKS:
            raise ToolArgumentError(f"task_list: at most {_MAX_TASKS} tasks, got {len(args['tasks'])}")
        if command == "update":
            for field in ("index", "status"):
                if args.get(field) is None:
                    raise ToolArgumentError(f"task_list: 'update' needs the '{field}' argument")
        return ToolAccess(kind="read", summary=f"task_list {command}", scope_key="task_list")

    async def run(self, args: Mapping[str, Any]) -> ToolResult:
        """Apply the command; a bad index is an error result."""
        command = args["command"]
        if command == "view":
            return ToolResult(self.render())
        if command == "set":
            self._tasks = [_item(t) for t in args["tasks"]]
        else:
            index = int(args["index"])
            if not 0 <= index < len(self._tasks):
                span = f"0 to {len(self._tasks) - 1}" if self._tasks else "none: the list is empty; use set"
                return ToolResult(f"task_list: no task at index {index} (valid: {span})", is_error=True)
            old = self._tasks[index]
            self._tasks[index] = TaskItem(old.title, cast(TaskStatus, args["status"]))
        return ToolResult(self.render(), events=(TaskListUpdated(self.tasks),))

    def render(self) -> str:
        """The plan as lines numbered by index (from 0) with a progress header."""
        if not self._tasks:
            return "The task list is empty."
        done = sum(t.status == "done" for t in self._tasks)
        lines = [f"Task list ({done}/{len(self._tasks)} done):"]
        lines += [f"{i}. {_MARKS[t.status]} {t.title}" for i, t in enumerate(self._tasks)]
        return "\n".join(lines)

    def restore(self, messages: Iterable[Message]) -> None:
        """Rebuild the plan by replaying the successful ``task_list`` calls in ``messages``."""
        history = list(messages)
        failed = {m.tool_call_id for m in history if m.role == "tool" and m.is_error}
        answered = {m.tool_call_id for m in history if m.role == "tool"}
        for message in history:
            for call in message.tool_calls:
                if call.name != self.name or call.id in failed or call.id not in answered:
                    continue
                try:
                    self.check(call.arguments)
                except ToolArgumentError:
                    continue
                args = call.arguments
                if args["command"] == "set":
                    self._tasks = [_item(t) for t in args["tasks"]]
                elif args["command"] == "update" and 0 <= int(args["index"]) < len(self._tasks):
                    old = self._tasks[int(args["index"])]
                    self._tasks[int(args["index"])] = TaskItem(old.title, args["status"])


def _item(raw: Mapping[str, Any]) -> TaskItem:
    title = " ".join(str(raw["title"]).split())[:_MAX_TITLE]
    return TaskItem(title, cast(TaskStatus, raw.get("status") or "todo"))
