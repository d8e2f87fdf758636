"""The settings model: immutable, validated, and free of secrets.

Secrets (personal access tokens, client secrets, API keys) and OAuth tokens never live here: they
are kept in the token store (``lakecode.databricks.auth.store``). Field docstrings double as help
text in the settings screen.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgentSettings",
    "AuthMethod",
    "DatabricksSettings",
    "OpenAICompatibleSettings",
    "ProviderKind",
    "RouteChoice",
    "Settings",
]

ProviderKind: TypeAlias = Literal["databricks", "openai-compatible"]
AuthMethod: TypeAlias = Literal["external-browser", "oauth-m2m", "pat", "profile"]
RouteChoice: TypeAlias = Literal["auto", "serving-endpoints", "ai-gateway", "responses"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class DatabricksSettings(_Frozen):
    """How to reach the Databricks workspace."""

    host: str | None = None
    """Workspace URL, e.g. https://dbc-a1b2345c-d6e7.cloud.databricks.com (normalised on save)."""

    auth_type: AuthMethod = "external-browser"
    """Sign-in method: browser (U2M), service principal (M2M), personal access token, or a
    profile from ~/.databrickscfg (Databricks CLI login and friends)."""

    profile: str | None = None
    """The ~/.databrickscfg profile to use (auth_type "profile"), remembered once chosen."""

    client_id: str | None = None
    """Service principal application (client) id for M2M: a UUID."""

    oauth_client_id: str | None = None
    """Custom OAuth app client id for browser sign-in; empty means the public 'databricks-cli'."""

    oauth_redirect_uri: str | None = None
    """Redirect URI registered for the custom OAuth app; default http://localhost:8020."""

    route: RouteChoice = "auto"
    """Which inference route to use: chosen per model (auto), or forced."""


class OpenAICompatibleSettings(_Frozen):
    """A generic OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, ...)."""

    base_url: str | None = None
    """Base URL ending before /chat/completions, e.g. http://localhost:11434/v1."""


class AgentSettings(_Frozen):
    """How the agent behaves."""

    max_turns: int = Field(default=50, ge=1, le=1000)
    """The most model turns one task may take."""

    max_tokens: int | None = Field(default=None, ge=1)
    """Output budget per model turn (None: lakecode picks one per model)."""

    shell_timeout: float = Field(default=120.0, gt=0)
    """Seconds a shell command may run."""


class Settings(_Frozen):
    """Everything lakecode persists in settings.toml."""

    provider: ProviderKind = "databricks"
    """Where models come from: a Databricks workspace or an OpenAI-compatible endpoint."""

    model: str | None = None
    """The model id to use, sent verbatim (e.g. databricks-claude-sonnet-4-5)."""

    databricks: DatabricksSettings = Field(default_factory=DatabricksSettings)
    openai: OpenAICompatibleSettings = Field(default_factory=OpenAICompatibleSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
