"""A refused credential's hint names what can fix it: the variable, the profile file, or a login."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lakecode.cli.app import cli
from lakecode.databricks.auth.token_source import registry
from lakecode.emulator import Emulator

BAD_PAT = "dapi" + "0" * 32
BAD_SECRET = "dose" + "0" * 32


@pytest.fixture(autouse=True)
def fresh_registry() -> None:
    registry.clear()


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["auth", *args], input=input, catch_exceptions=False)


def hint_of(result: Result) -> str:
    assert result.exit_code == 3, result.output
    return result.stdout.split("\n  hint: ", 1)[1].rstrip("\n")


def test_a_refused_token_from_the_environment_says_to_replace_or_unset_it(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("login", "--host", emulator.url, "--auth-type", "pat",
               input=emulator.pat + "\n").exit_code == 0
    monkeypatch.setenv("DATABRICKS_TOKEN", BAD_PAT)  # overrides the stored login
    assert hint_of(run("status")) == (
        "DATABRICKS_TOKEN is set and overrides any stored login: replace it with a valid personal "
        f"access token, or unset it and run `lakecode auth login --host {emulator.url} --auth-type pat`.")
    monkeypatch.delenv("DATABRICKS_TOKEN")
    registry.clear()
    assert run("status").exit_code == 0  # the stored login was fine all along


def test_a_refused_token_from_llm_api_key_names_that_variable(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MODEL", "databricks/databricks-claude-sonnet-4-5")
    monkeypatch.setenv("DATABRICKS_HOST", emulator.url)
    monkeypatch.setenv("LLM_API_KEY", BAD_PAT)
    assert hint_of(run("status")).startswith("LLM_API_KEY is set and overrides any stored login:")


def test_refused_service_principal_credentials_from_the_environment_name_both_variables(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", emulator.url)
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", BAD_SECRET)
    assert hint_of(run("status")) == (
        "DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET are set and override any stored login: "
        "replace them with valid service principal credentials, or unset them and run "
        f"`lakecode auth login --host {emulator.url} --auth-type oauth-m2m`.")


def test_a_refused_token_in_a_profile_says_to_update_the_profile(emulator: Emulator,
                                                                hermetic_env: Path) -> None:
    cfg = hermetic_env / ".databrickscfg"
    cfg.write_text(f"[bad]\nhost = {emulator.url}\ntoken = {BAD_PAT}\n")
    result = run("status", "--profile", "bad")
    assert f"{emulator.url} rejected the credential" in result.stdout
    assert hint_of(result) == (
        f"Update the token in profile [bad] of {cfg}, or run "
        f"`databricks auth login --host {emulator.url} --profile bad`.")
    assert "lakecode auth login" not in result.stdout


def test_a_refused_secret_in_a_profile_says_to_update_the_profile(emulator: Emulator,
                                                                 hermetic_env: Path) -> None:
    cfg = hermetic_env / ".databrickscfg"
    cfg.write_text(f"[sp]\nhost = {emulator.url}\nclient_id = {emulator.client_id}\n"
                   f"client_secret = {BAD_SECRET}\n")
    assert hint_of(run("status", "--profile", "sp")) == (
        f"Update client_id and client_secret in profile [sp] of {cfg}, or run "
        f"`databricks auth login --host {emulator.url} --profile sp`.")


def test_a_refused_stored_token_still_says_to_sign_in_again(emulator: Emulator) -> None:
    assert run("login", "--host", emulator.url, "--auth-type", "pat",
               input=emulator.pat + "\n").exit_code == 0
    emulator.revoke(emulator.pat)
    assert hint_of(run("status")) == (
        f"Create a new personal access token and run `lakecode auth login --host {emulator.url} "
        "--auth-type pat` (or set DATABRICKS_TOKEN).")


def test_a_refused_token_at_login_names_the_variable_only_when_it_came_from_there(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    typed = run("login", "--host", emulator.url, "--auth-type", "pat", input=BAD_PAT + "\n")
    assert typed.exit_code == 3
    assert typed.stderr.rstrip().endswith(
        f"hint: Create a new personal access token and run `lakecode auth login --host {emulator.url} "
        "--auth-type pat` (or set DATABRICKS_TOKEN).")
    monkeypatch.setenv("DATABRICKS_TOKEN", BAD_PAT)
    from_env = run("login", "--host", emulator.url, "--auth-type", "pat")
    assert from_env.exit_code == 3
    assert from_env.stderr.rstrip().endswith(
        "hint: DATABRICKS_TOKEN is set and overrides any stored login: replace it with a valid "
        f"personal access token, or unset it and run `lakecode auth login --host {emulator.url} "
        "--auth-type pat`.")
