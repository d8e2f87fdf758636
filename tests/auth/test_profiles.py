"""~/.databrickscfg profiles: listing, defaults, several profiles per host (F5), bad files (F6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecode.databricks.profiles import config_file_path, list_profiles, load_databricks_config
from lakecode.errors import ProfileError
from lakecode.redact import redact

AWS = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"
AZURE = "https://adb-1234567890123456.7.azuredatabricks.net"
PAT = "dapi0123456789abcdef0123456789abcdef"

MANY = f"""\
; a comment
[DEFAULT]
host  = dbc-a1b2345c-d6e7.cloud.databricks.com/
token = {PAT}

[alias]
host = https://DBC-A1B2345C-D6E7.cloud.databricks.com

[dev]
host         = {AZURE}/serving-endpoints
workspace_id = 1234567890123456
auth_type    = databricks-cli

[sp]
host          = {AZURE}
client_id     = 11111111-2222-3333-4444-555555555555
client_secret = dose0123456789abcdef0123456789abcdef

[both]
host          = {AZURE}
token         = {PAT}
client_id     = abc
client_secret = def-secret-value

[browser]
host      = https://1234567890123456.7.gcp.databricks.com
auth_type = external-browser

[emulator]
host = http://127.0.0.1:8765

[__settings__]
default_profile = dev
auth_storage    = plaintext
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "databrickscfg"
    path.write_text(text)
    return path


def test_many_profiles_listed_in_file_order_with_host_and_auth_type(tmp_path: Path) -> None:
    rows = [(p.name, p.host, p.auth_label) for p in list_profiles(write(tmp_path, MANY))]
    assert rows == [
        ("DEFAULT", AWS, "pat"),
        ("alias", AWS, "default"),
        ("dev", AZURE, "databricks-cli"),
        ("sp", AZURE, "oauth-m2m"),
        ("both", AZURE, "default"),
        ("browser", "https://1234567890123456.7.gcp.databricks.com", "external-browser"),
        ("emulator", "http://127.0.0.1:8765", "default"),
    ]


def test_default_keys_are_not_merged_into_other_profiles(tmp_path: Path) -> None:
    cfg = load_databricks_config(write(tmp_path, MANY))
    assert cfg.get("alias").get("token") is None
    assert cfg.get("dev").values == {"host": f"{AZURE}/serving-endpoints",
                                     "workspace_id": "1234567890123456", "auth_type": "databricks-cli"}


def test_two_methods_without_auth_type_are_flagged(tmp_path: Path) -> None:
    both = load_databricks_config(write(tmp_path, MANY)).get("both")
    assert both.conflicting_methods == ("pat", "oauth-m2m")
    assert both.auth_type is None


def test_default_profile_order(tmp_path: Path) -> None:
    cfg = load_databricks_config(write(tmp_path, MANY))
    assert cfg.default_profile == "dev"
    assert cfg.default_name({}) == "dev"
    assert cfg.default_name({"DATABRICKS_CONFIG_PROFILE": "sp"}) == "sp"
    no_settings = load_databricks_config(write(tmp_path, MANY.split("[__settings__]")[0]))
    assert no_settings.default_name({}) == "DEFAULT"
    only_named = load_databricks_config(write(tmp_path, "[x]\nhost = h.com\n"))
    assert only_named.default_name({}) is None


def test_several_profiles_for_one_host_choose_deterministically(tmp_path: Path) -> None:
    """F5: DEFAULT and an alias on one host is normal; the choice is stable and can be pinned."""
    cfg = load_databricks_config(write(tmp_path, MANY))
    assert [p.name for p in cfg.for_host("dbc-a1b2345c-d6e7.cloud.databricks.com")] == ["DEFAULT", "alias"]
    picks = {cfg.choose_for_host(AWS).name for _ in range(5)}  # type: ignore[union-attr]
    assert picks == {"DEFAULT"}
    assert cfg.choose_for_host(AWS, preferred="alias").name == "alias"  # type: ignore[union-attr]
    # The default profile wins among several on its host.
    assert cfg.choose_for_host(AZURE).name == "dev"  # type: ignore[union-attr]
    assert cfg.choose_for_host("https://other.cloud.databricks.com") is None


def test_unknown_profile_names_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "[a]\nhost = h.com\n[b]\nhost = h.com\n")
    with pytest.raises(ProfileError) as info:
        load_databricks_config(path).get("nope")
    assert info.value.message == f"Profile 'nope' is not in {path} (profiles: a, b)."


@pytest.mark.parametrize(
    "text",
    [
        None,  # missing
        "",
        "\n\n   \n",
        "[DEFAULT]\n",
        "[DEFAULT]\nhost =\n",
        "[__settings__]\ndefault_profile = dev\n",
        "; only a comment\n",
    ],
    ids=["missing", "empty", "blank", "default-only", "default-blank-key", "settings-only", "comment"],
)
def test_missing_empty_and_profileless_files_give_no_profiles(tmp_path: Path, text: str | None) -> None:
    """F6: no exception, no profiles."""
    path = tmp_path / "cfg"
    if text is not None:
        path.write_text(text)
    assert list_profiles(path) == []


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[a]\nhost = h.com\nthis line has no delimiter\n", 3,
         "key-value delimiter not found ('this line has no delimiter')."),
        (f"[a]\nhost = h.com\ntoken {PAT}\n", 3, "key-value delimiter not found ('token [REDACTED]')."),
        ("host = h.com\n[a]\n", 1, "a key comes before any [profile] header."),
        ("[a]\nhost = x\n[b]\n[a]\n", 4, "profile [a] appears twice."),
        ("[a]\nhost = x\nhost = y\n", 3, "key 'host' in [a] appears twice."),
    ],
)
def test_malformed_files_name_the_file_and_the_line(tmp_path: Path, text: str, line: int,
                                                     message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        list_profiles(path)
    assert info.value.message == f"{path}, line {line}: {message}"
    assert PAT not in info.value.describe()


def test_config_file_path_honours_the_environment(tmp_path: Path) -> None:
    assert config_file_path({"DATABRICKS_CONFIG_FILE": str(tmp_path / "x")}) == tmp_path / "x"
    assert config_file_path({}) == Path.home() / ".databrickscfg"


def test_profile_secrets_are_registered_for_redaction(tmp_path: Path) -> None:
    cfg = load_databricks_config(write(tmp_path, MANY))
    assert "def-secret-value" not in redact("the secret is def-secret-value")
    assert "def-secret-value" not in repr(cfg)
