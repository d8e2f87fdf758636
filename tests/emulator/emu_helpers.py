"""Helpers for the emulator tests (imported as ``emu_helpers``; not a conftest)."""

from __future__ import annotations

import json
from typing import Any


def sse_data(text: str) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded (``[DONE]`` kept as a string)."""
    out: list[Any] = []
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = line[6:]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def chat(model: str, content: str = "hello", **extra: Any) -> dict[str, Any]:
    """A minimal chat-completions body."""
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}
