"""What the settings form writes, given the environment overrides in effect."""

from __future__ import annotations

from lakecode.config.settings import Settings
from lakecode.tui.forms import FormValues, settings_to_save

SAVED = Settings.model_validate({"model": "databricks-gpt-5-2", "databricks": {
    "host": "https://dbc-a.cloud.databricks.com", "auth_type": "profile", "profile": "emu-sp"}})


def test_an_overridden_method_keeps_the_saved_method_and_its_profile() -> None:
    """DATABRICKS_HOST + DATABRICKS_TOKEN in effect: the form shows "pat"; saving it must not
    drop the saved profile (which silently switched the user to another identity)."""
    form = FormValues(host="https://dbc-a.cloud.databricks.com", auth_type="pat",
                      model="databricks-claude-sonnet-4-5")
    applied = {"databricks.host": "DATABRICKS_HOST", "databricks.auth_type": "DATABRICKS_TOKEN"}
    saved = settings_to_save(form, SAVED, applied)
    assert (saved.databricks.auth_type, saved.databricks.profile) == ("profile", "emu-sp")
    assert saved.model == "databricks-claude-sonnet-4-5"  # not overridden: the form's value


def test_without_overrides_another_method_clears_the_old_ones_fields() -> None:
    form = FormValues(host="https://dbc-a.cloud.databricks.com", auth_type="oauth-m2m",
                      client_id="0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", model="m")
    saved = settings_to_save(form, SAVED, {})
    assert saved.databricks.auth_type == "oauth-m2m" and saved.databricks.profile is None
    assert saved.databricks.client_id == "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
