"""The one error parser: an HTTP error response becomes exactly one class of ``lakecode.errors``.

Every layer that talks HTTP (OAuth, discovery, inference) calls ``error_from_response``; nothing
else parses error bodies. It understands every envelope Databricks and its gateways use:

* Databricks ``{"error_code": ..., "message": ...}``, where ``message`` may itself be JSON text
  (``{"message": ...}`` or ``{"external_model_provider": ..., "external_model_error": {...}}``);
* OpenAI-style ``{"error": {"message", "type", "code"}}``;
* legacy ``{"error": "..."}`` and OAuth ``{"error", "error_description"}``;
* plain text ``"<CODE>: <message>"``; HTML (login pages, proxies); empty bodies.

It walks nested envelopes down to the leaf text, then classifies on status, ``error_code`` and
that text. A 3xx (the client never follows redirects on API calls) or an HTML body is a wrong
host, never a JSON error or a "feature not enabled".
"""

from __future__ import annotations

import email.utils
import json
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from lakecode.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContextOverflowError,
    FeatureDisabledError,
    MaxTokensExceededError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TLSError,
    ToolsUnsupportedError,
    UnsupportedParameterError,
    WrongHostError,
    WrongRouteError,
)
from lakecode.redact import redact

__all__ = [
    "ErrorInfo",
    "error_from_response",
    "error_from_transport",
    "extract_error",
    "is_invalid_token",
    "parse_retry_after",
]

_INVALID_TOKEN = re.compile(r"invalid (access )?token|token (has )?expired|expired token", re.I)
_CONTEXT = re.compile(
    r"too long|exceeds? (the )?context (limit|length|window)|maximum context length|"
    r"context_length_exceeded|prompt is too long",
    re.I,
)
_CAP = re.compile(r"max_tokens\D{0,40}?(\d+)\)?\s*(?:cannot|must not|should not) exceed (\d+)", re.I)
_CAP_LOOSE = re.compile(r"cannot exceed (\d+)", re.I)
_PARAM = re.compile(
    r"does not support the '?(\w+)'? parameter|Unsupported parameter: '(\w+)'|"
    r"'?(\w+)'? is not supported (?:with|by|for) this model",
    re.I,
)
_NO_TOOLS = re.compile(
    r"did not respect the required format|does not support continuing the chat past the first "
    r"tool call|does not support (tools|tool use|tool calling|function calling)",
    re.I,
)
_RESPONSES_ONLY = re.compile(r"only supports? the Responses API", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_PLAIN = re.compile(r"^([A-Z][A-Z_]{2,}):\s*(.+)$", re.S)
_MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """What an error response said, decoded.

    Attributes:
        status: the HTTP status.
        error_code: ``error_code`` (Databricks), ``code``/``type`` (OpenAI) or ``error`` (OAuth).
        message: the leaf text, after unwrapping nested JSON envelopes (redacted, truncated).
        is_html: the body is an HTML page (a login page or a proxy).
        location: the ``Location`` header of a redirect.
        request_id: the ``x-request-id`` header.
        retry_after: seconds from ``Retry-After``, when present and parseable.
    """

    status: int
    error_code: str | None
    message: str
    is_html: bool = False
    location: str | None = None
    request_id: str | None = None
    retry_after: float | None = None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if now is None:
        return None
    return max(0.0, when.timestamp() - now)


def _leaf(obj: Any, code: str | None, depth: int = 0) -> tuple[str | None, str]:
    """Walk a decoded error body to ``(error_code, leaf text)``."""
    if depth > 6:
        return code, str(obj)
    if isinstance(obj, str):
        text = obj.strip()
        if text[:1] in "{[":
            try:
                return _leaf(json.loads(text), code, depth + 1)
            except ValueError:
                pass
        return code, text
    if isinstance(obj, Mapping):
        new_code = obj.get("error_code") or obj.get("errorCode") or obj.get("code")
        if isinstance(new_code, str | int) and not isinstance(new_code, bool):
            code = code or str(new_code)
        for key in ("external_model_error", "error"):
            inner = obj.get(key)
            if isinstance(inner, Mapping):
                return _leaf(inner, code, depth + 1)
        error = obj.get("error")
        if isinstance(error, str):  # legacy / OAuth
            description = obj.get("error_description") or obj.get("message")
            if isinstance(description, str) and description.strip():
                return code or error, _leaf(description, None, depth + 1)[1]
            return code or error, error
        for key in ("message", "errorSummary", "detail", "error_description"):
            value = obj.get(key)
            if isinstance(value, str | Mapping):
                return _leaf(value, code, depth + 1)
        type_ = obj.get("type")
        if isinstance(type_, str):
            return code or type_, type_
    return code, json.dumps(obj)[:_MAX_TEXT] if obj is not None else ""


def extract_error(status: int, headers: Mapping[str, str], body: bytes, *,
                  now: float | None = None) -> ErrorInfo:
    """Decode an error response body (any envelope) into an ``ErrorInfo``."""
    content_type = headers.get("content-type", "").lower()
    text = body.decode("utf-8", errors="replace").strip()
    is_html = "html" in content_type or text[:15].lower().startswith(("<!doctype html", "<html"))
    code: str | None = None
    message = ""
    if is_html:
        title = _TITLE.search(text)
        message = re.sub(r"\s+", " ", title.group(1)).strip() if title else "an HTML page"
    elif text:
        try:
            code, message = _leaf(json.loads(text), None)
        except ValueError:
            plain = _PLAIN.match(text)
            code, message = (plain.group(1), plain.group(2)) if plain else (None, text)
    message = redact(message.strip())
    if len(message) > _MAX_TEXT:
        message = message[:_MAX_TEXT] + "…"
    return ErrorInfo(
        status=status,
        error_code=code,
        message=message,
        is_html=is_html,
        location=headers.get("location"),
        request_id=headers.get("x-request-id"),
        retry_after=parse_retry_after(headers.get("retry-after"), now=now),
    )


def is_invalid_token(status: int, text: str) -> bool:
    """Whether a response means "the token is invalid or expired": refresh and retry once.

    Any 401, or a 400/403 whose text says the token is invalid or expired. A 403 without such
    text is a permission problem, where refreshing cannot help.
    """
    if status == 401:
        return True
    return status in (400, 403) and bool(_INVALID_TOKEN.search(text))


def _origin(url: str | None) -> str:
    if not url:
        return "the configured host"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def error_from_response(response: httpx.Response, *, endpoint: str | None = None,
                        now: float | None = None) -> APIStatusError | WrongHostError:
    """The ``lakecode.errors`` exception for an error (or redirect/HTML) response.

    The response body must already be read. ``endpoint`` names the serving endpoint or model
    the request was for, so messages can say which one failed.
    """
    info = extract_error(response.status_code, response.headers, response.content, now=now)
    url = str(response.request.url.copy_with(query=None)) if response.request else None
    return classify(info, url=url, endpoint=endpoint)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (httpx wraps the socket's own errors)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def error_from_transport(exc: httpx.RequestError, url: str, *, what: str = "") -> APIConnectionError:
    """The ``lakecode.errors`` exception for a request that got no answer at all.

    ``url`` is the URL (without query) that was called, ``what`` what the request was for
    (e.g. ``"databricks-claude-sonnet-4-5"`` or ``"/api/2.0/serving-endpoints"``). The hint names
    the likely cause: https spoken to a plain-http server or an untrusted certificate (a
    ``TLSError``, not retried), nothing listening on the port, a host name that does not
    resolve, a timeout.
    """
    origin = _origin(url)
    about = f" for {what}" if what else ""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{origin} did not answer in time{about} ({type(exc).__name__}).", url=url)
    detail = redact(str(exc)) or type(exc).__name__
    message = f"Could not reach {origin}{about}: {detail}"
    causes = _causes(exc)
    text = " ".join(str(c) for c in causes).lower()
    if any(isinstance(c, ssl.SSLError) for c in causes):
        if "wrong_version_number" in text or "wrong version number" in text:
            plain = origin.replace("https://", "http://", 1)
            hint = (f"{origin} answered in plain HTTP, not HTTPS. A local emulator is reached as "
                    f"{plain}; a real workspace always uses https://.")
        else:
            hint = ("The server's TLS certificate was not accepted. Behind a company proxy, point "
                    "SSL_CERT_FILE at its CA bundle; otherwise check the host.")
        return TLSError(message, hint=hint, url=url)
    if any(isinstance(c, socket.gaierror) for c in causes):
        hint = f"The host name in {origin} does not resolve: check its spelling (and your VPN)."
    elif any(isinstance(c, ConnectionRefusedError) for c in causes) or "connection refused" in text:
        hint = (f"Nothing is listening at {origin}: check the host and port (for `lakecode emulator`, "
                "that it is still running).")
    else:
        hint = APIConnectionError.default_hint or ""
    return APIConnectionError(message, hint=hint, url=url)


def classify(info: ErrorInfo, *, url: str | None = None,
             endpoint: str | None = None) -> APIStatusError | WrongHostError:
    """Map a decoded error to its exception class (see the module docstring)."""
    status, text = info.status, info.message
    host = _origin(url)
    if 300 <= status < 400 or (info.is_html and status < 500):
        where = f" to {info.location}" if info.location else ""
        return WrongHostError(
            f"{host} does not look like a workspace API host: it answered HTTP {status}"
            f"{where} ({'an HTML page' if info.is_html else 'a redirect'}) instead of JSON.",
            url=url,
        )
    label = f"{info.error_code}: {text}" if info.error_code and info.error_code not in text else text
    if not label:
        label = f"HTTP {status} with no error body"
    if endpoint and endpoint not in label:
        label = f"{label} (endpoint {endpoint})"
    kw: dict[str, Any] = {
        "status_code": status,
        "error_code": info.error_code,
        "url": url,
        "request_id": info.request_id,
        "endpoint": endpoint,
        "retry_after": info.retry_after,
    }
    if is_invalid_token(status, text):
        return AuthenticationError(f"{host} rejected the credential: {label}", **kw)
    if status == 403:
        return PermissionDeniedError(f"Permission denied on {host}: {label}", **kw)
    if status == 429:
        return RateLimitError(f"Rate limited: {label}", **kw)
    code = (info.error_code or "").upper()
    if status == 501 or code in ("FEATURE_DISABLED", "NOT_IMPLEMENTED"):
        return FeatureDisabledError(f"Not available on {host}: {label}", **kw)
    if status == 404:
        return NotFoundError(f"Not found: {label}", **kw)
    if status >= 500 or status in (408, 499):
        return ServerError(f"The service failed (HTTP {status}): {label}", **kw)
    return _classify_bad_request(text, label, kw)


def _classify_bad_request(text: str, label: str, kw: dict[str, Any]) -> APIStatusError:
    if _RESPONSES_ONLY.search(text):
        return WrongRouteError(label, **kw)
    if _NO_TOOLS.search(text):
        model = kw.get("endpoint") or "this model"
        return ToolsUnsupportedError(f"{model} cannot do tool calling reliably: {label}", **kw)
    cap = _CAP.search(text) or _CAP_LOOSE.search(text)
    if cap:
        return MaxTokensExceededError(label, cap=int(cap.groups()[-1]), **kw)
    if _CONTEXT.search(text):
        return ContextOverflowError(f"The conversation is too long for the model: {label}", **kw)
    param = _PARAM.search(text)
    if param:
        name = next(g for g in param.groups() if g)
        return UnsupportedParameterError(label, parameter=name, **kw)
    return BadRequestError(f"Bad request: {label}", **kw)
