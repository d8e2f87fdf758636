"""``DatabricksProvider``: the ``Provider`` for a Databricks workspace.

One provider holds one ``httpx.AsyncClient`` (base URL = the normalised workspace origin, auth =
the identity's ``httpx.Auth``, redirects never followed), the catalog service, the route table,
and the LLM transport with its per-session self-healing memory. For each turn it

1. looks the model up in the catalog (discovery is cached; a failure never stops a turn, and an
   id discovery does not list is still sent unchanged: F29, F30);
2. chooses the route (``lakecode.databricks.routes``) and the request quirks (caps, rejected
   parameters, list content, reasoning style) for that model;
3. sends the turn through ``lakecode.llm.wire.ChatTransport`` with the id **verbatim** (F25);
4. recovers once where recovery is certain: a host without the AI Gateway moves to
   ``/serving-endpoints`` (remembered per host), a model that "only supports the Responses
   API" moves to Responses (remembered for the session);
5. adds help to errors: a 404 model-not-found carries the closest discovered ids
   (``NotFoundError.suggestions``; never retried), a "did not respect the required format" 400
   is a ``ToolsUnsupportedError`` naming the model (F27).

Tools are sent exactly as the agent asks: whether to offer tools is the agent's decision, made
from ``ModelInfo.supports_tools`` (from discovery or curated data, never the name: F28).
``check_credentials`` validates a sign-in with a tool-free request (F27).

``build_databricks_provider(settings, overrides)`` is the factory the runtime, CLI and TUI use.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from lakecode.clock import Clock, system_clock
from lakecode.config.env import EnvOverrides
from lakecode.config.paths import lakecode_home
from lakecode.config.settings import Settings
from lakecode.databricks.catalog.cache import CatalogCache
from lakecode.databricks.catalog.classify import ModelTraits, family_of, traits_for
from lakecode.databricks.catalog.service import CatalogResult, CatalogService
from lakecode.databricks.catalog.sources import DiscoveryOptions
from lakecode.databricks.routes import ROUTES, GatewayMemory, Route, RouteTable
from lakecode.errors import (
    APIConnectionError,
    APIError,
    AuthError,
    ConfigError,
    LakecodeError,
    NotFoundError,
    WrongHostError,
    WrongRouteError,
)
from lakecode.llm.quirks import Dialect, ModelMemory, ModelQuirks
from lakecode.llm.types import ChatRequest, Finish, Message, ModelInfo, ModelListing, StreamEvent
from lakecode.llm.wire import ChatTransport, user_agent

if TYPE_CHECKING:
    from lakecode.databricks.auth.resolve import ResolvedAuth

__all__ = [
    "DISCOVERY_WAIT",
    "CredentialCheck",
    "DatabricksProvider",
    "build_databricks_provider",
    "quirks_from_traits",
]

_DIALECTS = {"chat": Dialect.CHAT, "responses": Dialect.RESPONSES}
DISCOVERY_WAIT = 10.0
"""Seconds a model turn waits for discovery before going ahead without it."""
_PING = "Reply with the single word: ok"


def quirks_from_traits(traits: ModelTraits, family: str) -> ModelQuirks:
    """The transport's ``ModelQuirks`` for a model's catalog traits.

    Tools are always passed through (``supports_tools=True``): the agent decides whether to
    offer them. ``stream_options`` listed as unsupported turns usage streaming off.
    """
    unsupported = traits.unsupported_params
    reasoning = traits.reasoning or ("thinking" if family == "claude" else "effort")
    return ModelQuirks(
        list_content=traits.list_content,
        unsupported_params=unsupported,
        max_tokens_cap=traits.max_tokens_cap,
        supports_tools=True,
        stream_usage="stream_options" not in unsupported,
        reasoning_style=reasoning,
    )


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """The outcome of ``DatabricksProvider.check_credentials``.

    Attributes:
        host: the workspace origin checked.
        model: the model pinged, or None when only the control plane was asked.
        model_ok: whether the model answered (None when no model was pinged).
        detail: one line for the user.
        warning: a problem with the model that does not invalidate the sign-in (settings can
            still be saved), or None.
    """

    host: str
    model: str | None
    model_ok: bool | None
    detail: str
    warning: str | None = None


class DatabricksProvider:
    """A ``lakecode.llm.Provider`` for one workspace and one identity.

    Build it with ``build_databricks_provider``; the constructor takes ready parts (tests
    inject their own). Call ``aclose()`` when done.

    Args:
        host: the normalised workspace origin.
        http: the client (base URL = ``host``, Databricks auth, ``follow_redirects=False``).
        catalog: discovery for this host and identity.
        routes: the route table for this host.
        transport: the chat transport (sharing ``http``).
        owns_client: close ``http`` in ``aclose``.
        discovery_wait: seconds a model turn waits for a running discovery before it goes
            ahead with curated data and name rules (discovery then finishes in the background).
    """

    name = "databricks"

    def __init__(self, *, host: str, http: httpx.AsyncClient, catalog: CatalogService,
                 routes: RouteTable, transport: ChatTransport, owns_client: bool = True,
                 discovery_wait: float = DISCOVERY_WAIT) -> None:
        self.host = host
        self.http = http
        self.catalog = catalog
        self.routes = routes
        self.transport = transport
        self._owns_client = owns_client
        self._route_override: dict[str, str] = {}
        self._discovery_wait = discovery_wait
        self._discovery: asyncio.Task[CatalogResult] | None = None

    @property
    def memory(self) -> ModelMemory:
        """What this session learned about each model (dropped parameters, caps)."""
        return self.transport.memory

    async def list_models(self, *, refresh: bool = False, include_all: bool = False) -> ModelListing:
        """The chat models on offer (with ``include_all``, also embeddings, custom endpoints
        and curated models the workspace did not list). Never raises for discovery failures."""
        result = await self.catalog.catalog(refresh=refresh)
        return result.listing(include_all=include_all)

    async def model_info(self, model_id: str) -> ModelInfo | None:
        """What discovery or curated data say about ``model_id``, or None for an unknown id."""
        return await self.catalog.lookup(model_id)

    async def route_for(self, model_id: str) -> Route:
        """The route a turn for ``model_id`` would take now."""
        return (await self._plan(model_id))[0]

    async def quirks_for(self, model_id: str) -> ModelQuirks:
        """The request quirks for ``model_id`` before session learning is applied."""
        return (await self._plan(model_id))[1]

    async def _lookup_for_turn(self, model_id: str) -> ModelInfo | None:
        """What is known about ``model_id`` for a model turn, without holding it up for long.

        With a listing already in hand, a stale one is refreshed in the background and the turn
        goes ahead at once. Otherwise the turn waits at most ``discovery_wait`` seconds for
        discovery, then goes ahead with curated data and name rules (F30) while discovery
        finishes in the background.
        """
        task = self._discovery
        running = task is not None and not task.done()
        if self.catalog.known() is not None:
            if not running and not self.catalog.is_fresh():
                self._discovery = asyncio.ensure_future(self.catalog.catalog())
            return self.catalog.lookup_known(model_id)
        if task is None or not running:
            task = self._discovery = asyncio.ensure_future(self.catalog.catalog())
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self._discovery_wait)
        except TimeoutError:
            pass
        return self.catalog.lookup_known(model_id)

    async def _plan(self, model_id: str) -> tuple[Route, ModelQuirks]:
        """The route and quirks for ``model_id``, from one catalog lookup."""
        info = await self._lookup_for_turn(model_id)
        override = self._route_override.get(model_id)
        if override is not None:
            route = ROUTES[override]
        else:
            route = self.routes.route_for(model_id, info.route if info is not None else None)
        traits = traits_for(model_id, info, self.catalog.curated)
        family = info.family if info is not None else family_of(model_id)
        return route, quirks_from_traits(traits, family)

    def stream_chat(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Run one model turn (see the module docstring); ends with ``Finish``.

        Raises:
            lakecode.errors.NotFoundError: the model does not exist; ``suggestions`` holds the
                closest discovered ids. Attempted exactly once.
            lakecode.errors.ToolsUnsupportedError: the model cannot call tools (names it).
            lakecode.errors.APIError: other failures after retries and self-healing.
            lakecode.errors.AuthError: no credential could be obtained.
        """
        return self._stream(request)

    async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        model = request.model
        route, quirks = await self._plan(model)
        recovered: set[str] = set()
        while True:
            yielded = False
            try:
                async for event in self.transport.stream(route.path, request,
                                                         dialect=_DIALECTS[route.dialect],
                                                         quirks=quirks, endpoint=model):
                    yielded = True
                    yield event
                return
            except APIError as error:
                if yielded:
                    raise
                next_route = self._recover(route, error, model, recovered)
                if next_route is None:
                    if isinstance(error, NotFoundError):
                        await self._add_suggestions(error, model)
                    raise
                route = next_route

    def _recover(self, route: Route, error: APIError, model: str, recovered: set[str]) -> Route | None:
        """The route to retry on once after ``error``, or None to raise it."""
        if "gateway" not in recovered:
            fallback = self.routes.fallback_for(route, error)
            if fallback is not None:
                recovered.add("gateway")
                return fallback
        if isinstance(error, WrongRouteError) and route.dialect == "chat" and "responses" not in recovered:
            recovered.add("responses")
            self._route_override[model] = "responses"
            return ROUTES["responses"]
        return None

    async def _add_suggestions(self, error: NotFoundError, model: str) -> None:
        suggestions = await self.catalog.suggestions(model)
        error.suggestions = suggestions
        if suggestions:
            error.hint = (f"Did you mean {', '.join(suggestions[:3])}? Model ids are sent exactly as "
                          "written; pick one with `lakecode models` or in /settings.")

    async def check_credentials(self, model: str | None = None) -> CredentialCheck:
        """Check that the sign-in works, with a request that carries **no tools** (F27).

        With ``model``, one tiny non-streaming turn is sent to it; otherwise discovery is run.
        A problem with the model itself (not found, cannot do something, overloaded) is returned
        as a ``warning``: the credential was accepted, so settings can be saved.

        Raises:
            lakecode.errors.AuthError: no credential, or the workspace rejected it.
            lakecode.errors.WrongHostError: the host is not a workspace API host.
            lakecode.errors.APIConnectionError: the host could not be reached.
        """
        if model is None:
            return await self._check_control_plane()
        request = ChatRequest(model=model, messages=(Message.user(_PING),), max_tokens=16, stream=False)
        try:
            async for event in self.stream_chat(request):
                if isinstance(event, Finish):
                    break
        except (AuthError, WrongHostError):
            raise
        except APIError as error:
            if _is_unreachable(error):
                raise
            return CredentialCheck(self.host, model, False, f"Signed in to {self.host}.",
                                   warning=error.describe())
        return CredentialCheck(self.host, model, True, f"Signed in to {self.host}; {model} answered.")

    async def _check_control_plane(self) -> CredentialCheck:
        result = await self.catalog.catalog(refresh=True)
        errors = [s.error for s in self.catalog.last_sources if s.error is not None]
        if self.catalog.last_sources and len(errors) == len(self.catalog.last_sources):
            for error in errors:
                if isinstance(error, AuthError | WrongHostError):
                    raise error
            if all(_is_unreachable(e) for e in errors):
                raise errors[0]
        return CredentialCheck(self.host, None, None, f"Signed in to {self.host}. {result.status}")

    async def aclose(self) -> None:
        """Stop a background discovery and close the HTTP client (when this provider owns it)."""
        task, self._discovery = self._discovery, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._owns_client:
            await self.http.aclose()

    async def __aenter__(self) -> DatabricksProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _is_unreachable(error: LakecodeError) -> bool:
    return isinstance(error, APIConnectionError)


# ---- the factory --------------------------------------------------------------------------------


def _identity_text(auth_type: str, client_id: str | None, profile: str | None,
                   secret: str | None) -> str:
    """Who is asking, for the discovery cache key (a secret only ever as a short hash)."""
    digest = hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else ""
    return f"{auth_type}|{client_id or ''}|{profile or ''}|{digest}"


def build_databricks_provider(
    settings: Settings,
    overrides: EnvOverrides | None = None,
    *,
    clock: Clock = system_clock,
    auth: httpx.Auth | None = None,
    identity: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    cache_dir: Path | None = None,
    discovery: DiscoveryOptions | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: httpx.Timeout | None = None,
    discovery_wait: float = DISCOVERY_WAIT,
) -> DatabricksProvider:
    """Build a ``DatabricksProvider`` from settings (and this run's environment overrides).

    Args:
        settings: the saved settings; ignored in favour of ``overrides.settings`` when given.
        overrides: ``lakecode.config.env.apply_env_overrides`` output (effective settings and
            secrets from the environment).
        clock: the clock for retries, token expiry and the discovery cache.
        auth: the ``httpx.Auth`` to use (with ``settings.databricks.host``); by default
            ``lakecode.databricks.auth.resolve.resolve_auth`` builds the credential, and the
            host, from the settings and secrets (PAT, OAuth M2M, browser login, profile).
        identity: the cache identity; derived from the settings when omitted.
        transport: an httpx transport (tests: ``httpx.MockTransport``).
        cache_dir: the discovery cache directory; ``<lakecode home>/cache/catalog`` by default.
        discovery: which listings to query and how.
        headers: extra headers for every request (e.g. ``X-Databricks-Workspace-Id``).
        timeout: HTTP timeouts (default: 10 s connect, 300 s between streamed bytes).
        discovery_wait: seconds a model turn waits for discovery (see ``DatabricksProvider``).

    Raises:
        lakecode.errors.ConfigError: no workspace host is configured, or the Databricks config
            file is malformed (``ProfileError``), or two auth methods are set at once.
        lakecode.errors.HostError: the host cannot be a workspace URL.
        lakecode.errors.AuthError: the sign-in method has no usable credential.
    """
    effective = overrides.settings if overrides is not None else settings
    dbx = effective.databricks
    auth_type: str = dbx.auth_type
    if auth is None:
        resolved = _resolve_auth(effective, overrides, clock, transport)
        host, auth, auth_type = resolved.host, resolved.auth, resolved.auth_type
        if identity is None:
            # Two tokens for one host may be two people: the cache key includes which credential
            # (a hash of it), so a new or wrong token never sees another one's model list.
            from lakecode.databricks.auth.token_source import registry

            credential = registry.fingerprint(resolved.identity)
            identity = resolved.identity.key + (f":{credential[:16]}" if credential else "")
    else:
        if not dbx.host:
            raise ConfigError("No Databricks workspace host is set.",
                              hint="Set DATABRICKS_HOST, or run `lakecode` and open /settings.")
        from lakecode.databricks.host import normalize_host

        host = normalize_host(dbx.host)
    if identity is None:
        secrets = overrides.secrets if overrides is not None else {}
        secret = secrets.get("pat") or secrets.get("client_secret")
        identity = _identity_text(auth_type, dbx.client_id, dbx.profile,
                                  secret.get_secret_value() if secret is not None else None)
    suffix = f"auth/{auth_type}"
    base_headers: dict[str, str] = {"User-Agent": user_agent(suffix), **(headers or {})}
    client_kwargs: dict[str, Any] = {}
    if transport is not None:
        client_kwargs["transport"] = transport
    http = httpx.AsyncClient(
        base_url=host, auth=auth, follow_redirects=False, headers=base_headers,
        timeout=timeout or httpx.Timeout(60.0, connect=10.0, read=300.0), **client_kwargs)
    home = lakecode_home() / "cache"
    cache = CatalogCache(cache_dir if cache_dir is not None else home / "catalog", clock=clock)
    catalog = CatalogService(http, host=host, identity=identity, clock=clock, cache=cache,
                             options=discovery)
    routes = RouteTable(host, forced=dbx.route,
                        memory=_gateway_memory(home / "routes.json", clock))
    chat = ChatTransport(http, clock=clock, memory=ModelMemory(), user_agent_suffix=suffix,
                         headers=headers)
    return DatabricksProvider(host=host, http=http, catalog=catalog, routes=routes, transport=chat,
                              discovery_wait=discovery_wait)


_memories: dict[Path, GatewayMemory] = {}


def _gateway_memory(path: Path, clock: Clock) -> GatewayMemory:
    """One gateway memory per file for the process (so providers built later share it)."""
    memory = _memories.get(path)
    if memory is None:
        memory = _memories[path] = GatewayMemory(path, clock=clock)
    return memory


def _resolve_auth(settings: Settings, overrides: EnvOverrides | None, clock: Clock,
                  transport: httpx.AsyncBaseTransport | None) -> ResolvedAuth:
    """The auth layer's credential for these settings (no network call)."""
    from lakecode.databricks.auth.resolve import resolve_auth

    return resolve_auth(
        settings.databricks,
        secrets=overrides.secrets if overrides is not None else None,
        sdk_auth_type=overrides.sdk_auth_type if overrides is not None else None,
        applied=overrides.applied if overrides is not None else None,
        clock=clock,
        transport=transport,
    )
