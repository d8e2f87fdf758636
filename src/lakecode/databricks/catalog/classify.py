"""Classification: a discovered record (plus curated data) becomes a ``ModelInfo``. Pure functions.

What each property is decided from, in order (F28: capabilities never come from names):

* **chat** — task ``llm/v1/chat``, or an API type that is chat completions / Responses / a
  native chat dialect; a listing from the Codex model list or a gateway model-service list
  with no API types counts as chat. Embeddings, completions-only and ``CUSTOM_MODEL``
  endpoints are not chat models (listable with ``--all``, kept out of the picker).
* **tools** — ``capabilities.function_calling``, else the curated ``tools`` flag, else unknown
  (None). Never the name.
* **route** — discovered API types (chat completions beats Responses), a Responses-only
  listing, the chat task; then the curated route; then ``routes.route_by_name``. A chat model
  the AI Gateway serves (``ai_gateway_v2_supported``, or listed by a gateway source) uses the
  gateway route, others ``/serving-endpoints``.
* **family** — display only, so names may be used: Claude, GPT, Gemini, Llama, gpt-oss, other.
* **readiness** — ``state.ready``; unknown counts as ready.
* **quirks** (``ModelTraits``, for the transport) — curated caps, rejected parameters,
  reasoning style and list-content support.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from lakecode.databricks.catalog.curated import CuratedEntry, CuratedList, ReasoningStyle
from lakecode.databricks.catalog.records import EndpointRecord
from lakecode.databricks.routes import AI_GATEWAY, RESPONSES, SERVING_ENDPOINTS, route_by_name
from lakecode.llm.types import ModelInfo, ModelSource

__all__ = [
    "CHAT_TASK",
    "EMBEDDINGS_TASK",
    "GATEWAY_SOURCES",
    "ModelTraits",
    "classify_record",
    "curated_info",
    "family_of",
    "is_chat",
    "route_of",
    "sort_key",
    "traits_for",
]

CHAT_TASK = "llm/v1/chat"
EMBEDDINGS_TASK = "llm/v1/embeddings"
GATEWAY_SOURCES = frozenset({"model-services", "ai-gateway-v2", "codex"})
"""Sources whose models are served by the AI Gateway (with their listed id)."""

_CUSTOM = "CUSTOM_MODEL"
_NATIVE_CHAT = ("anthropic/v1/messages", "generatecontent")


@functools.lru_cache(maxsize=256)
def _api_kinds(api_types: tuple[str, ...]) -> tuple[bool, bool, bool]:
    """``(chat completions, Responses, native chat dialect)`` for a set of API types.

    Cached: a workspace has thousands of endpoints but only a handful of distinct API-type sets.
    """
    text = " ".join(api_types).lower()
    return ("chat/completions" in text, "responses" in text, any(n in text for n in _NATIVE_CHAT))


def is_chat(record: EndpointRecord) -> bool:
    """Whether ``record`` is a model lakecode can chat with (see the module docstring)."""
    api = record.api_types
    if api:
        if any(_api_kinds(api)):
            return True
        if record.task is None:
            return False  # only embeddings (or unknown) API types
    if record.endpoint_type == _CUSTOM:
        return False
    if record.task is not None:
        return record.task == CHAT_TASK
    if record.responses_only:
        return True
    # a gateway model service listed without API types: an LLM service, speaking chat
    return bool(set(record.sources) & GATEWAY_SOURCES)


def _served_by_gateway(record: EndpointRecord) -> bool:
    if record.gateway is not None:
        return record.gateway
    return bool(record.sources) and set(record.sources) <= GATEWAY_SOURCES


def route_of(record: EndpointRecord, curated: CuratedEntry | None = None) -> str:
    """The route name for a discovered model (see the module docstring for the order)."""
    chat_api, responses_api, native_api = _api_kinds(record.api_types)
    if chat_api:
        chat = True
    elif responses_api or record.responses_only:
        return RESPONSES
    elif record.task == CHAT_TASK or native_api:
        chat = True
    elif curated is not None and curated.route is not None:
        return curated.route
    else:
        by_name = route_by_name(record.id)
        if by_name != SERVING_ENDPOINTS:
            return by_name
        chat = True
    if chat and _served_by_gateway(record):
        return AI_GATEWAY
    return SERVING_ENDPOINTS


def family_of(*names: str | None) -> str:
    """The display family for a model from its names (id, upstream name, entity, provider)."""
    text = " ".join(n for n in names if n).lower()
    if "gpt-oss" in text or "gpt_oss" in text:
        return "gpt-oss"
    if "claude" in text or "anthropic" in text:
        return "claude"
    if "gemini" in text:
        return "gemini"
    if "llama" in text:
        return "llama"
    if "gpt" in text or "codex" in text or "openai" in text:
        return "gpt"
    return "other"


def _display_name(record: EndpointRecord, curated: CuratedEntry | None) -> str:
    if record.display_name:
        return record.display_name
    if curated is not None and curated.display_name:
        return curated.display_name
    if "." in record.id and not record.id.startswith("databricks-"):
        return record.id.rsplit(".", 1)[-1]  # a UC model service: its own name
    return record.id


def classify_record(record: EndpointRecord, curated: CuratedList,
                    source: ModelSource = "discovered") -> ModelInfo:
    """The ``ModelInfo`` for a discovered record, joined with its curated entry (if any)."""
    entry = curated.get(record.id)
    chat = is_chat(record)
    family = (entry.family if entry is not None and entry.family else None) or family_of(
        record.id, record.upstream_name, record.entity_name, record.provider)
    tools = record.function_calling
    if tools is None and entry is not None:
        tools = entry.tools
    notes = entry.notes if entry is not None else (record.description or "")
    return ModelInfo(
        id=record.id,
        display_name=_display_name(record, entry),
        family=family,
        source=source,
        chat=chat,
        supports_tools=tools if chat else False,
        route=route_of(record, entry) if chat else None,
        ready=record.ready is not False,
        task=record.task,
        recommended=bool(entry is not None and entry.recommended and chat),
        notes=notes,
        max_output_tokens=entry.max_tokens if entry is not None else None,
        unsupported_params=entry.unsupported_params if entry is not None else frozenset(),
    )


def curated_info(entry: CuratedEntry) -> ModelInfo:
    """The ``ModelInfo`` for a curated entry nobody discovered (``source="curated"``)."""
    return ModelInfo(
        id=entry.id,
        display_name=entry.display_name or entry.id,
        family=entry.family or family_of(entry.id),
        source="curated",
        chat=entry.chat,
        supports_tools=entry.tools if entry.chat else False,
        route=(entry.route or route_by_name(entry.id)) if entry.chat else None,
        ready=True,
        task=CHAT_TASK if entry.chat else EMBEDDINGS_TASK,
        recommended=entry.recommended,
        notes=entry.notes,
        max_output_tokens=entry.max_tokens,
        unsupported_params=entry.unsupported_params,
    )


_FAMILY_ORDER = {"claude": 0, "gpt": 1, "gemini": 2, "gpt-oss": 3, "llama": 4, "other": 5}
_SOURCE_ORDER = {"discovered": 0, "cached": 0, "curated": 1}


def sort_key(info: ModelInfo) -> tuple[int, int, int, int, int, str]:
    """Listing order: chat before other, ready first, recommended first, then family and id;
    discovered (or cached) entries before curated-only ones."""
    return (
        0 if info.chat else 1,
        _SOURCE_ORDER.get(info.source, 1),
        0 if info.ready else 1,
        0 if info.recommended else 1,
        _FAMILY_ORDER.get(info.family, 5),
        info.id,
    )


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """Per-model facts the transport needs to build a request the model accepts.

    Attributes:
        supports_tools: tool calling support (None: unknown; the agent decides).
        max_tokens_cap: the largest ``max_tokens`` the endpoint accepts, when known.
        unsupported_params: request parameters to leave out (e.g. "temperature").
        list_content: whether the endpoint accepts list-form message content.
        reasoning: how the model takes reasoning options: "effort" (``reasoning_effort``),
            "thinking" (Claude ``thinking`` with a budget), "adaptive", or None (unknown).
    """

    supports_tools: bool | None = None
    max_tokens_cap: int | None = None
    unsupported_params: frozenset[str] = frozenset()
    list_content: bool = True
    reasoning: ReasoningStyle | None = None


def traits_for(model_id: str, info: ModelInfo | None, curated: CuratedList) -> ModelTraits:
    """The transport quirks for ``model_id`` from what discovery and curated data say."""
    entry = curated.get(model_id)
    if info is None and entry is not None:
        info = curated_info(entry)
    return ModelTraits(
        supports_tools=info.supports_tools if info is not None else None,
        max_tokens_cap=info.max_output_tokens if info is not None else None,
        unsupported_params=info.unsupported_params if info is not None else frozenset(),
        list_content=entry.list_content is not False if entry is not None else True,
        reasoning=entry.reasoning if entry is not None else None,
    )
