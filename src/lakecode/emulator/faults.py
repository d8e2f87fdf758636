"""Fault injection: what can go wrong, where, and how many times.

A ``Fault`` is scoped by path (a glob, or a regex when it starts with ``^``), endpoint name (a
glob), method and count, and does one thing when it fires. Kinds:

=================  ==============================================================================
kind               effect
=================  ==============================================================================
rate_limit         429 ``REQUEST_LIMIT_EXCEEDED`` ("Exceeded workspace QPS rate limit for <endpoint>.
                   ..."); ``retry_after`` adds a ``Retry-After`` header; ``variant`` is ``qps``
                   (default), ``tokens`` or ``rest``
server_error       ``status`` 500 (default), 502, 503 or 504 with the matching Databricks error code
error              a named error from ``lakecode.emulator.errors.NAMED_ERRORS`` (``name=...``)
status             any ``status`` with a custom ``body`` (JSON value or text)
permission_denied  403 ``PERMISSION_DENIED`` (a permission problem, not an auth one)
invalid_token      rejects the credential as expired, in ``variant`` style 401 / 403 / 400
redirect_login     303 to ``/login`` with an empty body (``variant="empty"``) or HTML (``"html"``)
expire_tokens      expires every OAuth token just before the request is authenticated
delay              waits ``delay`` seconds before answering
slow_stream        waits ``delay`` seconds before each streamed chunk
cut_stream         drops a stream after ``after_chunks`` data events, or, with ``at="tool_call"``,
                   right after the first tool-call argument fragment; ``mode="abort"`` (default)
                   breaks the connection, ``mode="eof"`` ends the body cleanly without [DONE]
=================  ==============================================================================

``count`` is how many matching requests a fault affects (``None``: all of them) and ``skip`` how
many matching requests pass untouched first (so "504 on page 2" is ``skip=1, count=1``).
Faults only see emulated API traffic, never the ``/__emulator`` admin routes.
"""

from __future__ import annotations

import builtins
import fnmatch
import itertools
import re
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lakecode.emulator.errors import NAMED_ERRORS

__all__ = ["FAULT_KINDS", "Fault", "FaultSet"]

FAULT_KINDS = frozenset(
    {
        "rate_limit",
        "server_error",
        "error",
        "status",
        "permission_denied",
        "invalid_token",
        "redirect_login",
        "expire_tokens",
        "delay",
        "slow_stream",
        "cut_stream",
    }
)
# Kinds that act before authentication (a wrong host answers before it looks at credentials).
PRE_AUTH_KINDS = frozenset({"redirect_login", "expire_tokens"})
STREAM_KINDS = frozenset({"slow_stream", "cut_stream"})

_ids = itertools.count(1)


@dataclass
class Fault:
    """One injected fault. See the module docstring for the kinds and their parameters."""

    kind: str
    path: str | None = None
    endpoint: str | None = None
    method: str | None = None
    count: int | None = 1
    skip: int = 0
    status: int | None = None
    name: str | None = None
    body: Any = None
    retry_after: float | str | None = None
    variant: str | None = None
    after_chunks: int | None = None
    at: str | None = None
    delay: float = 0.0
    mode: str = "abort"
    id: str = ""
    hits: int = 0
    seen: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        if self.kind == "error" and self.name not in NAMED_ERRORS:
            raise ValueError(f"unknown error {self.name!r}; known: {', '.join(sorted(NAMED_ERRORS))}")
        if self.mode not in ("abort", "eof"):
            raise ValueError("cut_stream mode must be 'abort' or 'eof'")
        if not self.id:
            self.id = f"f{next(_ids)}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from a JSON object (the admin route's body); unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)} - {"hits", "seen"}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(extra))}")
        return cls(**data)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse the CLI form ``kind[:key=value,key=value...]``.

        Example: ``rate_limit:retry_after=2,count=3,endpoint=databricks-*``. ``count=inf`` means
        unlimited. Numbers are converted for the numeric fields.
        """
        kind, _, rest = spec.partition(":")
        data: dict[str, Any] = {"kind": kind.strip()}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault option {item!r} is not key=value")
            data[key.strip()] = _convert(key.strip(), value.strip())
        return cls.from_dict(data)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready description (the admin route's listing)."""
        return asdict(self)

    def matches(self, method: str, path: str, endpoint: str | None) -> bool:
        """Whether this fault's scope covers a request (ignoring count)."""
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path:
            if self.path.startswith("^"):
                if not re.search(self.path, path):
                    return False
            elif not fnmatch.fnmatchcase(path, self.path):
                return False
        if self.endpoint:
            return endpoint is not None and fnmatch.fnmatchcase(endpoint, self.endpoint)
        return True


def _convert(key: str, value: str) -> Any:
    if key in ("count",):
        return None if value in ("inf", "none", "unlimited") else int(value)
    if key in ("skip", "status", "after_chunks"):
        return int(value)
    if key in ("delay",):
        return float(value)
    if key == "retry_after":
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


@dataclass
class FaultSet:
    """The active faults. Thread-safe: tests add faults while the server thread consumes them."""

    _faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault | str | dict[str, Any] | None = None, /, **kwargs: Any) -> Fault:
        """Add a fault (a ``Fault``, a CLI spec string, a dict, or keyword arguments)."""
        if fault is None:
            fault = Fault(**kwargs)
        elif isinstance(fault, str):
            fault = Fault.parse(fault) if not kwargs else Fault(kind=fault, **kwargs)
        elif isinstance(fault, dict):
            fault = Fault.from_dict({**fault, **kwargs})
        with self._lock:
            self._faults.append(fault)
        return fault

    def remove(self, fault_id: str) -> bool:
        """Remove one fault by id; False when it was not there."""
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> builtins.list[Fault]:
        """A snapshot of the faults (including spent ones, whose ``hits`` equal their ``count``)."""
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        return len(self.list())

    # --- convenience helpers (the handle API) -------------------------------------------------

    def rate_limit(self, retry_after: float | str | None = None, **scope: Any) -> Fault:
        """429 ``REQUEST_LIMIT_EXCEEDED`` for the next ``count`` matching requests."""
        return self.add(Fault(kind="rate_limit", retry_after=retry_after, **scope))

    def server_error(self, status: int = 500, **scope: Any) -> Fault:
        """A 5xx burst: ``status`` for the next ``count`` matching requests."""
        return self.add(Fault(kind="server_error", status=status, **scope))

    def error(self, name: str, **scope: Any) -> Fault:
        """A named error body (see ``NAMED_ERRORS``)."""
        return self.add(Fault(kind="error", name=name, **scope))

    def cut_stream(self, after_chunks: int | None = None, *, at: str | None = None, **scope: Any) -> Fault:
        """Break the next matching stream after ``after_chunks`` events (or mid tool call)."""
        return self.add(Fault(kind="cut_stream", after_chunks=after_chunks, at=at, **scope))

    def slow_stream(self, delay: float, **scope: Any) -> Fault:
        """Delay every chunk of the next matching streams by ``delay`` seconds."""
        return self.add(Fault(kind="slow_stream", delay=delay, **scope))

    def redirect_login(self, html: bool = False, **scope: Any) -> Fault:
        """303 to ``/login`` (empty or HTML body), as a host that is not a workspace answers."""
        return self.add(Fault(kind="redirect_login", variant="html" if html else "empty", **scope))

    # --- consumption (server side) ------------------------------------------------------------

    def take(self, kinds: frozenset[str], method: str, path: str, endpoint: str | None) -> Fault | None:
        """Consume and return the first live fault of ``kinds`` that covers the request."""
        with self._lock:
            for fault in self._faults:
                if fault.kind not in kinds or not fault.matches(method, path, endpoint):
                    continue
                if fault.count is not None and fault.hits >= fault.count:
                    continue
                fault.seen += 1
                if fault.seen <= fault.skip:
                    continue
                fault.hits += 1
                return fault
        return None

    def take_response(self, method: str, path: str, endpoint: str | None) -> Fault | None:
        """The next fault that replaces the response (after authentication)."""
        return self.take(_RESPONSE_KINDS, method, path, endpoint)

    def take_pre_auth(self, method: str, path: str, endpoint: str | None) -> Fault | None:
        """The next fault that acts before authentication."""
        return self.take(PRE_AUTH_KINDS, method, path, endpoint)

    def take_stream(self, method: str, path: str, endpoint: str | None) -> builtins.list[Fault]:
        """Every stream fault (at most one per kind) for a streamed response."""
        out = []
        for kind in sorted(STREAM_KINDS):
            fault = self.take(frozenset({kind}), method, path, endpoint)
            if fault is not None:
                out.append(fault)
        return out


_RESPONSE_KINDS = FAULT_KINDS - PRE_AUTH_KINDS - STREAM_KINDS
