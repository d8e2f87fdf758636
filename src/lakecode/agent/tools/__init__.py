"""The tools the agent offers the model: ``shell``, ``file_editor`` and ``task_list``.

``default_tools(scope)`` builds the standard set; the agent takes any sequence of ``Tool``s.
"""

from __future__ import annotations

from lakecode.agent.tools.base import (
    AccessKind,
    ProjectScope,
    Tool,
    ToolAccess,
    ToolArgumentError,
    ToolResult,
    validate_arguments,
)
from lakecode.agent.tools.file_editor import FileEditorTool
from lakecode.agent.tools.shell import ShellTool
from lakecode.agent.tools.task_list import TaskListTool

__all__ = [
    "AccessKind",
    "FileEditorTool",
    "ProjectScope",
    "ShellTool",
    "TaskListTool",
    "Tool",
    "ToolAccess",
    "ToolArgumentError",
    "ToolResult",
    "default_tools",
    "validate_arguments",
]


def default_tools(scope: ProjectScope, *, shell_timeout: float = 120.0) -> list[Tool]:
    """The standard tools, working in ``scope``: shell, file_editor and task_list."""
    return [ShellTool(scope, default_timeout=shell_timeout), FileEditorTool(scope), TaskListTool()]
