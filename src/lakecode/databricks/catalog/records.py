"""What discovery learned about one model, before classification: ``EndpointRecord``.

Every discovery source (serving endpoints, the foundation-models listing, Unity Catalog model
services, the AI Gateway v2 list, the Codex model list) turns its JSON into these small records.
Records with the same id are merged (``merge_records``); ``classify`` then turns a merged record
(plus curated data) into a ``ModelInfo``. Records are plain data so they can be cached on disk
as JSON and re-classified with newer curated data.

Ids are kept **verbatim** (F25): a record's ``id`` is exactly what discovery returned (a serving
endpoint's ``name``; a UC model service's ``<catalog>.<schema>.<name>`` after removing the
``model-services/`` resource prefix), and it is what will be sent as ``model``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "EndpointRecord",
    "merge_records",
    "record_from_dict",
    "record_from_row",
    "record_to_dict",
    "record_to_row",
]


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """The discovered facts about one model id.

    Attributes:
        id: the id to send as ``model``, verbatim.
        sources: the discovery sources that listed it, e.g. ("serving-endpoints",).
        task: the serving task ("llm/v1/chat", "llm/v1/embeddings", ...), when listed.
        endpoint_type: "FOUNDATION_MODEL_API", "EXTERNAL_MODEL", "CUSTOM_MODEL", ..., when listed.
        ready: True for READY, False for NOT_READY, None when the source did not say.
        api_types: the API types the model speaks (``api_types`` / ``supported_api_types``).
        function_calling: ``capabilities.function_calling``, when listed.
        gateway: whether the model is known to be served by the AI Gateway
            (``ai_gateway_v2_supported``, or listed by a gateway-only source).
        responses_only: listed by a source that serves only the Responses API (Codex list).
        display_name: a human name from the listing (``foundation_model.display_name``).
        entity_name: the served entity (e.g. "system.ai.claude-sonnet-4-5"), when listed.
        provider: the external model provider ("anthropic", "openai", ...), when listed.
        upstream_name: the external or foundation model's own name (display/family only).
        description: a short description from the listing.
        aliases: other ids of the same model, as a listing said (the AI Gateway v2 list gives
            an endpoint's Unity Catalog name; ``system.ai.<m>`` is ``databricks-<m>``).
    """

    id: str
    sources: tuple[str, ...] = ()
    task: str | None = None
    endpoint_type: str | None = None
    ready: bool | None = None
    api_types: tuple[str, ...] = ()
    function_calling: bool | None = None
    gateway: bool | None = None
    responses_only: bool = False
    display_name: str | None = None
    entity_name: str | None = None
    provider: str | None = None
    upstream_name: str | None = None
    description: str | None = None
    aliases: tuple[str, ...] = ()


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    if not b:
        return a
    if not a:
        return b
    return a + tuple(x for x in b if x not in a)


def _merge_pair(a: EndpointRecord, b: EndpointRecord) -> EndpointRecord:
    """Combine two records for the same id: lists are unioned, ``a`` wins other conflicts."""
    return EndpointRecord(
        id=a.id,
        sources=_union(a.sources, b.sources),
        task=a.task or b.task,
        endpoint_type=a.endpoint_type or b.endpoint_type,
        ready=a.ready if a.ready is not None else b.ready,
        api_types=_union(a.api_types, b.api_types),
        function_calling=a.function_calling if a.function_calling is not None else b.function_calling,
        gateway=a.gateway if a.gateway is not None else b.gateway,
        responses_only=a.responses_only or b.responses_only,
        display_name=a.display_name or b.display_name,
        entity_name=a.entity_name or b.entity_name,
        provider=a.provider or b.provider,
        upstream_name=a.upstream_name or b.upstream_name,
        description=a.description or b.description,
        aliases=tuple(x for x in _union(a.aliases, (b.id, *b.aliases)) if x != a.id),
    )


_SOURCE_RANK = {"serving-endpoints": 0, "foundation-models": 0, "model-services": 1}


def _rank(record: EndpointRecord) -> int:
    return min((_SOURCE_RANK.get(s, 2) for s in record.sources), default=2)


def merge_records(groups: Iterable[Iterable[EndpointRecord]]) -> list[EndpointRecord]:
    """Merge the records of several sources into one list without duplicate ids.

    Records are merged by exact id, in first-seen order (so the order of ``groups`` decides
    which source's scalar facts win). Then records that a listing says are one model (an
    ``aliases`` entry naming another listed id) are folded into one record whose id is the
    serving endpoint's name when one is listed, else the Unity Catalog model-service name,
    else the first one seen; the other ids stay in ``aliases``. Ids are never rewritten: the
    surviving id is one that discovery listed, verbatim.
    """
    merged: dict[str, EndpointRecord] = {}
    for group in groups:
        for record in group:
            seen = merged.get(record.id)
            merged[record.id] = record if seen is None else _merge_pair(seen, record)
    for record_id in [k for k, r in merged.items() if r.aliases]:
        found = merged.get(record_id)
        if found is None:
            continue
        record = found
        for alias in record.aliases:
            other = merged.get(alias)
            if other is None or alias == record.id:
                continue
            keep, drop = (other, record) if _rank(other) < _rank(record) else (record, other)
            merged[keep.id] = _merge_pair(keep, drop)
            del merged[drop.id]
            record = merged[keep.id]
    return list(merged.values())


_TUPLE_FIELDS = {"sources", "api_types", "aliases"}


def record_to_dict(record: EndpointRecord) -> dict[str, Any]:
    """A JSON-ready dict of a record (None and empty values left out)."""
    out: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if value is None or value == () or (f.name == "responses_only" and not value):
            continue
        out[f.name] = list(value) if f.name in _TUPLE_FIELDS else value
    return out


_FIELD_NAMES = {f.name for f in fields(EndpointRecord)}


def record_from_dict(data: Mapping[str, Any]) -> EndpointRecord:
    """The inverse of ``record_to_dict``; unknown keys are ignored.

    Raises:
        ValueError: ``data`` has no string ``id``.
    """
    if not isinstance(data.get("id"), str):
        raise ValueError("record without an id")
    kwargs = {k: v for k, v in data.items() if k in _FIELD_NAMES}
    for name in _TUPLE_FIELDS:
        if name in kwargs:
            kwargs[name] = tuple(str(x) for x in kwargs[name])
    return EndpointRecord(**kwargs)


_NAMES = tuple(f.name for f in fields(EndpointRecord))
_TUPLE_INDEXES = frozenset(i for i, name in enumerate(_NAMES) if name in _TUPLE_FIELDS)


def record_to_row(record: EndpointRecord) -> list[Any]:
    """A compact JSON-ready list of a record's fields, in declaration order (for the cache)."""
    return [list(v) if isinstance(v, tuple) else v for v in (getattr(record, n) for n in _NAMES)]


def record_from_row(row: list[Any]) -> EndpointRecord:
    """The inverse of ``record_to_row``.

    Raises:
        ValueError: the row has the wrong length or no string id.
    """
    if len(row) != len(_NAMES) or not isinstance(row[0], str):
        raise ValueError("not a record row")
    values: list[Any] = [tuple(v) if i in _TUPLE_INDEXES else v for i, v in enumerate(row)]
    return EndpointRecord(*values)
