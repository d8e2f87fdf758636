"""``lakecode auth``: sign in to a Databricks workspace, and inspect or drop the credential.

Secrets never go to settings.toml (only the host, the method, the profile and client ids do) and
never to stdout, except from ``lakecode auth token``, whose job is to print a token for scripts.
Errors go to stderr as ``LakecodeError.describe()`` with the exit codes of
``lakecode.cli.exit_codes`` (configuration 2, authentication 3, workspace 4).
"""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import asyncio

    from lakecode.config.env import EnvOverrides
    from lakecode.config.settings import DatabricksSettings, Settings
    from lakecode.databricks.auth.login import LoginResult
    from lakecode.databricks.auth.oauth_login import BrowserLogin
    from lakecode.databricks.auth.resolve import ResolvedAuth

__all__ = ["auth"]

T = TypeVar("T")
AUTH_TYPES = ("pat", "oauth-m2m", "external-browser", "profile")


def _guarded(func: Callable[..., None]) -> Callable[..., None]:
    """Turn lakecode errors into a message on stderr and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from lakecode.cli.exit_codes import USAGE, exit_code_for
        from lakecode.errors import LakecodeError
        from lakecode.redact import redact

        try:
            func(*args, **kwargs)
        except LakecodeError as exc:
            click.echo(redact(exc.describe()), err=True)
            sys.exit(exit_code_for(exc))
        except OSError as exc:  # e.g. settings.toml cannot be written: say which file and why
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(redact(f"Cannot save{where}: {exc.strerror or exc}.\n  hint: check the "
                              "disk space and permissions, or set LAKECODE_HOME to a writable "
                              "directory."), err=True)
            sys.exit(USAGE)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(exit_code_for(KeyboardInterrupt()))

    return wrapper


def _run(coro: Coroutine[Any, Any, T]) -> T:
    import asyncio  # here, not at the top: `lakecode --help` imports this module

    return asyncio.run(coro)


def _load() -> tuple[Settings, EnvOverrides]:
    from lakecode.config.env import apply_env_overrides
    from lakecode.config.store import load_settings

    saved = load_settings()
    return saved, apply_env_overrides(saved)


def _resolve(host: str | None, profile: str | None) -> tuple[ResolvedAuth, EnvOverrides]:
    """The credential in effect, with ``--host`` / ``--profile`` as explicit arguments."""
    from lakecode.databricks.auth.resolve import resolve_auth

    saved, overrides = _load()
    update: dict[str, Any] = {}
    if host:
        update["host"] = host
    if profile:
        update.update(profile=profile, auth_type="profile")
    settings = overrides.settings.databricks.model_copy(update=update)
    resolved = resolve_auth(settings, secrets=overrides.secrets, sdk_auth_type=overrides.sdk_auth_type,
                            applied=overrides.applied, explicit=set(update),
                            in_settings=saved.databricks.model_fields_set)
    return resolved, overrides


@click.group()
def auth() -> None:
    """Sign in to a Databricks workspace and manage the stored credential."""


# --- login -----------------------------------------------------------------------------------


def _choose_method(auth_type: str | None, profile: str | None, overrides: EnvOverrides,
                   saved: DatabricksSettings) -> str:
    if auth_type:
        return auth_type
    if profile:
        return "profile"
    if "databricks.auth_type" in overrides.applied:
        return overrides.settings.databricks.auth_type
    return saved.auth_type


def _host_or_prompt(host: str | None, overrides: EnvOverrides) -> str:
    from lakecode.databricks.host import normalize_host

    value = host or overrides.settings.databricks.host
    if not value:
        value = click.prompt("Workspace URL (e.g. https://dbc-a1b2345c-d6e7.cloud.databricks.com)",
                             err=True)
    return normalize_host(value)


def _secret(overrides: EnvOverrides, key: str, prompt: str) -> Any:
    """The secret from the environment, else from a piped stdin line, else a hidden prompt."""
    from pydantic import SecretStr

    from lakecode.errors import ConfigError

    if key in overrides.secrets:
        return overrides.secrets[key]
    if not sys.stdin.isatty():
        # Piped (`echo $PAT | lakecode auth login ...`): getpass would warn that it cannot hide
        # the input of a pipe; there is nothing to hide, so read one line.
        line = sys.stdin.readline().strip()
        if not line:
            raise ConfigError(f"No {prompt.lower()} on standard input.",
                              hint="Pipe it in (`echo \"$SECRET\" | lakecode auth login ...`) or run "
                                   "the command at a terminal to be prompted.")
        return SecretStr(line)
    return SecretStr(click.prompt(prompt, hide_input=True, err=True))


def _paste_reader(login: BrowserLogin, loop: asyncio.AbstractEventLoop) -> None:
    """Feed pasted redirect URLs to the login (a daemon thread: it may block on stdin forever)."""
    from lakecode.errors import LoginError

    stream = sys.stdin

    def submit(line: str) -> None:
        try:
            login.submit_redirect_url(line)
        except LoginError as exc:
            click.echo(f"{exc.describe()}\nPaste the full address again:", err=True)

    def read() -> None:
        for line in iter(stream.readline, ""):
            if line.strip():
                loop.call_soon_threadsafe(submit, line)

    threading.Thread(target=read, name="lakecode-paste-back", daemon=True).start()


@dataclass(frozen=True)
class _LoginOptions:
    """What ``auth login`` was asked to do."""

    host: str | None
    method: str
    profile: str | None
    no_browser: bool
    wait_seconds: float
    client_id: str | None
    oauth_client_id: str | None
    redirect_uri: str | None


async def _browser_flow(host: str, opts: _LoginOptions, saved: DatabricksSettings,
                        profile: str | None) -> LoginResult:
    import asyncio

    from pydantic import SecretStr

    from lakecode.databricks.auth.login import complete_browser_login
    from lakecode.databricks.auth.oauth_login import BrowserLogin, OAuthApp, open_in_browser
    from lakecode.databricks.auth.store import TokenStore, client_secret_key

    app_id = opts.oauth_client_id or saved.oauth_client_id
    app = OAuthApp(redirect_uri=opts.redirect_uri)
    if app_id and app_id != app.client_id:
        stored = TokenStore().get_secret(client_secret_key(host, app_id))
        secret = stored.get_secret_value() if stored else ""
        if not secret and sys.stdin.isatty():  # asked only at a terminal; scripts use public apps
            secret = click.prompt(f"Client secret of OAuth app {app_id} (empty for a public app)",
                                  default="", show_default=False, hide_input=True, err=True)
        app = OAuthApp(app_id, SecretStr(secret) if secret else None,
                       opts.redirect_uri or saved.oauth_redirect_uri)

    def progress(event: Any) -> None:
        # "waiting" is emitted before the URL exists: it is printed below, after the URL. The
        # "signed_in" line would repeat the one `login` prints with the identity.
        if event.stage not in ("waiting", "signed_in"):
            click.echo(event.message, err=True)

    async with BrowserLogin(host, app=app, on_progress=progress, timeout=opts.wait_seconds) as login:
        click.echo(f"\nTo sign in, open this URL in a browser:\n\n  {login.authorize_url}\n", err=True)
        opened = not opts.no_browser and await open_in_browser(login.authorize_url)
        if not opened:
            click.echo("No browser was opened here. Sign in on any machine, then paste the address "
                       f"the browser ends on ({login.redirect_uri}/?code=...) and press Enter:",
                       err=True)
            _paste_reader(login, asyncio.get_running_loop())
        click.echo("Waiting for the browser sign-in.", err=True)
        token = await login.wait()
    return await complete_browser_login(login, token, profile=profile, base=saved)


async def _login(opts: _LoginOptions, overrides: EnvOverrides, saved: DatabricksSettings) -> LoginResult:
    from lakecode.databricks.auth import login as flows
    from lakecode.databricks.profiles import load_databricks_config

    if opts.method == "profile":
        name = opts.profile or overrides.settings.databricks.profile
        found = load_databricks_config().find(name) if name else None
        if found is not None and found.auth_type == "external-browser" and found.host:
            return await _browser_flow(found.host, opts, saved, found.name)
        return await flows.login_with_profile(name, host=opts.host, base=saved)
    target = _host_or_prompt(opts.host, overrides)
    if opts.method == "pat":
        pat = _secret(overrides, "pat", "Personal access token")
        return await flows.login_with_pat(target, pat, base=saved, from_env="pat" in overrides.secrets)
    if opts.method == "oauth-m2m":
        sp = opts.client_id or overrides.settings.databricks.client_id or click.prompt(
            "Service principal client id", err=True)
        secret = _secret(overrides, "client_secret", "Client secret")
        return await flows.login_with_m2m(target, sp, secret, base=saved,
                                          from_env="client_secret" in overrides.secrets)
    return await _browser_flow(target, opts, saved, None)


@auth.command()
@click.option("--host", help="Workspace URL (any form you can paste).")
@click.option("--auth-type", type=click.Choice(AUTH_TYPES), help="Sign-in method.")
@click.option("--profile", help="A ~/.databrickscfg profile to use (implies --auth-type profile).")
@click.option("--client-id", help="Service principal client id (oauth-m2m).")
@click.option("--oauth-client-id", help="Custom OAuth app client id (external-browser).")
@click.option("--oauth-redirect-uri", help="Redirect URI registered for the OAuth app.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser; print the URL only.")
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds to wait for the browser sign-in.")
@_guarded
def login(host: str | None, auth_type: str | None, profile: str | None, client_id: str | None,
          oauth_client_id: str | None, oauth_redirect_uri: str | None, no_browser: bool,
          timeout: float) -> None:
    """Sign in, check the credential with a real call, and remember how to sign in.

    Prompts for whatever is missing (secrets with hidden input). When standard input is not a
    terminal, a secret is read from one line of it, without a prompt or warning:
    `echo "$PAT" | lakecode auth login --host URL --auth-type pat`. The host and method are saved
    to settings.toml; secrets and tokens go to the token store (files readable only by you).
    When no model is chosen yet (in settings.toml or LLM_MODEL), the first recommended model
    with tool calling that the workspace lists is saved as the model; a chosen one is never
    replaced.
    """
    from lakecode.config.store import save_settings

    saved, overrides = _load()
    opts = _LoginOptions(host, _choose_method(auth_type, profile, overrides, saved.databricks), profile,
                         no_browser, timeout, client_id, oauth_client_id, oauth_redirect_uri)
    result = _run(_login(opts, overrides, saved.databricks))
    path = save_settings(saved.model_copy(update={"databricks": result.settings}))
    who = f" as {result.whoami.user}" if result.whoami.user else ""
    via = f"profile {result.resolved.profile}, " if result.resolved.profile else ""
    click.echo(f"Signed in to {result.resolved.host}{who} ({via}{result.resolved.auth_type}).")
    if saved.provider == "databricks" and saved.model is None and overrides.settings.model is None:
        _choose_default_model()
    click.echo(f"Settings saved to {path}.", err=True)


_CHANGE_MODEL = "lakecode run --model, LLM_MODEL or the settings screen; lakecode models lists them"


def _choose_default_model() -> None:
    """Save the first recommended tool-capable model discovery lists, unless one is set by now."""
    from lakecode.config.store import load_settings, save_settings
    from lakecode.errors import LakecodeError

    try:
        model, reason = _run(_first_tool_model())
    except LakecodeError as exc:
        model, reason = None, f"model discovery failed: {exc.message}"
    current = load_settings()
    if current.model is not None:  # chosen meanwhile (another lakecode): never replace it
        return
    if model is None:
        click.echo(f"No model was chosen: {reason.rstrip('.')}.\n  hint: run `lakecode models` to "
                   "see what the workspace serves, then choose one with `lakecode run --model <id>`, "
                   "LLM_MODEL=databricks/<id> or the settings screen.", err=True)
        return
    save_settings(current.model_copy(update={"model": model}))
    click.echo(f"Model: {model} (change it with {_CHANGE_MODEL})", err=True)


async def _first_tool_model() -> tuple[str | None, str]:
    """The first recommended, ready, tool-capable chat model discovery lists (else the first
    tool-capable one); or None and why not."""
    from lakecode.databricks.provider import DatabricksProvider
    from lakecode.runtime import build_provider, effective_settings

    provider = build_provider(effective_settings())  # as `lakecode run` will see the workspace
    try:
        if not isinstance(provider, DatabricksProvider):
            return None, "not a Databricks workspace"
        result = await provider.catalog.catalog()
    finally:
        await provider.aclose()
    if result.state == "curated":
        first = f": {result.warnings[0]}" if result.warnings else ""
        return None, f"model discovery failed on {result.host}{first}"
    usable = [m for m in result.models if m.source in ("discovered", "cached") and m.chat and m.ready
              and m.supports_tools is True]
    pick = next((m for m in usable if m.recommended), usable[0] if usable else None)
    if pick is None:
        return None, f"{result.host} lists no ready chat model with tool calling"
    return pick.id, ""


# --- status ----------------------------------------------------------------------------------


def _expiry_text(expires_at: float | None) -> str:
    if expires_at is None:
        return "no expiry known"
    left = expires_at - time.time()
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(expires_at))
    return f"expired at {when}" if left <= 0 else f"expires in {int(left // 60)} min ({when})"


def _status_data(resolved: ResolvedAuth, offline: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "signed_in": None if offline else True,
        "host": resolved.host,
        "auth_type": resolved.auth_type,
        "method": resolved.method,
        "profile": resolved.profile,
        "client_id": resolved.client_id,
        "identity": None,
        "token_expires_at": None,
        "sources": dict(resolved.sources),
        "details": dict(resolved.details),
    }
    if not offline:
        from lakecode.databricks.auth.login import verify

        who = _run(verify(resolved))
        data["identity"] = who.user
        data["checked_with"] = who.checked_with
        data["token_expires_at"] = resolved.token_expiry()
    return data


def _print_status(data: dict[str, Any]) -> None:
    sources, details = data.get("sources", {}), data.get("details", {})

    def origin(key: str) -> str:
        src = sources.get(key)
        if not src:
            return ""
        if src == "profile" and key in details:
            return f"  (from the profile file {details[key]})"
        return f"  (from {src}: {details[key]})" if key in details else f"  (from {src})"

    rows = [("Host", data.get("host"), "host"), ("Method", data.get("auth_type"), "auth_type"),
            ("Profile", data.get("profile"), "profile"), ("Client id", data.get("client_id"), "client_id")]
    for label, value, key in rows:
        if value:
            click.echo(f"{label + ':':<11}{value}{origin(key)}")
    credential = sources.get("credential")
    if credential == "sdk":
        click.echo(f"{'Secret:':<11}held by the Databricks SDK / CLI")
    elif credential:
        click.echo(f"{'Secret:':<11}[REDACTED]  (from {credential})")
    if data.get("signed_in"):
        click.echo(f"{'Identity:':<11}{data.get('identity') or 'unknown'}")
        click.echo(f"{'Token:':<11}{_expiry_text(data.get('token_expires_at'))}")
    if data.get("error"):
        click.echo(f"Not signed in: {data['error']}")


@auth.command()
@click.option("--host", help="Check this workspace instead of the configured one.")
@click.option("--profile", help="Check this ~/.databrickscfg profile.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--offline", is_flag=True, help="Do not call the workspace.")
@_guarded
def status(host: str | None, profile: str | None, as_json: bool, offline: bool) -> None:
    """Show the host, sign-in method, identity and token expiry, and where each came from."""
    from lakecode.cli.exit_codes import exit_code_for
    from lakecode.errors import LakecodeError
    from lakecode.redact import redact

    try:
        resolved, _ = _resolve(host, profile)
        data = _status_data(resolved, offline)
        code = 0
    except LakecodeError as exc:
        data = {"signed_in": False, "error": redact(exc.describe())}
        code = exit_code_for(exc)
    if as_json:
        click.echo(redact(json.dumps(data, indent=2)))
    else:
        _print_status(data)
    sys.exit(code)


# --- token, logout, profiles -----------------------------------------------------------------


@auth.command()
@click.option("--host", help="Workspace URL (default: the configured one).")
@click.option("--profile", help="A ~/.databrickscfg profile.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON with the expiry.")
@_guarded
def token(host: str | None, profile: str | None, as_json: bool) -> None:
    """Print a fresh access token to stdout (for scripts: treat the output as a secret)."""
    resolved, _ = _resolve(host, profile)
    value = _run(resolved.token_source.token())
    if as_json:
        click.echo(json.dumps({"access_token": value.access_token, "token_type": "Bearer",
                               "expires_at": value.expires_at}))
    else:
        click.echo(value.access_token)


@auth.command()
@click.option("--host", help="Workspace URL (default: the configured one).")
@_guarded
def logout(host: str | None) -> None:
    """Forget the stored tokens and secrets for a workspace (settings are kept)."""
    from lakecode.databricks.auth.store import TokenStore
    from lakecode.databricks.auth.token_source import registry
    from lakecode.databricks.host import normalize_host
    from lakecode.errors import ConfigError

    _, overrides = _load()
    target = host or overrides.settings.databricks.host
    if not target:
        raise ConfigError("No workspace host is configured.", hint="Pass --host <workspace URL>.")
    origin = normalize_host(target)
    removed = TokenStore().forget_host(origin)
    registry.discard_host(origin)
    click.echo(f"Signed out of {origin}: removed {removed} stored credential"
               f"{'' if removed == 1 else 's'}.")


@auth.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_guarded
def profiles(as_json: bool) -> None:
    """List the profiles of ~/.databrickscfg (or $DATABRICKS_CONFIG_FILE)."""
    from lakecode.databricks.profiles import load_databricks_config

    cfg = load_databricks_config()
    default = cfg.default_name()
    rows = [{**p.as_dict(), "default": p.name == default} for p in cfg.profiles]
    if as_json:
        click.echo(json.dumps({"path": str(cfg.path), "profiles": rows}, indent=2))
        return
    if not rows:
        click.echo(f"No profiles in {cfg.path}. Run `lakecode auth login --host <workspace URL>`.")
        return
    width = max(len(str(r["name"])) for r in rows) + 2
    click.echo(f"  {'NAME':<{width}}{'AUTH TYPE':<18}HOST")
    for row in rows:
        mark = "*" if row["default"] else " "
        click.echo(f"{mark} {row['name']!s:<{width}}{row['auth_type']!s:<18}{row['host'] or '-'}")
