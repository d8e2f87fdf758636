"""Emulator configuration: one mutable dataclass, copied into each fresh emulator state.

Tests pass an ``EmulatorConfig`` to ``Emulator(...)``; at run time ``emu.config`` is the live copy
and its switches (``strict``, ``gateway``, ``host_metadata`` ...) may be flipped between requests.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from lakecode.emulator.faults import Fault

__all__ = [
    "DATABRICKS_CLI_CLIENT_ID",
    "EmulatorConfig",
    "GatewayMode",
    "InvalidTokenStyle",
    "OAuthApp",
    "StreamUsage",
]

InvalidTokenStyle: TypeAlias = Literal["401", "403", "400", "403-access"]
GatewayMode: TypeAlias = Literal["enabled", "404", "501", "feature_disabled"]
StreamUsage: TypeAlias = Literal["final", "final_bare", "cumulative", "none"]

DATABRICKS_CLI_CLIENT_ID = "databricks-cli"
# The Databricks CLI tries 8020 and falls back to 8021..8040.
_CLI_REDIRECTS = tuple(f"http://localhost:{port}" for port in range(8020, 8041))


@dataclass(frozen=True)
class OAuthApp:
    """A registered OAuth app (an "App connection" in the account console).

    Attributes:
        client_id: the app's client id.
        redirect_uris: the registered redirect URIs, compared byte for byte.
        client_secret: set for a confidential app (the code exchange must send it), None for public.
        scopes: the scopes the app may be granted.
    """

    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret: str | None = None
    scopes: tuple[str, ...] = ("all-apis", "offline_access", "sql")

    @property
    def confidential(self) -> bool:
        """True when the app has a secret that token requests must present."""
        return self.client_secret is not None


DATABRICKS_CLI_APP = OAuthApp(DATABRICKS_CLI_CLIENT_ID, _CLI_REDIRECTS)


@dataclass
class EmulatorConfig:
    """Everything an emulator can be told at start-up.

    Attributes:
        host: interface to bind; tests always use 127.0.0.1.
        port: TCP port; 0 picks a free one.
        token_ttl: lifetime of OAuth access tokens, seconds.
        expires_in_as_string: return ``expires_in`` as ``"3600"`` (the CLI test server does).
        rotate_refresh_tokens: a used refresh token stops working and a new one is returned.
        pat, client_id, client_secret, workspace_id: fixed credentials; random when None.
        cloud: reported in host metadata.
        account_id: reported in host metadata when set.
        consent: show an HTML consent page on authorize instead of redirecting at once.
        oauth_apps: custom OAuth apps, in addition to the public ``databricks-cli``.
        strict: reject what the real service rejects (unknown keys, broken history, ...).
        invalid_token_style: how expired or unknown tokens are rejected.
        host_metadata: serve ``/.well-known/databricks-config`` (False: 404).
        gateway: the AI Gateway on this host: enabled, or absent as 404 / 501 / FEATURE_DISABLED.
        codex_models: serve ``/ai-gateway/codex/v1/models`` (False: 404 ``ENDPOINT_NOT_FOUND``).
        model_services_require_org_id: answer the model-services listing with 400 "Invalid
            MetastoreId" unless ``X-Databricks-Org-Id`` carries the workspace id.
        gateway_error_style: error envelope on AI Gateway data routes: ``databricks`` or ``openai``.
        catalog: endpoint catalogue: a JSON/TOML file path, a list of entries, or None for the
            bundled workspace.
        synthetic_endpoints: add this many generated chat endpoints (benchmarks use 5,000).
        scenarios: a directory of scenario TOML files, used in addition to the bundled ones.
        bundled_scenarios: load the scenarios shipped with the package (the demo).
        stream_usage: ``final`` (a usage-only chunk with ``choices: []``), ``final_bare`` (a last
            chunk with ``usage`` and no ``choices`` key at all), ``cumulative`` (usage on every
            chunk) or ``none``.
        stream_done: end streams with ``data: [DONE]``.
        stream_keepalive: send ``: keep-alive`` comment lines in streams.
        stream_chunk_chars: roughly how many characters of text each streamed delta carries.
        interleave_tool_calls: stream several tool calls with their fragments interleaved.
        faults: faults active from the start.
        scripted: programmatic replies queued from the start (see ``ScriptedModel.enqueue``).
    """

    host: str = "127.0.0.1"
    port: int = 0
    token_ttl: float = 3600.0
    expires_in_as_string: bool = False
    rotate_refresh_tokens: bool = True
    pat: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    workspace_id: str | None = None
    cloud: str = "aws"
    account_id: str | None = None
    consent: bool = False
    oauth_apps: list[OAuthApp] = field(default_factory=list)
    strict: bool = True
    invalid_token_style: InvalidTokenStyle = "401"
    host_metadata: bool = True
    gateway: GatewayMode = "enabled"
    codex_models: bool = True
    model_services_require_org_id: bool = False
    gateway_error_style: Literal["databricks", "openai"] = "databricks"
    catalog: str | Path | list[dict[str, Any]] | None = None
    synthetic_endpoints: int = 0
    scenarios: str | Path | None = None
    bundled_scenarios: bool = True
    stream_usage: StreamUsage = "final"
    stream_done: bool = True
    stream_keepalive: bool = False
    stream_chunk_chars: int = 12
    interleave_tool_calls: bool = False
    faults: list[Fault] = field(default_factory=list)
    scripted: list[Any] = field(default_factory=list)

    def copy(self) -> EmulatorConfig:
        """A deep copy (each emulator state owns its config)."""
        return copy.deepcopy(self)

    def apps(self) -> dict[str, OAuthApp]:
        """Registered U2M apps by client id (``databricks-cli`` first)."""
        apps = {DATABRICKS_CLI_APP.client_id: DATABRICKS_CLI_APP}
        apps.update({app.client_id: app for app in self.oauth_apps})
        return apps
