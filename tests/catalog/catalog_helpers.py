"""A small fake workspace for catalog unit tests, served through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

HOST = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"

Handler = Callable[[httpx.Request], httpx.Response]


def jresp(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response."""
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"content-type": "application/json", **(headers or {})})


def endpoint(name: str, *, task: str | None = "llm/v1/chat", function_calling: bool | None = None,
             ready: str = "READY", endpoint_type: str = "FOUNDATION_MODEL_API",
             **extra: Any) -> dict[str, Any]:
    """A serving-endpoints list entry."""
    out: dict[str, Any] = {"name": name, "state": {"ready": ready}, "endpoint_type": endpoint_type}
    if task is not None:
        out["task"] = task
    if function_calling is not None:
        out["capabilities"] = {"function_calling": function_calling}
    out.update(extra)
    return out


def not_found(message: str, code: str = "ENDPOINT_NOT_FOUND") -> httpx.Response:
    return jresp(404, {"error_code": code, "message": message})


@dataclass
class FakeWorkspace:
    """Routes by path; unknown paths answer 404 ENDPOINT_NOT_FOUND. Records every request."""

    endpoints: list[dict[str, Any]] = field(default_factory=list)
    foundation: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    gateway_v2: list[dict[str, Any]] | None = None
    codex: list[str] | None = None
    overrides: dict[str, Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path in self.overrides:
            return self.overrides[path](request)
        if path == "/api/2.0/serving-endpoints":
            return jresp(200, {"endpoints": self.endpoints})
        if path == "/api/2.0/serving-endpoints:foundation-models":
            return jresp(200, {"endpoints": self.foundation})
        if path == "/api/2.1/unity-catalog/model-services":
            return self._paged(request, self.services, "model_services")
        if path == "/api/ai-gateway/v2/endpoints" and self.gateway_v2 is not None:
            return self._paged(request, self.gateway_v2, "endpoints")
        if path == "/ai-gateway/codex/v1/models" and self.codex is not None:
            return jresp(200, {"data": [{"id": i} for i in self.codex]})
        return not_found(f"{path.strip('/')} is not enabled for this workspace")

    @staticmethod
    def _paged(request: httpx.Request, items: list[dict[str, Any]], key: str) -> httpx.Response:
        size = int(request.url.params.get("page_size", "1000"))
        start = int(request.url.params.get("page_token", "0"))
        body: dict[str, Any] = {key: items[start:start + size]}
        if start + size < len(items):
            body["next_page_token"] = str(start + size)
        return jresp(200, body)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=HOST, transport=httpx.MockTransport(self.handler),
                                 follow_redirects=False)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]
