"""``lakecode doctor`` as a subprocess against the emulator: passing, and failing at each class."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import MODEL, assert_no_secret, base_env, emulator_env, lakecode

from lakecode.emulator import Emulator

ORDER = ["settings", "configuration", "host", "credential", "discovery", "model", "ping"]


def test_doctor_passes_against_the_emulator(emulator: Emulator, tmp_path: Path) -> None:
    result = lakecode("doctor", env=emulator_env(emulator), cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    marks = [line.split(":")[0] for line in lines if line[:2] in ("✓ ", "✗ ", "⚠ ", "- ")]
    assert marks == [f"✓ {name}" for name in ORDER]
    out = result.stdout
    assert f"host      {emulator.url}" in out and "from DATABRICKS_HOST" in out
    assert "auth      pat" in out and "from DATABRICKS_TOKEN" in out
    assert f"model     {MODEL}" in out and "from LLM_MODEL" in out
    assert f"✓ host: {emulator.url} answers as a Databricks workspace" in out
    assert "it does not expire" in out
    assert f"✓ model: {MODEL} is listed (claude" in out and "can call tools" in out
    assert "tool-free one-token request" in out
    assert out.rstrip().endswith("all checks passed")
    pings = [r for r in emulator.requests if r.method == "POST"]
    assert len(pings) == 1 and "tools" not in pings[0].json and pings[0].json["max_tokens"] == 1
    assert_no_secret([emulator.pat], texts=[result.stdout, result.stderr])


def test_doctor_json_and_no_ping(emulator: Emulator, tmp_path: Path) -> None:
    result = lakecode("doctor", "--json", "--no-ping", env=emulator_env(emulator), cwd=tmp_path)
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["exit_code"] == 0
    assert [c["name"] for c in report["checks"]] == ORDER
    assert [c["status"] for c in report["checks"]] == ["ok"] * 6 + ["skip"]
    config = report["checks"][1]["facts"]
    assert config["host"] == {"value": emulator.url, "source": "from DATABRICKS_HOST"}
    assert report["checks"][4]["facts"]["models"] >= 5
    assert not [r for r in emulator.requests if r.method == "POST"]


def test_doctor_fails_on_a_host_that_redirects_to_a_login_page(emulator: Emulator, tmp_path: Path) -> None:
    emulator.faults.add(kind="redirect_login", count=None)
    result = lakecode("doctor", env=emulator_env(emulator), cwd=tmp_path)
    assert result.returncode == 4
    out = result.stdout
    assert "✗ host:" in out and "/login" in out
    assert "hint: Check the workspace URL" in out
    for name in ORDER[3:]:
        assert f"- {name}: skipped" in out
    assert "1 check failed; exit code 4" in out


def test_doctor_reports_a_rejected_credential(emulator: Emulator, tmp_path: Path) -> None:
    env = emulator_env(emulator, DATABRICKS_TOKEN="dapi" + "0" * 32)
    result = lakecode("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 3
    assert "✓ host:" in result.stdout and "✗ credential:" in result.stdout


def test_doctor_lists_missing_settings(tmp_path: Path) -> None:
    result = lakecode("doctor", env=base_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "✗ configuration: missing:" in result.stdout
    assert "DATABRICKS_HOST" in result.stdout and "LLM_MODEL" in result.stdout


def test_doctor_warns_about_an_unlisted_model_and_the_ping_fails(emulator: Emulator, tmp_path: Path) -> None:
    result = lakecode("doctor", "--model", "databricks-claude-sonet-4-5", env=emulator_env(emulator),
                      cwd=tmp_path)
    assert result.returncode == 4
    assert "⚠ model: databricks-claude-sonet-4-5 is not listed" in result.stdout
    assert f"Did you mean {MODEL}" in result.stdout
    assert "✗ ping:" in result.stdout


def test_doctor_fails_first_on_an_unreadable_settings_file(tmp_path: Path) -> None:
    home = Path(base_env()["LAKECODE_HOME"])
    home.mkdir(parents=True)
    (home / "settings.toml").write_text("[databricks\n")
    result = lakecode("doctor", env=base_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.startswith("✗ settings:") and "is not valid TOML" in result.stdout
    assert "- configuration: skipped" in result.stdout


def _write_settings(text: str) -> None:
    home = Path(base_env()["LAKECODE_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text(text)


def _config_facts(result: object) -> dict[str, dict[str, str]]:
    report = json.loads(result.stdout)  # type: ignore[attr-defined]
    facts: dict[str, dict[str, str]] = report["checks"][1]["facts"]
    return facts


def test_doctor_says_a_method_written_in_settings_comes_from_settings(emulator: Emulator,
                                                                       tmp_path: Path) -> None:
    _write_settings(f'model = "{MODEL}"\n\n[databricks]\nhost = "{emulator.url}"\n'
                    'auth_type = "external-browser"\n')
    signed_out = lakecode("doctor", "--json", "--no-ping", env=base_env(), cwd=tmp_path)
    assert signed_out.returncode == 3  # not signed in with the browser
    assert _config_facts(signed_out)["auth"] == {"value": "external-browser",
                                                 "source": "from settings.toml"}
    from lakecode.databricks.auth.resolve import u2m_identity
    from lakecode.databricks.auth.store import TokenStore
    from lakecode.databricks.auth.token_source import Token

    TokenStore().save_token(u2m_identity(emulator.url), Token("at-" + "8" * 30, expires_at=4e9,
                                                              obtained_at=1.0, refresh_token="rt"))
    resolved = lakecode("doctor", "--json", "--no-ping", env=base_env(), cwd=tmp_path)
    facts = _config_facts(resolved)
    assert facts["auth"] == {"value": "external-browser", "source": "from settings.toml"}
    assert facts["host"] == {"value": emulator.url, "source": "from settings.toml"}
    assert facts["provider"] == {"value": "databricks", "source": "default"}


def test_doctor_names_the_profile_file_for_a_profile_from_the_environment(
        emulator: Emulator, tmp_path: Path) -> None:
    cfg = Path(base_env()["DATABRICKS_CONFIG_FILE"])
    cfg.write_text(f"[sp]\nhost = {emulator.url}\nclient_id = {emulator.client_id}\n"
                   f"client_secret = {emulator.client_secret}\n")
    env = base_env(DATABRICKS_CONFIG_PROFILE="sp", LLM_MODEL=f"databricks/{MODEL}")
    result = lakecode("doctor", "--json", "--no-ping", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    facts = _config_facts(result)
    assert facts["auth"] == {"value": "oauth-m2m (profile sp)", "source": f"from {cfg}"}
    assert facts["host"] == {"value": emulator.url, "source": f"from {cfg}"}
