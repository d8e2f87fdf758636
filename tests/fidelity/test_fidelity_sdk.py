"""Clients we did not write must work against the emulator unchanged: the Databricks Python SDK."""

from __future__ import annotations

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.config import Config

from lakecode.emulator import Emulator


def _client(**kwargs: object) -> WorkspaceClient:
    # A small retry budget: an unreachable host would otherwise block Config() for minutes.
    return WorkspaceClient(config=Config(retry_timeout_seconds=5, **kwargs))


def _names(w: WorkspaceClient) -> set[str]:
    return {e.name for e in w.serving_endpoints.list() if e.name}


def test_sdk_lists_serving_endpoints_with_a_pat(emulator: Emulator) -> None:
    w = _client(host=emulator.url, token=emulator.pat, auth_type="pat")
    names = _names(w)
    assert {"databricks-claude-sonnet-4-5", "team-llm-prod", "databricks-gte-large-en"} <= names
    assert "il-claude-sonnet-5" not in names  # a Unity Catalog service only
    listing = [r for r in emulator.requests if r.path == "/api/2.0/serving-endpoints"]
    assert listing[-1].auth_kind == "bearer"
    assert listing[-1].token_id == Emulator.token_id(emulator.pat)
    assert listing[-1].header("x-databricks-workspace-id") == emulator.workspace_id
    assert listing[-1].header("user-agent").endswith("auth/pat")  # type: ignore[union-attr]


def test_sdk_reads_endpoint_detail_and_capabilities(emulator: Emulator) -> None:
    w = _client(host=emulator.url, token=emulator.pat, auth_type="pat")
    ep = w.serving_endpoints.get("databricks-llama-4-maverick")
    assert ep.name == "databricks-llama-4-maverick"
    assert ep.state is not None and ep.state.ready is not None and ep.state.ready.value == "READY"
    assert ep.task == "llm/v1/chat"
    from databricks.sdk.errors import NotFound

    with pytest.raises(NotFound, match=r"Endpoint with name 'nope' does not exist\."):
        w.serving_endpoints.get("nope")


def test_sdk_oauth_m2m_lists_endpoints(emulator: Emulator) -> None:
    w = _client(
        host=emulator.url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        auth_type="oauth-m2m",
    )
    assert "databricks-gpt-oss-120b" in _names(w)
    assert emulator.token_requests.count("client_credentials", status=200) == 1
    paths = [r.path for r in emulator.requests]
    assert paths[:3] == [
        "/.well-known/databricks-config",
        "/oidc/.well-known/oauth-authorization-server",
        "/oidc/v1/token",
    ]
    token_call = next(r for r in emulator.requests if r.path == "/oidc/v1/token")
    assert token_call.auth_kind == "basic"
    assert token_call.form == {"grant_type": "client_credentials", "scope": "all-apis"}
    api = next(r for r in emulator.requests if r.path == "/api/2.0/serving-endpoints")
    assert api.auth_kind == "bearer" and api.status == 200
    assert api.header("user-agent").endswith("auth/oauth-m2m")  # type: ignore[union-attr]


def test_sdk_m2m_with_a_wrong_secret_reads_the_json_oauth_error(emulator: Emulator) -> None:
    w = _client(
        host=emulator.url,
        client_id=emulator.client_id,
        client_secret="dose-wrong",
        auth_type="oauth-m2m",
    )
    with pytest.raises(Exception, match="invalid_client"):
        list(w.serving_endpoints.list())
    assert emulator.token_requests.count("client_credentials", status=401) >= 1


def test_sdk_pat_survives_missing_host_metadata(emulator: Emulator) -> None:
    emulator.config.host_metadata = False
    w = _client(host=emulator.url, token=emulator.pat, auth_type="pat")
    assert "team-llm-prod" in _names(w)
    meta = next(r for r in emulator.requests if r.path == "/.well-known/databricks-config")
    assert meta.status == 404


@pytest.mark.emulator_config(expires_in_as_string=True, token_ttl=45)
def test_sdk_m2m_accepts_a_string_expires_in_and_re_mints(emulator: Emulator) -> None:
    w = _client(
        host=emulator.url,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        auth_type="oauth-m2m",
    )
    assert "team-llm-prod" in _names(w)
    emulator.expire_all_tokens()
    emulator.set_invalid_token_style("401")
    # The SDK does not refresh on 401 by itself; the server-side expiry is what it sees.
    from databricks.sdk.errors import DatabricksError

    with pytest.raises(DatabricksError):
        _names(w)
    assert emulator.token_requests.count("client_credentials") == 1
