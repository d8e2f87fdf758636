"""``lakecode doctor``: check, step by step, that lakecode can reach a model and use it.

The checks run in order; each prints one ✓ (passed), ⚠ (works, but look at this) or ✗ (failed,
with a hint) line. After the first failure the checks that depend on it are skipped, and the exit
code is that failure's class (``lakecode.cli.exit_codes``): 2 configuration, 3 authentication,
4 workspace or model. Warnings do not change the exit code.

====================  ==========================================================================
check                 what it does
====================  ==========================================================================
settings              settings.toml can be read (a missing file means the defaults)
configuration         the effective provider, host, auth method and model, and where each came
                      from (argument, environment, settings, profile, default); nothing missing
host                  the workspace URL normalises and answers as a workspace (its OIDC document,
                      no redirect to a login page)
credential            a credential can be obtained and the workspace accepts it (no secret is
                      printed; the token's expiry is shown)
discovery             the model listings answer (how many models; warnings)
model                 the configured model is listed and can call tools
ping                  a tool-free request to the model with a one-token answer (``--no-ping``
                      skips it)
====================  ==========================================================================
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import click

if TYPE_CHECKING:
    from lakecode.config.env import EnvOverrides
    from lakecode.config.settings import Settings
    from lakecode.databricks.auth.resolve import ResolvedAuth
    from lakecode.errors import LakecodeError
    from lakecode.llm.provider import Provider
    from lakecode.llm.types import ModelListing

__all__ = ["Check", "doctor"]

Status: TypeAlias = Literal["ok", "warn", "fail", "skip"]
_MARKS = {"ok": ("✓", "green"), "warn": ("⚠", "yellow"), "fail": ("✗", "red"), "skip": ("-", None)}
_NAMES = ("settings", "configuration", "host", "credential", "discovery", "model", "ping")


@dataclass
class Check:
    """One check's outcome.

    Attributes:
        name: the check (see the module docstring).
        status: "ok", "warn", "fail" or "skip".
        detail: one line (or a few) for the user; never a secret.
        hint: what to do, for warnings and failures.
        exit_code: the exit code a failure maps to (0 otherwise).
        facts: structured values for ``--json`` (e.g. the configuration's sources).
    """

    name: str
    status: Status
    detail: str
    hint: str | None = None
    exit_code: int = 0
    facts: dict[str, Any] = field(default_factory=dict)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as one JSON object.")
@click.option("--no-ping", is_flag=True, help="Skip the request to the model.")
@click.option("--model", metavar="ID", help="Check this model instead of the configured one.")
def doctor(as_json: bool, no_ping: bool, model: str | None) -> None:
    """Check the setup, in order: settings, configuration, host, credential, discovery, model, ping.

    Each check prints ✓, ⚠ or ✗ with a hint. The exit code is that of the first failure:
    2 configuration, 3 authentication, 4 workspace or model (0 when nothing failed).
    Uses settings.toml and the same environment variables as `lakecode run`; nothing is saved.
    """
    import asyncio
    import json

    printer = None if as_json else _Printer(color=sys.stdout.isatty())
    checks = asyncio.run(_Doctor(model=model, ping=not no_ping, report=printer).run())
    code = next((c.exit_code for c in checks if c.status == "fail"), 0)
    if as_json:
        click.echo(json.dumps({"ok": code == 0, "exit_code": code,
                               "checks": [asdict(c) for c in checks]}, indent=2))
    elif printer is not None:
        printer.summary(checks, code)
    sys.exit(code)


class _Printer:
    """Prints each check as soon as it is done."""

    def __init__(self, *, color: bool) -> None:
        self.color = color

    def _style(self, text: str, colour: str | None) -> str:
        return click.style(text, fg=colour) if self.color and colour else text

    def __call__(self, check: Check) -> None:
        from lakecode.redact import redact

        mark, colour = _MARKS[check.status]
        first, *rest = redact(check.detail).splitlines() or [""]
        click.echo(f"{self._style(mark, colour)} {check.name}: {first}")
        for line in rest:
            click.echo(f"    {line}")
        if check.hint and check.status in ("warn", "fail"):
            click.echo(f"    hint: {redact(check.hint)}")

    def summary(self, checks: list[Check], code: int) -> None:
        failed = sum(c.status == "fail" for c in checks)
        warned = sum(c.status == "warn" for c in checks)
        if failed:
            click.echo(self._style(f"{failed} check failed; exit code {code}", "red"))
        else:
            extra = f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""
            click.echo(self._style(f"all checks passed{extra}", "green"))


def _failure(name: str, error: LakecodeError) -> Check:
    from lakecode.cli.exit_codes import exit_code_for

    return Check(name, "fail", error.message, error.hint, exit_code_for(error))


@dataclass
class _Doctor:
    """Runs the checks in order, carrying what each one learned to the next."""

    model: str | None
    ping: bool
    report: Any = None
    saved: Settings | None = None
    overrides: EnvOverrides | None = None
    resolved: ResolvedAuth | None = None
    auth_error: LakecodeError | None = None
    provider: Provider | None = None
    listing: ModelListing | None = None
    checks: list[Check] = field(default_factory=list)

    async def run(self) -> list[Check]:
        """Every check (skipped after the first failure); the provider is closed at the end."""
        from lakecode.errors import LakecodeError

        steps = (self._settings, self._configuration, self._host, self._credential, self._discovery,
                 self._model, self._ping)
        try:
            for name, step in zip(_NAMES, steps, strict=True):
                if any(c.status == "fail" for c in self.checks):
                    check = Check(name, "skip", "skipped (an earlier check failed)")
                else:
                    try:
                        check = await step()
                    except LakecodeError as error:
                        check = _failure(name, error)
                self.checks.append(check)
                if self.report is not None:
                    self.report(check)
        finally:
            if self.provider is not None:
                await self.provider.aclose()
        return self.checks

    async def _settings(self) -> Check:
        from lakecode.config.paths import settings_path
        from lakecode.config.store import load_settings

        path = settings_path()
        self.saved = load_settings(path)
        state = "is readable" if path.is_file() else "does not exist (the defaults apply)"
        return Check("settings", "ok", f"{path} {state}", facts={"path": str(path)})

    async def _configuration(self) -> Check:
        from lakecode.cli.exit_codes import USAGE
        from lakecode.errors import AuthError
        from lakecode.runtime import RunOptions, effective_settings, missing_settings

        self.overrides = overrides = effective_settings(RunOptions(model=self.model))
        missing = missing_settings(overrides)
        if missing:
            return Check("configuration", "fail", "missing:\n" + "\n".join(f"- {m}" for m in missing),
                         "Set these in the environment, or run `lakecode` to open the settings.", USAGE)
        if overrides.settings.provider == "databricks":
            try:
                self.resolved = _resolve(overrides, self.saved)
            except AuthError as error:  # no credential: reported by the credential check
                self.auth_error = error
        rows = _config_rows(overrides, self.resolved, self.saved)
        width = max(len(k) for k in rows)
        value_width = max(len(value) for value, _ in rows.values())
        lines = [f"{k.ljust(width)}  {value.ljust(value_width)}  {source}"
                 for k, (value, source) in rows.items()]
        facts = {k: {"value": value, "source": source} for k, (value, source) in rows.items()}
        return Check("configuration", "ok", "\n".join(["effective settings for this run:", *lines]),
                     facts=facts)

    async def _host(self) -> Check:
        assert self.overrides is not None
        settings = self.overrides.settings
        if settings.provider != "databricks":
            base = settings.openai.base_url or ""
            return Check("host", "ok", f"{base} (an OpenAI-compatible endpoint: checked by discovery)")
        from lakecode.databricks.auth.oidc import discover, oauth_http_client
        from lakecode.databricks.host import normalize_host

        host = self.resolved.host if self.resolved else normalize_host(settings.databricks.host or "")
        async with oauth_http_client() as http:
            endpoints = await discover(host, http)
        return Check("host", "ok", f"{host} answers as a Databricks workspace "
                     f"(sign-in at {endpoints.authorization_endpoint})", facts={"host": host})

    async def _credential(self) -> Check:
        assert self.overrides is not None
        if self.auth_error is not None:
            raise self.auth_error
        if self.resolved is None:
            return self._api_key()
        from lakecode.databricks.auth.login import verify

        whoami = await verify(self.resolved)
        token = self.resolved.token_source.cached()
        expiry = token.expires_at if token is not None else None
        who = f" as {whoami.user}" if whoami.user else ""
        source = self.resolved.sources.get("credential") or "?"
        return Check("credential", "ok",
                     f"{self.resolved.auth_type} credential ({_source_text(source)}) accepted{who}; "
                     f"{_expiry_text(expiry)}",
                     facts={"auth_type": self.resolved.auth_type, "user": whoami.user, "expires_at": expiry})

    def _api_key(self) -> Check:
        assert self.overrides is not None
        key = self.overrides.secrets.get("api_key")
        if key is not None:
            return Check("credential", "ok", "API key from LLM_API_KEY (checked by discovery)")
        from lakecode.databricks.auth.store import TokenStore, api_key_key

        stored = TokenStore().get_secret(api_key_key(self.overrides.settings.openai.base_url or ""))
        if stored is not None:
            return Check("credential", "ok", "API key from the token store (checked by discovery)")
        return Check("credential", "warn", "no API key is set; requests are sent without one",
                     "Set LLM_API_KEY if the endpoint needs a key.")

    async def _discovery(self) -> Check:
        assert self.overrides is not None
        from lakecode.runtime import build_provider

        self.provider = provider = build_provider(self.overrides)
        from lakecode.databricks.provider import DatabricksProvider

        if isinstance(provider, DatabricksProvider):
            return await self._databricks_discovery(provider)
        self.listing = listing = await provider.list_models(refresh=True)
        return _discovery_check(listing, ok=bool(listing.models))

    async def _databricks_discovery(self, provider: Any) -> Check:
        from lakecode.databricks.catalog.sources import all_failed_with
        from lakecode.errors import AuthError

        result = await provider.catalog.catalog(refresh=True)
        sources = provider.catalog.last_sources
        if result.state != "discovered" and all_failed_with(sources, AuthError):
            error = next(s.error for s in sources if s.error is not None)
            return _failure("discovery", error)
        self.listing = listing = result.listing()
        return _discovery_check(listing, ok=result.state == "discovered")

    async def _model(self) -> Check:
        assert self.overrides is not None and self.listing is not None
        from lakecode.cli.exit_codes import USAGE

        model = self.overrides.settings.model or ""
        info = next((m for m in self.listing.models if m.id == model), None)
        if info is None:
            from lakecode.databricks.catalog.suggest import suggest_models

            close = suggest_models(model, [m.id for m in self.listing.models])[:3]
            hint = (f"Did you mean {', '.join(close)}? " if close else "") + \
                "Run `lakecode models` to see what this workspace serves; the ping below tries it."
            return Check("model", "warn", f"{model} is not listed (it is still sent exactly as written)",
                         hint)
        facts = {"id": info.id, "family": info.family, "tools": info.supports_tools, "route": info.route,
                 "source": info.source}
        text = f"{model} is listed ({info.family}, {info.source}, route {info.route or '-'})"
        if info.supports_tools is False:
            return Check("model", "fail", f"{text}, but it cannot call tools",
                         "Pick a model with tool support (`lakecode models` shows a TOOLS column).",
                         USAGE, facts)
        if info.supports_tools is None:
            return Check("model", "warn", f"{text}; whether it can call tools is not known",
                         "Tool calling is needed by the agent; prefer a model listed with tools.",
                         facts=facts)
        return Check("model", "ok", f"{text} and can call tools", facts=facts)

    async def _ping(self) -> Check:
        if not self.ping:
            return Check("ping", "skip", "skipped (--no-ping)")
        assert self.provider is not None and self.overrides is not None
        from lakecode.llm.types import ChatRequest, Finish, Message

        model = self.overrides.settings.model or ""
        request = ChatRequest(model=model, messages=(Message.user("Reply with the single word: ok"),),
                              max_tokens=1, stream=False)
        started = time.monotonic()
        async for event in self.provider.stream_chat(request):
            if isinstance(event, Finish):
                break
        took = (time.monotonic() - started) * 1000
        return Check("ping", "ok", f"{model} answered a tool-free one-token request in {took:.0f} ms",
                     facts={"ms": round(took)})


def _resolve(overrides: EnvOverrides, saved: Settings | None) -> ResolvedAuth:
    """The credential the Databricks provider would use (no network call)."""
    from lakecode.databricks.auth.resolve import resolve_auth

    in_settings = saved.databricks.model_fields_set if saved is not None else None
    return resolve_auth(overrides.settings.databricks, secrets=overrides.secrets,
                        sdk_auth_type=overrides.sdk_auth_type, applied=overrides.applied,
                        in_settings=in_settings)


def _in_file(saved: Settings | None, path: str) -> bool:
    """Whether the settings field ``path`` (e.g. ``databricks.host``) is written in settings.toml."""
    model: Any = saved
    *parents, name = path.split(".")
    for parent in parents:
        model = getattr(model, parent, None)
    return model is not None and name in model.model_fields_set


def _source_text(source: str, var: str | None = None) -> str:
    """Where a value came from, in a few words: ``from DATABRICKS_HOST``, ``from settings.toml``."""
    if var:
        return f"from {var}"
    names = {"argument": "from a command-line argument", "env": "from the environment",
             "settings": "from settings.toml", "profile": "from ~/.databrickscfg",
             "store": "from the token store", "sdk": "through the Databricks SDK", "default": "default"}
    return names.get(source, f"from {source}")


def _config_rows(overrides: EnvOverrides, resolved: ResolvedAuth | None,
                 saved: Settings | None = None) -> dict[str, tuple[str, str]]:
    """field -> (value, where it came from), for the configuration check.

    A value written in settings.toml is "from settings.toml" even when it equals the default.
    """
    settings, applied = overrides.settings, overrides.applied

    def source(path: str, value: object, default: object) -> str:
        var = applied.get(path)
        if var is not None:
            return _source_text("env", var)
        written = _in_file(saved, path) if saved is not None else value != default
        return _source_text("settings" if written and value is not None else "default")

    rows: dict[str, tuple[str, str]] = {
        "provider": (settings.provider, source("provider", settings.provider, "databricks"))}
    if settings.provider == "databricks":
        dbx = settings.databricks
        if resolved is not None:
            details, sources = resolved.details, resolved.sources
            rows["host"] = (resolved.host, _source_text(sources.get("host") or "?", details.get("host")))
            method = resolved.auth_type + (f" (profile {resolved.profile})" if resolved.profile else "")
            rows["auth"] = (method, _source_text(sources.get("auth_type") or "?",
                                                 details.get("auth_type")))
        else:
            rows["host"] = (dbx.host or "-", source("databricks.host", dbx.host, None))
            rows["auth"] = (dbx.auth_type, source("databricks.auth_type", dbx.auth_type, "external-browser"))
    else:
        base = settings.openai.base_url or "-"
        rows["endpoint"] = (base, source("openai.base_url", settings.openai.base_url, None))
    rows["model"] = (settings.model or "-", source("model", settings.model, None))
    return rows


def _expiry_text(expires_at: float | None) -> str:
    if expires_at is None:
        return "it does not expire (a personal access token or static key)"
    minutes = (expires_at - time.time()) / 60
    return f"the token expires in {minutes:.0f} min and is refreshed automatically"


def _discovery_check(listing: ModelListing, *, ok: bool) -> Check:
    tools = sum(m.supports_tools is True for m in listing.models)
    detail = f"{listing.status or f'{len(listing.models)} models'}; {tools} can call tools"
    if listing.warnings:
        detail += "\n" + "\n".join(f"warning: {w}" for w in listing.warnings)
    facts = {"models": len(listing.models), "with_tools": tools, "warnings": list(listing.warnings)}
    if ok:
        return Check("discovery", "ok", detail, facts=facts)
    return Check("discovery", "warn", detail, "Discovery failed; runs still work with an explicit model id.",
                 facts=facts)
