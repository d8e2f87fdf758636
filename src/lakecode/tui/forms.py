"""The settings form as plain data: what the user typed, how it is checked, and what gets saved.

Nothing here imports Textual, so every rule of the settings screen is testable without a UI:

* ``host_feedback`` runs the one host normaliser on what is being typed;
* ``method_hint`` is the live hint under the sign-in method;
* ``validate`` lists the problems that block a save, each tied to the field to focus;
* ``settings_to_save`` builds the ``Settings`` to write: fields the environment overrides keep
  their saved value (an environment override is never persisted);
* ``secrets_to_store`` lists the secrets typed into the form, for the token store (an empty
  secret field means "keep the stored one"; a placeholder is never a value);
* ``draft_overrides`` is what model discovery runs with before anything is saved.
"""

from __future__ import annotations

import ast
import functools
import inspect
import itertools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr, ValidationError

from lakecode.config.env import EnvOverrides
from lakecode.config.settings import AuthMethod, ProviderKind, Settings
from lakecode.databricks.auth.oauth_login import DEFAULT_REDIRECT_URI
from lakecode.databricks.auth.store import api_key_key, client_secret_key, pat_key
from lakecode.databricks.host import is_loopback_host, normalize_host
from lakecode.errors import HostError

__all__ = [
    "AUTH_LABELS",
    "AUTH_METHODS",
    "FIELD_IDS",
    "PROVIDERS",
    "SECRET_ENV",
    "FormValues",
    "Problem",
    "draft_overrides",
    "field_help",
    "host_feedback",
    "is_uuid",
    "method_hint",
    "secret_keys",
    "secrets_to_store",
    "settings_to_save",
    "validate",
]

PROVIDERS: Final[tuple[tuple[ProviderKind, str], ...]] = (
    ("databricks", "Databricks (native)"),
    ("openai-compatible", "OpenAI-compatible"),
)
AUTH_METHODS: Final[tuple[tuple[AuthMethod, str], ...]] = (
    ("external-browser", "Browser sign-in (U2M)"),
    ("oauth-m2m", "Service principal (M2M)"),
    ("pat", "Access token (PAT)"),
    ("profile", "CLI profile"),
)
AUTH_LABELS: Final[dict[str, str]] = dict(AUTH_METHODS)

SECRET_ENV: Final[dict[str, tuple[str, ...]]] = {
    "pat": ("DATABRICKS_TOKEN", "LLM_API_KEY"),
    "client_secret": ("DATABRICKS_CLIENT_SECRET",),
    "api_key": ("LLM_API_KEY",),
}
"""Where an environment secret may come from (for "from DATABRICKS_TOKEN" labels)."""

FIELD_IDS: Final[dict[str, str]] = {
    "provider": "provider",
    "model": "model",
    "databricks.host": "host",
    "databricks.auth_type": "auth_type",
    "databricks.profile": "profile",
    "databricks.client_id": "client_id",
    "databricks.oauth_client_id": "oauth_client_id",
    "databricks.oauth_redirect_uri": "oauth_redirect_uri",
    "openai.base_url": "base_url",
}
"""Settings paths the form edits -> the form field (and widget id) that holds them."""


@dataclass(frozen=True)
class FormValues:
    """Everything the settings form holds. Secret fields hold only what was typed this time.

    Attributes:
        provider: "databricks" or "openai-compatible".
        host: the workspace host as typed.
        auth_type: the sign-in method.
        client_id: the service principal's application id (M2M).
        client_secret: a newly typed M2M secret ("" keeps the stored one).
        pat: a newly typed personal access token ("" keeps the stored one).
        profile: the chosen ``~/.databrickscfg`` profile.
        oauth_client_id: a custom OAuth app's client id for browser sign-in ("" = databricks-cli).
        oauth_client_secret: a newly typed secret of that app.
        oauth_redirect_uri: the redirect URI the custom app registered ("" = the default).
        base_url: the OpenAI-compatible base URL.
        api_key: a newly typed API key for it.
        model: the model id, sent verbatim.
    """

    provider: ProviderKind = "databricks"
    host: str = ""
    auth_type: AuthMethod = "external-browser"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    pat: str = field(default="", repr=False)
    profile: str | None = None
    oauth_client_id: str = ""
    oauth_client_secret: str = field(default="", repr=False)
    oauth_redirect_uri: str = ""
    base_url: str = ""
    api_key: str = field(default="", repr=False)
    model: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> FormValues:
        """The form as it opens on ``settings`` (secret fields empty)."""
        dbx = settings.databricks
        return cls(provider=settings.provider, host=dbx.host or "", auth_type=dbx.auth_type,
                   client_id=dbx.client_id or "", profile=dbx.profile,
                   oauth_client_id=dbx.oauth_client_id or "",
                   oauth_redirect_uri=dbx.oauth_redirect_uri or "",
                   base_url=settings.openai.base_url or "", model=settings.model or "")

    @property
    def normalized_host(self) -> str | None:
        """The normalised host, or None when it is empty or invalid."""
        return host_feedback(self.host)[0]


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that blocks a save.

    Attributes:
        field: the id of the widget to focus (e.g. "host", "pat").
        message: what is wrong, in one sentence.
    """

    field: str
    message: str


def host_feedback(text: str) -> tuple[str | None, str | None]:
    """``(normalised host, None)`` for a usable host, ``(None, message)`` for a bad one, and
    ``(None, None)`` while the field is empty."""
    if not text.strip():
        return None, None
    try:
        return normalize_host(text), None
    except HostError as exc:
        return None, exc.message


def is_uuid(text: str) -> bool:
    """Whether ``text`` is a UUID in its usual 8-4-4-4-12 form (a service principal's id)."""
    value = text.strip()
    if len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _redirect_problem(uri: str) -> str | None:
    parts = urlsplit(uri.strip())
    if parts.scheme != "http" or not parts.hostname or not is_loopback_host(parts.hostname):
        return "The redirect URI must be a loopback address such as http://localhost:8020."
    try:
        _ = parts.port
    except ValueError:
        return "The redirect URI has an invalid port."
    return None


def method_hint(values: FormValues, *, config_file: str = "~/.databrickscfg") -> str:
    """The live hint for the chosen sign-in method and the host typed so far."""
    host = values.normalized_host
    shown = host or "<workspace URL>"  # only in a command to copy, where a placeholder reads as one
    if values.auth_type == "external-browser":
        redirect = values.oauth_redirect_uri.strip() or DEFAULT_REDIRECT_URI
        app = values.oauth_client_id.strip()
        opens = f"{host} in your browser" if host else "your workspace in the browser"
        text = (f"Sign in opens {opens} (or shows a link to open anywhere and "
                f"a field to paste the address it ends on). lakecode listens on {redirect} and "
                "keeps a refreshable token in its private token store.")
        if app:
            return text + f" The OAuth app {app} must register the redirect URI {redirect}."
        return text + (" A custom OAuth app (optional) must register the redirect URI "
                       f"{redirect}; the default app databricks-cli needs nothing.")
    if values.auth_type == "pat":
        where = host or "your workspace"
        return (f"Create a token in {where}: your user menu → Settings → Developer → Access tokens. "
                "It is kept in lakecode's token store (mode 0600), never in settings.toml.")
    if values.auth_type == "oauth-m2m":
        return ("A service principal's OAuth secret comes from a workspace admin: Settings → "
                "Identity and access → Service principals → <principal> → Secrets → Generate "
                "(or the account console). Enter its application (client) id and the secret; "
                "lakecode mints short-lived tokens from them.")
    return (f"Uses a profile from {config_file}. To create or refresh one for this workspace, run:"
            f"  databricks auth login --host {shown}")


def secret_keys(values: FormValues) -> dict[str, str]:
    """Token-store keys of the secrets the form's method uses: field id -> key."""
    keys: dict[str, str] = {}
    host = values.normalized_host
    if values.provider == "openai-compatible":
        if values.base_url.strip():
            keys["api_key"] = api_key_key(values.base_url.strip())
        return keys
    if host is None:
        return keys
    if values.auth_type == "pat":
        keys["pat"] = pat_key(host)
    elif values.auth_type == "oauth-m2m" and values.client_id.strip():
        keys["client_secret"] = client_secret_key(host, values.client_id.strip())
    elif values.auth_type == "external-browser" and values.oauth_client_id.strip():
        keys["oauth_client_secret"] = client_secret_key(host, values.oauth_client_id.strip())
    return keys


def _has_secret(name: str, values: FormValues, stored: Mapping[str, bool],
                env_secrets: Mapping[str, SecretStr]) -> bool:
    env_name = {"pat": "pat", "client_secret": "client_secret", "api_key": "api_key"}.get(name)
    return bool(getattr(values, name).strip()) or stored.get(name, False) or (
        env_name is not None and env_name in env_secrets)


def validate(values: FormValues, *, stored: Mapping[str, bool],
             env: EnvOverrides, profiles: Mapping[str, str | None]) -> list[Problem]:
    """Every problem that blocks saving ``values``.

    Args:
        values: the form.
        stored: field id -> whether the token store holds that secret (see ``secret_keys``).
        env: this run's environment overrides (secrets from the environment count as present).
        profiles: profile name -> its host, from ``~/.databrickscfg``.
    """
    problems: list[Problem] = []
    if values.provider == "openai-compatible":
        base = values.base_url.strip()
        parts = urlsplit(base)
        if not base:
            problems.append(Problem("base_url", "Enter the base URL, e.g. http://localhost:11434/v1."))
        elif parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(Problem("base_url", "The base URL must start with http:// or https://."))
    else:
        problems.extend(_databricks_problems(values, stored, env, profiles))
    if not values.model.strip():
        problems.append(Problem("model", "Choose a model from the list, or type a model id."))
    return problems


def _databricks_problems(values: FormValues, stored: Mapping[str, bool], env: EnvOverrides,
                         profiles: Mapping[str, str | None]) -> list[Problem]:
    problems: list[Problem] = []
    host, error = host_feedback(values.host)
    if values.auth_type == "profile":
        if not values.profile:
            problems.append(Problem("profile", "Choose a profile from ~/.databrickscfg."))
        elif values.profile not in profiles:
            problems.append(Problem("profile", f"Profile {values.profile!r} is not in the config file."))
        if error:
            problems.append(Problem("host", error))
        return problems
    if error:
        problems.append(Problem("host", error))
    elif host is None:
        problems.append(Problem("host", "Enter the workspace URL, e.g. https://dbc-a1b2345c-d6e7.cloud.databricks.com."))
    secrets = env.secrets
    if values.auth_type == "pat" and not _has_secret("pat", values, stored, secrets):
        problems.append(Problem("pat", "Enter a personal access token."))
    if values.auth_type == "oauth-m2m":
        if not is_uuid(values.client_id):
            problems.append(Problem("client_id", "The client id must be the service principal's "
                                                 "application id, a UUID like 1b2c3d4e-…."))
        elif not _has_secret("client_secret", values, stored, secrets):
            problems.append(Problem("client_secret", "Enter the service principal's OAuth secret."))
    if values.auth_type == "external-browser":
        if values.oauth_client_secret.strip() and not values.oauth_client_id.strip():
            problems.append(Problem("oauth_client_id", "A client secret needs the OAuth app's client id."))
        if values.oauth_redirect_uri.strip():
            message = _redirect_problem(values.oauth_redirect_uri)
            if message:
                problems.append(Problem("oauth_redirect_uri", message))
    return problems


def _form_data(values: FormValues) -> dict[str, Any]:
    """``values`` as settings fields (normalised host, blanks as None)."""
    def blank(text: str) -> str | None:
        return text.strip() or None

    host = values.normalized_host or blank(values.host)
    is_u2m = values.auth_type == "external-browser"
    return {
        "provider": values.provider,
        "model": blank(values.model),
        "databricks.host": host,
        "databricks.auth_type": values.auth_type,
        "databricks.profile": values.profile if values.auth_type == "profile" else None,
        "databricks.client_id": blank(values.client_id) if values.auth_type == "oauth-m2m" else None,
        "databricks.oauth_client_id": blank(values.oauth_client_id) if is_u2m else None,
        "databricks.oauth_redirect_uri": blank(values.oauth_redirect_uri) if is_u2m else None,
        "openai.base_url": blank(values.base_url),
    }


def _merge(base: Settings, updates: Mapping[str, Any]) -> Settings:
    data = base.model_dump()
    for path, value in updates.items():
        section, _, name = path.rpartition(".")
        target = data[section] if section else data
        target[name] = value
    return Settings.model_validate(data)


def settings_to_save(values: FormValues, base: Settings, applied: Mapping[str, str]) -> Settings:
    """The settings to write: the form's values, except that every field an environment
    variable overrides keeps its saved value from ``base``.

    Raises:
        pydantic.ValidationError: a value the settings model refuses (``validate`` first).
    """
    updates = {path: value for path, value in _form_data(values).items() if path not in applied}
    if "databricks.auth_type" in applied:
        # The form shows the environment's method; the saved method (and its profile, client id
        # or OAuth app) is not what the user edited here, so it is kept as it was.
        for path in _METHOD_FIELDS:
            updates.pop(path, None)
    return _merge(base, updates)


_METHOD_FIELDS = ("databricks.profile", "databricks.client_id", "databricks.oauth_client_id",
                  "databricks.oauth_redirect_uri")
"""Settings that belong to one sign-in method (cleared when another method is saved)."""


def secrets_to_store(values: FormValues) -> list[tuple[str, str, SecretStr]]:
    """``(field id, token-store key, secret)`` for each secret typed into the form."""
    out: list[tuple[str, str, SecretStr]] = []
    for name, key in secret_keys(values).items():
        typed = getattr(values, name).strip()
        if typed:
            out.append((name, key, SecretStr(typed)))
    return out


def draft_overrides(values: FormValues, env: EnvOverrides) -> EnvOverrides | None:
    """Effective settings for trying the form before it is saved (model discovery), with the
    typed secrets taking the place of stored ones; None when the form cannot be used yet."""
    if values.provider == "databricks" and values.auth_type != "profile" and values.normalized_host is None:
        return None
    if values.provider == "openai-compatible" and not values.base_url.strip():
        return None
    try:
        settings = _merge(env.settings, _form_data(values))
    except ValidationError:
        return None
    secrets = dict(env.secrets)
    typed: Callable[[str], str] = lambda name: getattr(values, name).strip()  # noqa: E731
    if values.provider == "openai-compatible":
        if typed("api_key"):
            secrets["api_key"] = SecretStr(typed("api_key"))
    elif values.auth_type == "pat" and typed("pat"):
        secrets["pat"] = SecretStr(typed("pat"))
    elif values.auth_type == "oauth-m2m" and typed("client_secret"):
        secrets["client_secret"] = SecretStr(typed("client_secret"))
    return replace(env, settings=settings, secrets=secrets)


@functools.cache
def _attribute_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The docstrings written under the fields of ``model`` (read from its source)."""
    try:
        tree = ast.parse(inspect.getsource(model))
    except (OSError, TypeError, SyntaxError):
        return {}
    docs: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node, after in itertools.pairwise(body):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def field_help(model: type[BaseModel], name: str) -> str:
    """The help text of a settings field: its description, else the docstring under it."""
    info = model.model_fields.get(name)
    if info is not None and info.description:
        return info.description
    return " ".join(_attribute_docstrings(model).get(name, "").split())
