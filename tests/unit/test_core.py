"""Core pieces: atomic private writes, settings persistence, env overrides, exit codes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lakecode.cli.exit_codes import AUTH, INTERRUPTED, MODEL, USAGE, exit_code_for
from lakecode.config.env import apply_env_overrides
from lakecode.config.settings import Settings
from lakecode.config.store import backup_corrupt, load_settings, save_settings
from lakecode.errors import (
    AuthenticationError,
    ConfigError,
    RateLimitError,
    ServerError,
)
from lakecode.secure_io import atomic_write_text


def test_atomic_write_creates_0600_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "secret.json"
    atomic_write_text(target, "one")
    assert target.read_text() == "one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["secret.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "data" / "f.txt"
    atomic_write_text(target, "old")

    def full_disk(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


def test_settings_round_trip_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    assert load_settings(path) == Settings()
    s = Settings.model_validate(
        {"model": "databricks-claude-sonnet-4-5", "databricks": {"host": "https://x", "auth_type": "pat"}}
    )
    save_settings(s, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings(path) == s


def test_corrupt_settings_is_reported_and_backed_up(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("provider = [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert path.read_text() == "provider = [unclosed\n"  # never silently overwritten
    backup = backup_corrupt(path)
    assert backup is not None and backup.read_text() == "provider = [unclosed\n"
    assert not path.exists()


def test_invalid_settings_value_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('provider = "azure-openai"\n')
    with pytest.raises(ConfigError, match="provider"):
        load_settings(path)


def test_env_only_databricks_run() -> None:
    env = {
        "DATABRICKS_HOST": "https://dbc-a1b2345c-d6e7.cloud.databricks.com",
        "DATABRICKS_TOKEN": "dapi" + "0" * 32,
        "LLM_MODEL": "databricks/databricks-claude-sonnet-4-5",
    }
    out = apply_env_overrides(Settings(), env)
    assert out.settings.provider == "databricks"
    assert out.settings.model == "databricks-claude-sonnet-4-5"
    assert out.settings.databricks.host == env["DATABRICKS_HOST"]
    assert out.settings.databricks.auth_type == "pat"
    assert out.secrets["pat"].get_secret_value() == env["DATABRICKS_TOKEN"]
    assert out.applied["databricks.host"] == "DATABRICKS_HOST"
    assert "dapi" not in repr(out)


def test_env_generic_openai_provider() -> None:
    env = {"LLM_BASE_URL": "http://127.0.0.1:9/v1", "LLM_API_KEY": "sk-x", "LLM_MODEL": "openai/m"}
    out = apply_env_overrides(Settings(), env)
    assert out.settings.provider == "openai-compatible"
    assert out.settings.openai.base_url == "http://127.0.0.1:9/v1"
    assert out.settings.model == "m"
    assert out.secrets["api_key"].get_secret_value() == "sk-x"


def test_env_m2m_and_sdk_auth_types() -> None:
    env = {"DATABRICKS_HOST": "h", "DATABRICKS_CLIENT_ID": "id", "DATABRICKS_CLIENT_SECRET": "s"}
    assert apply_env_overrides(Settings(), env).settings.databricks.auth_type == "oauth-m2m"
    out = apply_env_overrides(Settings(), {"DATABRICKS_AUTH_TYPE": "azure-cli"})
    assert out.settings.databricks.auth_type == "profile"
    assert out.sdk_auth_type == "azure-cli"


def test_env_leaves_base_settings_unchanged() -> None:
    base = Settings()
    apply_env_overrides(base, {"LLM_MODEL": "x"})
    assert base.model is None


def test_exit_codes() -> None:
    assert exit_code_for(ConfigError("x")) == USAGE
    assert exit_code_for(AuthenticationError("x", status_code=401)) == AUTH
    assert exit_code_for(RateLimitError("x", status_code=429)) == MODEL
    assert exit_code_for(KeyboardInterrupt()) == INTERRUPTED
    assert RateLimitError.retryable and ServerError.retryable
    assert not AuthenticationError.retryable
