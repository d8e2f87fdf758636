"""Where lakecode keeps its files. ``LAKECODE_HOME`` relocates all of them (tests rely on it)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["conversations_dir", "lakecode_home", "logs_dir", "settings_path", "tokens_dir"]


def lakecode_home() -> Path:
    """The lakecode home: ``$LAKECODE_HOME``, else ``~/.lakecode``."""
    env = os.environ.get("LAKECODE_HOME")
    return Path(env).expanduser() if env else Path.home() / ".lakecode"


def settings_path() -> Path:
    """The settings file (no secrets in it)."""
    return lakecode_home() / "settings.toml"


def tokens_dir() -> Path:
    """The token store directory (mode 0700; files 0600)."""
    return lakecode_home() / "tokens"


def conversations_dir() -> Path:
    """Saved conversations, one JSON Lines file each."""
    return lakecode_home() / "conversations"


def logs_dir() -> Path:
    """Log files (redacted)."""
    return lakecode_home() / "logs"
