"""The request log: what clients sent, without the secrets, for tests to assert on.

``RequestLogMiddleware`` is a plain ASGI middleware wrapped around the whole app. For every
request except the ``/__emulator`` admin routes it records one ``RequestRecord`` when the
response starts, and stamps ``x-request-id`` and ``x-databricks-org-id`` on the response.
Authorization headers never reach the log; secrets in form bodies are redacted.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakecode.emulator.auth import credential
from lakecode.emulator.tokens import token_id

__all__ = ["RequestLog", "RequestLogMiddleware", "RequestRecord", "TokenRequest", "TokenRequests"]

ADMIN_PREFIX = "/__emulator"
_SECRET_FORM_KEYS = frozenset({"client_secret", "code", "code_verifier", "refresh_token", "password"})
_REDACTED = "<redacted>"


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator saw it.

    Attributes:
        method, path: the request line (``path`` without the query).
        query: query parameters (last value wins).
        status: the response status.
        auth_kind: ``bearer``, ``basic``, ``none``, ``x-api-key-only`` or ``other``.
        token_id: a non-secret handle of the presented token (``lakecode.emulator.token_id``).
        headers: request headers, lower-case names, without ``authorization``; an ``x-api-key``
            value is replaced by ``<redacted>`` so tests can still see that it was sent.
        json: the parsed JSON body, when the body was JSON.
        form: the form body with secrets redacted, when the body was a form.
        endpoint: the serving endpoint or model the request addressed, when known.
        fault: the id of the fault that answered the request, if any.
        request_id: the ``x-request-id`` the emulator returned.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    auth_kind: str
    token_id: str | None
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] | None = None
    endpoint: str | None = None
    fault: str | None = None
    request_id: str = ""
    time: float = 0.0

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        return self.headers.get(name.lower())


class RequestLog:
    """A thread-safe list of ``RequestRecord`` with a few filters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def append(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """A copy of the records so far."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


@dataclass(frozen=True)
class TokenRequest:
    """One call to ``POST /oidc/v1/token``."""

    grant_type: str
    client_id: str | None
    status: int
    time: float


@dataclass
class TokenRequests:
    """Calls to the token endpoint, for single-flight assertions.

    ``len(emu.token_requests)`` is the total; ``count("client_credentials")`` one grant type.
    """

    _records: list[TokenRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: TokenRequest) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[TokenRequest]:
        """A copy of the records."""
        with self._lock:
            return list(self._records)

    def count(self, grant_type: str | None = None, *, status: int | None = None) -> int:
        """How many calls (of one grant type, and/or with one response status)."""
        return sum(
            1
            for r in self.records
            if (grant_type is None or r.grant_type == grant_type) and (status is None or r.status == status)
        )

    def by_grant_type(self) -> dict[str, int]:
        """Counts per grant type."""
        out: dict[str, int] = {}
        for r in self.records:
            out[r.grant_type] = out.get(r.grant_type, 0) + 1
        return out

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[TokenRequest]:
        return iter(self.records)


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _bodies(headers: dict[str, str], body: bytes) -> tuple[Any, dict[str, str] | None]:
    ctype = headers.get("content-type", "")
    if not body:
        return None, None
    if "json" in ctype or (not ctype and body[:1] in (b"{", b"[")):
        try:
            return json.loads(body), None
        except ValueError:
            return None, None
    if "x-www-form-urlencoded" in ctype:
        form = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        return None, {k: (_REDACTED if k in _SECRET_FORM_KEYS else v) for k, v in form.items()}
    return None, None


class RequestLogMiddleware:
    """Records every non-admin request and stamps the Databricks response headers.

    Args:
        app: the wrapped ASGI app.
        sink: returns the current ``(RequestLog, workspace_id)``; called per request so that a
            reset emulator logs into its new state.
    """

    def __init__(self, app: ASGIApp, sink: Callable[[], tuple[RequestLog, str]]) -> None:
        self.app = app
        self.sink = sink

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        log, workspace_id = self.sink()
        request_id = str(uuid.uuid4())
        body = bytearray()
        scope.setdefault("state", {})

        async def recv() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        async def snd(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    (b"x-databricks-org-id", workspace_id.encode()),
                ]
                log.append(_record(scope, bytes(body), message["status"], request_id))
            await send(message)

        await self.app(scope, recv, snd)


def _record(scope: Scope, body: bytes, status: int, request_id: str) -> RequestRecord:
    headers = _headers(scope)
    kind, token = credential(headers)
    headers.pop("authorization", None)
    if "x-api-key" in headers:
        headers["x-api-key"] = _REDACTED
    parsed_json, form = _bodies(headers, body)
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    state = scope.get("state", {})
    return RequestRecord(
        method=scope["method"],
        path=scope["path"],
        query=query,
        status=status,
        auth_kind=kind,
        token_id=token_id(token) if token else None,
        headers=headers,
        json=parsed_json,
        form=form,
        endpoint=state.get("emu_endpoint"),
        fault=state.get("emu_fault"),
        request_id=request_id,
        time=time.time(),
    )
