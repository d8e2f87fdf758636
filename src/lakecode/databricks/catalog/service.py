"""The catalog service: discovery + cache + curated data, merged into one listing that never fails.

``CatalogService.catalog()`` returns a ``CatalogResult`` in one of three states, always with a
status line saying which:

* **discovered** — at least one source answered (now, or within the cache TTL). Entries are the
  discovered models, tagged ``discovered``, joined with curated facts. Curated models the
  workspace did not list are left out of the default listing, because picking one would only
  give a 404 (a hidden fallback model missing from the workspace is a known source of
  confusion); ``include_curated=True`` adds them, tagged ``curated``. If discovery answered but
  found no chat model at all, the curated list is shown as in the third state.
* **cached** — every source failed, but an older successful result exists: it is served with
  every entry tagged ``cached`` and a warning giving its age.
* **curated** — every source failed and nothing is cached: the curated list, every entry tagged
  ``curated`` (unverified), and the status says discovery failed.

Sources that fail are warnings, never errors (F30). Model ids typed by hand are always accepted:
``lookup`` returns None for an id nobody knows, and the provider sends it unchanged (F29).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, TypeAlias

import httpx

from lakecode.clock import Clock, system_clock
from lakecode.databricks.catalog.cache import CacheEntry, CatalogCache, cache_key
from lakecode.databricks.catalog.classify import (
    ModelTraits,
    classify_record,
    curated_info,
    sort_key,
    traits_for,
)
from lakecode.databricks.catalog.curated import CuratedList, load_curated
from lakecode.databricks.catalog.records import EndpointRecord, merge_records
from lakecode.databricks.catalog.sources import (
    DiscoveryOptions,
    SourceResult,
    failure_warnings,
    fetch_all,
)
from lakecode.databricks.catalog.suggest import suggest_models
from lakecode.llm.types import ModelInfo, ModelListing, ModelSource

__all__ = ["CatalogResult", "CatalogService", "CatalogState", "build_result"]

CatalogState: TypeAlias = Literal["discovered", "cached", "curated"]


@dataclass(frozen=True)
class CatalogResult:
    """One view of the catalog.

    Attributes:
        state: "discovered", "cached" (stale fallback) or "curated" (fallback).
        models: the discovered (or cached) models, sorted; curated ones when ``state`` is
            "curated" or no chat model was discovered. Non-chat models included.
        curated_extra: curated models the workspace did not list (for ``--all`` views).
        warnings: problems met (failed sources, stale data, fallback).
        status: one line for status bars and the CLI.
        host: the workspace origin.
        age: seconds since the discovery that produced the data (0 when live).
        aliases: other ids of listed models (alias -> listed id), as discovery reported them.
    """

    state: CatalogState
    models: tuple[ModelInfo, ...]
    curated_extra: tuple[ModelInfo, ...] = ()
    warnings: tuple[str, ...] = ()
    status: str = ""
    host: str = ""
    age: float = 0.0
    aliases: Mapping[str, str] = field(default_factory=dict)
    _index: dict[str, ModelInfo] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for info in (*self.curated_extra, *self.models):
            self._index[info.id] = info

    def get(self, model_id: str) -> ModelInfo | None:
        """The entry with exactly this id (discovered first, then curated), or None.

        An alias discovery reported for a listed model (e.g. the short gateway name of a UC
        model service) finds that model, with ``id`` set to the alias as asked.
        """
        info = self._index.get(model_id)
        if info is None and model_id in self.aliases:
            target = self._index.get(self.aliases[model_id])
            info = replace(target, id=model_id) if target is not None else None
        return info

    @property
    def ids(self) -> tuple[str, ...]:
        """Every known id (for suggestions)."""
        return tuple(self._index)

    def listing(self, *, include_all: bool = False) -> ModelListing:
        """A ``ModelListing``: chat models only, or with ``include_all`` everything
        (non-chat endpoints and curated models the workspace did not list)."""
        if include_all:
            models = tuple(sorted((*self.models, *self.curated_extra), key=sort_key))
        else:
            models = tuple(m for m in self.models if m.chat)
        return ModelListing(models=models, warnings=self.warnings, status=self.status)


def _age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def build_result(records: list[EndpointRecord] | tuple[EndpointRecord, ...], curated: CuratedList, *,
                 host: str, source: ModelSource, warnings: list[str], age: float = 0.0,
                 discovery_failed: bool = False) -> CatalogResult:
    """Classify merged records and assemble a ``CatalogResult`` (pure; see the module docs)."""
    infos = sorted((classify_record(r, curated, source) for r in records), key=sort_key)
    seen = {i.id for i in infos}
    seen.update("databricks-" + i.id.removeprefix("system.ai.") for i in infos
                if i.id.startswith("system.ai."))
    extra = tuple(curated_info(e) for e in curated.entries if e.id not in seen)
    aliases = {a: r.id for r in records for a in r.aliases}
    n_chat = sum(1 for i in infos if i.chat)
    if n_chat == 0:
        fallback = tuple(sorted((i for i in extra if i.chat), key=sort_key))
        if discovery_failed:
            status = (f"Discovery failed on {host}: showing {len(fallback)} curated models "
                      "(unverified; any model id can still be typed).")
        else:
            status = (f"No chat models discovered on {host}: showing {len(fallback)} curated "
                      "models (unverified; any model id can still be typed).")
            warnings = [*warnings, status]
        models = tuple(sorted((*infos, *fallback), key=sort_key))
        rest = tuple(i for i in extra if not i.chat)
        return CatalogResult("curated", models, rest, tuple(warnings), status, host, age, aliases)
    state: CatalogState = "cached" if source == "cached" else "discovered"
    status = _status(n_chat, host, state, age)
    return CatalogResult(state, tuple(infos), extra, tuple(warnings), status, host, age, aliases)


def _status(n_chat: int, host: str, state: str, age: float) -> str:
    status = f"{n_chat} chat models on {host} ({state}"
    return status + (f", {_age_text(age)} old)" if age >= 1 else ")")


_results_lock = threading.Lock()
_results: dict[str, tuple[float, CuratedList, CatalogResult]] = {}
"""Built results by scoped cache key: a new service for the same workspace and identity (the
settings screen reopening) reuses the classification instead of redoing it."""


class CatalogService:
    """Discovery for one workspace and identity, with caching and curated fallback.

    Args:
        client: the provider's HTTP client: base URL = the workspace origin, Databricks auth,
            ``follow_redirects=False``.
        host: the normalised workspace origin (for messages and the cache key).
        identity: who is asking (auth type + principal), part of the cache key.
        clock: the injected clock (cache freshness, retry backoff).
        cache: where results are kept; an in-memory cache by default.
        curated: the curated list; the shipped one by default.
        options: which sources to query and how to page and retry.
    """

    def __init__(self, client: httpx.AsyncClient, *, host: str, identity: str = "",
                 clock: Clock = system_clock, cache: CatalogCache | None = None,
                 curated: CuratedList | None = None, options: DiscoveryOptions | None = None) -> None:
        self.client = client
        self.host = host
        self.clock = clock
        self.cache = cache if cache is not None else CatalogCache(clock=clock)
        self.curated = curated if curated is not None else load_curated()
        self.options = options or DiscoveryOptions()
        self.key = cache_key(host, identity)
        self._lock = asyncio.Lock()
        self._last: CatalogResult | None = None
        self.last_sources: tuple[SourceResult, ...] = ()

    def _from_entry(self, entry: CacheEntry, *, source: ModelSource,
                    extra_warnings: list[str]) -> CatalogResult:
        return build_result(entry.records, self.curated, host=self.host, source=source,
                            warnings=[*extra_warnings, *entry.warnings],
                            age=self.cache.age(entry))

    def _fresh_result(self, entry: CacheEntry) -> CatalogResult:
        """The result for a fresh entry, built once per entry for the whole process."""
        scoped = self.cache.scoped(self.key)
        with _results_lock:
            memo = _results.get(scoped)
        if memo is not None and memo[0] == entry.stored_at and memo[1] is self.curated:
            result = memo[2]
            age = self.cache.age(entry)
            if result.state == "discovered" and int(age) != int(result.age):
                n_chat = sum(1 for m in result.models if m.chat)
                result = replace(result, age=age, status=_status(n_chat, self.host, result.state, age))
            return result
        result = self._from_entry(entry, source="discovered", extra_warnings=[])
        with _results_lock:
            _results[scoped] = (entry.stored_at, self.curated, result)
        return result

    async def catalog(self, *, refresh: bool = False) -> CatalogResult:
        """The current catalog: from the fresh cache, or by discovery (``refresh`` forces it).

        Never raises for discovery failures; concurrent callers share one discovery.
        """
        async with self._lock:
            entry = None if refresh else self.cache.get(self.key)
            if entry is not None and self.cache.is_fresh(entry):
                self._last = self._fresh_result(entry)
            else:
                self._last = await self._discover()
            return self._last

    async def _discover(self) -> CatalogResult:
        results = await fetch_all(self.client, clock=self.clock, options=self.options)
        self.last_sources = tuple(results)
        warnings = failure_warnings(results)
        if any(r.ok for r in results):
            records = merge_records(r.records for r in results)
            return self._fresh_result(self.cache.put(self.key, self.host, records, warnings))
        # nothing answered: stale data if we have it, else the curated list (and say so)
        stale = self.cache.get(self.key)
        if stale is not None:
            note = (f"Discovery failed on {self.host}; showing the model list cached "
                    f"{_age_text(self.cache.age(stale))} ago.")
            return self._from_entry(stale, source="cached", extra_warnings=[*warnings, note])
        records = merge_records(r.records for r in results)  # partial pages, if any
        return build_result(records, self.curated, host=self.host, source="discovered",
                            warnings=warnings, discovery_failed=True)

    def known(self) -> CatalogResult | None:
        """The last result this service produced, without any I/O."""
        return self._last

    def is_fresh(self) -> bool:
        """Whether a discovery result younger than the TTL is cached (no I/O but the cache)."""
        entry = self.cache.get(self.key)
        return entry is not None and self.cache.is_fresh(entry)

    def lookup_known(self, model_id: str) -> ModelInfo | None:
        """``lookup`` on the last result only (or curated data), without any I/O."""
        result = self._last
        info = result.get(model_id) if result is not None else None
        if info is None:
            entry = self.curated.get(model_id)
            info = curated_info(entry) if entry is not None else None
        return info

    async def lookup(self, model_id: str) -> ModelInfo | None:
        """What is known about ``model_id``: discovered, cached or curated data, or None.

        Runs discovery if nothing fresh is cached; never raises for discovery failures.
        """
        await self.catalog()
        return self.lookup_known(model_id)

    async def traits(self, model_id: str) -> ModelTraits:
        """The transport quirks for ``model_id`` (defaults for an unknown id)."""
        return traits_for(model_id, await self.lookup(model_id), self.curated)

    async def suggestions(self, model_id: str, *, limit: int = 5) -> tuple[str, ...]:
        """The known ids closest to ``model_id`` (discovered ones first), for a 404 (F25)."""
        result = self.known() or await self.catalog()
        discovered = [m.id for m in result.models if m.chat and m.source != "curated"]
        found = suggest_models(model_id, discovered, limit=limit)
        if len(found) < limit:
            others = [m.id for m in (*result.models, *result.curated_extra) if m.chat]
            found += tuple(s for s in suggest_models(model_id, others, limit=limit) if s not in found)
        return found[:limit]
