"""A TTL cache of discovery results, in memory and on disk, keyed by host + identity.

Only successful discoveries are stored (at least one source answered). An entry is *fresh*
for ``ttl`` seconds (5 minutes by default) of wall-clock time from the injected clock; a stale
entry is still returned by ``get`` so the service can fall back to it when discovery fails,
saying so. The disk copy (one JSON file per key under ``<lakecode home>/cache/catalog/``,
written atomically with mode 0600) makes a second ``lakecode models`` process, or the settings
screen reopening, instant. The in-memory layer is shared by every cache of the process that
uses the same directory. Nothing secret is stored: the key is a hash, the file holds model
listings only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakecode.clock import Clock, system_clock
from lakecode.databricks.catalog.records import EndpointRecord, record_from_row, record_to_row
from lakecode.secure_io import atomic_write_text

__all__ = ["DEFAULT_TTL", "CacheEntry", "CatalogCache", "cache_key"]

DEFAULT_TTL = 300.0
_VERSION = 2
_shared_lock = threading.Lock()
_shared: dict[str, CacheEntry] = {}
_instances = itertools.count()


def cache_key(host: str, identity: str) -> str:
    """The cache key for a host and an identity (a hash: neither is readable from it)."""
    return hashlib.sha256(f"{host}\n{identity}".encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One stored discovery result.

    Attributes:
        host: the workspace origin it came from.
        stored_at: wall-clock seconds when discovery finished.
        records: the merged records.
        warnings: warnings of that discovery (sources that were unavailable).
    """

    host: str
    stored_at: float
    records: tuple[EndpointRecord, ...]
    warnings: tuple[str, ...] = ()


class CatalogCache:
    """Discovery results by key, fresh for ``ttl`` seconds.

    Args:
        directory: where entries are persisted; None keeps them in memory only.
        clock: the clock that decides freshness.
        ttl: seconds an entry stays fresh.
    """

    def __init__(self, directory: Path | None = None, *, clock: Clock = system_clock,
                 ttl: float = DEFAULT_TTL) -> None:
        self.directory = directory
        self.clock = clock
        self.ttl = ttl
        self._scope = str(directory) if directory is not None else f"memory:{next(_instances)}"

    def scoped(self, key: str) -> str:
        """``key`` qualified by this cache's scope (its directory, or the instance)."""
        return f"{self._scope}:{key}"

    def _path(self, key: str) -> Path | None:
        return self.directory / f"{key}.json" if self.directory is not None else None

    def age(self, entry: CacheEntry) -> float:
        """Seconds since ``entry`` was stored."""
        return max(0.0, self.clock.time() - entry.stored_at)

    def is_fresh(self, entry: CacheEntry) -> bool:
        """Whether ``entry`` is younger than the TTL."""
        return self.age(entry) < self.ttl

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key``, fresh or stale, or None (a corrupt file counts as none)."""
        with _shared_lock:
            entry = _shared.get(f"{self._scope}:{key}")
        if entry is not None:
            return entry
        path = self._path(key)
        if path is None:
            return None
        entry = _read(path)
        if entry is not None:
            with _shared_lock:
                _shared.setdefault(f"{self._scope}:{key}", entry)
        return entry

    def put(self, key: str, host: str, records: Sequence[EndpointRecord],
            warnings: Sequence[str] = ()) -> CacheEntry:
        """Store a successful discovery; a disk failure keeps the memory copy."""
        entry = CacheEntry(host, self.clock.time(), tuple(records), tuple(warnings))
        with _shared_lock:
            _shared[f"{self._scope}:{key}"] = entry
        path = self._path(key)
        if path is not None:
            payload = {
                "version": _VERSION,
                "host": host,
                "stored_at": entry.stored_at,
                "warnings": list(entry.warnings),
                "records": [record_to_row(r) for r in entry.records],
            }
            try:
                atomic_write_text(path, json.dumps(payload, separators=(",", ":")))
            except OSError:
                pass  # the cache is an optimisation; the memory copy still serves
        return entry

    def clear(self, key: str) -> None:
        """Forget ``key`` in memory and on disk."""
        with _shared_lock:
            _shared.pop(f"{self._scope}:{key}", None)
        path = self._path(key)
        if path is not None:
            path.unlink(missing_ok=True)


def _read(path: Path) -> CacheEntry | None:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != _VERSION:
        return None
    try:
        records = tuple(record_from_row(r) for r in data["records"])
        return CacheEntry(str(data["host"]), float(data["stored_at"]), records,
                          tuple(str(w) for w in data.get("warnings", ())))
    except (KeyError, TypeError, ValueError):
        return None
