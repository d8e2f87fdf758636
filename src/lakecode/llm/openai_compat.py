"""The generic OpenAI-compatible provider: a base URL and an API key (OpenAI, vLLM, Ollama...).

Chat goes to ``{base}/chat/completions`` through ``ChatTransport`` (so it gets the same history
normalization, whitelist serializer, stream parser, retries and self-healing as the Databricks
provider); models come from ``GET {base}/models``. A Databricks workspace's ``/serving-endpoints``
route is OpenAI-compatible too: base ``https://<workspace>/serving-endpoints`` with a PAT as the
key works (the emulator's tests use exactly that).

Model discovery is never fatal: when ``/models`` fails, ``list_models`` returns an empty listing
whose ``warnings`` say why, and any model id can still be used.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from lakecode.clock import Clock, system_clock
from lakecode.errors import APIError, AuthenticationError, LakecodeError
from lakecode.llm.errors import error_from_response
from lakecode.llm.quirks import Dialect, ModelMemory, ModelQuirks
from lakecode.llm.retry import RetryPolicy
from lakecode.llm.types import ChatRequest, ModelInfo, ModelListing, StreamEvent
from lakecode.llm.wire import ChatTransport
from lakecode.redact import redact, register_secret

__all__ = ["DEFAULT_TIMEOUT", "OpenAICompatibleProvider", "build_openai_compatible_provider"]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=300.0)
"""Connect quickly; allow long gaps between streamed chunks and slow non-streaming answers."""


class OpenAICompatibleProvider:
    """A ``Provider`` for any OpenAI-compatible server. Build it with
    ``build_openai_compatible_provider``; ``await aclose()`` when done.

    Args:
        base_url: the API base, e.g. ``https://api.openai.com/v1`` (no trailing slash needed).
        transport: the wire client to send chat turns with.
        http: the client used for ``/models``.
        owns_http: close ``http`` in ``aclose``.
        auth_headers: headers carrying the credential (sent on every request).
        default_quirks: request shaping for every model without its own entry.
        model_quirks: request shaping per model id.
        auth_hint: the hint given when the server rejects the key (401/403); the default one
            speaks of Databricks sign-in, which cannot fix an API key.
    """

    name = "openai-compatible"

    def __init__(
        self,
        base_url: str,
        *,
        transport: ChatTransport,
        http: httpx.AsyncClient,
        owns_http: bool,
        auth_headers: Mapping[str, str] | None = None,
        default_quirks: ModelQuirks | None = None,
        model_quirks: Mapping[str, ModelQuirks] | None = None,
        auth_hint: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._http = http
        self._owns_http = owns_http
        self._auth = dict(auth_headers or {})
        self._default_quirks = default_quirks or ModelQuirks()
        self._model_quirks = dict(model_quirks or {})
        self._listing: ModelListing | None = None
        self._auth_hint = auth_hint or ("The server did not accept the API key: check it in the "
                                        "settings or LLM_API_KEY.")

    @property
    def transport(self) -> ChatTransport:
        """The wire client (its ``memory`` holds what self-healing learned)."""
        return self._transport

    def quirks_for(self, model_id: str) -> ModelQuirks:
        """How requests for ``model_id`` are shaped."""
        return self._model_quirks.get(model_id, self._default_quirks)

    async def list_models(self, *, refresh: bool = False) -> ModelListing:
        """Models from ``GET {base}/models``; on failure an empty listing with a warning."""
        if self._listing is not None and not refresh:
            return self._listing
        url = f"{self.base_url}/models"
        try:
            models = await self._fetch_models(url)
        except (APIError, httpx.HTTPError, ValueError) as exc:
            reason = exc.message if isinstance(exc, LakecodeError) else type(exc).__name__
            warning = redact(f"Could not list models from {url}: {reason}. Type a model id instead.")
            return ModelListing(models=(), warnings=(warning,),
                                status=f"no model list from {self.base_url}")
        self._listing = ModelListing(
            models=models, status=f"{len(models)} models from {self.base_url} (discovered)")
        return self._listing

    async def _fetch_models(self, url: str) -> tuple[ModelInfo, ...]:
        headers = {"User-Agent": self._transport.user_agent, "Accept": "application/json", **self._auth}
        response = await self._http.get(url, headers=headers, follow_redirects=False)
        if not 200 <= response.status_code < 300:
            raise error_from_response(response)
        body: Any = json.loads(response.content)
        entries = body.get("data", body.get("models")) if isinstance(body, Mapping) else body
        if not isinstance(entries, list):
            raise ValueError("the model list is not a list")
        seen: dict[str, ModelInfo] = {}
        for entry in entries:
            model_id = entry.get("id") or entry.get("name") if isinstance(entry, Mapping) else entry
            if isinstance(model_id, str) and model_id and model_id not in seen:
                seen[model_id] = ModelInfo(id=model_id, display_name=model_id, source="discovered")
        return tuple(sorted(seen.values(), key=lambda m: m.id))

    async def model_info(self, model_id: str) -> ModelInfo | None:
        """The listed entry for ``model_id`` (from the last successful listing), or None."""
        listing = self._listing or await self.list_models()
        return next((m for m in listing.models if m.id == model_id), None)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Run one turn on ``{base}/chat/completions`` (see ``ChatTransport.stream``); a rejected
        key is an ``AuthenticationError`` whose hint says how to replace the key."""
        try:
            async for event in self._transport.stream(
                    f"{self.base_url}/chat/completions", request, dialect=Dialect.CHAT,
                    quirks=self.quirks_for(request.model), endpoint=request.model, headers=self._auth):
                yield event
        except AuthenticationError as exc:  # (a 403/400 "Invalid Token" is classified as one too)
            exc.hint = self._auth_hint
            raise

    async def aclose(self) -> None:
        """Close the HTTP client if this provider created it."""
        if self._owns_http:
            await self._http.aclose()


def build_openai_compatible_provider(
    base_url: str,
    api_key: str | None,
    *,
    clock: Clock = system_clock,
    http: httpx.AsyncClient | None = None,
    default_quirks: ModelQuirks | None = None,
    model_quirks: Mapping[str, ModelQuirks] | None = None,
    retry: RetryPolicy | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    auth_hint: str | None = None,
) -> OpenAICompatibleProvider:
    """A provider for the OpenAI-compatible server at ``base_url``.

    Args:
        base_url: the API base (``.../v1`` for OpenAI, vLLM and Ollama; ``.../serving-endpoints``
            for a Databricks workspace).
        api_key: sent as ``Authorization: Bearer <key>`` (never ``x-api-key``); None or "" for
            servers without auth.
        clock: time for retry backoff.
        http: an existing client to use (not closed by the provider); by default the provider
            creates and owns one that never follows redirects.
        default_quirks, model_quirks: request shaping for all models / per model id.
        retry: retry limits (defaults: ``lakecode.llm.retry``).
        timeout: timeouts for the client the provider creates.
        auth_hint: the hint for a rejected key (where it came from and how to replace it).
    """
    owns = http is None
    client = http if http is not None else httpx.AsyncClient(timeout=timeout, follow_redirects=False)
    auth: dict[str, str] = {}
    if api_key:
        register_secret(api_key)
        auth["Authorization"] = f"Bearer {api_key}"
    transport = ChatTransport(client, clock=clock, retry=retry, memory=ModelMemory())
    return OpenAICompatibleProvider(base_url, transport=transport, http=client, owns_http=owns,
                                    auth_headers=auth, default_quirks=default_quirks,
                                    model_quirks=model_quirks, auth_hint=auth_hint)
