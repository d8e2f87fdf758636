"""Discovery sources over MockTransport: parsing, paging, 499/504 retries, page cap, failures."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from catalog_helpers import HOST, FakeWorkspace, endpoint, jresp

from lakecode.databricks.catalog.sources import (
    DiscoveryOptions,
    describe_failure,
    failure_warnings,
    fetch_all,
    fetch_source,
    parse_codex_models,
    parse_endpoint_list,
    parse_model_services,
)
from lakecode.errors import (
    FeatureDisabledError,
    NotFoundError,
    ServerError,
    WrongHostError,
)
from lakecode.testing.fakes import FakeClock


def _services(n: int, schema: str = "system.ai") -> list[dict[str, object]]:
    return [{"name": f"model-services/{schema}.model-{i:03d}",
             "supported_api_types": ["mlflow/v1/chat/completions"]} for i in range(n)]


# ---- parsers -------------------------------------------------------------------------------


def test_parse_endpoint_list_reads_every_field() -> None:
    body = {"endpoints": [{
        "name": "databricks-claude-sonnet-4-5",
        "task": "llm/v1/chat",
        "endpoint_type": "FOUNDATION_MODEL_API",
        "state": {"ready": "NOT_READY"},
        "capabilities": {"function_calling": True},
        "config": {"served_entities": [{
            "entity_name": "system.ai.claude-sonnet-4-5",
            "foundation_model": {"name": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
                                 "api_types": ["mlflow/v1/chat/completions"],
                                 "ai_gateway_v2_supported": True},
        }]},
    }]}
    [rec] = parse_endpoint_list(body)
    assert rec.id == "databricks-claude-sonnet-4-5"
    assert rec.sources == ("serving-endpoints",)
    assert rec.task == "llm/v1/chat"
    assert rec.ready is False
    assert rec.function_calling is True
    assert rec.api_types == ("mlflow/v1/chat/completions",)
    assert rec.gateway is True
    assert rec.display_name == "Claude Sonnet 4.5"
    assert rec.entity_name == "system.ai.claude-sonnet-4-5"


def test_parse_endpoint_list_tolerates_junk() -> None:
    assert parse_endpoint_list({"endpoints": [1, None, {"task": "x"}, {"name": ""}]}) == []
    assert parse_endpoint_list([]) == []
    assert parse_endpoint_list({"endpoints": None}) == []


def test_model_service_id_is_the_uc_name_without_the_resource_prefix() -> None:
    """F29: a model service in a non-system schema; its id is catalog.schema.name, verbatim."""
    body = {"model_services": [{"name": "model-services/il_model_service.default.il-claude-sonnet-5",
                                "supported_api_types": ["mlflow/v1/chat/completions"]}],
            "next_page_token": "abc"}
    records, token = parse_model_services(body)
    assert [r.id for r in records] == ["il_model_service.default.il-claude-sonnet-5"]
    assert records[0].api_types == ("mlflow/v1/chat/completions",)
    assert records[0].gateway is True
    assert token == "abc"


def test_codex_models_are_responses_only() -> None:
    [rec] = parse_codex_models({"data": [{"id": "databricks-gpt-5-2-codex"}]})
    assert rec.responses_only and rec.id == "databricks-gpt-5-2-codex"


# ---- paging --------------------------------------------------------------------------------


async def test_every_paged_request_carries_page_size_100() -> None:
    ws = FakeWorkspace(services=_services(250), gateway_v2=[{"name": "gw-model"}])
    async with ws.client() as client:
        results = await fetch_all(client, clock=FakeClock())
    by_name = {r.name: r for r in results}
    assert len(by_name["model-services"].records) == 250
    assert by_name["model-services"].pages == 3
    paged = [r for r in ws.requests if r.url.path in (
        "/api/2.1/unity-catalog/model-services", "/api/ai-gateway/v2/endpoints")]
    assert len(paged) == 4
    assert all(r.url.params.get("page_size") == "100" for r in paged)
    tokens = [r.url.params.get("page_token") for r in paged
              if r.url.path == "/api/2.1/unity-catalog/model-services"]
    assert tokens == [None, "100", "200"]


@pytest.mark.parametrize("status", [499, 504])
async def test_transient_status_on_page_one_is_retried_with_backoff(status: int) -> None:
    """F30: a 499 (or 504) on page 1 followed by success yields the full list."""
    ws = FakeWorkspace(services=_services(150))
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return jresp(status, {"error_code": "CANCELLED", "message": "Request cancelled"})
        return ws._paged(request, ws.services, "model_services")

    ws.overrides["/api/2.1/unity-catalog/model-services"] = flaky
    clock = FakeClock()
    async with ws.client() as client:
        result = await fetch_source(client, "model-services", clock=clock)
    assert result.ok
    assert len(result.records) == 150
    assert calls["n"] == 3  # page 1 (499), page 1 again, page 2
    assert clock.sleeps == [0.5]


async def test_transient_status_gives_up_after_max_attempts() -> None:
    ws = FakeWorkspace()
    ws.overrides["/api/2.1/unity-catalog/model-services"] = lambda r: jresp(
        504, {"error_code": "DEADLINE_EXCEEDED", "message": "timeout"})
    clock = FakeClock()
    async with ws.client() as client:
        result = await fetch_source(client, "model-services", clock=clock,
                                    options=DiscoveryOptions(max_attempts=4))
    assert isinstance(result.error, ServerError)
    assert ws.paths().count("/api/2.1/unity-catalog/model-services") == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


async def test_paging_loop_stops_at_the_page_cap() -> None:
    ws = FakeWorkspace()
    counter = {"n": 0}

    def endless(request: httpx.Request) -> httpx.Response:
        counter["n"] += 1
        return jresp(200, {"model_services": [{"name": f"model-services/a.b.m{counter['n']}"}],
                           "next_page_token": f"t{counter['n']}"})

    ws.overrides["/api/2.1/unity-catalog/model-services"] = endless
    async with ws.client() as client:
        result = await fetch_source(client, "model-services", clock=FakeClock(),
                                    options=DiscoveryOptions(max_pages=7))
    assert counter["n"] == 7
    assert result.truncated and result.pages == 7 and len(result.records) == 7
    assert "stopped after 7 pages" in describe_failure(result)


async def test_repeated_page_token_ends_the_listing() -> None:
    ws = FakeWorkspace()
    ws.overrides["/api/2.1/unity-catalog/model-services"] = lambda r: jresp(
        200, {"model_services": [{"name": "model-services/a.b.c"}], "next_page_token": "same"})
    async with ws.client() as client:
        result = await fetch_source(client, "model-services", clock=FakeClock())
    assert result.pages == 2 and not result.truncated and result.ok


# ---- failures are warnings -----------------------------------------------------------------


async def test_disabled_sources_are_warnings_with_their_reason() -> None:
    """F30: a 404 "codex/v1/models is not enabled" and a 501 gateway list are warnings."""
    ws = FakeWorkspace(endpoints=[endpoint("databricks-gpt-5-2")])
    ws.overrides["/api/ai-gateway/v2/endpoints"] = lambda r: jresp(
        501, {"error_code": "NOT_IMPLEMENTED", "message": "Not implemented"})
    async with ws.client() as client:
        results = await fetch_all(client, clock=FakeClock())
    by_name = {r.name: r for r in results}
    assert by_name["serving-endpoints"].ok
    assert isinstance(by_name["codex"].error, NotFoundError)
    assert isinstance(by_name["ai-gateway-v2"].error, FeatureDisabledError)
    warnings = failure_warnings(results)
    assert any(w.startswith("Codex model listing is not available on this workspace")
               and "codex/v1/models is not enabled for this workspace" in w for w in warnings)
    assert any(w.startswith("AI Gateway v2 endpoint listing is not available") for w in warnings)


@pytest.mark.parametrize("html", [False, True])
async def test_redirect_to_login_is_a_wrong_host_never_not_enabled(html: bool) -> None:
    """F9: 303 to /login is reported as a wrong host naming the host; /login is never fetched."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        body = b"<html><title>Sign in</title></html>" if html else b""
        return httpx.Response(303, headers={"location": "/login?next=x",
                                            "content-type": "text/html" if html else "text/plain"},
                              content=body)

    async with httpx.AsyncClient(base_url=HOST, transport=httpx.MockTransport(handler),
                                 follow_redirects=False) as client:
        results = await fetch_all(client, clock=FakeClock())
    assert all(isinstance(r.error, WrongHostError) for r in results)
    assert "/login" not in seen
    warnings = failure_warnings(results)
    assert len(warnings) == 1  # one wrong-host warning, not one per source
    assert HOST in warnings[0]
    assert "not enabled" not in warnings[0] and "not available" not in warnings[0]


async def test_html_page_with_200_is_a_wrong_host() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/html"},
                              content=b"<!doctype html><html><title>Login</title></html>")

    async with httpx.AsyncClient(base_url=HOST, transport=httpx.MockTransport(handler)) as client:
        result = await fetch_source(client, "serving-endpoints", clock=FakeClock())
    assert isinstance(result.error, WrongHostError)


async def test_connection_error_is_a_warning() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(base_url=HOST, transport=httpx.MockTransport(handler)) as client:
        result = await fetch_source(client, "serving-endpoints", clock=FakeClock())
    assert result.error is not None and result.error.retryable
    assert describe_failure(result).startswith("serving-endpoints listing failed:")


async def test_sources_run_concurrently() -> None:
    in_flight = {"now": 0, "max": 0}
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        in_flight["now"] += 1
        in_flight["max"] = max(in_flight["max"], in_flight["now"])
        if in_flight["max"] == 5:
            gate.set()
        await asyncio.wait_for(gate.wait(), timeout=5)
        in_flight["now"] -= 1
        return jresp(200, {})

    async with httpx.AsyncClient(base_url=HOST, transport=httpx.MockTransport(handler)) as client:
        results = await fetch_all(client, clock=FakeClock())
    assert in_flight["max"] == 5
    assert all(r.ok for r in results)


async def test_unknown_source_name_is_a_programming_error() -> None:
    async with httpx.AsyncClient(base_url=HOST, transport=httpx.MockTransport(
            lambda r: jresp(200, {}))) as client:
        with pytest.raises(ValueError):
            await fetch_source(client, "nope", clock=FakeClock())


def test_auth_failures_are_reported_once_with_the_hint() -> None:
    from lakecode.databricks.catalog.sources import SourceResult, all_failed_with
    from lakecode.errors import AuthenticationError, AuthError

    error = AuthenticationError(f"{HOST} rejected the credential: Invalid Token", status_code=401)
    results = [SourceResult(name, error=error) for name in ("serving-endpoints", "codex")]
    warnings = failure_warnings(results)
    assert len(warnings) == 1
    assert "rejected the credential" in warnings[0] and "lakecode auth login" in warnings[0]
    assert all_failed_with(results, AuthError)
    assert not all_failed_with([*results, SourceResult("model-services")], AuthError)


async def test_invalid_metastore_id_is_retried_once_with_the_org_id() -> None:
    ws = FakeWorkspace(services=[{"name": "model-services/a.b.c"}])

    def picky(request: httpx.Request) -> httpx.Response:
        if request.headers.get("x-databricks-org-id") != "1234567890":
            return jresp(400, {"error_code": "INVALID_PARAMETER_VALUE",
                               "message": "Invalid MetastoreId"},
                         headers={"x-databricks-org-id": "1234567890"})
        return ws._paged(request, ws.services, "model_services")

    ws.overrides["/api/2.1/unity-catalog/model-services"] = picky
    async with ws.client() as client:
        result = await fetch_source(client, "model-services", clock=FakeClock())
    assert result.ok and [r.id for r in result.records] == ["a.b.c"]
    assert [r.headers.get("x-databricks-org-id") for r in ws.requests] == [None, "1234567890"]


async def test_listing_requests_ask_for_json_with_a_short_timeout() -> None:
    ws = FakeWorkspace()
    async with ws.client() as client:
        await fetch_source(client, "serving-endpoints", clock=FakeClock(),
                           options=DiscoveryOptions(timeout=7.0))
    [request] = ws.requests
    assert request.headers["accept"] == "application/json"
    assert request.extensions["timeout"]["read"] == 7.0
