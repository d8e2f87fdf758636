"""Shared helpers for the agent tests: building agents, collecting events, checking history."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lakecode.agent import Agent, Approvals, ConversationStore, ProjectScope, default_tools
from lakecode.agent.events import AgentEvent
from lakecode.agent.tools.base import Tool, ToolAccess, ToolResult, validate_arguments
from lakecode.llm.types import Message
from lakecode.testing.fake_provider import ScriptedProvider


def make_agent(project: Path, provider: ScriptedProvider, *, approvals: Approvals | None = None,
               tools: Sequence[Tool] | None = None, store: ConversationStore | None = None,
               **kw: Any) -> Agent:
    """An agent in ``project`` with the default tools and ``--yes`` approvals."""
    scope = ProjectScope.at(project)
    return Agent(provider, "scripted-model",
                 tools=default_tools(scope) if tools is None else tools,
                 approvals=approvals or Approvals.auto(), store=store, cwd=project, **kw)


async def collect(agent: Agent, prompt: str) -> list[AgentEvent]:
    """Every event of one run."""
    return [event async for event in agent.run(prompt)]


def kinds(events: Sequence[AgentEvent]) -> list[str]:
    """The ``type`` tags of ``events``."""
    return [e.type for e in events]


def assert_paired(messages: Sequence[Message]) -> None:
    """Every assistant tool call is followed directly by one result per id, and no result is an orphan."""
    i = 0
    while i < len(messages):
        message = messages[i]
        assert message.role != "tool", f"orphan tool result at {i}: {message}"
        if message.role == "assistant" and message.tool_calls:
            ids = [c.id for c in message.tool_calls]
            results = [m.tool_call_id for m in messages[i + 1:i + 1 + len(ids)]]
            assert results == ids, f"calls {ids} answered by {results} at {i}"
            i += 1 + len(ids)
            continue
        i += 1


class EchoTool(Tool):
    """A read-only tool that returns its ``text`` argument and records calls."""

    name = "echo"
    description = "Echo text back."
    parameters: Mapping[str, Any] = {"type": "object", "properties": {"text": {"type": "string"}},
                                     "required": ["text"]}

    def __init__(self, kind: str = "read") -> None:
        self.calls: list[str] = []
        self.kind = kind

    def check(self, args: Mapping[str, Any]) -> ToolAccess:
        validate_arguments(self.name, args, self.parameters)
        return ToolAccess(kind=self.kind, summary=f"echo {args['text']}", scope_key="echo")  # type: ignore[arg-type]

    async def run(self, args: Mapping[str, Any]) -> ToolResult:
        self.calls.append(args["text"])
        return ToolResult(f"echo: {args['text']}")


class BlockingTool(Tool):
    """A tool that signals ``started`` and then waits until cancelled (or ``release`` is set)."""

    name = "block"
    description = "Wait."
    parameters: Mapping[str, Any] = {"type": "object", "properties": {}}

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.cancelled = False

    def check(self, args: Mapping[str, Any]) -> ToolAccess:
        return ToolAccess(kind="read", summary="block")

    async def run(self, args: Mapping[str, Any]) -> ToolResult:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return ToolResult("released")
