"""runtime: precedence of options > env > settings, and the one 'missing pieces' message."""

from __future__ import annotations

import pytest

from lakecode.config.settings import Settings
from lakecode.errors import ConfigError
from lakecode.runtime import RunOptions, effective_settings, missing_settings, require_complete


def test_options_beat_env_beat_settings() -> None:
    saved = Settings.model_validate({"model": "from-settings", "databricks": {"host": "https://a"}})
    env = {"LLM_MODEL": "databricks/from-env", "DATABRICKS_HOST": "https://b"}
    out = effective_settings(RunOptions(model="from-flag", max_turns=3), settings=saved, environ=env)
    assert out.settings.model == "from-flag"
    assert out.settings.databricks.host == "https://b"
    assert out.settings.agent.max_turns == 3
    assert out.applied["model"] == "--model"
    assert out.applied["databricks.host"] == "DATABRICKS_HOST"
    assert saved.model == "from-settings"


def test_missing_pieces_listed_in_one_message() -> None:
    out = effective_settings(settings=Settings(), environ={})
    assert len(missing_settings(out)) == 2
    with pytest.raises(ConfigError) as info:
        require_complete(out)
    text = str(info.value)
    assert "DATABRICKS_HOST" in text and "LLM_MODEL" in text


def test_env_only_is_complete() -> None:
    env = {"DATABRICKS_HOST": "https://h", "DATABRICKS_TOKEN": "dapi" + "1" * 32,
           "LLM_MODEL": "databricks/databricks-claude-sonnet-4-5"}
    out = effective_settings(settings=Settings(), environ=env)
    assert missing_settings(out) == []


def test_generic_provider_needs_base_url_and_model() -> None:
    out = effective_settings(settings=Settings(provider="openai-compatible"), environ={})
    assert [m.split(":")[0] for m in missing_settings(out)] == ["the endpoint", "the model"]
