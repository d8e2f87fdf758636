"""The endpoint catalogue: which models the emulated workspace serves, and how they behave.

The bundled catalogue is package data (``data/workspace.json``) shaped like a real workspace.
A custom catalogue can be a JSON or TOML file with an ``endpoints`` list, or a list of dicts.
``synthetic_endpoints(n)`` generates many chat endpoints for benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import threading
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeAlias

__all__ = ["REASONING_STYLES", "Catalog", "Endpoint", "load_catalog", "synthetic_endpoints"]

ReasoningStyle: TypeAlias = Literal["none", "parts", "parts-with-signature", "reasoning_content"]
REASONING_STYLES: tuple[str, ...] = ("none", "parts", "parts-with-signature", "reasoning_content")
_BASE_MS = 1_735_689_600_000  # 2025-01-01, so listings are byte-stable


@dataclass
class Endpoint:
    """One serving endpoint and/or Unity Catalog model service.

    Attributes:
        name: the endpoint name (the id clients send verbatim).
        task: ``llm/v1/chat``, ``llm/v1/embeddings``, or None for a custom model.
        endpoint_type: ``FOUNDATION_MODEL_API``, ``EXTERNAL_MODEL`` or ``CUSTOM_MODEL``.
        ready: False reports ``state.ready: NOT_READY`` and refuses queries.
        api_types: wire dialects, as on ``:foundation-models`` (e.g. ``mlflow/v1/responses``).
        ai_gateway_v2_supported: listed by the v2 gateway; defaults to True for FMAPI endpoints.
        function_calling: ``capabilities.function_calling``.
        rejects_tools: requests with tools fail ("Model response did not respect the required
            format"), as Llama 3.3 70B does.
        max_tokens: the cap on ``max_tokens`` (None: no cap).
        context_window: input + max_tokens limit, for the flat context-overflow error.
        unsupported_params: sampling parameters the model rejects (e.g. ``temperature``).
        responses_only: chat completions answer "only supports the Responses API".
        reasoning: ``none``, ``parts`` (gpt-oss: typed parts, always), ``parts-with-signature``
            (Claude: typed parts with a late signature, when ``thinking`` is on) or
            ``reasoning_content`` (a string delta field, always).
        upstream_model: the ``model`` field echoed in responses.
        uc_name: ``catalog.schema.name`` when the model is also a Unity Catalog model service.
        serving_endpoint: listed by ``/api/2.0/serving-endpoints`` (False: UC service only).
        family: claude, gpt, gpt-oss, gemini, llama, ... (informational).
        codex: listed by ``/ai-gateway/codex/v1/models``.
        qps_limit: queries per second this endpoint allows on the emulator clock; more get 429
            ``REQUEST_LIMIT_EXCEEDED`` (None: unlimited). Shown as ``ai_gateway.rate_limits``.
    """

    name: str
    task: str | None = "llm/v1/chat"
    endpoint_type: str = "FOUNDATION_MODEL_API"
    ready: bool = True
    api_types: list[str] = field(default_factory=list)
    ai_gateway_v2_supported: bool | None = None
    function_calling: bool = False
    rejects_tools: bool = False
    max_tokens: int | None = None
    context_window: int | None = None
    unsupported_params: list[str] = field(default_factory=list)
    responses_only: bool = False
    reasoning: str = "none"
    upstream_model: str | None = None
    uc_name: str | None = None
    serving_endpoint: bool = True
    display_name: str | None = None
    family: str = "other"
    provider: str | None = None
    entity_name: str | None = None
    served_model_name: str | None = None
    description: str | None = None
    codex: bool = False
    embedding_dimensions: int = 8
    qps_limit: int | None = None

    def __post_init__(self) -> None:
        if self.reasoning not in REASONING_STYLES:
            raise ValueError(f"endpoint {self.name}: unknown reasoning style {self.reasoning!r}")
        if self.ai_gateway_v2_supported is None:
            self.ai_gateway_v2_supported = self.endpoint_type == "FOUNDATION_MODEL_API"
        self.upstream_model = self.upstream_model or self.name
        self.served_model_name = self.served_model_name or self.name
        self.display_name = self.display_name or self.name

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Endpoint:
        """Build from a catalogue entry; unknown keys raise ``ValueError``."""
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"catalogue entry {data.get('name')!r}: unknown key(s) {sorted(extra)}")
        return cls(**data)

    @property
    def is_chat(self) -> bool:
        """True for chat-task endpoints."""
        return self.task == "llm/v1/chat"

    @property
    def supports_responses(self) -> bool:
        """True when the model speaks the Responses API."""
        return any(t.endswith("/responses") for t in self.api_types)

    @property
    def uid(self) -> str:
        """A stable 32-hex-digit id."""
        return hashlib.sha256(self.name.encode()).hexdigest()[:32]


def synthetic_endpoints(n: int, prefix: str = "synthetic-chat") -> list[Endpoint]:
    """``n`` generated chat endpoints of mixed families (for benchmarks and paging tests)."""
    families = [
        ("claude", ["mlflow/v1/chat/completions", "anthropic/v1/messages"]),
        ("gpt", ["mlflow/v1/chat/completions", "mlflow/v1/responses"]),
        ("gemini", ["mlflow/v1/chat/completions"]),
        ("llama", ["mlflow/v1/chat/completions"]),
    ]
    out = []
    for i in range(n):
        family, api_types = families[i % len(families)]
        out.append(
            Endpoint(
                name=f"{prefix}-{i:05d}",
                family=family,
                api_types=list(api_types),
                function_calling=True,
                max_tokens=8192,
                uc_name=f"synthetic.models.{prefix}-{i:05d}",
            )
        )
    return out


def load_catalog(source: str | Path | list[dict[str, Any]] | None = None) -> list[Endpoint]:
    """Load a catalogue: the bundled workspace (None), a JSON/TOML file, or a list of entries."""
    if source is None:
        text = resources.files("lakecode.emulator").joinpath("data/workspace.json").read_text("utf-8")
        entries = json.loads(text)["endpoints"]
    elif isinstance(source, list):
        entries = source
    else:
        path = Path(source)
        raw = path.read_text("utf-8")
        doc = tomllib.loads(raw) if path.suffix == ".toml" else json.loads(raw)
        entries = doc["endpoints"] if isinstance(doc, dict) else doc
    return [Endpoint.from_dict(dict(e)) for e in entries]


class Catalog:
    """The live catalogue with lookups and the JSON shapes of the listing APIs."""

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self._lock = threading.Lock()
        self._endpoints: list[Endpoint] = []
        self._by_name: dict[str, Endpoint] = {}
        self._cache: dict[str, bytes] = {}
        for ep in endpoints:
            self.add(ep)

    def add(self, endpoint: Endpoint | dict[str, Any]) -> Endpoint:
        """Add (or replace) an endpoint at run time."""
        ep = endpoint if isinstance(endpoint, Endpoint) else Endpoint.from_dict(endpoint)
        with self._lock:
            if ep.name in self._by_name:
                self._endpoints = [e for e in self._endpoints if e.name != ep.name]
            self._endpoints.append(ep)
            self._by_name[ep.name] = ep
            if ep.uc_name:
                self._by_name[ep.uc_name] = ep
            self._cache.clear()
        return ep

    def remove(self, name: str) -> None:
        """Remove an endpoint by name."""
        with self._lock:
            ep = self._by_name.pop(name, None)
            if ep is not None:
                self._by_name.pop(ep.uc_name or "", None)
                self._endpoints = [e for e in self._endpoints if e is not ep]
            self._cache.clear()

    @property
    def endpoints(self) -> list[Endpoint]:
        """Every entry, in catalogue order."""
        with self._lock:
            return list(self._endpoints)

    def serving(self, name: str) -> Endpoint | None:
        """A serving endpoint by exact name (UC-only services are not serving endpoints)."""
        ep = self._by_name.get(name)
        return ep if ep is not None and ep.serving_endpoint and ep.name == name else None

    def gateway_model(self, model: str) -> Endpoint | None:
        """A model on the AI Gateway: an endpoint name or a Unity Catalog name."""
        return self._by_name.get(model)

    def cached(self, key: str, build: Any) -> bytes:
        """Memoised rendered listing (cleared when the catalogue changes)."""
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = json.dumps(build(), separators=(",", ":")).encode()
            with self._lock:
                self._cache[key] = hit
        return hit
