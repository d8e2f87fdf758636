"""Databricks OAuth defaults, in a module with no imports so headless start-up stays light."""

from __future__ import annotations

__all__ = ["DATABRICKS_CLI_CLIENT_ID", "DEFAULT_REDIRECT_URI", "FALLBACK_PORTS"]

DATABRICKS_CLI_CLIENT_ID = "databricks-cli"
"""The public OAuth client the Databricks CLI and SDKs use for browser sign-in."""

DEFAULT_REDIRECT_URI = "http://localhost:8020"
"""The redirect URI registered for ``databricks-cli`` (host form and port exactly as registered)."""

FALLBACK_PORTS = tuple(range(8021, 8041))
"""Ports tried after 8020 for the public client (registered for it, as the Databricks CLI uses)."""
