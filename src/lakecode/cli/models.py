"""``lakecode models``: list the models the workspace serves."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lakecode.llm.types import ModelInfo, ModelListing

__all__ = ["models"]

_COLUMNS = ("ID", "FAMILY", "TOOLS", "ROUTE", "SOURCE", "NOTES")


@click.command("models")
@click.option("--refresh", is_flag=True, help="Ask the workspace again instead of using the cached list.")
@click.option("--all", "show_all", is_flag=True,
              help="Also list embeddings, custom endpoints and curated models the workspace did not list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table.")
def models(refresh: bool, show_all: bool, as_json: bool) -> None:
    """List the models the workspace serves: id, family, tool support, route and source.

    The list merges the workspace's serving endpoints, foundation models and Unity Catalog
    model services, and is cached for 5 minutes (--refresh asks again). SOURCE says where
    each entry comes from: discovered (the workspace listed it), cached (an older list,
    shown because discovery failed) or curated (lakecode's shipped list, unverified). If
    discovery fails the curated list is shown and the command still succeeds, with warnings
    on stderr - except when the workspace rejects the credential, which exits with 3 (sign
    in again). Ids are sent exactly as listed; any id can also be typed by hand.

    Settings come from settings.toml and the environment (DATABRICKS_HOST,
    DATABRICKS_TOKEN, DATABRICKS_CONFIG_PROFILE, ...).
    """
    import asyncio  # here, not at the top: `lakecode --help` imports this module

    from lakecode.cli.exit_codes import AUTH, exit_code_for
    from lakecode.errors import LakecodeError

    try:
        listing, state, auth_failed = asyncio.run(_collect(refresh=refresh, show_all=show_all))
    except LakecodeError as error:
        click.echo(f"error: {error.describe()}", err=True)
        sys.exit(exit_code_for(error))
    for warning in listing.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        click.echo(json.dumps(_as_json(listing, state), indent=2))
    else:
        click.echo(_table(listing.models))
        if listing.status:
            click.echo(listing.status)
    if auth_failed:
        sys.exit(AUTH)


async def _collect(*, refresh: bool, show_all: bool) -> tuple[ModelListing, str | None, bool]:
    """Build the provider from settings + environment, list its models, close it.

    Returns the listing, the catalog state (Databricks only) and whether every listing
    rejected the credential.
    """
    from lakecode.databricks.catalog.sources import all_failed_with
    from lakecode.databricks.provider import DatabricksProvider
    from lakecode.errors import AuthError
    from lakecode.runtime import build_provider, effective_settings

    provider = build_provider(effective_settings())
    try:
        if isinstance(provider, DatabricksProvider):
            result = await provider.catalog.catalog(refresh=refresh)
            auth_failed = result.state != "discovered" and all_failed_with(
                provider.catalog.last_sources, AuthError)
            return result.listing(include_all=show_all), result.state, auth_failed
        return await provider.list_models(refresh=refresh), None, False
    finally:
        await provider.aclose()


def _tools(info: ModelInfo) -> str:
    return {True: "yes", False: "no"}.get(info.supports_tools, "?")  # type: ignore[arg-type]


def _notes(info: ModelInfo) -> str:
    notes = []
    if info.recommended:
        notes.append("recommended")
    if not info.chat:
        notes.append(info.task.rsplit("/", 1)[-1] if info.task else "not chat")
    if not info.ready:
        notes.append("not ready")
    if info.source == "curated":
        notes.append("unverified")
    if info.display_name and info.display_name != info.id and "." in info.id:
        notes.append(info.display_name)
    return ", ".join(notes)


def _table(models: tuple[ModelInfo, ...]) -> str:
    rows = [_COLUMNS] + [
        (m.id, m.family, _tools(m), m.route or "-", m.source, _notes(m)) for m in models]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _as_json(listing: ModelListing, state: str | None) -> dict[str, Any]:
    return {
        "status": listing.status,
        "state": state,
        "warnings": list(listing.warnings),
        "models": [
            {
                "id": m.id,
                "display_name": m.display_name,
                "family": m.family,
                "tools": m.supports_tools,
                "route": m.route,
                "source": m.source,
                "chat": m.chat,
                "ready": m.ready,
                "task": m.task,
                "recommended": m.recommended,
                "notes": m.notes,
                "max_output_tokens": m.max_output_tokens,
                "unsupported_params": sorted(m.unsupported_params),
            }
            for m in listing.models
        ],
    }
