"""Environment overrides: applied to the settings for one run, never persisted.

Precedence everywhere in lakecode is: command-line arguments > environment > settings.toml >
~/.databrickscfg. This module applies the environment layer on top of the loaded settings and
records which variable set which field, so ``auth status`` and the settings screen can show
"from DATABRICKS_HOST" and never save it.

Variables (names as Databricks and OpenHands/LiteLLM users already use them):

============================  =================================================================
``LLM_MODEL``                 the model id; ``databricks/<endpoint>`` selects the Databricks
                              provider and the endpoint, ``openai/<id>`` the generic one.
``LLM_BASE_URL``              a generic OpenAI-compatible base URL (selects that provider);
                              with a ``databricks/`` model it is taken as the workspace URL.
``LLM_API_KEY``               the generic provider's API key; with a ``databricks/`` model and
                              no ``DATABRICKS_TOKEN``, it is used as the personal access token.
``DATABRICKS_HOST``           workspace URL.
``DATABRICKS_TOKEN``          personal access token (auth type ``pat``).
``DATABRICKS_CLIENT_ID``      service principal id; with ``DATABRICKS_CLIENT_SECRET``: M2M.
``DATABRICKS_CONFIG_PROFILE`` a ~/.databrickscfg profile (auth type ``profile``).
``DATABRICKS_AUTH_TYPE``      pins the auth type: pat, oauth-m2m, external-browser, or any
                              other Databricks auth type (handled through the profile path).
============================  =================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from lakecode.config.settings import Settings

__all__ = ["ENV_VARS", "EnvOverrides", "apply_env_overrides"]

ENV_VARS = (
    "LLM_MODEL",
    "LLM_BASE_URL",
    "LLM_API_KEY",
    "DATABRICKS_HOST",
    "DATABRICKS_TOKEN",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
    "DATABRICKS_CONFIG_PROFILE",
    "DATABRICKS_AUTH_TYPE",
)

_NATIVE_AUTH_TYPES = {"pat", "oauth-m2m", "external-browser"}


@dataclass(frozen=True)
class EnvOverrides:
    """The settings in effect for this run, and where the environment changed them.

    Attributes:
        settings: the effective settings (never to be saved while overrides are applied).
        applied: settings field path (e.g. "databricks.host") -> the variable that set it.
        secrets: secrets taken from the environment: "pat", "client_secret", "api_key".
        sdk_auth_type: a ``DATABRICKS_AUTH_TYPE`` lakecode does not implement natively (e.g.
            "databricks-cli", "azure-cli"), handed to the Databricks SDK.
    """

    settings: Settings
    applied: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    sdk_auth_type: str | None = None


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def apply_env_overrides(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> EnvOverrides:
    """Overlay the environment on ``settings`` (see the module docstring for the variables)."""
    env = os.environ if environ is None else environ
    top: dict[str, Any] = {}
    dbx: dict[str, Any] = {}
    oai: dict[str, Any] = {}
    applied: dict[str, str] = {}
    secrets: dict[str, SecretStr] = {}

    model = _get(env, "LLM_MODEL")
    base_url = _get(env, "LLM_BASE_URL")
    api_key = _get(env, "LLM_API_KEY")
    databricks_model = model is not None and model.startswith("databricks/")

    if model is not None:
        if databricks_model:
            top["provider"] = "databricks"
            model = model.removeprefix("databricks/")
            applied["provider"] = "LLM_MODEL"
        elif model.startswith("openai/") and base_url:
            model = model.removeprefix("openai/")
        top["model"] = model
        applied["model"] = "LLM_MODEL"

    if base_url is not None:
        if databricks_model:
            dbx["host"] = base_url  # normalised (path stripped) by the host normaliser
            applied["databricks.host"] = "LLM_BASE_URL"
        else:
            top["provider"] = "openai-compatible"
            oai["base_url"] = base_url
            applied["provider"] = applied["openai.base_url"] = "LLM_BASE_URL"

    if api_key is not None:
        if databricks_model and not _get(env, "DATABRICKS_TOKEN"):
            secrets["pat"] = SecretStr(api_key)
            dbx["auth_type"] = "pat"
            applied["databricks.auth_type"] = "LLM_API_KEY"
        else:
            secrets["api_key"] = SecretStr(api_key)

    host = _get(env, "DATABRICKS_HOST")
    if host is not None:
        dbx["host"] = host
        applied["databricks.host"] = "DATABRICKS_HOST"
        if base_url is None or databricks_model:
            top["provider"] = "databricks"
            applied.setdefault("provider", "DATABRICKS_HOST")

    profile = _get(env, "DATABRICKS_CONFIG_PROFILE")
    if profile is not None:
        dbx["profile"] = profile
        dbx["auth_type"] = "profile"
        applied["databricks.profile"] = applied["databricks.auth_type"] = (
            "DATABRICKS_CONFIG_PROFILE"
        )

    client_id = _get(env, "DATABRICKS_CLIENT_ID")
    client_secret = _get(env, "DATABRICKS_CLIENT_SECRET")
    if client_id is not None:
        dbx["client_id"] = client_id
        applied["databricks.client_id"] = "DATABRICKS_CLIENT_ID"
    if client_secret is not None:
        secrets["client_secret"] = SecretStr(client_secret)
    if client_id and client_secret:
        dbx["auth_type"] = "oauth-m2m"
        applied["databricks.auth_type"] = "DATABRICKS_CLIENT_ID"

    token = _get(env, "DATABRICKS_TOKEN")
    if token is not None:
        secrets["pat"] = SecretStr(token)
        dbx["auth_type"] = "pat"
        applied["databricks.auth_type"] = "DATABRICKS_TOKEN"

    sdk_auth_type: str | None = None
    auth_type = _get(env, "DATABRICKS_AUTH_TYPE")
    if auth_type is not None:
        if auth_type in _NATIVE_AUTH_TYPES:
            dbx["auth_type"] = auth_type
        else:
            dbx["auth_type"] = "profile"
            sdk_auth_type = auth_type
        applied["databricks.auth_type"] = "DATABRICKS_AUTH_TYPE"

    data = settings.model_dump()
    data.update(top)
    data["databricks"] = {**data["databricks"], **dbx}
    data["openai"] = {**data["openai"], **oai}
    effective = Settings.model_validate(data)
    return EnvOverrides(effective, applied, secrets, sdk_auth_type)
