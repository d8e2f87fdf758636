"""Profiles through the Databricks SDK and the fake `databricks` CLI; precedence rules (F5, F6)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from lakecode.config.env import apply_env_overrides
from lakecode.config.settings import DatabricksSettings, Settings
from lakecode.databricks.auth.login import login_with_profile, verify
from lakecode.databricks.auth.resolve import resolve_auth
from lakecode.databricks.auth.strategies import DEFAULT_SDK_RETRY_TIMEOUT, SdkTokenFetcher
from lakecode.databricks.auth.token_source import TokenSourceRegistry
from lakecode.emulator import Emulator
from lakecode.errors import AuthError, ConfigError, ProfileError
from lakecode.testing.fake_databricks_cli import (
    FakeCliState,
    install_fake_databricks_cli,
    read_calls,
    write_state,
)

PAT = "dapi" + "1" * 32


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Path:
    bin_dir = tmp_path / "bin"
    creds = {"client_id": emulator.client_id, "client_secret": emulator.client_secret}
    install_fake_databricks_cli(bin_dir, FakeCliState(credentials={emulator.url: creds}))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def cfg(hermetic_env: Path, text: str) -> Path:
    path = hermetic_env / ".databrickscfg"  # DATABRICKS_CONFIG_FILE points here
    path.write_text(text)
    return path


def resolve(settings: DatabricksSettings, **kw: object):  # type: ignore[no-untyped-def]
    return resolve_auth(settings, token_registry=TokenSourceRegistry(), **kw)  # type: ignore[arg-type]


async def test_databricks_cli_profile_goes_through_the_sdk_and_the_cli(
        emulator: Emulator, fake_cli: Path, hermetic_env: Path) -> None:
    cfg(hermetic_env, f"[dev]\nhost = {emulator.url}\nauth_type = databricks-cli\n")
    resolved = resolve(DatabricksSettings(auth_type="profile", profile="dev"))
    assert (resolved.host, resolved.auth_type, resolved.profile) == (emulator.url, "databricks-cli", "dev")
    who = await verify(resolved)
    assert who.checked_with == "/api/2.0/preview/scim/v2/Me"
    token_calls = [c for c in read_calls(fake_cli) if c[:2] == ["auth", "token"]]
    assert token_calls == [["auth", "token", "--profile", "dev", "--force-refresh"]]
    api = [r for r in emulator.requests if r.path == who.checked_with][-1]
    assert api.auth_kind == "bearer" and api.status == 200
    # The SDK's own calls name lakecode first in the User-Agent.
    metadata = [r for r in emulator.requests if r.path == "/.well-known/databricks-config"]
    assert metadata and all((r.header("user-agent") or "").startswith("lakecode/") for r in metadata)


async def test_several_profiles_on_one_host_pick_one_remember_it_and_refresh_with_it(
        emulator: Emulator, fake_cli: Path, hermetic_env: Path) -> None:
    """F5: the choice is deterministic, returned for saving, and used for every refresh."""
    cfg(hermetic_env, f"[first]\nhost = {emulator.url}/\nauth_type = databricks-cli\n\n"
                      f"[second]\nhost = {emulator.url}\nauth_type = databricks-cli\n")
    results = [await login_with_profile(None, host=emulator.url, token_registry=TokenSourceRegistry())
               for _ in range(2)]
    assert [r.settings.profile for r in results] == ["first", "first"]
    assert results[0].settings.auth_type == "profile" and results[0].settings.host == emulator.url
    source = results[0].resolved.token_source
    await source.refresh()  # a forced refresh goes through the same profile
    profiles = {c[c.index("--profile") + 1] for c in read_calls(fake_cli) if c[:2] == ["auth", "token"]}
    assert profiles == {"first"}


async def test_cli_failure_exit_status_45_is_an_auth_error(
        emulator: Emulator, fake_cli: Path, hermetic_env: Path) -> None:
    cfg(hermetic_env, f"[dev]\nhost = {emulator.url}\nauth_type = databricks-cli\n")
    write_state(fake_cli / "fake-databricks-state.json", FakeCliState(fail="45", log=str(
        fake_cli / "fake-databricks-calls.jsonl")))
    resolved = resolve(DatabricksSettings(auth_type="profile", profile="dev"))
    with pytest.raises(AuthError) as info:
        await resolved.token_source.token()
    assert info.value.message.startswith("Cannot sign in with profile dev: ")
    assert "exit status 45" in info.value.message
    assert info.value.hint == (f"Run `databricks auth login --host {emulator.url} --profile dev` or "
                               f"`lakecode auth login --host {emulator.url} --profile dev`.")


async def test_unreachable_host_fails_fast_through_the_sdk() -> None:
    secret = "dose" + "3" * 32
    fetcher = SdkTokenFetcher({"host": "http://127.0.0.1:9", "auth_type": "oauth-m2m", "client_id": "c",
                               "client_secret": secret}, retry_timeout_seconds=1, relogin_hint="sign in")
    started = time.monotonic()
    with pytest.raises(AuthError) as info:
        await fetcher.fetch(None)
    assert time.monotonic() - started < 5
    assert info.value.message.startswith("Cannot sign in with http://127.0.0.1:9: ")
    assert secret not in info.value.describe()


def test_sdk_retry_timeout_default_is_short() -> None:
    assert DEFAULT_SDK_RETRY_TIMEOUT <= 5


async def test_native_profiles_use_native_strategies(emulator: Emulator, hermetic_env: Path) -> None:
    cfg(hermetic_env, f"[p]\nhost = {emulator.url}\ntoken = {emulator.pat}\n\n"
                      f"[sp]\nhost = {emulator.url}\nclient_id = {emulator.client_id}\n"
                      f"client_secret = {emulator.client_secret}\n")
    pat = resolve(DatabricksSettings(auth_type="profile", profile="p"))
    assert (pat.auth_type, pat.sources["credential"]) == ("pat", "profile")
    sp = resolve(DatabricksSettings(auth_type="profile", profile="sp"))
    assert (sp.auth_type, sp.client_id) == ("oauth-m2m", emulator.client_id)
    await verify(pat)
    await verify(sp)
    assert emulator.token_requests.count("client_credentials") == 1


def test_two_methods_in_a_profile_without_auth_type_is_an_error(hermetic_env: Path) -> None:
    path = cfg(hermetic_env, f"[both]\nhost = https://h.cloud.databricks.com\ntoken = {PAT}\n"
                             "client_id = c\nclient_secret = s\n")
    with pytest.raises(ConfigError) as info:
        resolve(DatabricksSettings(auth_type="profile", profile="both"))
    assert info.value.message == (f"Profile [both] in {path} configures more than one authorization "
                                  "method: pat and oauth-m2m.")


def test_two_methods_in_the_environment_without_auth_type_is_an_error() -> None:
    env = {"DATABRICKS_HOST": "https://h.cloud.databricks.com", "DATABRICKS_TOKEN": PAT,
           "DATABRICKS_CLIENT_ID": "c", "DATABRICKS_CLIENT_SECRET": "s"}
    overrides = apply_env_overrides(Settings(), env)
    with pytest.raises(ConfigError) as info:
        resolve(overrides.settings.databricks, secrets=overrides.secrets, applied=overrides.applied)
    assert "oauth-m2m and pat" in info.value.message
    pinned = apply_env_overrides(Settings(), {**env, "DATABRICKS_AUTH_TYPE": "pat"})
    resolved = resolve(pinned.settings.databricks, secrets=pinned.secrets, applied=pinned.applied)
    assert resolved.auth_type == "pat" and resolved.sources["auth_type"] == "env"


def test_environment_beats_settings_and_the_sources_say_so() -> None:
    settings = Settings(databricks=DatabricksSettings(host="https://saved.cloud.databricks.com",
                                                      auth_type="pat"))
    overrides = apply_env_overrides(settings, {"DATABRICKS_HOST": "env.cloud.databricks.com/",
                                               "DATABRICKS_TOKEN": PAT})
    resolved = resolve(overrides.settings.databricks, secrets=overrides.secrets, applied=overrides.applied)
    assert resolved.host == "https://env.cloud.databricks.com"
    assert resolved.sources == {"host": "env", "auth_type": "env", "profile": None,
                                "client_id": None, "credential": "env"}
    assert resolved.details == {"host": "DATABRICKS_HOST", "auth_type": "DATABRICKS_TOKEN"}


def test_explicit_host_beats_a_profile_from_the_environment(hermetic_env: Path) -> None:
    cfg(hermetic_env, f"[envprof]\nhost = https://a.cloud.databricks.com\ntoken = {PAT}\n\n"
                      f"[other]\nhost = https://b.cloud.databricks.com\ntoken = {PAT}\n")
    overrides = apply_env_overrides(Settings(), {"DATABRICKS_CONFIG_PROFILE": "envprof"})
    settings = overrides.settings.databricks.model_copy(update={"host": "https://b.cloud.databricks.com"})
    resolved = resolve(settings, applied=overrides.applied, explicit={"host"})
    assert (resolved.host, resolved.profile) == ("https://b.cloud.databricks.com", "other")


def test_explicit_profile_beats_a_host_from_the_environment(hermetic_env: Path) -> None:
    cfg(hermetic_env, f"[mine]\nhost = https://mine.cloud.databricks.com\ntoken = {PAT}\n")
    overrides = apply_env_overrides(Settings(), {"DATABRICKS_HOST": "https://ambient.cloud.databricks.com"})
    settings = overrides.settings.databricks.model_copy(update={"profile": "mine", "auth_type": "profile"})
    resolved = resolve(settings, applied=overrides.applied, explicit={"profile", "auth_type"})
    assert (resolved.host, resolved.profile, resolved.sources["host"]) == (
        "https://mine.cloud.databricks.com", "mine", "profile")


def test_nothing_configured_falls_back_to_the_default_profile(hermetic_env: Path) -> None:
    cfg(hermetic_env, f"[DEFAULT]\nhost = https://d.cloud.databricks.com\ntoken = {PAT}\n\n"
                      f"[x]\nhost = https://x.cloud.databricks.com\ntoken = {PAT}\n\n"
                      "[__settings__]\ndefault_profile = x\n")
    resolved = resolve(DatabricksSettings())
    assert (resolved.host, resolved.profile, resolved.auth_type) == (
        "https://x.cloud.databricks.com", "x", "pat")


@pytest.mark.parametrize("text", [None, "", "[__settings__]\ndefault_profile = nope\n"])
def test_nothing_configured_and_no_profile_says_what_to_do(hermetic_env: Path, text: str | None) -> None:
    if text is not None:
        cfg(hermetic_env, text)
    with pytest.raises(ConfigError) as info:
        resolve(DatabricksSettings())
    assert info.value.hint is not None and "lakecode auth login --host" in info.value.hint


def test_an_unknown_profile_is_a_profile_error(hermetic_env: Path) -> None:
    cfg(hermetic_env, "[a]\nhost = https://a.cloud.databricks.com\n")
    with pytest.raises(ProfileError):
        resolve(DatabricksSettings(auth_type="profile", profile="missing"))


def test_missing_credentials_are_auth_errors_naming_what_to_run() -> None:
    host = "https://h.cloud.databricks.com"
    with pytest.raises(AuthError) as info:
        resolve(DatabricksSettings(host=host, auth_type="pat"))
    assert info.value.hint == (f"Create a new personal access token and run `lakecode auth login --host "
                               f"{host} --auth-type pat` (or set DATABRICKS_TOKEN).")
    with pytest.raises(AuthError) as info:
        resolve(DatabricksSettings(host=host))
    assert info.value.message == f"Not signed in to {host} with the browser (databricks-cli)."
    with pytest.raises(ConfigError):
        resolve(DatabricksSettings(host=host, auth_type="oauth-m2m"))


def test_env_secret_is_not_copied_anywhere_at_resolve_time() -> None:
    secret = "dose" + "7" * 32
    resolved = resolve(DatabricksSettings(host="https://h.cloud.databricks.com", auth_type="oauth-m2m",
                                          client_id="c"), secrets={"client_secret": SecretStr(secret)})
    assert resolved.token_source.cached() is None  # no token fetched at start-up
    assert secret not in repr(resolved)
