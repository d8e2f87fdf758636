"""Keeping a long conversation within the model's context window.

The conversation itself is never changed: ``ContextManager.prepare`` builds the *view* sent to
the model, and remembers its decisions so the view only ever shrinks in the same places from one
turn to the next (which keeps provider prompt caches useful and costs little per turn).

Budget:
    ``context_window`` (``ModelInfo.context_window`` when known, else ``DEFAULT_CONTEXT_WINDOW``,
    deliberately conservative) minus the output reservation (``max_tokens``, else a quarter of
    the window up to 8192), times a 0.9 safety factor.

Estimate:
    characters / 4 for every part that is sent (text, replayable reasoning, tool-call names and
    raw arguments, tool specs) plus a small per-message overhead, times a calibration ratio
    learnt from the ``prompt_tokens`` the provider reports (smoothed, clamped to 0.5-4), and from
    overflow messages that state the real count (``196758 + 8192 > 200000``). Per-message sizes
    are cached, so an estimate is a cheap sum.

When the estimate exceeds the budget, the view is shrunk to 75% of it (hysteresis, so this does
not happen every turn), in this order:

1. Trim old tool outputs, oldest first: the content becomes ``[output trimmed: N lines]``. The
   results of the latest assistant message (which the model has not seen yet) are kept.
2. Drop the oldest whole exchanges (a user prompt and everything up to the next prompt). The
   latest exchange is never dropped.
3. Drop the oldest steps (an assistant message and its tool results) of the latest exchange,
   keeping its prompt and its last step.

A call and its results are always kept or dropped together, so no tool call is ever left
without its result or the other way round. System messages are always kept, and a note
"[N earlier messages omitted ...]" is put in front of the first kept prompt.

On a ``ContextOverflowError`` the loop calls ``compact``, which shrinks the view to half the
budget (trimming even the latest outputs if needed), then retries the turn once.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lakecode.agent.events import ContextCompacted
from lakecode.llm.types import Message, ReasoningPart, TextPart, ToolSpec, Usage

__all__ = ["DEFAULT_CONTEXT_WINDOW", "ContextManager", "PreparedContext", "estimate_chars"]

DEFAULT_CONTEXT_WINDOW = 32_000
CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD_TOKENS = 4
SAFETY = 0.9
HYSTERESIS = 0.75
OVERFLOW_TARGET = 0.5
_STATED_COUNTS = re.compile(r"(\d{3,})\s*\+\s*(\d+)\s*>\s*(\d{3,})")


def estimate_chars(message: Message) -> int:
    """Characters of ``message`` that are sent to a model."""
    total = 0
    for part in message.parts:
        if isinstance(part, TextPart) or (isinstance(part, ReasoningPart) and part.replayable):
            total += len(part.text)
    for call in message.tool_calls:
        total += len(call.name) + len(call.arguments_json or json.dumps(dict(call.arguments)))
    return total


@dataclass(frozen=True, slots=True)
class PreparedContext:
    """What to send: the (possibly shrunk) messages, their estimated size, and what changed."""

    messages: tuple[Message, ...]
    estimated_tokens: int
    compacted: ContextCompacted | None = None


class ContextManager:
    """Decides which parts of a conversation are sent to the model (see the module docstring).

    The conversation is assumed to grow by appending (as the agent's does): sizes are summed
    incrementally, and the view is extended rather than rebuilt, so a turn costs time in
    proportion to the new messages, plus one tuple copy of the view.

    Args:
        context_window: the model's context length in tokens; None uses the default.
        max_output_tokens: tokens reserved for the answer; None reserves min(8192, window / 4).
    """

    def __init__(self, context_window: int | None = None, *, max_output_tokens: int | None = None) -> None:
        self.context_window = context_window or DEFAULT_CONTEXT_WINDOW
        self.max_output_tokens = max_output_tokens
        self.ratio = 1.0
        self._trimmed: dict[int, Message] = {}
        self._dropped: set[int] = set()
        self._notes: dict[int, Message] = {}
        self._removed_chars = 0  # chars the decisions take out of the full history
        self._sizes: dict[int, tuple[Message, int]] = {}
        self._history: tuple[int, Message | None, int] = (0, None, 0)  # counted, last, chars
        self._view_cache: list[Message] = []
        self._view_key: tuple[int, Message | None] = (0, None)
        self._tools_key: tuple[ToolSpec, ...] | None = None
        self._tools_tokens = 0
        self._last_raw = 0

    @property
    def budget(self) -> int:
        """Prompt tokens the view may use."""
        reserve = self.max_output_tokens or min(8192, self.context_window // 4)
        return max(256, int((self.context_window - reserve) * SAFETY))

    @property
    def trimmed_outputs(self) -> int:
        """Tool outputs replaced by a note so far."""
        return len(self._trimmed)

    @property
    def dropped_messages(self) -> int:
        """Messages left out of the view so far."""
        return len(self._dropped)

    def reset(self) -> None:
        """Forget all trimming decisions (e.g. after switching to a model with a larger window)."""
        self._trimmed.clear()
        self._dropped.clear()
        self._notes.clear()
        self._removed_chars = 0
        self._view_key = (0, None)

    # ---- estimates ---------------------------------------------------------------------------

    def _chars(self, message: Message) -> int:
        cached = self._sizes.get(id(message))
        if cached is None or cached[0] is not message:
            cached = (message, estimate_chars(message))
            self._sizes[id(message)] = cached
        return cached[1]

    def _raw(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> float:
        chars = sum(self._chars(m) for m in messages)
        return chars / CHARS_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS * len(messages) + self._tool_tokens(tools)

    def _history_chars(self, messages: Sequence[Message]) -> int:
        counted, last, chars = self._history
        if not (0 < counted <= len(messages) and messages[counted - 1] is last):
            counted, chars = 0, 0
        for message in itertools.islice(messages, counted, None):
            chars += self._chars(message)
        self._history = (len(messages), messages[-1] if messages else None, chars)
        return chars

    def _view_raw(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> float:
        """Raw size of the view, from running totals (no pass over the history)."""
        chars = self._history_chars(messages) - self._removed_chars
        note = 100 if self._dropped else 0
        count = len(messages) - len(self._dropped)
        return (chars + note) / CHARS_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS * count + self._tool_tokens(tools)

    def _tool_tokens(self, tools: Sequence[ToolSpec]) -> int:
        key = tuple(tools)
        if key != self._tools_key:
            self._tools_key = key
            text = "".join(t.name + t.description + json.dumps(dict(t.parameters)) for t in tools)
            self._tools_tokens = int(len(text) / CHARS_PER_TOKEN)
        return self._tools_tokens

    def estimate(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> int:
        """Estimated prompt tokens for sending exactly ``messages`` and ``tools``."""
        return int(self._raw(messages, tools) * self.ratio)

    def observe(self, usage: Usage) -> None:
        """Calibrate the estimate from the usage reported for the last prepared request."""
        if usage.prompt_tokens > 0 and self._last_raw > 0:
            self._learn(usage.prompt_tokens / self._last_raw)

    def learn_from_error(self, message: str) -> None:
        """Use counts an overflow error states (``prompt + max_tokens > window``), if any."""
        found = _STATED_COUNTS.search(message)
        if not found:
            return
        prompt, _output, window = (int(g) for g in found.groups())
        if window < self.context_window:
            self.context_window = window
        if self._last_raw > 0:
            self._learn(prompt / self._last_raw, weight=1.0)

    def _learn(self, ratio: float, *, weight: float = 0.5) -> None:
        self.ratio = min(4.0, max(0.5, (1 - weight) * self.ratio + weight * ratio))

    # ---- views -------------------------------------------------------------------------------

    def prepare(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> PreparedContext:
        """The view to send for ``messages``, shrunk if it would not fit the budget."""
        raw = self._view_raw(messages, tools)
        if raw * self.ratio <= self.budget:
            self._last_raw = int(raw)
            return PreparedContext(tuple(self._view(messages)), int(raw * self.ratio))
        return self._shrink(messages, tools, int(raw * self.ratio), HYSTERESIS * self.budget, "budget")

    def compact(self, messages: Sequence[Message], tools: Sequence[ToolSpec] = ()) -> PreparedContext:
        """Shrink harder after the model refused the length: to half the budget."""
        before = int(self._view_raw(messages, tools) * self.ratio)
        target = min(OVERFLOW_TARGET * self.budget, 0.6 * before)
        return self._shrink(messages, tools, before, target, "overflow")

    def _shrink(self, messages: Sequence[Message], tools: Sequence[ToolSpec], before: int,
                target: float, reason: str) -> PreparedContext:
        current = [float(before)]  # updated in place by each step
        changed = self._trim_outputs(messages, current, target, protect_latest=True)
        changed |= self._drop_spans(messages, current, target, self._exchanges(messages))
        changed |= self._drop_spans(messages, current, target, self._steps(messages))
        if reason == "overflow":
            changed |= self._trim_outputs(messages, current, target, protect_latest=False)
        if changed:
            self._view_key = (0, None)
        view = self._view(messages)
        raw = self._view_raw(messages, tools)
        self._last_raw = int(raw)
        after = int(raw * self.ratio)
        event = None
        if changed or reason == "overflow":
            event = ContextCompacted(reason="overflow" if reason == "overflow" else "budget",
                                     tokens_before=before, tokens_after=after,
                                     trimmed_outputs=len(self._trimmed), dropped_messages=len(self._dropped))
        return PreparedContext(tuple(view), after, event)

    def _tokens(self, message: Message) -> float:
        return (self._chars(message) / CHARS_PER_TOKEN + MESSAGE_OVERHEAD_TOKENS) * self.ratio

    def _trim_outputs(self, messages: Sequence[Message], current: list[float], target: float,
                      *, protect_latest: bool) -> bool:
        last_assistant = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
        changed = False
        for i, message in enumerate(messages):
            if current[0] <= target:
                break
            if message.role != "tool" or i in self._trimmed or i in self._dropped:
                continue
            if protect_latest and i > last_assistant:
                continue
            note = f"[output trimmed: {len(message.text.splitlines())} lines]"
            if len(message.text) <= len(note) + 40:
                continue
            short = Message.tool(message.tool_call_id or "", note, name=message.name,
                                 is_error=message.is_error)
            current[0] -= self._tokens(message) - self._tokens(short)
            self._removed_chars += self._chars(message) - self._chars(short)
            self._trimmed[i] = short
            changed = True
        return changed

    @staticmethod
    def _exchanges(messages: Sequence[Message]) -> list[range]:
        """Spans from one prompt to the next; the last exchange is not included."""
        prompts = [i for i, m in enumerate(messages) if m.role == "user"]
        return [range(a, b) for a, b in itertools.pairwise(prompts)]

    @staticmethod
    def _steps(messages: Sequence[Message]) -> list[range]:
        """Spans of the latest exchange from one assistant message to the next; not the last one."""
        last_prompt = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
        starts = [i for i, m in enumerate(messages) if i > last_prompt and m.role == "assistant"]
        return [range(a, b) for a, b in itertools.pairwise(starts)]

    def _drop_spans(self, messages: Sequence[Message], current: list[float], target: float,
                    spans: list[range]) -> bool:
        changed = False
        for span in spans:
            if current[0] <= target:
                break
            for i in span:
                if i not in self._dropped:
                    shown = self._trimmed.get(i, messages[i])
                    current[0] -= self._tokens(shown)
                    self._removed_chars += self._chars(shown)
                    self._dropped.add(i)
                    changed = True
        return changed

    def _view(self, messages: Sequence[Message]) -> list[Message]:
        """The messages to send: extended from the cached view when only new messages arrived."""
        if not self._trimmed and not self._dropped:
            return list(messages)
        counted, last = self._view_key
        if 0 < counted <= len(messages) and messages[counted - 1] is last:
            self._view_cache.extend(itertools.islice(messages, counted, None))
        else:
            self._view_cache = self._build_view(messages)
        self._view_key = (len(messages), messages[-1] if messages else None)
        return self._view_cache

    def _build_view(self, messages: Sequence[Message]) -> list[Message]:
        trimmed, dropped = self._trimmed, self._dropped
        view: list[Message] = []
        noted = False
        for i, message in enumerate(messages):
            if i in dropped:
                continue
            if not noted and dropped and message.role == "user":
                noted = True
                note = TextPart(f"[{len(dropped)} earlier messages were omitted to fit the model's "
                                "context window.]\n\n")
                message = self._noted(i, message, note)
            view.append(trimmed.get(i, message))
        return view

    def _noted(self, index: int, message: Message, note: TextPart) -> Message:
        cached = self._notes.get(index)
        if cached is not None and cached.parts[0] == note and cached.parts[1:] == message.parts:
            return cached  # the same object each turn: size cache hits, the store reuses its line
        noted = Message(role=message.role, parts=(note, *message.parts), tool_calls=message.tool_calls,
                        name=message.name)
        self._notes[index] = noted
        return noted
