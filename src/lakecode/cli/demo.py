"""``lakecode demo``: the whole product path in one command, against an in-process emulator.

What happens, in order (each step is the real code a user's run goes through):

1. a workspace emulator starts in this process on a free loopback port;
2. lakecode signs in the way a user would: the browser sign-in (OAuth U2M with PKCE, loopback
   callback), with the demo playing the browser by fetching the authorize URL with httpx and
   following the redirect to lakecode's callback; or, with ``--auth m2m``, a service principal;
3. model discovery runs, and a few discovered models are shown;
4. a scripted coding task runs in a fresh project directory through the same path as
   ``lakecode run`` (runtime -> provider -> agent, with ``--yes`` approvals): the model writes
   a program and a test, runs them with the shell tool, reads the result and finishes;
5. the files, the token usage and where everything was kept are shown.

Isolation: the demo works in one directory (a new temporary one unless ``--dir`` is given) that
holds its own lakecode home (settings, token store, conversations) and the project; the user's
own settings, tokens and environment are never read or touched, and the process environment is
put back when the demo ends. The directory is kept so the files can be looked at (``--clean``
removes it). Nothing keeps running: the emulator and the sign-in listener are stopped before the
command returns.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

if TYPE_CHECKING:
    from lakecode.config.settings import DatabricksSettings
    from lakecode.emulator import Emulator
    from lakecode.llm.types import ModelListing
    from lakecode.runtime import Session

__all__ = ["DEMO_MODEL", "demo"]

DEMO_MODEL = "databricks-claude-sonnet-4-5"
DEMO_CLIENT_ID = "lakecode-demo"
_STEPS = 5
_SCRUB = ("DATABRICKS_", "LLM_", "LAKECODE_")
_SHOWN_MODELS = 6


@click.command("demo")
@click.option("--auth", "auth", type=click.Choice(["u2m", "m2m"]), default="u2m", show_default=True,
              help="Sign in with the browser flow (played automatically) or as a service principal.")
@click.option("--model", default=DEMO_MODEL, show_default=True, metavar="ID",
              help="The emulated model to run the task with.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Where to put the demo's project and lakecode home (default: a new temporary "
                   "directory).")
@click.option("--clean", is_flag=True, help="Remove the demo's directory at the end.")
def demo(auth: str, model: str, directory: Path | None, clean: bool) -> None:
    """Watch lakecode work end to end against a local workspace emulator (no account needed).

    Starts an emulated Databricks workspace in this process, signs in to it (the browser
    sign-in, played automatically), discovers its models, and has the agent write a small
    program and its test, run them and report - the same path `lakecode run` takes. It takes
    a few seconds, uses its own directory and lakecode home (your settings and tokens are not
    touched), and leaves nothing running.
    """
    import asyncio
    import shutil
    import tempfile

    from lakecode.cli.exit_codes import INTERRUPTED, exit_code_for
    from lakecode.cli.output import use_color
    from lakecode.errors import LakecodeError

    root = directory.resolve() if directory is not None else Path(tempfile.mkdtemp(prefix="lakecode-demo-"))
    show = _Show(sys.stdout, color=use_color(sys.stdout))
    code = 0
    try:
        with _isolated(root):
            code = asyncio.run(_demo(show, root, auth=auth, model=model, clean=clean))
    except LakecodeError as error:
        show.fail(error.describe())
        code = exit_code_for(error)
    except KeyboardInterrupt:
        show.fail("Interrupted.")
        code = INTERRUPTED
    finally:
        if clean:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(code)


@dataclass
class _Show:
    """Writes the demo's sections to ``out``."""

    out: TextIO
    color: bool = False

    def _style(self, text: str, **style: object) -> str:
        return click.style(text, **style) if self.color else text  # type: ignore[arg-type]

    def line(self, text: str = "", **style: object) -> None:
        from lakecode.redact import redact

        self.out.write(self._style(redact(text), **style) + "\n")
        self.out.flush()

    def step(self, number: int, title: str) -> None:
        self.line()
        self.line(f"[{number}/{_STEPS}] {title}", bold=True)

    def ok(self, text: str) -> None:
        self.line(f"  ✓ {text}", fg="green")

    def fail(self, text: str) -> None:
        self.line(f"  ✗ {text}", fg="red")


@contextlib.contextmanager
def _isolated(root: Path) -> Iterator[None]:
    """Point lakecode at ``root/home`` and hide the user's Databricks and LLM settings; the
    environment is restored afterwards."""
    saved = dict(os.environ)
    try:
        for name in list(os.environ):
            if name.startswith(_SCRUB):
                del os.environ[name]
        os.environ["LAKECODE_HOME"] = str(root / "home")
        os.environ["DATABRICKS_CONFIG_FILE"] = str(root / "home" / "databrickscfg")
        os.environ["BROWSER"] = "none"
        (root / "project").mkdir(parents=True, exist_ok=True)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _demo(show: _Show, root: Path, *, auth: str, model: str, clean: bool) -> int:
    """Run the five steps; the exit code of the task."""
    from lakecode.emulator import Emulator, EmulatorConfig
    from lakecode.emulator import OAuthApp as RegisteredApp

    started = time.monotonic()
    show.line("lakecode demo: the whole path, against a local Databricks workspace emulator", bold=True)
    redirect = f"http://127.0.0.1:{_free_port()}/callback"
    config = EmulatorConfig(port=0, oauth_apps=[RegisteredApp(DEMO_CLIENT_ID, (redirect,))])
    with Emulator(config) as emu:
        show.step(1, "Workspace")
        show.line(f"  an emulated workspace is serving at {emu.url} (in this process, until the demo ends)")
        dbx = await (_sign_in_m2m(show, emu) if auth == "m2m" else _sign_in_u2m(show, emu, redirect))
        session = await _open(dbx, model, root)
        try:
            await _models(show, session, model)
            code = await _task(show, session, root)
        finally:
            await session.aclose()
        served = len(emu.requests)
    _closing(show, root, session, code, served, time.monotonic() - started, clean=clean)
    return code


async def _sign_in_u2m(show: _Show, emu: Emulator, redirect: str) -> DatabricksSettings:
    """The browser sign-in, with httpx as the browser."""
    import httpx

    from lakecode.databricks.auth.login import complete_browser_login
    from lakecode.databricks.auth.oauth_login import BrowserLogin, OAuthApp

    show.step(2, "Sign-in: the browser flow (OAuth U2M with PKCE), the demo playing the browser")
    app = OAuthApp(client_id=DEMO_CLIENT_ID, redirect_uri=redirect)
    async with BrowserLogin(emu.url, app=app, timeout=30) as login:
        show.line(f"  lakecode listens for the sign-in on {login.redirect_uri}")
        show.line(f"  the browser opens   {_short(login.authorize_url)}")
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
            answer = await browser.get(login.authorize_url)
            location = answer.headers.get("location", "")
            show.line(f"  the workspace says  {answer.status_code} -> {_short(location)}")
            await browser.get(location)
        token = await login.wait()
    result = await complete_browser_login(login, token)
    show.ok(_signed_in(result.whoami.user, result.resolved.token_expiry(), "external-browser"))
    return result.settings


async def _sign_in_m2m(show: _Show, emu: Emulator) -> DatabricksSettings:
    """A service principal's client credentials (OAuth M2M)."""
    from pydantic import SecretStr

    from lakecode.databricks.auth.login import login_with_m2m

    show.step(2, "Sign-in: a service principal (OAuth M2M, client credentials)")
    show.line(f"  client id {emu.client_id}; the secret goes to the demo's token store, never to settings")
    result = await login_with_m2m(emu.url, emu.client_id, SecretStr(emu.client_secret))
    show.ok(_signed_in(result.whoami.user, result.resolved.token_expiry(), "oauth-m2m"))
    return result.settings


def _short(url: str) -> str:
    """A URL with its query values elided (they carry the PKCE challenge, state and code)."""
    base, _, query = url.partition("?")
    if not query:
        return base
    keys = [item.partition("=")[0] for item in query.split("&")]
    return f"{base}?" + "&".join(f"{key}=…" for key in keys)


def _signed_in(user: str | None, expiry: float | None, method: str) -> str:
    who = f" as {user}" if user else ""
    minutes = max(0, round((expiry - time.time()) / 60)) if expiry else None
    valid = f"; the access token is valid for {minutes} min" if minutes is not None else ""
    return f"signed in{who} ({method}){valid}; refreshed automatically when it expires"


async def _open(dbx: DatabricksSettings, model: str, root: Path) -> Session:
    """The session ``lakecode run --yes`` would open with these settings (no environment)."""
    from lakecode.agent.approvals import Approvals
    from lakecode.agent.store import ConversationStore
    from lakecode.config.settings import Settings
    from lakecode.runtime import RunOptions, effective_settings, open_session

    settings = Settings(model=model, databricks=dbx)
    overrides = effective_settings(RunOptions(), settings=settings, environ={})
    return await open_session(overrides, cwd=root / "project", approvals=Approvals.headless(yes=True),
                              store=ConversationStore(), headless=True)


async def _models(show: _Show, session: Session, model: str) -> None:
    """Discovery, and a short table of what it found."""
    show.step(3, "Models: discovery")
    listing = await session.provider.list_models(refresh=True)
    for warning in listing.warnings:
        show.line(f"  warning: {warning}", fg="yellow")
    show.line(f"  {listing.status}")
    for row in _table(listing, model):
        show.line(f"    {row}")
    chosen = next((m for m in listing.models if m.id == model), None)
    if chosen is None:
        show.line(f"  {model} was not listed; it is used anyway (ids are sent verbatim)", fg="yellow")
    else:
        show.ok(f"using {model} ({chosen.family}, tool calling: {_yes_no(chosen.supports_tools)})")


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no"}.get(value, "?")  # type: ignore[arg-type]


def _table(listing: ModelListing, model: str) -> list[str]:
    """A few models (the chosen one first), as aligned rows with a header."""
    models = sorted(listing.models, key=lambda m: m.id != model)[:_SHOWN_MODELS]
    rows = [("MODEL", "FAMILY", "TOOLS", "SOURCE")]
    rows += [(m.id, m.family, _yes_no(m.supports_tools), m.source) for m in models]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])), row[3]]) for row in rows]
    hidden = len(listing.models) - len(models)
    if hidden > 0:
        lines.append(f"… and {hidden} more (`lakecode models` lists them all)")
    return lines


async def _task(show: _Show, session: Session, root: Path) -> int:
    """The coding task, through ``lakecode run``'s driver."""
    from lakecode.cli.output import Progress, RunContext
    from lakecode.cli.run import drive
    from lakecode.emulator import DEMO_PROMPT

    project = root / "project"
    show.step(4, f"Task: in {project}, tool calls approved as with --yes")
    show.line(f"  > {DEMO_PROMPT}", dim=True)
    progress = Progress(show.out, show.out, color=show.color, indent="  ", answer_prefix="  » ")
    progress.begin(RunContext(provider=session.provider.name, cwd=str(project)))
    result = await drive(session, DEMO_PROMPT, progress)
    show.step(5, "Result")
    files = sorted(p for p in project.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    show.line(f"  files in the project ({len(files)}):")
    names = [str(path.relative_to(project)) for path in files]
    width = max(map(len, names), default=0)
    for name, path in zip(names, files, strict=True):
        show.line(f"    {name.ljust(width)}  {path.stat().st_size:>6,} bytes")
    program = project / "fizzbuzz.py"
    if program.is_file():
        show.line("  fizzbuzz.py:")
        for text in program.read_text(encoding="utf-8").strip("\n").splitlines():
            show.line(f"    │ {text}", dim=True)
    if result.finished is not None:
        usage = result.finished.usage
        show.line(f"  tokens used: {usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion "
                  f"= {usage.total_tokens:,} over {result.finished.turns} model turns")
    return result.exit_code


def _closing(show: _Show, root: Path, session: Session, code: int, served: int, took: float, *,
             clean: bool) -> None:
    """Where things are, and what to try next."""
    conversation = session.agent.conversation
    show.line()
    if code == 0:
        show.ok(f"done in {took:.1f} s; the emulator answered {served} requests and has stopped")
    else:
        show.fail(f"the task did not finish (exit code {code}); the emulator has stopped")
    if clean:
        show.line(f"  the demo's directory {root} (project, conversation, tokens) is removed now")
    else:
        saved = root / "home" / "conversations" / f"{conversation.id}.jsonl"
        show.line(f"  conversation saved as {saved}")
        show.line(f"  project kept in {root / 'project'}  (remove the demo with: rm -rf {root})")
    show.line()
    from lakecode.cli.program import program_name

    me = program_name()
    show.line("Next:", bold=True)
    show.line(f"  {me} emulator     # run the emulator yourself; it prints its URL and a token, then:")
    show.line("  DATABRICKS_HOST=<url> DATABRICKS_TOKEN=<token> \\")
    show.line(f"    {me} run --model {DEMO_MODEL} --yes -t 'Create fizzbuzz.py ... run the test'")
    show.line(f"  {me}                  # the terminal UI: F2 opens the settings")
    show.line(f"  {me} auth login --host https://<your-workspace>   # or use a real workspace")
