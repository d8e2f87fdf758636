"""Redaction: the last line of defence that keeps secrets out of every output channel.

Secrets are kept out of messages by construction (``SecretStr`` in models, tokens never
formatted into errors). This module catches the rest: every known secret value registered at run
time, plus anything shaped like a Databricks PAT, a JWT or a bearer header, is replaced before
text reaches a log, stderr, JSON output or the TUI.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["REDACTED", "RedactingFilter", "redact", "register_secret"]

REDACTED = "[REDACTED]"

_PATTERNS = (
    re.compile(r"dapi[0-9a-f]{32}(?:-\d+)?", re.IGNORECASE),  # Databricks PAT
    re.compile(r"dose[0-9a-f]{32}", re.IGNORECASE),  # Databricks OAuth secret
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),  # JWT
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"),
)

_lock = threading.Lock()
_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value (8+ characters) so ``redact`` replaces it wherever it appears."""
    if value and len(value) >= 8:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and every token-shaped string replaced."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
