"""The route table: name rules, forced routes, gateway-absent detection and its memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecode.databricks.routes import (
    ROUTES,
    GatewayMemory,
    RouteTable,
    is_gateway_absent,
    route_by_name,
)
from lakecode.errors import (
    BadRequestError,
    FeatureDisabledError,
    LakecodeError,
    NotFoundError,
    ServerError,
)
from lakecode.testing.fakes import FakeClock

HOST = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"


def test_route_paths() -> None:
    assert ROUTES["serving-endpoints"].path == "/serving-endpoints/chat/completions"
    assert ROUTES["ai-gateway"].path == "/ai-gateway/mlflow/v1/chat/completions"
    assert ROUTES["responses"].path == "/serving-endpoints/responses"
    assert [r.gateway for r in ROUTES.values()] == [False, True, False]
    assert ROUTES["responses"].dialect == "responses"


@pytest.mark.parametrize(("model", "route"), [
    ("databricks-gpt-5-2-codex", "responses"),
    ("databricks-GPT-5-1-Codex-Max", "responses"),
    ("il_model_service.default.il-claude-sonnet-5", "ai-gateway"),
    ("system.ai.claude-sonnet-4-5", "ai-gateway"),
    ("databricks-claude-sonnet-4-5", "serving-endpoints"),
    ("databricks-gpt-5.2", "serving-endpoints"),
    ("team-llm-prod", "serving-endpoints"),
])
def test_name_rules_are_only_a_fallback(model: str, route: str) -> None:
    assert route_by_name(model) == route


def test_discovered_route_beats_the_name_rules() -> None:
    table = RouteTable(HOST, memory=GatewayMemory())
    assert table.route_for("my-codex-proxy", "serving-endpoints").name == "serving-endpoints"
    assert table.route_for("plain-name", "responses").name == "responses"
    assert table.route_for("plain-name").name == "serving-endpoints"


@pytest.mark.parametrize(("forced", "discovered", "expected"), [
    ("serving-endpoints", "ai-gateway", "serving-endpoints"),
    ("ai-gateway", "serving-endpoints", "ai-gateway"),
    ("ai-gateway", "responses", "responses"),  # Responses-only models stay reachable
    ("responses", "serving-endpoints", "responses"),
    ("auto", "ai-gateway", "ai-gateway"),
])
def test_forced_routes(forced: str, discovered: str, expected: str) -> None:
    table = RouteTable(HOST, forced=forced, memory=GatewayMemory())
    assert table.route_for("m", discovered).name == expected


def test_unknown_forced_route_is_refused() -> None:
    with pytest.raises(ValueError):
        RouteTable(HOST, forced="carrier-pigeon")


def _404(code: str, message: str, endpoint: str | None = "databricks-x") -> NotFoundError:
    return NotFoundError(message, status_code=404, error_code=code, endpoint=endpoint)


@pytest.mark.parametrize(("error", "absent"), [
    (_404("ENDPOINT_NOT_FOUND", "No API found for this path on this workspace."), True),
    (FeatureDisabledError("AI Gateway is not available for this workspace", status_code=400,
                          error_code="FEATURE_DISABLED"), True),
    (FeatureDisabledError("Not implemented", status_code=501, error_code="NOT_IMPLEMENTED"), True),
    (_404("ENDPOINT_NOT_FOUND", "Endpoint with name 'databricks-x' does not exist."), False),
    (_404("NOT_FOUND", "llm model not found"), False),
    (_404("RESOURCE_DOES_NOT_EXIST", "Not found: databricks-x"), False),
    (ServerError("boom", status_code=503), False),
    (BadRequestError("bad", status_code=400), False),
])
def test_gateway_absent_detection(error: LakecodeError, absent: bool) -> None:
    assert is_gateway_absent(error) is absent


def test_fallback_only_from_the_gateway_and_remembered() -> None:
    memory = GatewayMemory()
    table = RouteTable(HOST, memory=memory)
    gone = _404("ENDPOINT_NOT_FOUND", "No API found for this path on this workspace.")
    assert table.fallback_for(ROUTES["serving-endpoints"], gone) is None
    assert table.fallback_for(ROUTES["ai-gateway"], _404("NOT_FOUND", "llm model not found")) is None
    assert not memory.is_absent(HOST)
    assert table.fallback_for(ROUTES["ai-gateway"], gone) == ROUTES["serving-endpoints"]
    assert memory.is_absent(HOST)
    assert table.route_for("m", "ai-gateway").name == "serving-endpoints"
    other = RouteTable("https://other.cloud.databricks.com", memory=memory)
    assert other.route_for("m", "ai-gateway").name == "ai-gateway"


def test_gateway_memory_persists_on_disk_for_a_day(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "routes.json"
    GatewayMemory(path, clock=clock).mark_absent(HOST)
    assert GatewayMemory(path, clock=clock).is_absent(HOST)  # a new process reads it
    clock.advance(86_401)
    assert not GatewayMemory(path, clock=clock).is_absent(HOST)


def test_gateway_memory_ignores_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text("[not a dict")
    memory = GatewayMemory(path)
    assert not memory.is_absent(HOST)
    memory.mark_absent(HOST)
    assert GatewayMemory(path).is_absent(HOST)
