"""Inference routes on a Databricks workspace, and which one each model uses.

Three routes (wire reference §4.1–4.3):

==================  ==========================================  ==========================
name                path                                        dialect
==================  ==========================================  ==========================
serving-endpoints   ``/serving-endpoints/chat/completions``     chat completions, ``model``
ai-gateway          ``/ai-gateway/mlflow/v1/chat/completions``  chat completions, ``model``
responses           ``/serving-endpoints/responses``            OpenAI Responses
==================  ==========================================  ==========================

The route for a model comes from discovery (``api_types`` / ``supported_api_types`` / task,
and whether the AI Gateway serves it), then curated data, then name rules as a last resort
(``route_by_name``: ``*codex*`` speaks only Responses, a three-part Unity Catalog name is
served by the gateway). ``DatabricksSettings.route`` can force it: a forced chat route
(``serving-endpoints`` or ``ai-gateway``) moves every chat-completions model there, while models
that speak only Responses stay on ``responses`` (they cannot be reached any other way); a forced
``responses`` sends every model to Responses.

A host without the gateway (404 ``ENDPOINT_NOT_FOUND`` for the route itself, 501, or
``FEATURE_DISABLED`` "AI Gateway is not available for this workspace") is remembered per host:
the request is retried once on ``/serving-endpoints`` and later requests go there directly.
The memory lives for the process and, when given a path, on disk for a day.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

from lakecode.clock import Clock, system_clock
from lakecode.errors import FeatureDisabledError, LakecodeError, NotFoundError
from lakecode.secure_io import atomic_write_text

__all__ = [
    "AI_GATEWAY",
    "RESPONSES",
    "ROUTES",
    "SERVING_ENDPOINTS",
    "Dialect",
    "GatewayMemory",
    "Route",
    "RouteTable",
    "is_gateway_absent",
    "route_by_name",
]

SERVING_ENDPOINTS = "serving-endpoints"
AI_GATEWAY = "ai-gateway"
RESPONSES = "responses"

Dialect: TypeAlias = Literal["chat", "responses"]


@dataclass(frozen=True, slots=True)
class Route:
    """One inference route.

    Attributes:
        name: "serving-endpoints", "ai-gateway" or "responses".
        path: the path on the workspace origin.
        dialect: "chat" (chat completions) or "responses" (OpenAI Responses).
        model_in_body: whether the body names the model (always, on these routes).
    """

    name: str
    path: str
    dialect: Dialect
    model_in_body: bool = True

    @property
    def gateway(self) -> bool:
        """Whether this route is served by the AI Gateway."""
        return self.path.startswith("/ai-gateway/")


ROUTES: dict[str, Route] = {
    SERVING_ENDPOINTS: Route(SERVING_ENDPOINTS, "/serving-endpoints/chat/completions", "chat"),
    AI_GATEWAY: Route(AI_GATEWAY, "/ai-gateway/mlflow/v1/chat/completions", "chat"),
    RESPONSES: Route(RESPONSES, "/serving-endpoints/responses", "responses"),
}

_UC_NAME = re.compile(r"^[^./\s]+\.[^./\s]+\.[^/\s]+$")


def route_by_name(model_id: str) -> str:
    """The fallback route for an id discovery knows nothing about (name rules only).

    ``*codex*`` models speak only Responses; a ``catalog.schema.name`` id is a Unity Catalog
    model service, served by the gateway; anything else uses ``/serving-endpoints``.
    """
    if "codex" in model_id.lower():
        return RESPONSES
    if _UC_NAME.match(model_id) and not model_id.startswith("databricks-"):
        return AI_GATEWAY
    return SERVING_ENDPOINTS


_MODEL_MISSING = re.compile(r"model|does not exist|RESOURCE_DOES_NOT_EXIST", re.I)


def is_gateway_absent(error: LakecodeError) -> bool:
    """Whether an error from a gateway route means "this host has no AI Gateway".

    True for 501 / ``FEATURE_DISABLED`` / ``NOT_IMPLEMENTED``, and for a 404
    ``ENDPOINT_NOT_FOUND`` that is about the route rather than a model (a model-not-found 404
    names the model or says "model"/"does not exist"; it is never a reason to switch routes).
    """
    if isinstance(error, FeatureDisabledError):
        return True
    if isinstance(error, NotFoundError):
        code = (error.error_code or "").upper()
        text = error.message.replace(error.endpoint or "\0", "")
        return code == "ENDPOINT_NOT_FOUND" and not _MODEL_MISSING.search(text)
    return False


class GatewayMemory:
    """Which hosts lack the AI Gateway: kept for the process, and on disk when ``path`` is set.

    Disk entries expire after ``ttl`` seconds (a day by default) so a workspace that enables
    the gateway later is tried again. Thread-safe.
    """

    def __init__(self, path: Path | None = None, *, clock: Clock = system_clock,
                 ttl: float = 86_400.0) -> None:
        self._path = path
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._absent: dict[str, float] = {}
        self._loaded = path is None

    def _load(self) -> None:
        if self._loaded or self._path is None:
            return
        self._loaded = True
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            now = self._clock.time()
            for host, since in data.items():
                if isinstance(since, int | float) and now - since < self._ttl:
                    self._absent.setdefault(host, float(since))

    def is_absent(self, host: str) -> bool:
        """Whether ``host`` (a normalised origin) is known to lack the gateway."""
        with self._lock:
            self._load()
            return host in self._absent

    def mark_absent(self, host: str) -> None:
        """Remember that ``host`` lacks the gateway (best effort on disk)."""
        with self._lock:
            self._load()
            self._absent[host] = self._clock.time()
            if self._path is not None:
                try:
                    atomic_write_text(self._path, json.dumps(self._absent, sort_keys=True))
                except OSError:
                    pass  # the process memory still holds it


_PROCESS_MEMORY = GatewayMemory()


class RouteTable:
    """Chooses the route for each model on one host.

    Args:
        host: the normalised workspace origin (the key of the gateway memory).
        forced: ``DatabricksSettings.route``: "auto" or a route name to force.
        memory: where "this host lacks the gateway" is remembered; the process-wide memory
            by default.
    """

    def __init__(self, host: str, *, forced: str = "auto", memory: GatewayMemory | None = None) -> None:
        if forced != "auto" and forced not in ROUTES:
            raise ValueError(f"unknown route {forced!r}")
        self.host = host
        self.forced = forced
        self.memory = memory if memory is not None else _PROCESS_MEMORY

    def route_for(self, model_id: str, discovered_route: str | None = None) -> Route:
        """The route for ``model_id``.

        Args:
            model_id: the id to send.
            discovered_route: the route classification gave the model (from discovery or
                curated data), or None to use the name rules.
        """
        name = discovered_route if discovered_route in ROUTES else route_by_name(model_id)
        if self.forced == RESPONSES:
            name = RESPONSES
        elif self.forced != "auto" and name != RESPONSES:
            name = self.forced
        if name == AI_GATEWAY and self.memory.is_absent(self.host):
            name = SERVING_ENDPOINTS
        return ROUTES[name]

    def fallback_for(self, route: Route, error: LakecodeError) -> Route | None:
        """The route to retry on once after ``error`` on ``route``, or None.

        Only a gateway route on a host that turns out to lack the gateway has a fallback
        (``/serving-endpoints``); the host is remembered so later requests go there directly.
        """
        if route.gateway and is_gateway_absent(error):
            self.memory.mark_absent(self.host)
            return ROUTES[SERVING_ENDPOINTS]
        return None
