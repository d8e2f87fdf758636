"""Builds a provider and an agent from settings (+ environment overrides); owns their lifetime.

This is the one place that knows both the Databricks provider and the agent. The CLI and the TUI
call it; nothing below it imports it.

Precedence, everywhere: command-line arguments > environment (``LLM_*``, ``DATABRICKS_*``) >
settings.toml > ~/.databrickscfg. Environment overrides apply to one run and are never saved.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakecode.clock import Clock, system_clock
from lakecode.config.env import EnvOverrides, apply_env_overrides
from lakecode.config.settings import Settings
from lakecode.config.store import load_settings
from lakecode.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from lakecode.agent.approvals import Approvals
    from lakecode.agent.loop import Agent
    from lakecode.agent.store import Conversation, ConversationStore
    from lakecode.llm.provider import Provider

__all__ = [
    "HEADLESS_AUTH_HINT",
    "SYSTEM_PROMPT",
    "RunOptions",
    "Session",
    "build_agent",
    "build_provider",
    "effective_settings",
    "for_conversation",
    "load_conversation",
    "missing_settings",
    "open_session",
    "require_complete",
]

HEADLESS_AUTH_HINT = ("In scripts and CI, set DATABRICKS_TOKEN (or DATABRICKS_CLIENT_ID and "
                      "DATABRICKS_CLIENT_SECRET) instead of signing in with the browser.")

SYSTEM_PROMPT = """\
You are lakecode, a careful coding agent working in the user's project directory.
Use the tools to look before you change anything: view files, run commands, then edit.
Keep a short plan with the task_list tool for work of more than two steps.
Make small, focused edits with file_editor; run the project's tests with shell after changing code.
When you are done, answer with a brief summary of what you changed and how you checked it.
The project directory is: {cwd}
"""


@dataclass(frozen=True)
class RunOptions:
    """Command-line values that beat the environment and settings for one run.

    Attributes:
        model: ``--model``.
        max_turns: ``--max-turns``.
        host: ``--host`` (Databricks).
    """

    model: str | None = None
    max_turns: int | None = None
    host: str | None = None


def effective_settings(
    options: RunOptions | None = None,
    *,
    settings: Settings | None = None,
    settings_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> EnvOverrides:
    """settings.toml, then the environment, then command-line options, merged.

    Raises:
        ConfigError: settings.toml is unreadable or invalid (the file is left as it is).
    """
    base = settings if settings is not None else load_settings(settings_file)
    overrides = apply_env_overrides(base, os.environ if environ is None else environ)
    if options is None:
        return overrides
    data: dict[str, Any] = overrides.settings.model_dump()
    applied = dict(overrides.applied)
    if options.model:
        model = options.model
        if model.startswith("databricks/"):
            data["provider"], model = "databricks", model.removeprefix("databricks/")
        data["model"] = model
        applied["model"] = "--model"
    if options.max_turns is not None:
        data["agent"] = {**data["agent"], "max_turns": options.max_turns}
        applied["agent.max_turns"] = "--max-turns"
    if options.host:
        data["databricks"] = {**data["databricks"], "host": options.host}
        applied["databricks.host"] = "--host"
    return EnvOverrides(Settings.model_validate(data), applied, overrides.secrets,
                        overrides.sdk_auth_type)


def missing_settings(overrides: EnvOverrides) -> list[str]:
    """What must still be set before a run can start, one line each, naming the variable.

    Credentials are checked by the auth layer when the provider is built (it knows about stored
    sign-ins and profiles); this lists the pieces no sign-in can supply.
    """
    s = overrides.settings
    missing: list[str] = []
    if s.provider == "databricks":
        if not s.databricks.host and s.databricks.auth_type != "profile" and not _default_profile_host():
            missing.append("the workspace URL: set DATABRICKS_HOST=https://<workspace> "
                           "(or run `lakecode auth login --host ...`)")
        if not s.model:
            missing.append("the model: set LLM_MODEL=databricks/<serving endpoint> or pass --model "
                           "(see `lakecode models`)")
    else:
        if not s.openai.base_url:
            missing.append("the endpoint: set LLM_BASE_URL=https://.../v1")
        if not s.model:
            missing.append("the model: set LLM_MODEL=<model id> or pass --model")
    return missing


def _default_profile_host() -> bool:
    """Whether ~/.databrickscfg has a default profile with a host (the auth layer falls back to
    it when nothing else is configured, as the Databricks SDKs do)."""
    from lakecode.databricks.profiles import load_databricks_config
    from lakecode.errors import ProfileError

    try:
        config = load_databricks_config()
    except ProfileError:
        return True  # let the auth layer report the malformed file, with its line number
    name = config.default_name()
    profile = config.find(name) if name else None
    return profile is not None and profile.get("host") is not None


def require_complete(overrides: EnvOverrides) -> None:
    """Raise one ``ConfigError`` listing everything ``missing_settings`` finds."""
    missing = missing_settings(overrides)
    if missing:
        lines = "\n".join(f"  - {item}" for item in missing)
        raise ConfigError(f"lakecode cannot start yet. Missing:\n{lines}",
                          hint="Set these in the environment, or run `lakecode` to open the settings.")


def build_provider(overrides: EnvOverrides, *, clock: Clock = system_clock) -> Provider:
    """The provider the settings describe (Databricks or generic OpenAI-compatible).

    The caller owns it and must ``await provider.aclose()``.

    Raises:
        ConfigError: a required setting is missing or invalid.
        AuthError: the configured sign-in method has no usable credential.
    """
    settings = overrides.settings
    if settings.provider == "databricks":
        from lakecode.databricks.provider import build_databricks_provider

        return build_databricks_provider(settings, overrides, clock=clock)
    from lakecode.llm.openai_compat import build_openai_compatible_provider

    base_url = settings.openai.base_url
    if not base_url:
        raise ConfigError("No OpenAI-compatible base URL is set.",
                          hint="Set LLM_BASE_URL, or choose the provider in /settings.")
    key = overrides.secrets.get("api_key")
    api_key = key.get_secret_value() if key is not None else _stored_api_key(base_url, clock)
    if key is not None:
        auth_hint = f"The API key in LLM_API_KEY was not accepted by {base_url}: replace or unset it."
    else:
        auth_hint = (f"Check the API key for {base_url}: enter it in the settings (run `lakecode`, "
                     "F2) or set LLM_API_KEY.")
    return build_openai_compatible_provider(base_url, api_key, clock=clock, auth_hint=auth_hint)


def _stored_api_key(base_url: str, clock: Clock) -> str | None:
    from lakecode.databricks.auth.store import TokenStore, api_key_key

    secret = TokenStore(clock=clock).get_secret(api_key_key(base_url))
    return secret.get_secret_value() if secret is not None else None


def build_agent(
    provider: Provider,
    overrides: EnvOverrides,
    *,
    cwd: Path,
    approvals: Approvals,
    store: ConversationStore | None,
    conversation: Conversation | None = None,
    clock: Clock = system_clock,
) -> Agent:
    """An agent for the configured model, working in ``cwd`` with the standard tools."""
    from lakecode.agent.loop import Agent
    from lakecode.agent.tools import ProjectScope, default_tools

    settings = overrides.settings
    model = settings.model or (conversation.model if conversation is not None else None)
    if not model:
        require_complete(overrides)
        raise ConfigError("No model is set.")  # unreachable: require_complete raised
    scope = ProjectScope.at(cwd)
    return Agent(
        provider,
        model,
        tools=default_tools(scope, shell_timeout=settings.agent.shell_timeout),
        approvals=approvals,
        conversation=conversation,
        store=store,
        system_prompt=SYSTEM_PROMPT.format(cwd=scope.root),
        max_turns=settings.agent.max_turns,
        max_tokens=settings.agent.max_tokens,
        cwd=scope.root,
        clock=clock,
    )


def load_conversation(store: ConversationStore, conversation_id: str | None, *,
                      cwd: Path | None = None) -> Conversation:
    """The saved conversation to continue: ``conversation_id``, or the latest one when None
    (with ``cwd``: the latest one of that project directory, so ``--last`` never wanders off
    to another project).

    Raises:
        ConversationNotFoundError: no such conversation (or none saved yet, for the latest).
        CorruptConversationError: the file cannot be read back.
    """
    from lakecode.agent.store import ConversationNotFoundError

    if conversation_id:
        return store.load(conversation_id)
    latest = store.last(cwd=cwd)
    if latest is not None:
        return latest
    if cwd is None:
        raise ConversationNotFoundError(
            f"There is no saved conversation to continue in {store.directory}.",
            hint="Start one with `lakecode run -t ...`; it prints the id to resume.")
    elsewhere = store.last()
    hint = ("Start one here with `lakecode run -t ...`" + (
        f", or continue the latest one (in {elsewhere.cwd}) with `lakecode run --resume {elsewhere.id}`."
        if elsewhere is not None else "."))
    raise ConversationNotFoundError(f"There is no saved conversation for {cwd} to continue.", hint=hint)


def for_conversation(overrides: EnvOverrides, conversation: Conversation) -> EnvOverrides:
    """The settings for continuing ``conversation``: its model, unless ``--model`` or
    ``LLM_MODEL`` chose one for this run (a model saved in settings.toml does not override it)."""
    if "model" in overrides.applied or not conversation.model:
        return overrides
    settings = overrides.settings.model_copy(update={"model": conversation.model})
    return replace(overrides, settings=settings, applied={**overrides.applied, "model": "conversation"})


@dataclass
class Session:
    """A provider and an agent built together for one task; ``aclose()`` releases both.

    Attributes:
        provider: the model provider (owned: closed by ``aclose``).
        agent: the agent working with it.
        overrides: the effective settings the two were built from.
    """

    provider: Provider
    agent: Agent
    overrides: EnvOverrides

    async def aclose(self) -> None:
        """Close the provider (the agent holds nothing else that needs closing)."""
        await self.provider.aclose()


async def open_session(
    overrides: EnvOverrides,
    *,
    cwd: Path,
    approvals: Approvals,
    store: ConversationStore | None,
    conversation: Conversation | None = None,
    headless: bool = False,
    clock: Clock = system_clock,
) -> Session:
    """Check the settings are complete, then build the provider and the agent.

    This is the path ``lakecode run`` and ``lakecode demo`` share. No network call is made here:
    credentials are fetched on the first request. Nothing here signs in interactively: a missing
    browser sign-in is an ``AuthError``; with ``headless`` its hint also names the variables
    that work without a browser.

    Raises:
        ConfigError: one message listing every missing setting, or an invalid one.
        AuthError: the configured sign-in method has no usable credential.
    """
    from lakecode.redact import register_secret

    for secret in overrides.secrets.values():
        register_secret(secret.get_secret_value())
    if conversation is not None:
        overrides = for_conversation(overrides, conversation)
    require_complete(overrides)
    try:
        provider = build_provider(overrides, clock=clock)
    except AuthError as error:
        if headless and "DATABRICKS_TOKEN" not in (error.hint or ""):
            error.hint = f"{error.hint} {HEADLESS_AUTH_HINT}" if error.hint else HEADLESS_AUTH_HINT
        raise
    try:
        agent = build_agent(provider, overrides, cwd=cwd, approvals=approvals, store=store,
                            conversation=conversation, clock=clock)
    except BaseException:
        await provider.aclose()
        raise
    return Session(provider, agent, overrides)
