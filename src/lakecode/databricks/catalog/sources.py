"""Discovery sources: the workspace listings that say which models exist, fetched concurrently.

=====================  ==============================================  =======================
source                 request                                         id of each model
=====================  ==============================================  =======================
serving-endpoints      ``GET /api/2.0/serving-endpoints``              ``name``
foundation-models      ``GET /api/2.0/serving-endpoints:foundation-    ``name``
                       models`` (carries ``api_types``)
model-services         ``GET /api/2.1/unity-catalog/model-services``   ``name`` without the
                       (paged)                                         ``model-services/``
                                                                       prefix, i.e.
                                                                       ``catalog.schema.model``
ai-gateway-v2          ``GET /api/ai-gateway/v2/endpoints`` (paged)    ``name``
codex                  ``GET /ai-gateway/codex/v1/models``             ``data[].id``
=====================  ==============================================  =======================

Paged listings always send ``page_size`` (100: without it the model-services listing has
answered 499) and follow ``next_page_token`` up to a page cap. 499 and 504 are retried with
capped exponential backoff on the injected clock. No source is fatal (F30): a failure becomes a
``SourceResult`` with an error, which the service turns into a warning. The client must not
follow redirects, so a 303 to ``/login`` is reported as a wrong host (F9) and ``/login`` is
never requested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from lakecode.clock import Clock
from lakecode.databricks.catalog.records import EndpointRecord
from lakecode.errors import (
    APIConnectionError,
    APIError,
    AuthError,
    FeatureDisabledError,
    LakecodeError,
    NotFoundError,
    PermissionDeniedError,
    WrongHostError,
)
from lakecode.llm.errors import error_from_response, error_from_transport

__all__ = [
    "ALL_SOURCES",
    "SOURCE_LABELS",
    "DiscoveryOptions",
    "SourceResult",
    "all_failed_with",
    "all_records",
    "describe_failure",
    "failure_warnings",
    "fetch_all",
    "fetch_source",
    "parse_codex_models",
    "parse_endpoint_list",
    "parse_gateway_v2",
    "parse_model_services",
]

ALL_SOURCES: tuple[str, ...] = (
    "serving-endpoints", "foundation-models", "model-services", "ai-gateway-v2", "codex",
)
SOURCE_LABELS: Mapping[str, str] = {
    "serving-endpoints": "serving-endpoints listing",
    "foundation-models": "foundation-models listing",
    "model-services": "Unity Catalog model-services listing",
    "ai-gateway-v2": "AI Gateway v2 endpoint listing",
    "codex": "Codex model listing",
}
_PATHS: Mapping[str, str] = {
    "serving-endpoints": "/api/2.0/serving-endpoints",
    "foundation-models": "/api/2.0/serving-endpoints:foundation-models",
    "model-services": "/api/2.1/unity-catalog/model-services",
    "ai-gateway-v2": "/api/ai-gateway/v2/endpoints",
    "codex": "/ai-gateway/codex/v1/models",
}
_RETRY_STATUSES = frozenset({499, 504})


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    """How discovery behaves.

    Attributes:
        sources: the sources to query (all by default).
        page_size: ``page_size`` sent on paged listings (the service allows at most 100).
        max_pages: the most pages one paged listing may take.
        max_attempts: tries per page when the service answers 499 or 504.
        backoff: the first retry delay in seconds; doubled each retry, capped at
            ``max_backoff``.
        max_backoff: the longest delay between two tries.
        timeout: seconds one listing request may take (shorter than inference reads, so a
            hung listing cannot hold up a model turn for long).
    """

    sources: tuple[str, ...] = ALL_SOURCES
    page_size: int = 100
    max_pages: int = 100
    max_attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source returned.

    Attributes:
        name: the source name (see ``ALL_SOURCES``).
        records: the models it listed (possibly partial when ``error`` is set).
        error: why it failed, or None.
        pages: the number of pages fetched.
        truncated: the page cap stopped the listing early.
    """

    name: str
    records: tuple[EndpointRecord, ...] = ()
    error: LakecodeError | None = None
    pages: int = 0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """Whether the source answered (its list may still be empty or truncated)."""
        return self.error is None


# ---- parsers (pure) ---------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _strs(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _ready(state: Any) -> bool | None:
    ready = state.get("ready") if isinstance(state, dict) else state
    if isinstance(ready, str) and ready:
        return ready.upper() == "READY"
    return None


def _endpoint(raw: Mapping[str, Any], source: str) -> EndpointRecord | None:
    name = _str(raw.get("name"))
    if name is None:
        return None
    api_types = _strs(raw.get("api_types")) or _strs(raw.get("supported_api_types"))
    gateway = _bool(raw.get("ai_gateway_v2_supported"))
    display = entity = provider = upstream = None
    config = raw.get("config")
    entities = config.get("served_entities") if isinstance(config, dict) else None
    for entity_raw in entities if isinstance(entities, list) else ():
        if not isinstance(entity_raw, dict):
            continue
        entity = entity or _str(entity_raw.get("entity_name"))
        fm = entity_raw.get("foundation_model")
        if isinstance(fm, dict):
            api_types = api_types or _strs(fm.get("api_types"))
            gateway = gateway if gateway is not None else _bool(fm.get("ai_gateway_v2_supported"))
            display = display or _str(fm.get("display_name"))
            upstream = upstream or _str(fm.get("name"))
        ext = entity_raw.get("external_model")
        if isinstance(ext, dict):
            provider = provider or _str(ext.get("provider"))
            upstream = upstream or _str(ext.get("name"))
    capabilities = raw.get("capabilities")
    return EndpointRecord(
        id=name,
        sources=(source,),
        task=_str(raw.get("task")),
        endpoint_type=_str(raw.get("endpoint_type")),
        ready=_ready(raw.get("state")),
        api_types=api_types,
        function_calling=_bool(capabilities.get("function_calling"))
        if isinstance(capabilities, dict) else None,
        gateway=gateway,
        display_name=display,
        entity_name=entity,
        provider=provider,
        upstream_name=upstream,
        description=_str(raw.get("description")),
    )


def _items(data: Any, *keys: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, dict):
        return []
    for key in keys:
        items = data.get(key)
        if isinstance(items, list):
            return [i for i in items if isinstance(i, dict)]
    return []


def parse_endpoint_list(data: Any, source: str = "serving-endpoints") -> list[EndpointRecord]:
    """Records from a serving-endpoints (or ``:foundation-models``) listing body."""
    out = []
    for raw in _items(data, "endpoints", "foundation_models", "models"):
        record = _endpoint(raw, source)
        if record is not None:
            out.append(record)
    return out


def _next_token(data: Any) -> str | None:
    return _str(data.get("next_page_token")) if isinstance(data, dict) else None


def _service(raw: Mapping[str, Any], source: str) -> EndpointRecord | None:
    name = _str(raw.get("name"))
    if name is None:
        return None
    # "model-services/<catalog>.<schema>.<model>": the id to send is the UC name (wire §3.3)
    model_id = name.removeprefix("model-services/")
    aliases: tuple[str, ...] = ()
    uc_name = _str(raw.get("uc_name"))
    if uc_name and uc_name != model_id:
        aliases = (uc_name,)
    elif model_id.startswith("system.ai."):
        # the pay-per-token model's serving endpoint (wire §3.4)
        aliases = ("databricks-" + model_id.removeprefix("system.ai."),)
    capabilities = raw.get("capabilities")
    return EndpointRecord(
        id=model_id,
        sources=(source,),
        task=_str(raw.get("task")),
        ready=_ready(raw.get("state")),
        api_types=_strs(raw.get("supported_api_types")) or _strs(raw.get("api_types")),
        function_calling=_bool(capabilities.get("function_calling"))
        if isinstance(capabilities, dict) else None,
        gateway=True,
        display_name=_str(raw.get("display_name")),
        description=_str(raw.get("comment")) or _str(raw.get("description")),
        aliases=aliases,
    )


def parse_model_services(data: Any) -> tuple[list[EndpointRecord], str | None]:
    """Records and the next page token from one model-services page."""
    records = [r for r in (_service(raw, "model-services") for raw in _items(data, "model_services"))
               if r is not None]
    return records, _next_token(data)


def parse_gateway_v2(data: Any) -> tuple[list[EndpointRecord], str | None]:
    """Records and the next page token from one AI Gateway v2 endpoints page."""
    records = [r for r in (_service(raw, "ai-gateway-v2") for raw in _items(data, "endpoints"))
               if r is not None]
    return records, _next_token(data)


def parse_codex_models(data: Any) -> list[EndpointRecord]:
    """Records from the Codex model list (``{data: [{id}]}``): Responses-only models."""
    out = []
    for raw in _items(data, "data", "models"):
        model_id = _str(raw.get("id"))
        if model_id is not None:
            out.append(EndpointRecord(id=model_id, sources=("codex",), gateway=True,
                                      responses_only=True))
    return out


# ---- HTTP -------------------------------------------------------------------------------------


async def _get_json(client: httpx.AsyncClient, path: str, params: Mapping[str, str | int] | None,
                    *, clock: Clock, options: DiscoveryOptions) -> Any:
    """GET ``path`` and decode its JSON, retrying 499/504; any failure raises an ``APIError``.

    A 400 "Invalid MetastoreId" (reported for the model-services listing without an org id)
    is retried once with ``X-Databricks-Org-Id`` set from the workspace's own
    ``x-databricks-org-id`` response header.
    """
    attempt = 0
    headers = {"Accept": "application/json"}
    while True:
        try:
            response = await client.get(path, params=params, headers=headers, timeout=options.timeout)
        except httpx.RequestError as exc:  # no answer (or one that could not be decoded)
            raise error_from_transport(exc, str(client.base_url), what=path) from None
        content_type = response.headers.get("content-type", "").lower()
        if response.is_success and "html" not in content_type:
            try:
                return response.json()
            except ValueError:
                raise APIError(f"{response.request.url.copy_with(query=None)} answered HTTP "
                               f"{response.status_code} with a body that is not JSON.",
                               url=path) from None
        error = error_from_response(response, now=clock.time())
        org_id = response.headers.get("x-databricks-org-id")
        if (response.status_code == 400 and org_id and "X-Databricks-Org-Id" not in headers
                and "metastore" in error.message.lower()):
            headers["X-Databricks-Org-Id"] = org_id
            continue
        attempt += 1
        if response.status_code not in _RETRY_STATUSES or attempt >= options.max_attempts:
            raise error
        await clock.sleep(min(options.max_backoff, options.backoff * 2 ** (attempt - 1)))


_PageParser = Callable[[Any], tuple[list[EndpointRecord], str | None]]


async def _paged(client: httpx.AsyncClient, name: str, parse: _PageParser, *, clock: Clock,
                 options: DiscoveryOptions) -> SourceResult:
    records: list[EndpointRecord] = []
    token: str | None = None
    seen: set[str] = set()
    pages = 0
    while pages < options.max_pages:
        params: dict[str, str | int] = {"page_size": options.page_size}
        if token:
            params["page_token"] = token
        try:
            data = await _get_json(client, _PATHS[name], params, clock=clock, options=options)
        except LakecodeError as exc:
            return SourceResult(name, tuple(records), error=exc, pages=pages)
        pages += 1
        page, token = parse(data)
        records.extend(page)
        if not token or token in seen:
            return SourceResult(name, tuple(records), pages=pages)
        seen.add(token)
    return SourceResult(name, tuple(records), pages=pages, truncated=True)


async def _single(client: httpx.AsyncClient, name: str, parse: Callable[[Any], list[EndpointRecord]],
                  *, clock: Clock, options: DiscoveryOptions) -> SourceResult:
    try:
        data = await _get_json(client, _PATHS[name], None, clock=clock, options=options)
    except LakecodeError as exc:
        return SourceResult(name, error=exc)
    return SourceResult(name, tuple(parse(data)), pages=1)


async def fetch_source(client: httpx.AsyncClient, name: str, *, clock: Clock,
                       options: DiscoveryOptions | None = None) -> SourceResult:
    """Fetch one source; never raises for HTTP, auth or parse failures (see ``SourceResult``).

    Raises:
        ValueError: ``name`` is not one of ``ALL_SOURCES``.
    """
    options = options or DiscoveryOptions()
    if name == "serving-endpoints":
        return await _single(client, name, parse_endpoint_list, clock=clock, options=options)
    if name == "foundation-models":
        return await _single(client, name, lambda d: parse_endpoint_list(d, "foundation-models"),
                             clock=clock, options=options)
    if name == "model-services":
        return await _paged(client, name, parse_model_services, clock=clock, options=options)
    if name == "ai-gateway-v2":
        return await _paged(client, name, parse_gateway_v2, clock=clock, options=options)
    if name == "codex":
        return await _single(client, name, parse_codex_models, clock=clock, options=options)
    raise ValueError(f"unknown discovery source {name!r}")


async def fetch_all(client: httpx.AsyncClient, *, clock: Clock,
                    options: DiscoveryOptions | None = None) -> list[SourceResult]:
    """Fetch every enabled source concurrently, in ``options.sources`` order."""
    options = options or DiscoveryOptions()
    return list(await asyncio.gather(
        *(fetch_source(client, name, clock=clock, options=options) for name in options.sources)))


def describe_failure(result: SourceResult) -> str:
    """A one-line warning for a failed or truncated source (never "not enabled" for a wrong
    host: F9)."""
    label = SOURCE_LABELS.get(result.name, result.name)
    error = result.error
    if error is None:
        return f"{label}: stopped after {result.pages} pages; some models may be missing."
    if isinstance(error, WrongHostError):
        return error.message
    if isinstance(error, FeatureDisabledError | NotFoundError):
        return f"{label} is not available on this workspace ({error.message})."
    if isinstance(error, PermissionDeniedError):
        return f"{label}: permission denied ({error.message})."
    if isinstance(error, AuthError):
        return f"{label}: {error.message}"
    return f"{label} failed: {error.message}"


def failure_warnings(results: Sequence[SourceResult]) -> list[str]:
    """Warnings for every failed or truncated source.

    A wrong host or a rejected credential concerns every source alike, so each is reported
    once (with the sign-in hint for the latter), not once per listing; so is a host that no
    listing could reach at all (with the likely cause).
    """
    unreachable = [r.error for r in results if isinstance(r.error, APIConnectionError)]
    if unreachable and len(unreachable) == len(results):
        return [f"No model listing could be reached. {unreachable[0].describe()}"]
    warnings: list[str] = []
    seen: set[type[LakecodeError]] = set()
    for result in results:
        if result.ok and not result.truncated:
            continue
        error = result.error
        for kind in (WrongHostError, AuthError):
            if isinstance(error, kind):
                if kind in seen:
                    break
                seen.add(kind)
                text = error.message if kind is WrongHostError else error.describe()
                warnings.append(text)
                break
        else:
            warnings.append(describe_failure(result))
    return warnings


def all_failed_with(results: Sequence[SourceResult], kind: type[LakecodeError]) -> bool:
    """Whether there were sources and every one failed with a ``kind`` error."""
    return bool(results) and all(isinstance(r.error, kind) for r in results)


def all_records(results: Iterable[SourceResult]) -> list[tuple[EndpointRecord, ...]]:
    """The record groups of all results, in order, for ``merge_records``."""
    return [r.records for r in results]
