"""The curated model list shipped as package data (``curated.toml``), loaded and validated.

The curated tier does two jobs: it adds what discovery cannot say (recommended models, notes,
``max_tokens`` caps, sampling parameters a model rejects, reasoning style) to discovered models
with the same id, and it is the fallback list when discovery finds nothing. Curated entries
are never sent anywhere by themselves: a curated id is only used if the user picks it.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, TypeAlias

from lakecode.databricks.routes import RESPONSES

__all__ = ["CuratedEntry", "CuratedList", "ReasoningStyle", "load_curated", "parse_curated"]

ReasoningStyle: TypeAlias = Literal["effort", "thinking", "adaptive"]
_REASONING: frozenset[str] = frozenset({"effort", "thinking", "adaptive"})
_FAMILIES = frozenset({"claude", "gpt", "gemini", "llama", "gpt-oss", "other"})
_KEYS = frozenset({
    "id", "display_name", "family", "recommended", "tools", "route", "max_tokens",
    "unsupported_params", "reasoning", "list_content", "chat", "notes",
})


@dataclass(frozen=True, slots=True)
class CuratedEntry:
    """What lakecode ships about one endpoint name (see ``curated.toml`` for the keys)."""

    id: str
    display_name: str = ""
    family: str | None = None
    recommended: bool = False
    tools: bool | None = None
    route: str | None = None
    max_tokens: int | None = None
    unsupported_params: frozenset[str] = frozenset()
    reasoning: ReasoningStyle | None = None
    list_content: bool | None = None
    chat: bool = True
    notes: str = ""


class CuratedList:
    """The curated entries, in file order, with lookup by id.

    Attributes:
        entries: every entry, in file order.
    """

    __slots__ = ("_by_id", "entries")

    def __init__(self, entries: tuple[CuratedEntry, ...]) -> None:
        self.entries = entries
        self._by_id = {e.id: e for e in entries}

    def get(self, model_id: str) -> CuratedEntry | None:
        """The entry for ``model_id``; ``system.ai.<m>`` also finds ``databricks-<m>``."""
        entry = self._by_id.get(model_id)
        if entry is None and model_id.startswith("system.ai."):
            entry = self._by_id.get("databricks-" + model_id.removeprefix("system.ai."))
        return entry


def _entry(raw: Mapping[str, Any], where: str) -> CuratedEntry:
    unknown = set(raw) - _KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    model_id = raw.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise ValueError(f"{where}: missing id")
    family = raw.get("family")
    if family is not None and family not in _FAMILIES:
        raise ValueError(f"{where}: unknown family {family!r}")
    reasoning = raw.get("reasoning")
    if reasoning is not None and reasoning not in _REASONING:
        raise ValueError(f"{where}: unknown reasoning style {reasoning!r}")
    route = raw.get("route")
    if route is not None and route != RESPONSES:
        raise ValueError(f"{where}: route may only be {RESPONSES!r}")
    max_tokens = raw.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError(f"{where}: max_tokens must be a positive integer")
    return CuratedEntry(
        id=model_id,
        display_name=str(raw.get("display_name", "")),
        family=family,
        recommended=bool(raw.get("recommended", False)),
        tools=raw.get("tools"),
        route=route,
        max_tokens=max_tokens,
        unsupported_params=frozenset(raw.get("unsupported_params", ())),
        reasoning=reasoning,
        list_content=raw.get("list_content"),
        chat=bool(raw.get("chat", True)),
        notes=str(raw.get("notes", "")),
    )


def parse_curated(text: str) -> CuratedList:
    """Parse curated TOML text.

    Raises:
        ValueError: the text is not valid TOML, an entry has unknown keys or values, or an id
            appears twice.
    """
    data = tomllib.loads(text)
    entries = tuple(_entry(raw, f"model #{i + 1}") for i, raw in enumerate(data.get("model", [])))
    ids = [e.id for e in entries]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate curated ids: {sorted(duplicates)}")
    return CuratedList(entries)


@functools.cache
def load_curated() -> CuratedList:
    """The curated list shipped with lakecode (parsed once per process)."""
    text = resources.files(__package__).joinpath("curated.toml").read_text(encoding="utf-8")
    return parse_curated(text)
