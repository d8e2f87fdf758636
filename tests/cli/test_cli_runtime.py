"""runtime: what ``lakecode run`` builds on - resuming, the default profile, the shared session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakecode.agent import Approvals, Conversation, ConversationNotFoundError, ConversationStore
from lakecode.config.settings import Settings
from lakecode.errors import AuthError
from lakecode.runtime import (
    RunOptions,
    effective_settings,
    for_conversation,
    load_conversation,
    missing_settings,
    open_session,
)


def test_a_default_profile_with_a_host_is_enough(hermetic_env: Path) -> None:
    Path(os.environ["DATABRICKS_CONFIG_FILE"]).write_text(
        "[DEFAULT]\nhost = https://dbc-1.cloud.databricks.com\ntoken = dapi" + "1" * 32 + "\n")
    out = effective_settings(settings=Settings(), environ={"LLM_MODEL": "databricks/m"})
    assert missing_settings(out) == []


def test_without_a_profile_the_host_is_missing(hermetic_env: Path) -> None:
    out = effective_settings(settings=Settings(), environ={"LLM_MODEL": "databricks/m"})
    assert [m.split(":")[0] for m in missing_settings(out)] == ["the workspace URL"]


def test_a_resumed_conversation_keeps_its_model_unless_one_is_given() -> None:
    conversation = Conversation.new(model="from-conversation")
    saved = Settings(model="from-settings")
    assert for_conversation(effective_settings(settings=saved, environ={}),
                            conversation).settings.model == "from-conversation"
    flagged = effective_settings(RunOptions(model="from-flag"), settings=saved, environ={})
    assert for_conversation(flagged, conversation).settings.model == "from-flag"
    from_env = effective_settings(settings=saved, environ={"LLM_MODEL": "databricks/from-env"})
    assert for_conversation(from_env, conversation).settings.model == "from-env"


def test_load_conversation_by_id_or_latest(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    with pytest.raises(ConversationNotFoundError, match="no saved conversation"):
        load_conversation(store, None)
    first, second = store.new(model="a"), store.new(model="b")
    store.save(first)
    store.save(second)
    assert load_conversation(store, first.id).model == "a"
    assert load_conversation(store, None).id == second.id


async def test_a_missing_browser_sign_in_names_the_headless_alternatives(tmp_path: Path) -> None:
    overrides = effective_settings(settings=Settings(), environ={
        "DATABRICKS_HOST": "https://dbc-1.cloud.databricks.com", "LLM_MODEL": "databricks/m"})
    with pytest.raises(AuthError) as info:
        await open_session(overrides, cwd=tmp_path, approvals=Approvals.auto(), store=None,
                           headless=True)
    assert "lakecode auth login" in (info.value.hint or "")
    assert "DATABRICKS_TOKEN" in (info.value.hint or "")
