"""The Textual app (being built: issue 6). Until then, ``lakecode`` with no command shows help."""

from __future__ import annotations

import click


def run_tui() -> int:
    """Open the terminal UI; returns the exit code."""
    click.echo("The terminal UI is not available in this build yet; see `lakecode --help`.", err=True)
    return 2
