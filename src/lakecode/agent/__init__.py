"""The coding agent: a loop over any ``lakecode.llm.Provider``, tools, approvals and saved
conversations. It never imports ``databricks/``, ``cli/`` or ``tui/``.

Start at ``lakecode.agent.loop`` for how a CLI, a TUI or a test drives it.
"""

from __future__ import annotations

from lakecode.agent.approvals import Approvals, AskCallback, Decision, Verdict, terminal_prompt
from lakecode.agent.context import DEFAULT_CONTEXT_WINDOW, ContextManager
from lakecode.agent.loop import Agent
from lakecode.agent.prompt import default_system_prompt
from lakecode.agent.store import (
    Conversation,
    ConversationError,
    ConversationNotFoundError,
    ConversationStore,
    CorruptConversationError,
)
from lakecode.agent.tools import ProjectScope, default_tools

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "Agent",
    "Approvals",
    "AskCallback",
    "ContextManager",
    "Conversation",
    "ConversationError",
    "ConversationNotFoundError",
    "ConversationStore",
    "CorruptConversationError",
    "Decision",
    "ProjectScope",
    "Verdict",
    "default_system_prompt",
    "default_tools",
    "terminal_prompt",
]
