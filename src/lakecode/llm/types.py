"""Provider-neutral chat types: messages, tools, usage, models and the events of a streamed turn.

These are small immutable values. Nothing here knows a wire format: ``lakecode.llm.serialize``
turns them into request bodies for one route, and ``lakecode.llm.stream`` turns responses back
into ``StreamEvent``s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "ChatRequest",
    "Finish",
    "Message",
    "ModelInfo",
    "ModelListing",
    "ModelSource",
    "Part",
    "ReasoningDelta",
    "ReasoningPart",
    "RetryNotice",
    "Role",
    "StreamEvent",
    "TextDelta",
    "TextPart",
    "ToolCall",
    "ToolCallComplete",
    "ToolCallDelta",
    "ToolSpec",
    "Usage",
    "UsageUpdate",
]

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
ModelSource: TypeAlias = Literal["discovered", "cached", "curated"]


@dataclass(frozen=True, slots=True)
class TextPart:
    """Visible text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningPart:
    """Model reasoning ("thinking").

    Attributes:
        text: the reasoning text (summary text for list-of-parts reasoning).
        signature: the signature the service attached, needed to replay Claude thinking.
        replayable: True when the service returned it as a typed ``reasoning`` content part
            (which is the only form that may be sent back); False for e.g. a string
            ``reasoning_content`` delta, which is shown to the user but never replayed.
        item_id: the Responses API reasoning item id (Responses route only), needed to replay
            the item there; None for chat-completions reasoning.
    """

    text: str
    signature: str | None = None
    replayable: bool = True
    item_id: str | None = None


Part: TypeAlias = TextPart | ReasoningPart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete tool call the model asked for.

    Attributes:
        id: the call id the service assigned; results must quote it.
        name: the tool name.
        arguments: the parsed JSON arguments (always an object).
        arguments_json: the arguments exactly as the model produced them.
    """

    id: str
    name: str
    arguments: Mapping[str, Any]
    arguments_json: str = ""

    @classmethod
    def create(cls, id: str, name: str, arguments: Mapping[str, Any]) -> ToolCall:
        """A call whose ``arguments_json`` is the compact JSON of ``arguments``."""
        return cls(id=id, name=name, arguments=dict(arguments),
                   arguments_json=json.dumps(arguments, separators=(",", ":")))


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation.

    Attributes:
        role: system, user, assistant or tool.
        parts: text and reasoning parts, in order.
        tool_calls: for assistant messages, the calls the model asked for.
        tool_call_id: for tool messages, the id of the call this answers.
        name: for tool messages, the tool's name (informational).
        is_error: for tool messages, whether the tool failed (informational, never sent).
    """

    role: Role
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    @property
    def text(self) -> str:
        """The concatenated visible text."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def reasoning(self) -> str:
        """The concatenated reasoning text."""
        return "".join(p.text for p in self.parts if isinstance(p, ReasoningPart))

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", parts=(TextPart(text),))

    @classmethod
    def user(cls, text: str) -> Message:
        return cls(role="user", parts=(TextPart(text),))

    @classmethod
    def assistant(cls, text: str = "", tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        parts: tuple[Part, ...] = (TextPart(text),) if text else ()
        return cls(role="assistant", parts=parts, tool_calls=tool_calls)

    @classmethod
    def tool(cls, tool_call_id: str, content: str, *, name: str | None = None,
             is_error: bool = False) -> Message:
        return cls(role="tool", parts=(TextPart(content),), tool_call_id=tool_call_id,
                   name=name, is_error=is_error)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model. ``parameters`` is a JSON Schema whose top level is an object."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for one model turn (or a sum of turns)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One model turn to run, independent of any wire format.

    Attributes:
        model: the model id, sent verbatim.
        messages: the conversation so far.
        tools: tools offered to the model (empty: none, and no ``tools`` key is sent).
        tool_choice: "auto", "none", "required", or None to leave it unset.
        max_tokens: the output budget; providers clamp it to known endpoint caps.
        temperature, top_p: sampling; dropped for models known to reject them.
        reasoning_effort: "low" | "medium" | "high" for models that accept it.
        thinking_budget: Claude extended-thinking budget in tokens, or None.
        stream: stream the answer (True) or fetch it in one response (False).
    """

    model: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    stream: bool = True


# ---- events of a streamed turn -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A fragment of visible text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A fragment of reasoning text (and the signature, when this fragment carried one)."""

    text: str
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call still being streamed, keyed by ``index``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments_fragment: str = ""


@dataclass(frozen=True, slots=True)
class ToolCallComplete:
    """A tool call whose arguments are complete and parse as a JSON object."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class UsageUpdate:
    """The latest usage figures (cumulative for the turn; keep the last one, never sum)."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class RetryNotice:
    """The transport is about to retry after ``delay`` seconds (for progress displays)."""

    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Finish:
    """The turn is over.

    Attributes:
        reason: "stop", "tool_calls", "length", "content_filter" or another service value.
        message: the whole assistant message, assembled (text, reasoning, tool calls).
        usage: the turn's final usage.
    """

    reason: str
    message: Message
    usage: Usage = field(default_factory=Usage)


StreamEvent: TypeAlias = (
    TextDelta | ReasoningDelta | ToolCallDelta | ToolCallComplete | UsageUpdate | RetryNotice | Finish
)


# ---- models ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a provider can serve, with what lakecode knows about it.

    Attributes:
        id: the id sent as ``model`` - verbatim, never rewritten.
        display_name: a human name, kept apart from ``id``.
        family: "claude", "gpt", "gemini", "llama", "gpt-oss" or "other".
        source: where this entry came from: "discovered", "cached" or "curated".
        chat: whether it is a chat model (False for embeddings and custom endpoints).
        supports_tools: tool calling support, from discovery or curated data; None if unknown.
        route: the wire route name lakecode will use for it, when known.
        ready: the endpoint is ready to serve.
        task: the serving task (e.g. "llm/v1/chat"), when known.
        recommended: part of the curated recommended tier.
        notes: a short human note (curated).
        max_output_tokens: the endpoint's ``max_tokens`` cap, when known.
        unsupported_params: request parameters the model rejects (e.g. "temperature").
        context_window: the model's context length in tokens, when known.
    """

    id: str
    display_name: str = ""
    family: str = "other"
    source: ModelSource = "discovered"
    chat: bool = True
    supports_tools: bool | None = None
    route: str | None = None
    ready: bool = True
    task: str | None = None
    recommended: bool = False
    notes: str = ""
    max_output_tokens: int | None = None
    unsupported_params: frozenset[str] = frozenset()
    context_window: int | None = None


@dataclass(frozen=True, slots=True)
class ModelListing:
    """The result of asking a provider for its models.

    Attributes:
        models: the models, recommended tier first.
        warnings: human-readable problems met on the way (a source that failed, stale data).
        status: one line for status bars, e.g. "12 models from https://x (discovered)".
    """

    models: tuple[ModelInfo, ...]
    warnings: tuple[str, ...] = ()
    status: str = ""
