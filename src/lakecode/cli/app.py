"""The ``lakecode`` command tree.

Commands are loaded lazily so that ``lakecode --help`` and ``lakecode run`` never import the TUI,
the emulator or the Databricks SDK. Each command module keeps heavy imports inside its functions.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

import click

from lakecode import __version__

__all__ = ["cli", "main"]

# name -> "module:attribute"; the modules are imported only when the command is used
# (or when --help lists them, which imports only click-level code).
LAZY_COMMANDS: dict[str, str] = {
    "auth": "lakecode.cli.auth:auth",
    "demo": "lakecode.cli.demo:demo",
    "doctor": "lakecode.cli.doctor:doctor",
    "emulator": "lakecode.cli.emulator:emulator",
    "models": "lakecode.cli.models:models",
    "run": "lakecode.cli.run:run",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    lazy=LAZY_COMMANDS,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "-V", "--version", prog_name="lakecode")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """lakecode: a coding agent for the models your Databricks workspace serves.

    Run with no command to open the terminal UI. `lakecode demo` shows the whole path
    working against a local workspace emulator, no account needed.
    """
    if ctx.invoked_subcommand is None:
        from lakecode.tui.app import run_tui  # imported here: headless paths never load Textual

        sys.exit(run_tui())


def main() -> None:
    """Console-script entry point."""
    # httpx imports its own command line (and with it rich, ~100 ms) when rich is installed,
    # which Textual brings; lakecode never uses it. A stub makes httpx take its documented
    # "CLI not installed" path.
    sys.modules.setdefault("httpx._main", types.ModuleType("httpx._main"))
    cli(prog_name="lakecode")
