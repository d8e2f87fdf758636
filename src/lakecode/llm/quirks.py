"""Wire dialects, per-model request quirks, and what a session learns about each model.

A provider decides, per model, *where* a request goes (a URL) and *how* it must be shaped
(a ``Dialect`` plus a ``ModelQuirks`` value). The serializer reads only those two values; it
never guesses from a model name.

``ModelMemory`` is the small, provider-owned memory of self-healing: when a model answers
"does not support the temperature parameter" or "max_tokens (N) cannot exceed M", the transport
records it here, so the next request of the session is right the first time (F24, F26).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal, TypeAlias

from lakecode.llm.types import ModelInfo

__all__ = [
    "SAMPLING_PARAMS",
    "Dialect",
    "LearnedLimits",
    "ModelMemory",
    "ModelQuirks",
    "ReasoningStyle",
]

SAMPLING_PARAMS: frozenset[str] = frozenset({"temperature", "top_p", "top_k"})
"""Sampling parameters some models reject (F26)."""

ReasoningStyle: TypeAlias = Literal["effort", "thinking", "adaptive", "none"]
"""How a model is asked to reason.

* ``effort``: ``reasoning_effort: "<level>"`` (chat) or ``reasoning: {effort}`` (Responses).
* ``thinking``: Claude extended thinking, ``thinking: {type: "enabled", budget_tokens: N}``.
* ``adaptive``: adaptive-only Claude, ``thinking: {type: "adaptive"}`` (plus
  ``output_config: {effort}`` when an effort is requested).
* ``none``: send no reasoning option at all.
"""


class Dialect(StrEnum):
    """The request/response shape a route speaks.

    Attributes:
        CHAT: OpenAI chat completions with ``model`` in the body
            (``/serving-endpoints/chat/completions``, ``/ai-gateway/mlflow/v1/chat/completions``,
            any OpenAI-compatible ``{base}/chat/completions``).
        INVOCATIONS: the same chat body **without** ``model``
            (``/serving-endpoints/{name}/invocations``).
        RESPONSES: the OpenAI Responses API (``/serving-endpoints/responses``).
    """

    CHAT = "chat"
    INVOCATIONS = "invocations"
    RESPONSES = "responses"


@dataclass(frozen=True, slots=True)
class ModelQuirks:
    """How requests for one model must be shaped. Built by the provider from catalog data.

    Attributes:
        list_content: the model accepts ``content`` as a list of typed parts. When False
            (older Llama endpoints) content is always a string and reasoning is never replayed.
        unsupported_params: top-level request keys to omit (e.g. ``temperature``); any key
            but the essential ones (``model``, ``messages``, ``input``, ``stream``) may be named.
        max_tokens_cap: the endpoint's ``max_tokens`` cap; larger requests are clamped (F24).
        supports_tools: when False, no ``tools``/``tool_choice`` are sent (F27).
        stream_usage: ``stream_options: {include_usage: true}`` may be sent when streaming.
        reasoning_style: how reasoning is requested (see ``ReasoningStyle``).
        max_tokens_key: the body key for the output budget (``max_tokens`` on Databricks).
    """

    list_content: bool = True
    unsupported_params: frozenset[str] = frozenset()
    max_tokens_cap: int | None = None
    supports_tools: bool = True
    stream_usage: bool = True
    reasoning_style: ReasoningStyle = "effort"
    max_tokens_key: str = "max_tokens"

    def without(self, params: Iterable[str]) -> ModelQuirks:
        """A copy that also omits ``params``."""
        return replace(self, unsupported_params=self.unsupported_params | frozenset(params))

    def capped(self, cap: int) -> ModelQuirks:
        """A copy whose ``max_tokens`` cap is at most ``cap``."""
        current = self.max_tokens_cap
        return replace(self, max_tokens_cap=cap if current is None else min(current, cap))

    @classmethod
    def for_model(cls, info: ModelInfo | None) -> ModelQuirks:
        """Defaults for a catalogued model: its cap, rejected params and tool support, plus
        family traits (Claude reasons with ``thinking``; Gemini rejects ``stream_options``;
        Llama wants string content). Providers may refine the result."""
        if info is None:
            return cls()
        family = info.family.lower()
        return cls(
            list_content=family != "llama",
            unsupported_params=frozenset(info.unsupported_params),
            max_tokens_cap=info.max_output_tokens,
            supports_tools=info.supports_tools is not False,
            stream_usage=family != "gemini",
            reasoning_style="thinking" if family == "claude" else "effort",
        )


@dataclass(slots=True)
class LearnedLimits:
    """What one model told us during this session.

    Attributes:
        dropped_params: parameters the model rejected; omitted from then on.
        max_tokens_cap: the cap named by a "cannot exceed N" answer.
    """

    dropped_params: set[str] = field(default_factory=set)
    max_tokens_cap: int | None = None


class ModelMemory:
    """Per-model lessons from self-healing, kept for the life of a provider (one session).

    Thread-safe; cheap to consult on every request. Keys are model ids as sent.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, LearnedLimits] = {}

    def apply(self, model: str, quirks: ModelQuirks) -> ModelQuirks:
        """``quirks`` refined by everything learned about ``model`` so far."""
        if model not in self._models:  # nothing learned (a dict lookup is atomic)
            return quirks
        with self._lock:
            learned = self._models.get(model)
            if learned is None:
                return quirks
            dropped = frozenset(learned.dropped_params)
            cap = learned.max_tokens_cap
        if dropped:
            quirks = quirks.without(dropped)
        if cap is not None:
            quirks = quirks.capped(cap)
        return quirks

    def drop_param(self, model: str, param: str) -> None:
        """Remember that ``model`` rejects ``param``."""
        with self._lock:
            self._models.setdefault(model, LearnedLimits()).dropped_params.add(param)

    def cap_max_tokens(self, model: str, cap: int) -> None:
        """Remember that ``model`` accepts at most ``cap`` output tokens."""
        with self._lock:
            learned = self._models.setdefault(model, LearnedLimits())
            learned.max_tokens_cap = cap if learned.max_tokens_cap is None else min(
                learned.max_tokens_cap, cap)

    def learned(self, model: str) -> LearnedLimits | None:
        """A copy of what was learned about ``model``, or None."""
        with self._lock:
            found = self._models.get(model)
            if found is None:
                return None
            return LearnedLimits(set(found.dropped_params), found.max_tokens_cap)
