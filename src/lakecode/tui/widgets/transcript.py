"""The conversation transcript: prompts, streamed answers, collapsed reasoning, tool cards.

``Transcript.handle(event)`` turns agent events into widgets as they arrive. Streaming is
incremental: answer text goes through a ``MarkdownStream`` (which appends to the last Markdown
block and coalesces bursts), reasoning text is buffered and flushed at most ten times a second,
and only the widget that changed is refreshed, never the whole transcript. The transcript stays
scrolled to the bottom while new content arrives unless the user scrolls up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Collapsible, Markdown, Static
from textual.widgets.markdown import MarkdownStream

from lakecode.agent.approvals import Decision
from lakecode.agent.events import (
    AgentEvent,
    AssistantMessage,
    ContextCompacted,
    ReasoningChunk,
    RunFinished,
    TextChunk,
    ToolCallApproved,
    ToolCallDenied,
    ToolCallResult,
    ToolCallStarted,
    TurnStarted,
)
from lakecode.agent.tools.base import ToolAccess
from lakecode.llm.types import Message, ReasoningPart, ToolCall
from lakecode.tui.widgets.tool_card import ToolCard

__all__ = ["AssistantEntry", "NoticeEntry", "Transcript", "UserEntry"]

_REASONING_FLUSH = 0.1


class UserEntry(Static):
    """A prompt the user sent."""

    def __init__(self, prompt: str) -> None:
        text = Text("› ", style="bold")
        text.append(prompt)
        super().__init__(text, classes="user-entry")
        self.prompt = prompt


class NoticeEntry(Static):
    """A line about the run (interrupted, compacted, a warning)."""

    def __init__(self, message: str, level: str = "info") -> None:
        super().__init__(Text(message), classes=f"notice-entry -{level}")
        self.message = message


class AssistantEntry(Vertical):
    """One assistant message: reasoning (collapsed) above the answer (Markdown).

    Args:
        text: the full answer, for a finished message (history); "" to stream into.
        reasoning: the full reasoning, for a finished message.
    """

    def __init__(self, text: str = "", reasoning: str = "") -> None:
        super().__init__(classes="assistant-entry")
        self._initial_text = text
        self._reasoning = [reasoning] if reasoning else []
        self._text_parts: list[str] = [text] if text else []
        self._stream: MarkdownStream | None = None
        self._flush_timer: Timer | None = None
        self.finished = bool(text or reasoning)

    def compose(self) -> ComposeResult:
        title = "Thought" if self.finished else "Thinking…"
        with Collapsible(title=title, collapsed=True, classes="reasoning") as reasoning:
            yield Static(Text("".join(self._reasoning)), classes="reasoning-text")
        reasoning.display = bool(self._reasoning)
        yield Markdown(self._initial_text, classes="answer")

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self._text_parts)

    @property
    def reasoning(self) -> str:
        """The reasoning so far."""
        return "".join(self._reasoning)

    async def append_text(self, fragment: str) -> None:
        """Stream a fragment of the answer."""
        self._text_parts.append(fragment)
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(".answer", Markdown))
        await self._stream.write(fragment)

    def append_reasoning(self, fragment: str) -> None:
        """Add reasoning (shown collapsed; the text is refreshed at most 10 times a second)."""
        self._reasoning.append(fragment)
        self.query_one(".reasoning", Collapsible).display = True
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(_REASONING_FLUSH, self._flush_reasoning)

    def _flush_reasoning(self) -> None:
        self._flush_timer = None
        self.query_one(".reasoning-text", Static).update(Text(self.reasoning))

    async def finish(self) -> None:
        """The message is complete: stop streaming and show everything."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if self._flush_timer is not None:
            self._flush_timer.stop()
        self._flush_reasoning()
        self.query_one(".reasoning", Collapsible).title = "Thought"
        self.finished = True

    @property
    def is_empty(self) -> bool:
        """Neither answer text nor reasoning arrived."""
        return not self.text.strip() and not self.reasoning.strip()


_REFUSALS = ("Denied: the user did not approve", "Refused: ")
"""How the approval policy's refusals begin (``lakecode.agent.approvals``): a saved result that
begins so was a call that never ran."""


def history_summary(call: ToolCall) -> str:
    """A card's one-line summary for a saved call (live cards get the tool's own summary):
    the command of a shell call, the command and path of a file edit."""
    args = call.arguments
    if call.name == "shell" and isinstance(args.get("command"), str):
        return f"shell: {args['command']}"
    parts = [str(args[key]) for key in ("command", "path") if isinstance(args.get(key), str)]
    return f"{call.name} {' '.join(parts)}".strip()


class Transcript(VerticalScroll):
    """The scrolling conversation (see the module docstring)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._current: AssistantEntry | None = None
        self.cards: dict[str, ToolCard] = {}
        self._card_shown: dict[str, asyncio.Future[None]] = {}

    def on_mount(self) -> None:
        self.anchor()

    async def add(self, widget: Widget) -> None:
        """Append a widget at the bottom."""
        await self.mount(widget)

    async def clear(self) -> None:
        """Remove everything (a new conversation)."""
        self._current = None
        self.cards.clear()
        self._card_shown.clear()
        await self.remove_children()

    async def _assistant(self) -> AssistantEntry:
        if self._current is None:
            self._current = AssistantEntry()
            await self.mount(self._current)
        return self._current

    async def handle(self, event: AgentEvent) -> None:
        """Show one agent event (events that are not about the transcript are ignored)."""
        if isinstance(event, TurnStarted):
            await self._end_message()
        elif isinstance(event, TextChunk):
            await (await self._assistant()).append_text(event.text)
        elif isinstance(event, ReasoningChunk):
            (await self._assistant()).append_reasoning(event.text)
        elif isinstance(event, AssistantMessage):
            await self._end_message()
        elif isinstance(event, ToolCallStarted):
            card = self.cards[event.call.id] = ToolCard(event.call, event.summary)
            await self.mount(card)
            self._shown(event.call.id).set_result(None)
        elif isinstance(event, ToolCallApproved) and event.call_id in self.cards:
            self.cards[event.call_id].approved(event.how)
        elif isinstance(event, ToolCallDenied) and event.call_id in self.cards:
            self.cards[event.call_id].denied(event.reason)
        elif isinstance(event, ToolCallResult) and event.call_id in self.cards:
            await self.cards[event.call_id].show_result(event.content, event.is_error, event.duration)
        elif isinstance(event, ContextCompacted):
            await self.mount(NoticeEntry(
                f"Older context was trimmed to fit the model ({event.tokens_before:,} → "
                f"{event.tokens_after:,} tokens).", "info"))
        elif isinstance(event, RunFinished):
            await self._end_message()
            if event.outcome == "interrupted":
                await self.mount(NoticeEntry(
                    "Interrupted. The conversation is saved; send a prompt to go on.", "warning"))
            elif event.outcome == "turn_limit":
                await self.mount(NoticeEntry(f"Stopped after {event.turns} turns (the turn limit). "
                                             "Send a prompt to continue.", "warning"))

    async def _end_message(self) -> None:
        current, self._current = self._current, None
        if current is None:
            return
        await current.finish()
        if current.is_empty:
            await current.remove()

    def _shown(self, call_id: str) -> asyncio.Future[None]:
        future = self._card_shown.get(call_id)
        if future is None:
            future = self._card_shown[call_id] = asyncio.get_running_loop().create_future()
        return future

    async def ask(self, call: ToolCall, access: ToolAccess) -> Decision:
        """Ask the user about ``call`` on its card.

        The agent asks as soon as it has emitted ``ToolCallStarted``; the transcript shows events
        a moment later, so the question waits for the call's card (keeping cards in order).
        """
        await self._shown(call.id)
        self.anchor()  # the question is at the bottom: show it, and keep following the turn
        self.scroll_end(animate=False)
        return await self.cards[call.id].ask(access)

    async def show_history(self, messages: Iterable[Message]) -> None:
        """Render a saved conversation (finished messages; tool results on their cards)."""
        widgets: list[Widget] = []
        results: dict[str, Message] = {}
        items = list(messages)
        for message in items:
            if message.role == "tool" and message.tool_call_id:
                results[message.tool_call_id] = message
        pending: list[tuple[ToolCard, Message]] = []
        for message in items:
            if message.role == "user":
                widgets.append(UserEntry(message.text))
            elif message.role == "assistant":
                reasoning = "".join(p.text for p in message.parts if isinstance(p, ReasoningPart))
                if message.text.strip() or reasoning.strip():
                    widgets.append(AssistantEntry(message.text, reasoning))
                for call in message.tool_calls:
                    card = ToolCard(call, history_summary(call))
                    widgets.append(card)
                    if call.id in results:
                        pending.append((card, results[call.id]))
        await self.mount_all(widgets)
        for card, result in pending:
            if result.is_error and result.text.startswith(_REFUSALS):
                card.denied(result.text)  # as it was shown live: ⊘ denied, with the reason
            else:
                await card.show_result(result.text, result.is_error, 0.0)
        self.scroll_end(animate=False)
