"""The ``Provider`` protocol: everything the agent and the UIs need from a model provider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from lakecode.llm.types import ChatRequest, ModelInfo, ModelListing, StreamEvent

__all__ = ["Provider"]


@runtime_checkable
class Provider(Protocol):
    """A source of chat models.

    Implementations: ``lakecode.databricks.provider.DatabricksProvider`` and
    ``lakecode.llm.openai_compat.OpenAICompatibleProvider``. A provider owns its HTTP client;
    callers must ``await aclose()`` it. Settings changes build a new provider; nothing mutates
    a live one.
    """

    name: str
    """A short name for displays: "databricks" or "openai-compatible"."""

    async def list_models(self, *, refresh: bool = False) -> ModelListing:
        """The models on offer. Never raises for a discovery failure: it returns a fallback
        listing with ``warnings`` instead. ``refresh`` bypasses caches."""
        ...

    async def model_info(self, model_id: str) -> ModelInfo | None:
        """What is known about ``model_id`` (from discovery or curated data), or None."""
        ...

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Run one model turn, yielding events as they arrive and ending with ``Finish``.

        Raises:
            lakecode.errors.APIError: and its subclasses, after retries and self-healing.
            lakecode.errors.AuthError: when no credential can be obtained.
        """
        ...

    async def aclose(self) -> None:
        """Release the HTTP client and anything else the provider holds."""
        ...
