"""Sign-in strategies: each one a ``TokenFetcher`` behind a ``RefreshingTokenSource``.

=====================  ============================================================================
``auth_type``          fetcher
=====================  ============================================================================
``pat``                ``StaticTokenFetcher``: the personal access token itself (never expires).
``oauth-m2m``          ``ClientCredentialsFetcher``: service principal client credentials, minted
                       again before expiry (F3). Basic client auth, ``scope=all-apis``.
``external-browser``   ``RefreshTokenFetcher``: the refresh-token grant for a U2M sign-in made by
                       ``oauth_login``; the rotated refresh token is saved at once, under a file
                       lock, after re-reading the store (another process may have refreshed).
anything else          ``SdkTokenFetcher``: the Databricks Python SDK's unified auth
                       (``databricks-cli``, ``azure-cli``, ... and the automatic chain), imported
                       lazily and run in a thread with a short ``retry_timeout_seconds``.
=====================  ============================================================================

Every fetcher sends its OAuth requests to the workspace origin's token endpoint (OIDC discovery
on the workspace host), whatever base path was configured for inference (F8).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from lakecode import __version__
from lakecode.clock import Clock, system_clock
from lakecode.databricks.auth.identity import AuthIdentity
from lakecode.databricks.auth.oidc import OidcEndpoints, discover, oauth_http_client, request_token
from lakecode.databricks.auth.store import TokenStore
from lakecode.databricks.auth.token_source import Token
from lakecode.errors import AuthError
from lakecode.redact import redact, register_secret

__all__ = [
    "DEFAULT_SDK_RETRY_TIMEOUT",
    "M2M_SCOPES",
    "U2M_SCOPES",
    "ClientCredentialsFetcher",
    "RefreshTokenFetcher",
    "SdkTokenFetcher",
    "StaticTokenFetcher",
]

M2M_SCOPES: tuple[str, ...] = ("all-apis",)
U2M_SCOPES: tuple[str, ...] = ("all-apis", "offline_access")
DEFAULT_SDK_RETRY_TIMEOUT = 5
"""Seconds the SDK may spend retrying an unreachable host (its own default is 300)."""
_UNKNOWN_EXPIRY_TTL = 300.0


class _Endpoints:
    """OIDC endpoints discovered once per fetcher."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._found: OidcEndpoints | None = None

    async def get(self, http: httpx.AsyncClient) -> OidcEndpoints:
        if self._found is None:
            self._found = await discover(self.host, http)
        return self._found


class StaticTokenFetcher:
    """A personal access token: the same value every time (a refresh cannot change it)."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token
        register_secret(token.get_secret_value())

    async def fetch(self, current: Token | None) -> Token:
        """The token; it has no expiry lakecode can know."""
        return Token(self._token.get_secret_value())


class ClientCredentialsFetcher:
    """OAuth M2M: ``grant_type=client_credentials`` with the service principal's id and secret.

    Args:
        host: the workspace origin.
        client_id: the service principal's application id.
        client_secret: its OAuth secret.
        scopes: requested scopes (default ``all-apis``).
        clock: the wall clock expiry is computed on.
        relogin_hint: the hint when the secret is refused.
        transport: an httpx transport (tests).
    """

    def __init__(self, host: str, client_id: str, client_secret: SecretStr, *,
                 scopes: tuple[str, ...] = M2M_SCOPES, clock: Clock = system_clock,
                 relogin_hint: str = "", transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.host = host
        self.client_id = client_id
        self._secret = client_secret
        self.scopes = scopes
        self._clock = clock
        self._hint = relogin_hint
        self._transport = transport
        self._endpoints = _Endpoints(host)
        register_secret(client_secret.get_secret_value())

    async def fetch(self, current: Token | None) -> Token:
        """A newly minted access token."""
        async with oauth_http_client(transport=self._transport, auth_type="oauth-m2m") as http:
            endpoints = await self._endpoints.get(http)
            return await request_token(
                http, endpoints.token_endpoint, "client_credentials", clock=self._clock,
                host=self.host, relogin_hint=self._hint, client_id=self.client_id,
                client_secret=self._secret.get_secret_value(), scope=" ".join(self.scopes))


class RefreshTokenFetcher:
    """U2M refresh: ``grant_type=refresh_token``, coordinated with other processes.

    Under the store's file lock it re-reads the stored token first: if another process has
    already refreshed (the stored token differs from ``current`` and is fresh), that token is used
    and no request is made. Otherwise the latest stored refresh token is spent and the answer
    (with a rotated refresh token) is saved before the lock is released.

    Args:
        identity: the signed-in identity (host, OAuth client id, profile, scopes).
        store: where the token lives.
        client_secret: the custom OAuth app's secret (confidential apps only).
        clock: the wall clock.
        relogin_hint: what to run when the refresh token is refused or missing.
        transport: an httpx transport (tests).
    """

    def __init__(self, identity: AuthIdentity, store: TokenStore, *,
                 client_secret: SecretStr | None = None, clock: Clock = system_clock,
                 relogin_hint: str = "", transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.identity = identity
        self.store = store
        self._secret = client_secret
        self._clock = clock
        self._hint = relogin_hint
        self._transport = transport
        self._endpoints = _Endpoints(identity.host)

    async def fetch(self, current: Token | None) -> Token:
        """The stored token if another process refreshed it, else a refreshed one (saved)."""
        async with self.store.locked(self.identity):
            stored = await asyncio.to_thread(self.store.load_token, self.identity)
            now = self._clock.time()
            if stored is not None and stored.is_fresh(now) and (
                    current is None or stored.access_token != current.access_token):
                return stored
            refresh_token = (stored.refresh_token if stored else None) or (
                current.refresh_token if current else None)
            if not refresh_token:
                raise AuthError(f"Not signed in to {self.identity.describe()} (no refresh token stored).",
                                hint=self._hint)
            token = await self._refresh(refresh_token)
            await asyncio.to_thread(self.store.save_token, self.identity, token)
            return token

    async def _refresh(self, refresh_token: str) -> Token:
        secret = self._secret.get_secret_value() if self._secret else None
        async with oauth_http_client(transport=self._transport, auth_type="external-browser") as http:
            endpoints = await self._endpoints.get(http)
            return await request_token(
                http, endpoints.token_endpoint, "refresh_token", clock=self._clock,
                host=self.identity.host, relogin_hint=self._hint, client_id=self.identity.client_id,
                client_secret=secret, client_auth_method="client_secret_post" if secret else "none",
                previous_refresh_token=refresh_token, refresh_token=refresh_token)


def _expiry_epoch(expiry: object) -> float | None:
    if not isinstance(expiry, datetime):
        return None
    # The SDK's expiries are naive local times (it drops the offset); .timestamp() reads them so.
    return expiry.timestamp()


class SdkTokenFetcher:
    """Tokens from the Databricks SDK's unified auth (``databricks.sdk.core.Config``).

    The SDK is imported lazily; its blocking calls run in a thread with ``timeout`` seconds to
    finish, and it is told to retry an unreachable host for ``retry_timeout_seconds`` only. Its
    requests name lakecode in the User-Agent (product ``lakecode``). A token the SDK cannot date
    (e.g. a PAT) is asked for again every few minutes; a rejected or stale token rebuilds the
    config, which makes the SDK fetch anew (``databricks auth token --force-refresh``).

    Args:
        config: keyword arguments for ``Config`` (``host``, ``profile``, ``config_file``,
            ``auth_type`` ...).
        clock: the wall clock.
        relogin_hint: the hint when the SDK cannot produce a token.
        timeout: seconds a single SDK call may take.
        retry_timeout_seconds: passed to the SDK.
    """

    def __init__(self, config: Mapping[str, Any], *, clock: Clock = system_clock,
                 relogin_hint: str = "", timeout: float = 30.0,
                 retry_timeout_seconds: int = DEFAULT_SDK_RETRY_TIMEOUT) -> None:
        self.config = {k: v for k, v in config.items() if v is not None}
        self._clock = clock
        self._hint = relogin_hint
        self._timeout = timeout
        self._retry_timeout = retry_timeout_seconds
        self._cfg: Any = None
        self.auth_type: str | None = None
        """The auth type the SDK settled on (e.g. ``databricks-cli``), once known."""

    def _build(self) -> Any:
        from databricks.sdk import useragent  # lazy: the SDK is slow to import
        from databricks.sdk.core import Config

        # Config() fetches host metadata before it applies its own product setting, so the
        # process-wide product makes those first calls name lakecode too.
        useragent.with_product("lakecode", __version__)
        return Config(**self.config, product="lakecode", product_version=__version__,
                      retry_timeout_seconds=self._retry_timeout, disable_async_token_refresh=True)

    def _token_from(self, cfg: Any) -> Token:
        now = self._clock.time()
        try:
            oauth = cfg.oauth_token()
        except ValueError:  # not an OAuth strategy (e.g. pat): the header is all there is
            header = cfg.authenticate().get("Authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value:
                raise AuthError(f"The Databricks SDK gave no bearer token for {self._describe()}.",
                                hint=self._hint) from None
            return Token(value, expires_at=now + _UNKNOWN_EXPIRY_TTL, obtained_at=now)
        return Token(oauth.access_token, expires_at=_expiry_epoch(oauth.expiry), obtained_at=now)

    def _describe(self) -> str:
        profile = self.config.get("profile")
        return f"profile {profile}" if profile else str(self.config.get("host", "the workspace"))

    def _get(self, rebuild: bool) -> Token:
        if rebuild or self._cfg is None:
            self._cfg = self._build()
            self.auth_type = getattr(self._cfg, "auth_type", None)
        return self._token_from(self._cfg)

    async def _call(self, rebuild: bool) -> Token:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._get, rebuild), self._timeout)
        except TimeoutError:
            raise AuthError(f"The Databricks SDK did not produce a token for {self._describe()} "
                            f"within {self._timeout:.0f} s.", hint=self._hint) from None
        except (ValueError, OSError) as exc:  # the SDK's config errors and DatabricksError
            first_line = redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise AuthError(f"Cannot sign in with {self._describe()}: {first_line}",
                            hint=self._hint) from None

    async def fetch(self, current: Token | None) -> Token:
        """A token from the SDK; a rebuilt config when ``current`` is being replaced."""
        token = await self._call(rebuild=False)
        if current is not None and token.access_token == current.access_token:
            token = await self._call(rebuild=True)
        if current is not None and token.access_token == current.access_token:
            # The SDK insists on the same token: keep it until half-way to its expiry.
            return Token(token.access_token, expires_at=token.expires_at, obtained_at=self._clock.time())
        return token
