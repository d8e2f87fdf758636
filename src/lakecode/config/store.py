"""Reading and writing settings.toml: atomic writes, and a corrupt file is backed up, not lost.

``save_settings`` never replaces a settings file that does not load: whichever caller saves (the
settings screen, the model picker, ``auth login``), an unreadable file is first moved aside to
``settings.toml.corrupt-<epoch>`` (``lakecode.secure_io.move_aside``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w
from pydantic import ValidationError

from lakecode.clock import Clock, system_clock
from lakecode.config.paths import settings_path
from lakecode.config.settings import Settings
from lakecode.errors import ConfigError
from lakecode.secure_io import atomic_write_text, move_aside

__all__ = ["load_settings", "save_settings", "settings_exist"]


def settings_exist(path: Path | None = None) -> bool:
    """Whether a settings file exists."""
    return (path or settings_path()).is_file()


def load_settings(path: Path | None = None) -> Settings:
    """Load settings; a missing file gives the defaults.

    Raises:
        ConfigError: the file cannot be read (a directory, no permission, a path through a
            regular file), is not valid TOML or holds invalid values. The message names the file
            and the problem; the file itself is left untouched.
    """
    path = path or settings_path()
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text ({exc.reason}).",
                          hint=f"Fix or delete {path}; lakecode will recreate it.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.",
                          hint="Check the path and its permissions, or point LAKECODE_HOME at a "
                               "writable directory.") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}",
                          hint=f"Fix or delete {path}; lakecode will recreate it.") from None
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path} has invalid settings: {problems}",
                          hint=f"Fix the named keys in {path}, or open /settings.") from None


def backup_corrupt(path: Path | None = None, *, clock: Clock = system_clock) -> Path | None:
    """Move an unreadable settings file aside (``settings.toml.corrupt-<epoch>``) and return
    the backup path, so a fresh file can be written without losing the old one."""
    path = path or settings_path()
    if not path.exists():
        return None
    return move_aside(path, clock.time())


def _loads(path: Path) -> bool:
    """Whether ``path`` is missing or holds settings that load."""
    try:
        load_settings(path)
    except ConfigError:
        return False
    return True


def save_settings(settings: Settings, path: Path | None = None, *, clock: Clock = system_clock) -> Path:
    """Write ``settings`` atomically (mode 0600) and return the path.

    An existing file that does not load is moved aside first (``backup_corrupt``), never
    silently overwritten.
    """
    path = path or settings_path()
    if not _loads(path):
        backup_corrupt(path, clock=clock)
    data = settings.model_dump(mode="json", exclude_none=True)
    atomic_write_text(path, tomli_w.dumps(data))
    return path
