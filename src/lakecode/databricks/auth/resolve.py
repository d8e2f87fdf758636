"""From settings to a ready token source: the one factory every caller uses.

``resolve_auth`` takes the effective ``DatabricksSettings`` (settings.toml with the environment
and any command-line arguments already applied, see ``lakecode.config.env``), the secrets the
environment supplied, and a clock, and returns a ``ResolvedAuth``: the canonical host, the auth
type in use, the profile, the identity's shared token source, an ``httpx.Auth`` for an
``httpx.AsyncClient(base_url=resolved.host, auth=resolved.auth)``, and where each value came from.
It makes no network call: tokens are fetched on first use, per request.

Precedence is Databricks unified auth: explicit arguments > ``DATABRICKS_*`` environment >
settings.toml > ``~/.databrickscfg``. The config file is read when the method is ``profile``, or
when nothing at all is configured (the automatic fallback to the default profile). An explicit
host beats a profile that came from the environment, and an explicit profile beats a host that
came from the environment. Two auth methods configured at once without ``auth_type`` is a
``ConfigError`` naming both.

=====================  ==========================================================================
method                 token source
=====================  ==========================================================================
``pat``                the PAT from the environment or the token store
``oauth-m2m``          client credentials: client id from settings, secret from env or store
``external-browser``   the U2M tokens ``lakecode auth login`` stored (refreshed, rotated, locked)
``profile``            a profile with a native ``auth_type`` uses the native strategy with the
                       profile's values; anything else (``databricks-cli``, ``azure-cli``, none)
                       delegates to the Databricks SDK for that profile
=====================  ==========================================================================
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

import httpx
from pydantic import SecretStr

from lakecode.clock import Clock, system_clock
from lakecode.config.settings import DatabricksSettings
from lakecode.databricks.auth.defaults import DATABRICKS_CLI_CLIENT_ID
from lakecode.databricks.auth.httpx_auth import BearerAuth
from lakecode.databricks.auth.identity import AuthIdentity, login_command
from lakecode.databricks.auth.store import TokenStore, client_secret_key, pat_key
from lakecode.databricks.auth.strategies import (
    M2M_SCOPES,
    U2M_SCOPES,
    ClientCredentialsFetcher,
    RefreshTokenFetcher,
    SdkTokenFetcher,
    StaticTokenFetcher,
)
from lakecode.databricks.auth.token_source import (
    RefreshingTokenSource,
    TokenFetcher,
    TokenSource,
    TokenSourceRegistry,
    registry,
)
from lakecode.databricks.host import normalize_host
from lakecode.databricks.profiles import DatabricksConfig, Profile, load_databricks_config
from lakecode.errors import AuthError, ConfigError

__all__ = ["NATIVE_AUTH_TYPES", "ResolvedAuth", "Source", "resolve_auth", "u2m_identity"]

Source: TypeAlias = Literal["argument", "env", "settings", "profile", "store", "sdk", "default"]
NATIVE_AUTH_TYPES = frozenset({"pat", "oauth-m2m", "external-browser"})


@dataclass(frozen=True)
class ResolvedAuth:
    """Everything a caller needs to talk to the workspace as one identity.

    Attributes:
        host: the canonical workspace origin (``https://...``).
        auth_type: the Databricks auth type in use (``pat``, ``oauth-m2m``,
            ``external-browser``, ``databricks-cli``, ... or ``default`` for the SDK's chain).
        method: the settings-level method (``pat``, ``oauth-m2m``, ``external-browser``,
            ``profile``): what ``auth login`` persists.
        profile: the ``~/.databrickscfg`` profile in use (persist it: refresh must use it).
        client_id: the OAuth client id (service principal or OAuth app), if any.
        identity: the token source's identity.
        token_source: the identity's shared, refreshing token source.
        auth: an ``httpx.Auth`` sending ``Authorization: Bearer`` per request.
        sources: field -> where its value came from: ``host``, ``auth_type``, ``profile``,
            ``client_id``, ``credential`` -> argument / env / settings / profile / store / sdk /
            default, or None when the field has no value (no profile, no client id). With a
            profile, ``auth_type`` (and ``client_id``, ``credential`` when the profile holds
            them) are ``profile``: the config file decided them.
        details: field -> the environment variable or file behind a source, for displays.
    """

    host: str
    auth_type: str
    method: str
    profile: str | None
    client_id: str | None
    identity: AuthIdentity
    token_source: TokenSource
    auth: httpx.Auth
    sources: Mapping[str, Source | None] = field(default_factory=dict)
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def relogin_hint(self) -> str:
        """What to run to sign this identity in again."""
        return self.token_source.relogin_hint

    def token_expiry(self) -> float | None:
        """Epoch seconds when the current token expires (no network; None if none yet/never)."""
        token = self.token_source.cached()
        return token.expires_at if token else None


@dataclass
class _Inputs:
    """The values resolution works with, and where each came from."""

    settings: DatabricksSettings
    secrets: Mapping[str, SecretStr]
    sdk_auth_type: str | None
    env: Mapping[str, str]
    store: TokenStore
    clock: Clock
    registry: TokenSourceRegistry
    transport: httpx.AsyncBaseTransport | None
    config_file: Path | None
    applied: Mapping[str, str] = field(default_factory=dict)
    explicit: Collection[str] = ()
    in_settings: Collection[str] = ()
    config_path: Path | None = None
    sources: dict[str, Source | None] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    def record(self, key: str, name: str | None = None) -> None:
        """Record where the settings field ``name`` (default ``key``) came from, as ``key``."""
        name = name or key
        self.details.pop(key, None)
        if name in self.explicit:
            self.sources[key] = "argument"
        elif var := self.applied.get(f"databricks.{name}"):
            self.sources[key], self.details[key] = "env", var
        elif getattr(self.settings, name) is None:
            self.sources[key] = None
        else:
            # A value written in settings.toml is "settings" even when it equals the default.
            self.sources[key] = "settings" if name in self.in_settings else "default"

    def from_profile(self, key: str, path: Path) -> None:
        """Record that ``key`` came from a profile of the config file at ``path``."""
        self.sources[key], self.details[key] = "profile", str(path)

    def absent(self, key: str) -> None:
        """Record that ``key`` has no value for this method."""
        self.sources[key] = None
        self.details.pop(key, None)


def _fingerprint(secret: SecretStr, origin: Source | None) -> str:
    # The origin is part of it: the same token from DATABRICKS_TOKEN and from the store needs two
    # sources, because their re-login hints differ.
    return f"{hashlib.sha256(secret.get_secret_value().encode()).hexdigest()}:{origin}"


def _check_one_method(inp: _Inputs, pinned: bool) -> None:
    if pinned:
        return
    configured = []
    if "pat" in inp.secrets:
        configured.append("pat")
    if "client_secret" in inp.secrets and inp.settings.client_id:
        configured.append("oauth-m2m")
    if len(configured) > 1:
        raise ConfigError(
            "More than one authorization method configured: oauth-m2m and pat "
            "(DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET and a personal access token).",
            hint="Set DATABRICKS_AUTH_TYPE to pat or oauth-m2m, or unset one of them.")


def resolve_auth(
    settings: DatabricksSettings,
    *,
    secrets: Mapping[str, SecretStr] | None = None,
    sdk_auth_type: str | None = None,
    applied: Mapping[str, str] | None = None,
    explicit: Collection[str] = (),
    clock: Clock = system_clock,
    store: TokenStore | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    token_registry: TokenSourceRegistry | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    in_settings: Collection[str] | None = None,
) -> ResolvedAuth:
    """Resolve the credential for the configured workspace (see the module docstring).

    Args:
        settings: the effective Databricks settings (arguments and environment applied).
        secrets: secrets from the environment (``EnvOverrides.secrets``: "pat", "client_secret").
        sdk_auth_type: a non-native ``DATABRICKS_AUTH_TYPE`` (``EnvOverrides.sdk_auth_type``).
        applied: ``EnvOverrides.applied`` (which field each variable set).
        explicit: ``DatabricksSettings`` field names given as command-line arguments; "pat" or
            "client_secret" here means that secret was given directly (typed at a login prompt),
            not taken from the environment, which changes the re-login hint.
        clock: the wall clock for token expiry.
        store: the token store (default: under ``LAKECODE_HOME``).
        environ: the environment (default ``os.environ``), for the config-file variables.
        config_file: the Databricks config file (default ``$DATABRICKS_CONFIG_FILE`` or
            ``~/.databrickscfg``).
        token_registry: where token sources are shared (default: the process-wide registry).
        transport: an httpx transport for token requests (tests).
        in_settings: the ``DatabricksSettings`` fields written in settings.toml (the loaded
            file's ``model_fields_set``), so the sources say "settings" for them even when a
            value equals the default; by default ``settings.model_fields_set``. Only the
            sources depend on it, never the resolution.

    Raises:
        ConfigError: no host, a malformed config file (``ProfileError``), an invalid host
            (``HostError``), or two auth methods without ``auth_type``.
        AuthError: the method is configured but its credential is missing (not signed in).
    """
    applied = applied or {}
    inp = _Inputs(settings, secrets or {}, sdk_auth_type, os.environ if environ is None else environ,
                  store or TokenStore(clock=clock), clock, token_registry or registry, transport,
                  config_file, applied, explicit,
                  settings.model_fields_set if in_settings is None else in_settings)
    for name in ("host", "auth_type", "profile", "client_id"):
        inp.record(name)
    pinned = inp.sources["auth_type"] == "argument" or applied.get(
        "databricks.auth_type") == "DATABRICKS_AUTH_TYPE"
    _check_one_method(inp, pinned)
    method = settings.auth_type
    # Nothing chosen (the default method, from no argument or variable) and no host: fall back to
    # the default profile. settings.toml always holds auth_type once saved, so "from settings"
    # with the default value still counts as nothing chosen.
    unchosen = inp.sources["auth_type"] in ("default", "settings") and (
        method == DatabricksSettings.model_fields["auth_type"].default)
    if method == "profile" or (settings.host is None and unchosen):
        return _resolve_profile(inp)
    if settings.host is None:
        raise ConfigError("No workspace host is configured.",
                          hint="Run `lakecode auth login --host <workspace URL>` or set DATABRICKS_HOST.")
    host = normalize_host(settings.host)
    return _native(inp, method, host, None, None)


def _native(inp: _Inputs, method: str, host: str, profile: Profile | None,
            profile_name: str | None) -> ResolvedAuth:
    """A native strategy; values come from ``profile`` when one is given."""
    if method == "pat":
        return _pat(inp, host, profile)
    if method == "oauth-m2m":
        return _m2m(inp, host, profile)
    return _u2m(inp, host, profile_name)


def _finish(inp: _Inputs, identity: AuthIdentity, source: TokenSource, method: str) -> ResolvedAuth:
    return ResolvedAuth(
        host=identity.host, auth_type=identity.auth_type, method=method, profile=identity.profile,
        client_id=identity.client_id, identity=identity, token_source=source,
        auth=BearerAuth(source), sources=dict(inp.sources), details=dict(inp.details))


def _shared(inp: _Inputs, identity: AuthIdentity, fetcher: TokenFetcher, *,
            fingerprint: str | None = None, hint: str | None = None) -> TokenSource:
    def make() -> TokenSource:
        return RefreshingTokenSource(identity, fetcher, clock=inp.clock, relogin_hint=hint)

    return inp.registry.get_or_create(identity, make, fingerprint=fingerprint)


def _profile_hint(inp: _Inputs, host: str, profile: Profile, keys: str) -> str:
    """What fixes a refused credential written in a profile: the file, not ``lakecode auth login``."""
    return (f"Update {keys} in profile [{profile.name}] of {inp.config_path}, or run "
            f"`databricks auth login --host {host} --profile {profile.name}`.")


def _env_hint(variables: tuple[str, ...], what: str, login: str) -> str:
    """What fixes a refused credential from the environment, which overrides any stored login."""
    one = len(variables) == 1
    it = "it" if one else "them"
    return (f"{' and '.join(variables)} {'is' if one else 'are'} set and override{'s' if one else ''} "
            f"any stored login: replace {it} with {what}, or unset {it} and run `{login}`.")


def _pat_variable(inp: _Inputs) -> str:
    """The variable the personal access token came from (LLM_API_KEY stands in for it)."""
    if not inp.env.get("DATABRICKS_TOKEN", "").strip() and inp.env.get("LLM_API_KEY", "").strip():
        return "LLM_API_KEY"
    return "DATABRICKS_TOKEN"


def _pat(inp: _Inputs, host: str, profile: Profile | None) -> ResolvedAuth:
    name = profile.name if profile else None
    secret: SecretStr | None
    hint = (f"Create a new personal access token and run `{login_command(host, name, 'pat')}` "
            "(or set DATABRICKS_TOKEN).")
    if profile is not None and profile.get("token"):
        secret, inp.sources["credential"] = SecretStr(profile.get("token") or ""), "profile"
        hint = _profile_hint(inp, host, profile, "the token")
    elif "pat" in inp.secrets and "pat" in inp.explicit:
        secret, inp.sources["credential"] = inp.secrets["pat"], "argument"
    elif "pat" in inp.secrets:
        secret, inp.sources["credential"] = inp.secrets["pat"], "env"
        hint = _env_hint((_pat_variable(inp),), "a valid personal access token",
                         login_command(host, None, "pat"))
    else:
        secret, inp.sources["credential"] = inp.store.get_secret(pat_key(host)), "store"
    if secret is None:
        raise AuthError(f"No personal access token is stored for {host}.", hint=hint)
    identity = AuthIdentity(host, "pat", profile=name)
    source = _shared(inp, identity, StaticTokenFetcher(secret),
                     fingerprint=_fingerprint(secret, inp.sources["credential"]), hint=hint)
    inp.absent("client_id")
    return _finish(inp, identity, source, "profile" if profile else "pat")


def _m2m(inp: _Inputs, host: str, profile: Profile | None) -> ResolvedAuth:
    name = profile.name if profile else None
    client_id = (profile.get("client_id") if profile else None) or inp.settings.client_id
    if profile is not None and profile.get("client_id") and inp.config_path is not None:
        inp.from_profile("client_id", inp.config_path)
    hint = (f"Run `{login_command(host, name, 'oauth-m2m')}` (or set DATABRICKS_CLIENT_ID and "
            "DATABRICKS_CLIENT_SECRET).")
    if not client_id:
        raise ConfigError(f"No service principal client id is configured for {host}.", hint=hint)
    secret: SecretStr | None
    if profile is not None and profile.get("client_secret"):
        secret, inp.sources["credential"] = SecretStr(profile.get("client_secret") or ""), "profile"
        hint = _profile_hint(inp, host, profile, "client_id and client_secret")
    elif "client_secret" in inp.secrets and "client_secret" in inp.explicit:
        secret, inp.sources["credential"] = inp.secrets["client_secret"], "argument"
    elif "client_secret" in inp.secrets:
        secret, inp.sources["credential"] = inp.secrets["client_secret"], "env"
        variables: tuple[str, ...] = ("DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET")
        if inp.sources.get("client_id") != "env":
            variables = variables[1:]
        hint = _env_hint(variables, "valid service principal credentials",
                         login_command(host, None, "oauth-m2m"))
    else:
        secret = inp.store.get_secret(client_secret_key(host, client_id))
        inp.sources["credential"] = "store"
    if secret is None:
        raise AuthError(f"No client secret is stored for service principal {client_id} on {host}.",
                        hint=hint)
    scopes = _scopes(profile) or M2M_SCOPES
    identity = AuthIdentity(host, "oauth-m2m", client_id=client_id, profile=name, scopes=scopes)
    fetcher = ClientCredentialsFetcher(host, client_id, secret, scopes=identity.scopes,
                                       clock=inp.clock, relogin_hint=hint, transport=inp.transport)
    source = _shared(inp, identity, fetcher, fingerprint=_fingerprint(secret, inp.sources["credential"]),
                     hint=hint)
    return _finish(inp, identity, source, "profile" if profile else "oauth-m2m")


def u2m_identity(host: str, client_id: str = DATABRICKS_CLI_CLIENT_ID,
                 profile: str | None = None) -> AuthIdentity:
    """The identity browser sign-in tokens are stored under."""
    return AuthIdentity(host, "external-browser", client_id=client_id, profile=profile,
                        scopes=U2M_SCOPES)


def _u2m(inp: _Inputs, host: str, profile_name: str | None) -> ResolvedAuth:
    client_id = inp.settings.oauth_client_id or DATABRICKS_CLI_CLIENT_ID
    inp.record("client_id", "oauth_client_id")
    if inp.sources["client_id"] is None:
        inp.sources["client_id"] = "default"  # the public databricks-cli app
    identity = u2m_identity(host, client_id, profile_name)
    hint = f"Run `{login_command(host, profile_name, 'external-browser')}` to sign in again."
    initial = inp.store.load_token(identity)
    inp.sources["credential"] = "store"
    if initial is None:
        raise AuthError(f"Not signed in to {host} with the browser ({client_id}).", hint=hint)
    secret = None
    if client_id != DATABRICKS_CLI_CLIENT_ID:
        secret = inp.store.get_secret(client_secret_key(host, client_id))

    def make() -> TokenSource:
        fetcher = RefreshTokenFetcher(identity, inp.store, client_secret=secret, clock=inp.clock,
                                      relogin_hint=hint, transport=inp.transport)
        return RefreshingTokenSource(identity, fetcher, clock=inp.clock, initial=initial,
                                     relogin_hint=hint)

    source = inp.registry.get_or_create(identity, make)
    return _finish(inp, identity, source, "profile" if profile_name else "external-browser")


def _scopes(profile: Profile | None) -> tuple[str, ...]:
    raw = profile.get("scopes") if profile else None
    return tuple(s for s in (raw or "").replace(",", " ").split() if s)


def _pick_profile(inp: _Inputs, cfg: DatabricksConfig) -> Profile | None:
    """The profile to use, honouring "explicit beats ambient environment"."""
    settings, sources = inp.settings, inp.sources
    host = normalize_host(settings.host) if settings.host else None
    if settings.profile:
        wanted = cfg.find(settings.profile)
        if host and sources["host"] == "argument" and sources["profile"] != "argument" and (
                wanted is None or wanted.host != host):
            # An explicit host beats a profile from the environment or settings.
            return cfg.choose_for_host(host)
        return cfg.get(settings.profile)
    if host:
        return cfg.choose_for_host(host)
    name = cfg.default_name(inp.env)
    # The automatic fallback is lenient: a default_profile naming a missing profile is ignored.
    return cfg.find(name) if name else None


def _resolve_profile(inp: _Inputs) -> ResolvedAuth:
    cfg = load_databricks_config(inp.config_file, inp.env)
    inp.config_path = cfg.path
    profile = _pick_profile(inp, cfg)
    settings, sources = inp.settings, inp.sources
    # A profile's host is used unless the host came from an argument, or from the environment
    # while the profile did not come from an argument.
    host_wins = sources["host"] == "argument" or (
        sources["host"] == "env" and sources["profile"] != "argument")
    if profile is not None and profile.host and not (settings.host and host_wins):
        host = normalize_host(profile.host)
        inp.from_profile("host", cfg.path)
    elif settings.host:
        host = normalize_host(settings.host)
    else:
        raise ConfigError(
            f"No workspace host is configured (and no usable profile in {cfg.path}).",
            hint="Run `lakecode auth login --host <workspace URL>`, or `lakecode auth profiles`.")
    if profile is not None and profile.name != settings.profile:
        inp.from_profile("profile", cfg.path)  # chosen in the file (default, or for the host)
    auth_type = inp.sdk_auth_type or (profile.auth_type if profile else None)
    if profile is not None and not inp.sdk_auth_type:
        inp.from_profile("auth_type", cfg.path)
    if profile is not None and profile.conflicting_methods and not inp.sdk_auth_type:
        first, second = profile.conflicting_methods[:2]
        raise ConfigError(
            f"Profile [{profile.name}] in {cfg.path} configures more than one authorization "
            f"method: {first} and {second}.",
            hint=f"Add `auth_type = {first}` (or {second}) to [{profile.name}], or remove one.")
    if auth_type in NATIVE_AUTH_TYPES:
        return _native(inp, str(auth_type), host, profile, profile.name if profile else None)
    return _sdk(inp, host, profile, auth_type, cfg.path)


def _sdk(inp: _Inputs, host: str, profile: Profile | None, auth_type: str | None,
         config_path: Path) -> ResolvedAuth:
    name = profile.name if profile else None
    config: dict[str, object] = {"auth_type": auth_type}
    if name is not None:
        config.update(profile=name, config_file=str(config_path))
        if inp.sources["host"] in ("argument", "env"):
            config["host"] = host
    else:
        config["host"] = host
    hint = (f"Run `databricks auth login --host {host}" + (f" --profile {name}`" if name else "`")
            + f" or `{login_command(host, name)}`.")
    identity = AuthIdentity(host, auth_type or "default", profile=name, scopes=_scopes(profile))
    inp.sources["credential"] = "sdk"
    inp.absent("client_id")
    fetcher = SdkTokenFetcher(config, clock=inp.clock, relogin_hint=hint)
    source = _shared(inp, identity, fetcher, hint=hint)
    return _finish(inp, identity, source, "profile")
