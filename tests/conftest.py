"""Hermetic test environment: every test gets its own HOME, lakecode home and Databricks config.

No test may see the developer's real ~/.databrickscfg, tokens or environment: a real U2M profile
has been known to open a browser and hang other projects' test suites.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["lakecode.testing.pytest_plugin"]

_SCRUB_PREFIXES = ("DATABRICKS_", "LLM_", "LAKECODE_", "OPENAI_", "ARM_", "AZURE_", "GOOGLE_")


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point HOME, LAKECODE_HOME, XDG dirs and DATABRICKS_CONFIG_FILE into ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LAKECODE_HOME", str(home / ".lakecode"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(home / ".databrickscfg"))
    monkeypatch.setenv("BROWSER", "none")
    monkeypatch.delenv("DISPLAY", raising=False)
    yield home
