"""What the TUI runs on: injectable services, and the session that owns provider and agent.

``Services`` gathers everything the screens reach outside the process for (environment, project
directory, clock, provider factory, token store, conversation store, ``~/.databrickscfg``, the
browser), so tests swap any of them. ``Session`` holds the running configuration: the saved
settings, this run's environment overrides, and the provider built from them. Changing settings
builds a **new** provider and retires the old one (closed once no turn uses it); nothing
mutates a live provider.

Nothing here imports Textual.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from lakecode.agent.approvals import Approvals
from lakecode.agent.loop import Agent
from lakecode.agent.store import Conversation, ConversationStore
from lakecode.clock import Clock, system_clock
from lakecode.config.env import EnvOverrides, apply_env_overrides
from lakecode.config.settings import Settings
from lakecode.config.store import load_settings
from lakecode.databricks.auth.httpx_auth import BearerAuth
from lakecode.databricks.auth.oauth_login import DEFAULT_LOGIN_TIMEOUT, open_in_browser
from lakecode.databricks.auth.store import TokenStore
from lakecode.databricks.auth.token_source import TokenSource
from lakecode.databricks.profiles import Profile, config_file_path, list_profiles
from lakecode.errors import ConfigError, LakecodeError
from lakecode.llm.provider import Provider
from lakecode.llm.types import ModelListing
from lakecode.runtime import build_agent, build_provider, missing_settings

__all__ = [
    "ProviderFactory",
    "Services",
    "Session",
    "SharedTransport",
    "list_models",
    "rejected_credential",
    "shared_transport",
    "token_expiry",
    "token_source",
]

ProviderFactory = Callable[[EnvOverrides], Provider]
"""Builds a provider from effective settings; may block (it runs in a thread)."""


def _default_browser(url: str) -> Awaitable[bool]:
    return open_in_browser(url)


@dataclass
class Services:
    """The outside world, as the TUI sees it (tests replace any part).

    Attributes:
        environ: the environment (for overrides, the config file path and the browser).
        cwd: the project directory the agent works in.
        clock: time for tokens, caches and conversations.
        settings_file: settings.toml (default: under ``LAKECODE_HOME``).
        provider_factory: builds providers; default ``lakecode.runtime.build_provider``.
        token_store: the token store secrets are written to.
        conversations: where conversations are saved.
        open_browser: opens a URL in the user's browser; True when one was launched.
        oauth_transport: an httpx transport for sign-in requests (tests).
        login_timeout: seconds a browser sign-in waits for the callback.
    """

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    clock: Clock = system_clock
    settings_file: Path | None = None
    provider_factory: ProviderFactory | None = None
    token_store: TokenStore | None = None
    conversations: ConversationStore | None = None
    open_browser: Callable[[str], Awaitable[bool]] = _default_browser
    oauth_transport: httpx.AsyncBaseTransport | None = None
    login_timeout: float = DEFAULT_LOGIN_TIMEOUT

    def __post_init__(self) -> None:
        if self.token_store is None:
            self.token_store = TokenStore(clock=self.clock)
        if self.conversations is None:
            self.conversations = ConversationStore(clock=self.clock)

    @property
    def store(self) -> TokenStore:
        """The token store (never None after construction)."""
        assert self.token_store is not None
        return self.token_store

    @property
    def conversation_store(self) -> ConversationStore:
        """The conversation store (never None after construction)."""
        assert self.conversations is not None
        return self.conversations

    def build_provider(self, overrides: EnvOverrides) -> Provider:
        """A new provider for ``overrides`` (blocking: call it in a thread).

        Raises:
            ConfigError, AuthError: the settings cannot give a provider yet.
        """
        if self.provider_factory is not None:
            return self.provider_factory(overrides)
        return build_provider(overrides, clock=self.clock)

    def config_file(self) -> Path:
        """The Databricks config file (``DATABRICKS_CONFIG_FILE`` or ``~/.databrickscfg``)."""
        return config_file_path(self.environ)

    def profiles(self) -> list[Profile]:
        """The profiles of the Databricks config file (blocking).

        Raises:
            ProfileError: the file is malformed (the message names the file and line).
        """
        return list_profiles(environ=self.environ)


def token_source(provider: Provider | None) -> TokenSource | None:
    """The token source behind a Databricks provider's requests, or None for other providers."""
    auth = getattr(getattr(provider, "http", None), "auth", None)
    return auth.source if isinstance(auth, BearerAuth) else None


def token_expiry(provider: Provider | None) -> float | None:
    """When the provider's current OAuth token expires (epoch seconds), without any I/O;
    None for a token that does not expire (a PAT), no token yet, or a non-Databricks provider."""
    source = token_source(provider)
    token = source.cached() if source is not None else None
    return token.expires_at if token is not None else None


class Session:
    """The configuration the UI runs with, and the provider built from it.

    Args:
        services: the outside world.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.saved = Settings()
        self.load_error: ConfigError | None = None
        self.overrides = EnvOverrides(Settings())
        self.provider: Provider | None = None
        self.provider_error: LakecodeError | None = None
        self.model_choice: str | None = None
        self._retired: list[Provider] = []
        self._busy = False

    # ---- settings ------------------------------------------------------------------------------

    def load(self) -> None:
        """Read settings.toml and apply the environment (blocking: small file reads).

        A broken settings file is remembered in ``load_error`` and the defaults are used, so the
        settings screen can open and replace it (the old file is kept as a backup on save).
        """
        try:
            self.saved = load_settings(self.services.settings_file)
            self.load_error = None
        except ConfigError as exc:
            self.saved, self.load_error = Settings(), exc
        self.overrides = apply_env_overrides(self.saved, self.services.environ)

    def use_saved(self, settings: Settings) -> None:
        """Adopt newly saved settings (the environment still applies on top)."""
        self.saved, self.load_error = settings, None
        self.overrides = apply_env_overrides(settings, self.services.environ)
        self.model_choice = None

    @property
    def missing(self) -> list[str]:
        """What must still be configured before a turn can run (empty when complete)."""
        return missing_settings(self.overrides)

    @property
    def settings(self) -> Settings:
        """The effective settings (saved + environment)."""
        return self.overrides.settings

    @property
    def model(self) -> str | None:
        """The model turns use: a /model choice for this session, else the effective setting."""
        return self.model_choice or self.settings.model

    @property
    def host(self) -> str | None:
        """The workspace (or base URL) for displays."""
        if self.settings.provider == "databricks":
            host = getattr(self.provider, "host", None)
            return str(host) if host else self.settings.databricks.host
        return self.settings.openai.base_url

    # ---- provider lifetime ----------------------------------------------------------------------

    async def connect(self) -> Provider | None:
        """Build a new provider from the current settings (in a thread) and retire the old one.

        Returns the provider, or None with ``provider_error`` set when the settings cannot give
        one yet (not signed in, missing host, ...).
        """
        old, self.provider = self.provider, None
        if old is not None:
            self._retired.append(old)
        self.provider_error = None
        if not self.missing:
            try:
                self.provider = await asyncio.to_thread(self.services.build_provider, self.overrides)
            except LakecodeError as exc:
                self.provider_error = exc
        await self.release_retired()
        return self.provider

    @property
    def busy(self) -> bool:
        """Whether a turn is running (retired providers are then kept open until it ends)."""
        return self._busy

    async def set_busy(self, busy: bool) -> None:
        """Mark a turn as running or finished; finishing closes retired providers."""
        self._busy = busy
        await self.release_retired()

    async def release_retired(self) -> None:
        """Close providers replaced by newer ones, unless a turn may still use them."""
        if self._busy:
            return
        retired, self._retired = self._retired, []
        for provider in retired:
            await provider.aclose()

    async def aclose(self) -> None:
        """Close every provider."""
        self._busy = False
        if self.provider is not None:
            self._retired.append(self.provider)
            self.provider = None
        await self.release_retired()

    # ---- agents ----------------------------------------------------------------------------------

    def new_agent(self, approvals: Approvals, conversation: Conversation | None = None) -> Agent:
        """An agent on the current provider and model, optionally continuing ``conversation``.

        Raises:
            ConfigError: no provider (``provider_error`` says why) or no model.
        """
        if self.provider is None:
            if self.provider_error is not None:
                raise self.provider_error
            raise ConfigError("lakecode is not configured yet.", hint="Type /settings to set it up.")
        overrides = self.overrides
        if self.model_choice:
            overrides = replace(overrides, settings=overrides.settings.model_copy(
                update={"model": self.model_choice}))
        return build_agent(self.provider, overrides, cwd=self.services.cwd, approvals=approvals,
                           store=self.services.conversation_store, conversation=conversation,
                           clock=self.services.clock)


async def list_models(provider: Provider, *, refresh: bool = False) -> ModelListing:
    """The provider's models for the picker: with a Databricks provider, also the curated
    recommended models the workspace did not list (the picker marks them ``curated``)."""
    from lakecode.databricks.provider import DatabricksProvider

    if isinstance(provider, DatabricksProvider):
        return await provider.list_models(refresh=refresh, include_all=True)
    return await provider.list_models(refresh=refresh)


def rejected_credential(provider: Provider) -> str | None:
    """Why the workspace rejected the credential, when every listing of the provider's last
    discovery did (401, or a 400/403 "Invalid Token"); None otherwise."""
    from lakecode.databricks.catalog.sources import all_failed_with
    from lakecode.databricks.provider import DatabricksProvider
    from lakecode.errors import AuthenticationError

    if not isinstance(provider, DatabricksProvider):
        return None
    sources = provider.catalog.last_sources
    if not all_failed_with(sources, AuthenticationError):
        return None
    first = sources[0].error
    return first.message if first is not None else None


class SharedTransport(httpx.AsyncBaseTransport):
    """One HTTP transport lent to several short-lived clients: closing a client leaves it open.

    Building an httpx client without a transport builds a TLS context on the spot (~50 ms of
    CPU on the event loop); a sign-in builds several. The settings screen builds one of these in
    a thread instead, lends it to every client of the sign-in, and closes it with ``close()``.
    """

    def __init__(self) -> None:
        from lakecode.databricks.auth.oidc import shared_ssl_context

        self._inner = httpx.AsyncHTTPTransport(verify=shared_ssl_context())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the shared transport."""
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Ignored: a borrowing client is done, the transport is not."""

    async def close(self) -> None:
        """Really close the transport."""
        await self._inner.aclose()


async def shared_transport(services: Services) -> tuple[httpx.AsyncBaseTransport, SharedTransport | None]:
    """The transport sign-in requests use: the injected one, else a ``SharedTransport`` built in a
    thread. Returns it and what to ``close()`` afterwards (None for an injected one)."""
    if services.oauth_transport is not None:
        return services.oauth_transport, None
    shared = await asyncio.to_thread(SharedTransport)
    return shared, shared
