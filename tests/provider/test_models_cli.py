"""``lakecode models`` and ``build_databricks_provider`` from settings + environment, on the emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from click.testing import CliRunner

from lakecode.cli.app import cli
from lakecode.config.env import apply_env_overrides
from lakecode.config.settings import Settings
from lakecode.databricks.provider import build_databricks_provider
from lakecode.emulator import Emulator
from lakecode.errors import ConfigError


def _invoke(monkeypatch: pytest.MonkeyPatch, emu: Emulator, *args: str,
            env: dict[str, str] | None = None) -> Any:
    monkeypatch.setenv("DATABRICKS_HOST", emu.url)
    monkeypatch.setenv("DATABRICKS_TOKEN", emu.pat)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(cli, ["models", *args], catch_exceptions=False)


def test_models_table_lists_the_catalogue(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    result = _invoke(monkeypatch, emulator)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "FAMILY", "TOOLS", "ROUTE", "SOURCE", "NOTES"]
    rows = {line.split()[0]: line.split() for line in lines[1:-1]}
    assert rows["databricks-claude-sonnet-4-5"][1:5] == ["claude", "yes", "ai-gateway", "discovered"]
    assert rows["team-llm-prod"][1:5] == ["gpt", "yes", "serving-endpoints", "discovered"]
    assert rows["databricks-gpt-5-2-codex"][1:5] == ["gpt", "yes", "responses", "discovered"]
    assert rows["databricks-meta-llama-3-3-70b-instruct"][2] == "no"
    assert rows["il_model_service.default.il-claude-sonnet-5"][1:5] == [
        "claude", "yes", "ai-gateway", "discovered"]
    assert "databricks-gte-large-en" not in rows
    assert lines[-1].startswith(f"{len(rows)} chat models on {emulator.url} (discovered")


def test_models_json_and_all(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    result = _invoke(monkeypatch, emulator, "--json", "--all")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    by_id = {m["id"]: m for m in data["models"]}
    assert data["state"] == "discovered"
    assert by_id["databricks-gte-large-en"]["chat"] is False
    assert by_id["churn-predictor"]["chat"] is False
    assert by_id["team-llm-prod"]["tools"] is True
    assert by_id["databricks-claude-opus-4-7"]["unsupported_params"] == ["temperature", "top_k", "top_p"]
    assert by_id["databricks-gpt-5-1"]["source"] == "curated"  # curated, not on this workspace
    assert by_id["il_model_service.default.il-claude-sonnet-5"]["display_name"] == "il-claude-sonnet-5"


def test_models_with_discovery_broken_shows_curated_and_exits_0(
        monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    for path in ("/api/*", "/ai-gateway/*"):
        emulator.faults.add(kind="server_error", status=503, path=path, count=None)
    result = _invoke(monkeypatch, emulator, "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["state"] == "curated"
    assert data["models"] and all(m["source"] == "curated" for m in data["models"])
    assert "Discovery failed" in data["status"] and "unverified" in data["status"]
    assert "warning:" in result.stderr
    table = _invoke(monkeypatch, emulator)
    assert table.exit_code == 0
    assert "curated" in table.stdout.splitlines()[1] and "unverified" in table.stdout


def test_models_refresh_and_cache_between_processes(monkeypatch: pytest.MonkeyPatch,
                                                    emulator: Emulator) -> None:
    assert _invoke(monkeypatch, emulator, "--json").exit_code == 0
    first = len(emulator.requests)
    start = time.perf_counter()
    again = _invoke(monkeypatch, emulator, "--json")
    elapsed = time.perf_counter() - start
    assert again.exit_code == 0
    assert len(emulator.requests) == first  # served from the disk cache: no request at all
    assert elapsed < 1.0
    assert _invoke(monkeypatch, emulator, "--json", "--refresh").exit_code == 0
    assert len(emulator.requests) > first


def test_models_without_a_host_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["models"])
    assert result.exit_code in (2, 3)
    assert "error:" in result.stderr


def test_models_wrong_host_says_so(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    emulator.faults.redirect_login(path="/api/*", count=None)
    emulator.faults.redirect_login(path="/ai-gateway/*", count=None)
    result = _invoke(monkeypatch, emulator)
    assert result.exit_code == 0
    assert "does not look like a workspace API host" in result.stderr
    assert emulator.url in result.stderr
    assert "not enabled" not in result.stderr


# ---- the factory with the auth layer --------------------------------------------------------


async def test_factory_with_pat_from_the_environment(emulator: Emulator) -> None:
    overrides = apply_env_overrides(Settings(), {"DATABRICKS_HOST": emulator.url + "/serving-endpoints/",
                                                 "DATABRICKS_TOKEN": emulator.pat})
    async with build_databricks_provider(overrides.settings, overrides) as provider:
        assert provider.host == emulator.url
        listing = await provider.list_models()
    assert listing.models
    assert all(r.auth_kind == "bearer" and r.header("x-api-key") is None for r in emulator.requests)
    assert all((r.header("user-agent") or "").endswith("auth/pat") for r in emulator.requests)


async def test_factory_with_m2m_from_the_environment(emulator: Emulator) -> None:
    overrides = apply_env_overrides(Settings(), {"DATABRICKS_HOST": emulator.url,
                                                 "DATABRICKS_CLIENT_ID": emulator.client_id,
                                                 "DATABRICKS_CLIENT_SECRET": emulator.client_secret})
    async with build_databricks_provider(overrides.settings, overrides) as provider:
        emulator.scripted_model.enqueue(["m2m ok"])
        from lakecode.llm.types import ChatRequest, Finish, Message

        events = [e async for e in provider.stream_chat(
            ChatRequest("databricks-gpt-5-2", (Message.user("hi"),)))]
    assert isinstance(events[-1], Finish) and events[-1].message.text == "m2m ok"
    api = [r for r in emulator.requests if not r.path.startswith(("/oidc", "/.well-known"))]
    assert api and all(r.auth_kind == "bearer" for r in api)
    assert all((r.header("user-agent") or "").endswith("auth/oauth-m2m") for r in api)
    assert len([t for t in emulator.token_requests.records if t.grant_type == "client_credentials"]) == 1


def test_factory_without_host_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        build_databricks_provider(Settings(), None, auth=None)


def test_models_with_a_rejected_credential_exits_3_with_one_warning(
        monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    result = _invoke(monkeypatch, emulator, "--json",
                     env={"DATABRICKS_TOKEN": "dapi" + "0" * 32})
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["state"] == "curated" and all(m["source"] == "curated" for m in data["models"])
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len([w for w in warnings if "rejected the credential" in w]) == 1
    assert "dapi" + "0" * 32 not in result.stderr + result.stdout


def test_a_host_no_listing_can_reach_is_one_warning_with_its_cause(
        monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    """https:// to the plain-http emulator: every listing fails alike, so one warning says why
    (not five TLS tracebacks), and the curated list is still shown."""
    https = emulator.url.replace("http://", "https://")
    result = _invoke(monkeypatch, emulator, env={"DATABRICKS_HOST": https})
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and warnings[0].startswith(
        f"warning: No model listing could be reached. Could not reach {https} for ")
    assert f"hint: {https} answered in plain HTTP, not HTTPS. A local emulator is reached as " \
           f"{emulator.url}" in result.stderr
    assert "curated" in result.stdout and "discovered" not in result.stdout
    assert emulator.requests == []  # nothing it understood ever reached it


def test_the_cache_never_answers_for_another_token(monkeypatch: pytest.MonkeyPatch,
                                                   emulator: Emulator) -> None:
    """A listing cached for one token is not served to a different (here: wrong) token on the
    same host: that token goes to the workspace, is rejected, and the command says so."""
    assert _invoke(monkeypatch, emulator, "--json").exit_code == 0
    first = len(emulator.requests)
    wrong = "dapi" + "0" * 32
    for args in (("--json",), ("--json", "--refresh")):
        result = _invoke(monkeypatch, emulator, *args, env={"DATABRICKS_TOKEN": wrong})
        assert result.exit_code == 3, (result.stdout, result.stderr)
        data = json.loads(result.stdout)
        assert data["state"] == "curated" and {m["source"] for m in data["models"]} == {"curated"}
        assert "rejected the credential" in data["warnings"][0]
    assert len(emulator.requests) > first
    assert {r.status for r in emulator.requests[first:]} == {401}
    # The right token still gets its cached list without a request.
    count = len(emulator.requests)
    assert _invoke(monkeypatch, emulator, "--json").exit_code == 0
    assert len(emulator.requests) == count
