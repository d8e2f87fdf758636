"""``~/.databrickscfg`` profiles, read the way the Databricks SDKs read them.

* The file is ``$DATABRICKS_CONFIG_FILE`` or ``~/.databrickscfg``. A missing or empty file is not an
  error: it simply has no profiles (F6).
* Each section is a profile. ``[DEFAULT]`` is an ordinary profile, used as the last fallback, and
  its keys are **not** merged into other profiles (configparser's default-section behaviour is
  turned off). ``[__settings__]`` is reserved (``default_profile``) and is not a profile; an
  empty ``[DEFAULT]`` is not listed either.
* The default profile is ``DATABRICKS_CONFIG_PROFILE``, then ``[__settings__] default_profile``,
  then a non-empty ``[DEFAULT]``.
* Several profiles for one host are normal (F5): ``DatabricksConfig.choose_for_host`` picks the
  default profile if it matches, else the first in file order, and the caller persists the name.
* A malformed file raises ``ProfileError`` naming the file and the line.

Public API::

    config_file_path(environ=None) -> Path
    load_databricks_config(path=None, environ=None) -> DatabricksConfig
    list_profiles(path=None, environ=None) -> list[Profile]
    Profile(name, host, auth_type, ...)       # .auth_label for displays, .get(key), .conflicting_methods
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakecode.databricks.host import normalize_host
from lakecode.errors import HostError, ProfileError
from lakecode.redact import redact, register_secret

__all__ = [
    "SETTINGS_SECTION",
    "DatabricksConfig",
    "Profile",
    "config_file_path",
    "list_profiles",
    "load_databricks_config",
]

SETTINGS_SECTION = "__settings__"
_NO_DEFAULT_SECTION = "\x00lakecode: no default section\x00"
_SENSITIVE = ("token", "client_secret", "password", "azure_client_secret", "google_credentials")
# Auth families and the keys that configure them (a subset of the SDK's attribute table).
_METHODS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pat", ("token",)),
    ("basic", ("username", "password")),
    ("oauth-m2m", ("client_id", "client_secret")),
    ("azure-client-secret", ("azure_client_id", "azure_client_secret", "azure_tenant_id")),
)


@dataclass(frozen=True)
class Profile:
    """One profile of the config file. Its repr shows no secret.

    Attributes:
        name: the section name.
        host: the normalised host, the raw value when it cannot be normalised, or None.
        auth_type: the ``auth_type`` key, else the method its keys configure (``pat`` for a
            token, ``oauth-m2m`` for a client id and secret), else None (the SDK's default chain,
            typically ``databricks-cli`` for a profile written by ``databricks auth login``).
        explicit_auth_type: ``auth_type`` was written in the file.
        conflicting_methods: two or more auth methods configured without ``auth_type``.
        line: the line of the section header.
        values: every key of the section (secrets included: never print these).
    """

    name: str
    host: str | None
    auth_type: str | None
    explicit_auth_type: bool = False
    conflicting_methods: tuple[str, ...] = ()
    line: int = 0
    values: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def auth_label(self) -> str:
        """The auth type for displays (``default`` when the SDK's chain decides)."""
        return self.auth_type or "default"

    def get(self, key: str) -> str | None:
        """A key's value, or None when absent or blank."""
        value = self.values.get(key, "").strip()
        return value or None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready description without secrets."""
        return {"name": self.name, "host": self.host, "auth_type": self.auth_label}


@dataclass(frozen=True)
class DatabricksConfig:
    """A parsed config file.

    Attributes:
        path: the file that was read (it may not exist).
        profiles: the profiles in file order.
        default_profile: ``[__settings__] default_profile``, when set.
    """

    path: Path
    profiles: tuple[Profile, ...] = ()
    default_profile: str | None = None

    def names(self) -> list[str]:
        """Profile names in file order."""
        return [p.name for p in self.profiles]

    def find(self, name: str) -> Profile | None:
        """The profile called ``name``, or None."""
        return next((p for p in self.profiles if p.name == name), None)

    def get(self, name: str) -> Profile:
        """The profile called ``name``.

        Raises:
            ProfileError: there is no such profile; the message lists the ones there are.
        """
        profile = self.find(name)
        if profile is None:
            known = ", ".join(self.names()) or "none"
            raise ProfileError(f"Profile {name!r} is not in {self.path} (profiles: {known}).",
                               hint="Run `lakecode auth profiles`, or `databricks auth login "
                                    f"--profile {name}` to create it.")
        return profile

    def default_name(self, environ: Mapping[str, str] | None = None) -> str | None:
        """``DATABRICKS_CONFIG_PROFILE``, else ``default_profile``, else ``DEFAULT`` if listed."""
        env = os.environ if environ is None else environ
        requested = env.get("DATABRICKS_CONFIG_PROFILE", "").strip()
        if requested:
            return requested
        if self.default_profile:
            return self.default_profile
        return "DEFAULT" if self.find("DEFAULT") else None

    def for_host(self, host: str) -> list[Profile]:
        """Profiles whose host is ``host`` (any form; compared normalised), in file order."""
        wanted = _normalized(host)
        return [p for p in self.profiles if p.host is not None and p.host == wanted]

    def choose_for_host(self, host: str, preferred: str | None = None) -> Profile | None:
        """The profile to use for ``host``: ``preferred`` (e.g. the remembered choice) or the
        default profile when they match the host, else the first match in file order."""
        matches = self.for_host(host)
        for name in (preferred, self.default_profile, "DEFAULT"):
            chosen = next((p for p in matches if name and p.name == name), None)
            if chosen is not None:
                return chosen
        return matches[0] if matches else None


def config_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$DATABRICKS_CONFIG_FILE``, else ``~/.databrickscfg``."""
    env = os.environ if environ is None else environ
    configured = env.get("DATABRICKS_CONFIG_FILE", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".databrickscfg"


def _normalized(host: str) -> str | None:
    try:
        return normalize_host(host)
    except HostError:
        return None


def _parse_error(path: Path, text: str, exc: configparser.Error) -> ProfileError:
    hint = f"Fix line {{}} of {path}, or point DATABRICKS_CONFIG_FILE at another file."
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return ProfileError(f"{path}, line {exc.lineno}: a key comes before any [profile] header.",
                            hint=hint.format(exc.lineno))
    if isinstance(exc, configparser.ParsingError):
        lineno = exc.errors[0][0] if exc.errors else 0
        lines = text.splitlines()
        shown = redact(lines[lineno - 1].strip())[:60] if 0 < lineno <= len(lines) else ""
        return ProfileError(f"{path}, line {lineno}: key-value delimiter not found ({shown!r}).",
                            hint=hint.format(lineno))
    if isinstance(exc, configparser.DuplicateSectionError | configparser.DuplicateOptionError):
        lineno = exc.lineno or 0
        what = (f"profile [{exc.section}]" if isinstance(exc, configparser.DuplicateSectionError)
                else f"key {exc.option!r} in [{exc.section}]")
        return ProfileError(f"{path}, line {lineno}: {what} appears twice.", hint=hint.format(lineno))
    return ProfileError(f"{path} cannot be read: {redact(str(exc))}", hint=hint.format("?"))


def _section_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            lines.setdefault(stripped[1:-1].strip(), number)
    return lines


def _profile(name: str, values: dict[str, str], line: int) -> Profile:
    for key in _SENSITIVE:
        register_secret(values.get(key))
    explicit = values.get("auth_type", "").strip() or None
    methods = tuple(m for m, keys in _METHODS if all(values.get(k, "").strip() for k in keys))
    inferred = explicit or (methods[0] if len(methods) == 1 else None)
    raw_host = values.get("host", "").strip() or None
    host = (_normalized(raw_host) or raw_host) if raw_host else None
    return Profile(name=name, host=host, auth_type=inferred, explicit_auth_type=explicit is not None,
                   conflicting_methods=methods if explicit is None and len(methods) > 1 else (),
                   line=line, values=values)


def load_databricks_config(path: Path | None = None,
                           environ: Mapping[str, str] | None = None) -> DatabricksConfig:
    """Read the Databricks config file; a missing or empty file gives no profiles.

    Raises:
        ProfileError: the file is malformed (the message names the file and the line), or it
            cannot be read.
    """
    path = path or config_file_path(environ)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return DatabricksConfig(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path} cannot be read: {exc}") from None
    parser = configparser.ConfigParser(default_section=_NO_DEFAULT_SECTION, interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        raise _parse_error(path, text, exc) from None
    lines = _section_lines(text)
    profiles = []
    for name in parser.sections():
        values = dict(parser.items(name))
        if name == SETTINGS_SECTION or (name == "DEFAULT" and not any(v.strip() for v in values.values())):
            continue
        profiles.append(_profile(name, values, lines.get(name, 0)))
    default = None
    if parser.has_section(SETTINGS_SECTION):
        default = parser.get(SETTINGS_SECTION, "default_profile", fallback="").strip() or None
    return DatabricksConfig(path, tuple(profiles), default)


def list_profiles(path: Path | None = None, environ: Mapping[str, str] | None = None) -> list[Profile]:
    """The profiles of the config file in file order (see ``load_databricks_config``)."""
    return list(load_databricks_config(path, environ).profiles)
