"""Control plane: listings, detail, foundation models, UC model services, gateway lists."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from lakecode.emulator import Emulator, EmulatorConfig


def _by_name(endpoints: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(e["name"]): e for e in endpoints}


def test_list_is_a_realistic_workspace(emulator: Emulator, client: httpx.Client) -> None:
    r = client.get("/api/2.0/serving-endpoints")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"endpoints"}
    eps = _by_name(body["endpoints"])
    assert "il-claude-sonnet-5" not in eps
    sonnet = eps["databricks-claude-sonnet-4-5"]
    assert sonnet["task"] == "llm/v1/chat"
    assert sonnet["endpoint_type"] == "FOUNDATION_MODEL_API"
    assert sonnet["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert sonnet["capabilities"] == {"function_calling": True}
    entity = sonnet["config"]["served_entities"][0]  # type: ignore[index]
    assert entity["entity_name"] == "system.ai.claude-sonnet-4-5"
    assert "api_types" not in entity["foundation_model"]
    team = eps["team-llm-prod"]
    assert team["capabilities"] == {"function_calling": True}
    assert team["endpoint_type"] == "EXTERNAL_MODEL"
    assert team["config"]["served_entities"][0]["external_model"]["provider"] == "openai"  # type: ignore[index]
    assert eps["team-llm-canary"]["state"]["ready"] == "NOT_READY"  # type: ignore[index]
    assert eps["databricks-gte-large-en"]["task"] == "llm/v1/embeddings"
    assert "task" not in eps["churn-predictor"]
    assert eps["churn-predictor"]["endpoint_type"] == "CUSTOM_MODEL"
    assert eps["databricks-meta-llama-3-3-70b-instruct"]["capabilities"] == {"function_calling": False}


def test_detail_and_missing_endpoint(client: httpx.Client) -> None:
    r = client.get("/api/2.0/serving-endpoints/databricks-llama-4-maverick")
    assert r.status_code == 200
    detail = r.json()
    assert detail["name"] == "databricks-llama-4-maverick"
    assert detail["config"]["served_entities"][0]["state"]["deployment"] == "DEPLOYMENT_READY"
    assert detail["config"]["traffic_config"]["routes"][0]["traffic_percentage"] == 100
    missing = client.get("/api/2.0/serving-endpoints/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Endpoint with name 'nope' does not exist.",
    }


def test_foundation_models_carry_api_types(client: httpx.Client) -> None:
    eps = _by_name(client.get("/api/2.0/serving-endpoints:foundation-models").json()["endpoints"])
    assert "team-llm-prod" not in eps and "churn-predictor" not in eps
    codex = eps["databricks-gpt-5-2-codex"]["config"]["served_entities"][0]["foundation_model"]  # type: ignore[index]
    assert codex["api_types"] == ["mlflow/v1/responses", "openai/v1/responses"]
    assert codex["ai_gateway_v2_supported"] is True
    r1 = eps["databricks-deepseek-r1"]["config"]["served_entities"][0]["foundation_model"]  # type: ignore[index]
    assert r1["ai_gateway_v2_supported"] is False


def test_model_services_by_schema(client: httpx.Client) -> None:
    r = client.get(
        "/api/2.1/unity-catalog/model-services",
        params={"parent": "schemas/il_model_service.default", "page_size": 100},
    )
    assert r.status_code == 200
    services = r.json()["model_services"]
    assert [s["name"] for s in services] == ["model-services/il_model_service.default.il-claude-sonnet-5"]
    assert services[0]["supported_api_types"] == ["mlflow/v1/chat/completions", "anthropic/v1/messages"]
    assert "next_page_token" not in r.json()


def test_model_services_paging(client: httpx.Client) -> None:
    names: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"parent": "schemas/system.ai", "page_size": 4}
        if token:
            params["page_token"] = token
        body = client.get("/api/2.1/unity-catalog/model-services", params=params).json()
        names += [s["name"] for s in body["model_services"]]
        pages += 1
        token = body.get("next_page_token")
        if not token:
            break
    assert pages == 3
    assert len(names) == len(set(names)) == 11
    assert all(n.startswith("model-services/system.ai.") for n in names)


@pytest.mark.parametrize("params", [{}, {"page_size": 101}, {"page_size": "lots"}])
def test_model_services_without_a_bounded_page_size_is_cancelled(
    client: httpx.Client, params: dict[str, object]
) -> None:
    r = client.get("/api/2.1/unity-catalog/model-services", params={"parent": "schemas/system.ai", **params})
    assert r.status_code == 499
    assert r.json()["error_code"] == "CANCELLED"


def test_model_services_bad_values(client: httpx.Client) -> None:
    assert client.get("/api/2.1/unity-catalog/model-services", params={"page_size": 0}).status_code == 400
    bad = client.get("/api/2.1/unity-catalog/model-services", params={"page_size": 5, "page_token": "%%%"})
    assert bad.status_code == 400


def test_model_services_fault_on_page_two(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.server_error(504, path="/api/2.1/unity-catalog/model-services", skip=1)
    first = client.get("/api/2.1/unity-catalog/model-services", params={"page_size": 5})
    assert first.status_code == 200
    second = client.get(
        "/api/2.1/unity-catalog/model-services",
        params={"page_size": 5, "page_token": first.json()["next_page_token"]},
    )
    assert second.status_code == 504
    assert second.json()["error_code"] == "DEADLINE_EXCEEDED"
    retry = client.get(
        "/api/2.1/unity-catalog/model-services",
        params={"page_size": 5, "page_token": first.json()["next_page_token"]},
    )
    assert retry.status_code == 200


def test_gateway_v2_endpoints(client: httpx.Client) -> None:
    body = client.get("/api/ai-gateway/v2/endpoints", params={"page_size": 3}).json()
    assert len(body["endpoints"]) == 3 and body["next_page_token"]
    everything = client.get("/api/ai-gateway/v2/endpoints").json()["endpoints"]
    names = {e["name"] for e in everything}
    assert "il-claude-sonnet-5" in names and "team-llm-prod" not in names
    assert "databricks-gte-large-en" not in names


def test_anthropic_models(client: httpx.Client) -> None:
    body = client.get("/ai-gateway/anthropic/v1/models").json()
    ids = [m["id"] for m in body["data"]]
    assert ids == [
        "databricks-claude-sonnet-4-5",
        "databricks-claude-opus-4-7",
        "databricks-claude-haiku-4-5",
        "il-claude-sonnet-5",
    ]
    assert body["has_more"] is False


def test_codex_models_and_switch(emulator: Emulator, client: httpx.Client) -> None:
    body = client.get("/ai-gateway/codex/v1/models").json()
    assert [m["id"] for m in body["data"]] == ["databricks-gpt-5-2-codex"]
    emulator.config.codex_models = False
    r = client.get("/ai-gateway/codex/v1/models")
    assert r.status_code == 404
    assert r.json() == {
        "error_code": "ENDPOINT_NOT_FOUND",
        "message": "codex/v1/models is not enabled for this workspace",
    }


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("404", 404, "ENDPOINT_NOT_FOUND"),
        ("501", 501, "NOT_IMPLEMENTED"),
        ("feature_disabled", 400, "FEATURE_DISABLED"),
    ],
)
def test_gateway_absent_modes(
    emulator: Emulator, client: httpx.Client, mode: str, status: int, code: str
) -> None:
    emulator.config.gateway = mode  # type: ignore[assignment]
    for r in (
        client.get("/api/ai-gateway/v2/endpoints"),
        client.get("/ai-gateway/anthropic/v1/models"),
        client.post(
            "/ai-gateway/mlflow/v1/chat/completions",
            json={"model": "databricks-gpt-5-2", "messages": [{"role": "user", "content": "hi"}]},
        ),
    ):
        assert r.status_code == status
        assert r.json()["error_code"] == code
    if mode == "feature_disabled":
        assert r.json()["message"] == "AI Gateway is not available for this workspace"


@pytest.mark.emulator_config(synthetic_endpoints=5000)
def test_five_thousand_synthetic_endpoints(client: httpx.Client) -> None:
    eps = client.get("/api/2.0/serving-endpoints").json()["endpoints"]
    assert len(eps) == 5000 + 14
    assert eps[-1]["name"] == "synthetic-chat-04999"


def test_custom_catalogue_file_and_list(emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cat.json"
    path.write_text(
        json.dumps({"endpoints": [{"name": "only-one", "function_calling": True, "max_tokens": 100}]})
    )
    for source in (path, [{"name": "only-one", "function_calling": True, "max_tokens": 100}]):
        emu = emulator_factory(EmulatorConfig(catalog=source))
        with httpx.Client(
            base_url=emu.url, headers={"Authorization": f"Bearer {emu.pat}"}, verify=False
        ) as c:
            eps = c.get("/api/2.0/serving-endpoints").json()["endpoints"]
            assert [e["name"] for e in eps] == ["only-one"]
            r = c.post(
                "/serving-endpoints/chat/completions",
                json={"model": "only-one", "max_tokens": 101, "messages": [{"role": "user", "content": "x"}]},
            )
            assert r.json()["message"] == "max_tokens (101) cannot exceed 100"


def test_catalogue_rejects_unknown_keys(tmp_path: Path) -> None:
    from lakecode.emulator.catalog import load_catalog

    with pytest.raises(ValueError, match="unknown key"):
        load_catalog([{"name": "x", "colour": "red"}])
    toml = tmp_path / "cat.toml"
    toml.write_text('[[endpoints]]\nname = "t"\nreasoning = "parts"\n')
    assert load_catalog(toml)[0].reasoning == "parts"


def test_catalog_can_change_at_run_time(emulator: Emulator, client: httpx.Client) -> None:
    emulator.catalog.add({"name": "late-model", "function_calling": True})
    assert "late-model" in _by_name(client.get("/api/2.0/serving-endpoints").json()["endpoints"])
    emulator.catalog.remove("late-model")
    assert "late-model" not in _by_name(client.get("/api/2.0/serving-endpoints").json()["endpoints"])


def test_unknown_api_path(client: httpx.Client) -> None:
    r = client.get("/api/2.0/clusters/list")
    assert r.status_code == 404
    assert r.json() == {
        "error_code": "ENDPOINT_NOT_FOUND",
        "message": "No API found for 'GET /api/2.0/clusters/list'",
    }


@pytest.mark.emulator_config(model_services_require_org_id=True)
def test_model_services_can_require_the_org_id(emulator: Emulator, client: httpx.Client) -> None:
    params = {"page_size": 10}
    r = client.get("/api/2.1/unity-catalog/model-services", params=params)
    assert (r.status_code, r.json()["message"]) == (400, "Invalid MetastoreId")
    ok = client.get(
        "/api/2.1/unity-catalog/model-services",
        params=params,
        headers={"X-Databricks-Org-Id": emulator.workspace_id},
    )
    assert ok.status_code == 200
