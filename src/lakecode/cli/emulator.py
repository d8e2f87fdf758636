"""``lakecode emulator``: run the local Databricks workspace emulator until Ctrl+C."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click

__all__ = ["emulator"]

_STYLES = ["401", "403", "400", "403-access"]
_GATEWAY = ["enabled", "404", "501", "feature_disabled"]


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (keep it loopback).")
@click.option("--port", default=0, type=int, help="TCP port; 0 picks a free one.")
@click.option(
    "--token-ttl", default=3600.0, type=float, show_default=True, help="OAuth token lifetime, seconds."
)
@click.option(
    "--scenarios",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory of scenario TOML files for the scripted model (added to the bundled ones).",
)
@click.option(
    "--catalog",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JSON or TOML endpoint catalogue instead of the bundled workspace.",
)
@click.option("--synthetic-endpoints", default=0, type=int, help="Add N generated chat endpoints.")
@click.option(
    "--consent", is_flag=True, help="Show a consent page on browser sign-in instead of auto-approving."
)
@click.option(
    "--strict/--lenient",
    default=True,
    show_default=True,
    help="Reject what the real service rejects (unknown keys, broken history, ...).",
)
@click.option(
    "--invalid-token-style",
    type=click.Choice(_STYLES),
    default="401",
    show_default=True,
    help="How expired or unknown tokens are rejected.",
)
@click.option(
    "--gateway",
    type=click.Choice(_GATEWAY),
    default="enabled",
    show_default=True,
    help="The AI Gateway on this host, or how its absence looks.",
)
@click.option("--no-host-metadata", is_flag=True, help="Answer /.well-known/databricks-config with 404.")
@click.option("--no-codex-models", is_flag=True, help="Answer /ai-gateway/codex/v1/models with 404.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="SPEC",
    help="Inject a fault: kind[:key=value,...], e.g. rate_limit:retry_after=2,count=3. Repeatable.",
)
@click.option("--pat", help="Use this PAT instead of a random one.")
@click.option("--client-id", help="Use this M2M client id instead of a random one.")
@click.option("--client-secret", help="Use this M2M client secret instead of a random one.")
@click.option("--workspace-id", help="Use this workspace id instead of a random one.")
@click.option("--json", "as_json", is_flag=True, help="Print the connection details as one JSON line.")
def emulator(**opts: Any) -> None:
    """Run a local Databricks workspace emulator until Ctrl+C.

    It serves OAuth (M2M, browser login with PKCE), model discovery, chat completions and the
    Responses API with a scripted model, and can inject the faults seen in the field. The
    credentials it prints are its own throwaway ones. Drive it at run time through
    /__emulator/... (see `lakecode.emulator.admin`).
    """
    from lakecode.emulator import Emulator, EmulatorConfig, Fault

    try:
        faults = [Fault.parse(spec) for spec in opts["faults"]]
    except (ValueError, TypeError) as exc:
        raise click.BadParameter(str(exc), param_hint="--fault") from exc
    config = EmulatorConfig(
        host=opts["host"],
        port=opts["port"],
        token_ttl=opts["token_ttl"],
        scenarios=opts["scenarios"],
        catalog=opts["catalog"],
        synthetic_endpoints=opts["synthetic_endpoints"],
        consent=opts["consent"],
        strict=opts["strict"],
        invalid_token_style=opts["invalid_token_style"],
        gateway=opts["gateway"],
        host_metadata=not opts["no_host_metadata"],
        codex_models=not opts["no_codex_models"],
        faults=faults,
        pat=opts["pat"],
        client_id=opts["client_id"],
        client_secret=opts["client_secret"],
        workspace_id=opts["workspace_id"],
    )
    emu = Emulator(config)
    try:
        emu.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {opts['host']}:{opts['port']}: {exc}") from exc
    _print_banner(emu, opts["as_json"])
    _serve_until_interrupted(emu)


def _print_banner(emu: Any, as_json: bool) -> None:
    details = {
        "url": emu.url,
        "pat": emu.pat,
        "client_id": emu.client_id,
        "client_secret": emu.client_secret,
        "workspace_id": emu.workspace_id,
    }
    if as_json:
        click.echo(json.dumps(details), nl=True)
        sys.stdout.flush()
        return
    from lakecode.cli.program import program_name

    q, me = shlex.quote, program_name()
    lines = [
        f"lakecode workspace emulator listening on {emu.url}",
        "",
        f"  workspace id   {emu.workspace_id}",
        f"  PAT            {emu.pat}",
        f"  M2M client id  {emu.client_id}",
        f"  M2M secret     {emu.client_secret}",
        "",
        "These are the emulator's own throwaway credentials. Try:",
        "",
        f"  DATABRICKS_HOST={q(emu.url)} DATABRICKS_TOKEN={q(emu.pat)} "
        f"LLM_MODEL=databricks/databricks-claude-sonnet-4-5 {me} run -t 'say hello'",
        f"  DATABRICKS_HOST={q(emu.url)} DATABRICKS_CLIENT_ID={q(emu.client_id)} "
        f"DATABRICKS_CLIENT_SECRET={q(emu.client_secret)} {me} models",
        f"  curl -s -H 'Authorization: Bearer {emu.pat}' {emu.url}/api/2.0/serving-endpoints",
        f'  curl -s -X POST {emu.url}/__emulator/faults -d \'{{"kind": "rate_limit", "retry_after": 2}}\'',
        "",
        "Press Ctrl+C to stop.",
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()


def _serve_until_interrupted(emu: Any) -> None:
    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("\nstopping the emulator", err=True)
    finally:
        emu.stop()
