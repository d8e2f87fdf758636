"""Where each auth value came from, as `auth status` shows it, and what `auth login` leaves behind."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from pydantic import SecretStr

from lakecode.cli.app import cli
from lakecode.config.env import apply_env_overrides
from lakecode.config.paths import settings_path
from lakecode.config.settings import DatabricksSettings, Settings
from lakecode.databricks.auth import oauth_login
from lakecode.databricks.auth.login import settings_for_method
from lakecode.databricks.auth.resolve import resolve_auth
from lakecode.databricks.auth.token_source import TokenSourceRegistry, registry
from lakecode.emulator import Emulator
from lakecode.errors import ConfigError

PAT = "dapi" + "3" * 32


@pytest.fixture(autouse=True)
def fresh_registry() -> None:
    registry.clear()


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["auth", *args], input=input, catch_exceptions=False)


def saved_databricks() -> dict[str, object]:
    return dict(tomllib.loads(settings_path().read_text())["databricks"])


def status_lines() -> list[str]:
    result = run("status", "--offline")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser that follows the authorize URL to the loopback callback, as a user would."""

    async def fake_browser(url: str) -> bool:
        import asyncio

        async def play() -> None:
            async with httpx.AsyncClient() as client:
                location = (await client.get(url)).headers["location"]
                await client.get(location)

        asyncio.get_running_loop().create_task(play())
        return True

    monkeypatch.setattr(oauth_login, "open_in_browser", fake_browser)


def test_each_login_clears_the_fields_of_the_other_methods(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch, browser: None) -> None:
    assert run("login", "--host", emulator.url, "--auth-type", "pat",
               input=emulator.pat + "\n").exit_code == 0
    assert saved_databricks() == {"host": emulator.url, "auth_type": "pat", "route": "auto"}

    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", emulator.client_secret)
    m2m = run("login", "--host", emulator.url, "--auth-type", "oauth-m2m", "--client-id",
              emulator.client_id)
    assert m2m.exit_code == 0, m2m.output
    monkeypatch.delenv("DATABRICKS_CLIENT_SECRET")
    assert saved_databricks() == {"host": emulator.url, "auth_type": "oauth-m2m",
                                  "client_id": emulator.client_id, "route": "auto"}
    assert f"Client id: {emulator.client_id}  (from settings)" in status_lines()

    u2m = run("login", "--host", emulator.url, "--auth-type", "external-browser", "--timeout", "10")
    assert u2m.exit_code == 0, u2m.output
    assert saved_databricks() == {"host": emulator.url, "auth_type": "external-browser",
                                  "route": "auto"}
    assert status_lines() == [
        f"Host:      {emulator.url}  (from settings)",
        "Method:    external-browser  (from settings)",
        "Client id: databricks-cli  (from default)",
        "Secret:    [REDACTED]  (from store)",
    ]
    data = json.loads(run("status", "--json", "--offline").stdout)
    assert data["profile"] is None and data["client_id"] == "databricks-cli"
    assert data["sources"] == {"host": "settings", "auth_type": "settings", "profile": None,
                               "client_id": "default", "credential": "store"}


def test_settings_for_method_keeps_only_the_methods_own_fields() -> None:
    base = DatabricksSettings(host="https://h.cloud.databricks.com", auth_type="profile", profile="dev",
                              client_id="sp", oauth_client_id="app", oauth_redirect_uri="http://localhost:9")
    pat = settings_for_method(base, "pat", host="https://n.cloud.databricks.com")
    assert (pat.host, pat.auth_type, pat.profile, pat.client_id, pat.oauth_client_id,
            pat.oauth_redirect_uri) == ("https://n.cloud.databricks.com", "pat", None, None, None, None)
    u2m = settings_for_method(base, "external-browser")
    assert (u2m.profile, u2m.client_id, u2m.oauth_client_id, u2m.oauth_redirect_uri) == (
        None, None, "app", "http://localhost:9")
    m2m = settings_for_method(base, "oauth-m2m", client_id="sp2")
    assert (m2m.profile, m2m.client_id, m2m.oauth_client_id) == (None, "sp2", None)
    prof = settings_for_method(base, "profile", profile="prod")
    assert (prof.profile, prof.client_id, prof.oauth_client_id) == ("prod", None, None)


def test_a_value_written_in_settings_is_from_settings_even_when_it_is_the_default(
        hermetic_env: Path) -> None:
    host = "https://h.cloud.databricks.com"
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(f'[databricks]\nhost = "{host}"\nauth_type = "external-browser"\n')
    store_token_for(host)
    assert status_lines()[:2] == [f"Host:      {host}  (from settings)",
                                  "Method:    external-browser  (from settings)"]
    # Without the file's field list, the settings model's own fields_set tells.
    assert resolve_auth(DatabricksSettings(host=host, auth_type="external-browser"),
                        token_registry=TokenSourceRegistry()).sources["auth_type"] == "settings"
    assert resolve_auth(DatabricksSettings(host=host),
                        token_registry=TokenSourceRegistry()).sources["auth_type"] == "default"
    assert resolve_auth(DatabricksSettings(host=host, auth_type="external-browser"), in_settings={"host"},
                        token_registry=TokenSourceRegistry()).sources["auth_type"] == "default"


def store_token_for(host: str) -> None:
    import time

    from lakecode.databricks.auth.resolve import u2m_identity
    from lakecode.databricks.auth.store import TokenStore
    from lakecode.databricks.auth.token_source import Token

    now = time.time()
    TokenStore().save_token(u2m_identity(host), Token("at-" + "9" * 30, expires_at=now + 3600,
                                                      obtained_at=now, refresh_token="rt"))


def test_the_default_method_written_in_settings_still_falls_back_to_the_default_profile(
        hermetic_env: Path) -> None:
    cfg = hermetic_env / ".databrickscfg"
    cfg.write_text(f"[DEFAULT]\nhost = https://d.cloud.databricks.com\ntoken = {PAT}\n")
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('model = "m"\n\n[databricks]\nauth_type = "external-browser"\n'
                               'route = "auto"\n')
    data = json.loads(run("status", "--json", "--offline").stdout)
    assert (data["host"], data["auth_type"], data["method"], data["profile"]) == (
        "https://d.cloud.databricks.com", "pat", "profile", "DEFAULT")
    assert data["sources"] == {"host": "profile", "auth_type": "profile", "profile": "profile",
                               "client_id": None, "credential": "profile"}
    assert data["details"] == {"host": str(cfg), "auth_type": str(cfg), "profile": str(cfg)}


def test_a_method_chosen_without_a_host_does_not_fall_back_to_a_profile(hermetic_env: Path) -> None:
    (hermetic_env / ".databrickscfg").write_text(
        f"[DEFAULT]\nhost = https://d.cloud.databricks.com\ntoken = {PAT}\n")
    with pytest.raises(ConfigError, match="No workspace host is configured"):
        resolve_auth(DatabricksSettings(auth_type="pat"), token_registry=TokenSourceRegistry())
    overrides = apply_env_overrides(Settings(), {"DATABRICKS_AUTH_TYPE": "external-browser"})
    with pytest.raises(ConfigError, match="No workspace host is configured"):
        resolve_auth(overrides.settings.databricks, applied=overrides.applied,
                     in_settings=set(), token_registry=TokenSourceRegistry())


def test_a_profile_from_the_environment_labels_each_value_with_its_origin(
        emulator: Emulator, hermetic_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = hermetic_env / ".databrickscfg"
    cfg.write_text(f"[sp]\nhost = {emulator.url}\nclient_id = {emulator.client_id}\n"
                   f"client_secret = {emulator.client_secret}\n")
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('[databricks]\nauth_type = "external-browser"\nclient_id = "stale"\n')
    monkeypatch.setenv("DATABRICKS_CONFIG_PROFILE", "sp")
    assert status_lines() == [
        f"Host:      {emulator.url}  (from the profile file {cfg})",
        f"Method:    oauth-m2m  (from the profile file {cfg})",
        "Profile:   sp  (from env: DATABRICKS_CONFIG_PROFILE)",
        f"Client id: {emulator.client_id}  (from the profile file {cfg})",
        "Secret:    [REDACTED]  (from profile)",
    ]
    data = json.loads(run("status", "--json").stdout)
    assert data["signed_in"] is True and data["identity"] == emulator.client_id
    assert data["sources"] == {"host": "profile", "auth_type": "profile", "profile": "env",
                               "client_id": "profile", "credential": "profile"}
    assert data["details"] == {"host": str(cfg), "auth_type": str(cfg),
                               "profile": "DATABRICKS_CONFIG_PROFILE", "client_id": str(cfg)}


def test_an_sdk_auth_type_from_the_environment_is_labelled_as_such(hermetic_env: Path) -> None:
    (hermetic_env / ".databrickscfg").write_text("[dev]\nhost = https://d.cloud.databricks.com\n")
    overrides = apply_env_overrides(Settings(), {"DATABRICKS_CONFIG_PROFILE": "dev",
                                                 "DATABRICKS_AUTH_TYPE": "databricks-cli"})
    resolved = resolve_auth(overrides.settings.databricks, sdk_auth_type=overrides.sdk_auth_type,
                            applied=overrides.applied, secrets={"x": SecretStr("y")},
                            token_registry=TokenSourceRegistry())
    assert (resolved.auth_type, resolved.sources["auth_type"], resolved.details["auth_type"]) == (
        "databricks-cli", "env", "DATABRICKS_AUTH_TYPE")
    assert (resolved.sources["profile"], resolved.details["profile"]) == (
        "env", "DATABRICKS_CONFIG_PROFILE")
