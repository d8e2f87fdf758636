"""Tokens, and the one refreshing token source every caller gets its bearer from.

A ``TokenSource`` hands out a current ``Token`` per request; nothing copies a token into a config
object at start-up (field failure F1). ``RefreshingTokenSource`` is the only implementation the
strategies need: it wraps a ``TokenFetcher`` (PAT, client credentials, refresh-token grant, the
Databricks SDK ...) and adds

* early refresh: a token is replaced ``min(5 min, half its lifetime)`` before it expires, judged on
  the injected wall clock against the token's ``expires_in`` / JWT ``exp`` (never a sleeping
  timer, which freezes across laptop sleep);
* single flight: however many requests find the token stale at once, exactly one fetch runs
  (one ``asyncio.Lock`` per event loop; a ``threading.Lock`` for synchronous callers);
* forced refresh after a rejection: ``refresh(rejected=token)`` fetches a new token unless
  another caller already replaced the rejected one.

``TokenSourceRegistry`` (and the process-wide ``registry``) makes one identity share one source.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import threading
import weakref
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from lakecode.clock import Clock, system_clock
from lakecode.databricks.auth.identity import AuthIdentity, login_command
from lakecode.redact import register_secret

__all__ = [
    "DEFAULT_REFRESH_MARGIN",
    "RefreshingTokenSource",
    "Token",
    "TokenFetcher",
    "TokenSource",
    "TokenSourceRegistry",
    "jwt_claims",
    "registry",
]

DEFAULT_REFRESH_MARGIN = 300.0
"""Refresh this many seconds before expiry at most (the Go SDK and the CLI use 5 minutes)."""

T = TypeVar("T")


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a JWT-shaped token (unverified: for expiry and display only), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@dataclass(frozen=True, slots=True)
class Token:
    """An access token and when it stops working. Its repr never shows the secret parts.

    Attributes:
        access_token: the bearer value.
        expires_at: epoch seconds after which the token is invalid; None when it does not expire
            (a personal access token, as far as lakecode can tell).
        obtained_at: epoch seconds when it was issued or received (sets the refresh margin).
        refresh_token: the OAuth refresh token, when the grant returned one.
        token_type: always sent as ``Bearer`` (Databricks accepts nothing else on its routes).
        scopes: the scopes granted, when known.
    """

    access_token: str = field(repr=False)
    expires_at: float | None = None
    obtained_at: float | None = None
    refresh_token: str | None = field(default=None, repr=False)
    token_type: str = "Bearer"
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        register_secret(self.access_token)
        register_secret(self.refresh_token)

    def __repr__(self) -> str:
        return (f"Token(fingerprint={self.fingerprint!r}, expires_at={self.expires_at!r}, "
                f"refresh_token={'set' if self.refresh_token else None})")

    @property
    def fingerprint(self) -> str:
        """A short non-secret handle (12 hex digits of SHA-256), safe to log."""
        return hashlib.sha256(self.access_token.encode()).hexdigest()[:12]

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"Bearer {self.access_token}"

    def expires_in(self, now: float) -> float | None:
        """Seconds left at ``now``, or None when the token does not expire."""
        return None if self.expires_at is None else self.expires_at - now

    def refresh_margin(self, max_margin: float = DEFAULT_REFRESH_MARGIN) -> float:
        """How long before expiry to replace this token: ``min(max_margin, lifetime / 2)``."""
        if self.expires_at is None or self.obtained_at is None:
            return max_margin
        return max(0.0, min(max_margin, (self.expires_at - self.obtained_at) / 2))

    def is_fresh(self, now: float, max_margin: float = DEFAULT_REFRESH_MARGIN) -> bool:
        """Whether the token can still be sent at ``now`` (outside the refresh margin)."""
        if self.expires_at is None:
            return True
        return now < self.expires_at - self.refresh_margin(max_margin)

    @classmethod
    def from_oauth_response(cls, payload: Mapping[str, Any], *, now: float,
                            previous_refresh_token: str | None = None) -> Token:
        """A token from an OAuth token-endpoint answer (``expires_in`` may be a string).

        The expiry is the earlier of ``now + expires_in`` and the JWT ``exp`` claim. A refresh
        answer without a new ``refresh_token`` keeps ``previous_refresh_token``.

        Raises:
            ValueError: the payload has no ``access_token``.
        """
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("the token response has no access_token")
        candidates: list[float] = []
        expires_in = _number(payload.get("expires_in"))
        if expires_in is not None:
            candidates.append(now + expires_in)
        exp = _number((jwt_claims(access) or {}).get("exp"))
        if exp is not None:
            candidates.append(exp)
        refresh = payload.get("refresh_token")
        scope = payload.get("scope")
        return cls(
            access_token=access,
            expires_at=min(candidates) if candidates else None,
            obtained_at=now,
            refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh_token,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
        )

    def to_json(self) -> dict[str, Any]:
        """The stored form (for the token store only: it contains the secrets)."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_at": self.expires_at,
            "obtained_at": self.obtained_at,
            "scopes": list(self.scopes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Token:
        """The inverse of ``to_json``.

        Raises:
            ValueError: the data is not a stored token.
        """
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("no access_token")
        refresh = data.get("refresh_token")
        scopes = data.get("scopes") or []
        return cls(
            access_token=access,
            expires_at=_number(data.get("expires_at")),
            obtained_at=_number(data.get("obtained_at")),
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
        )


class TokenFetcher(Protocol):
    """Obtains a new token: the part each sign-in strategy implements."""

    async def fetch(self, current: Token | None) -> Token:
        """A new token. ``current`` is the token being replaced (None at first use).

        Raises:
            lakecode.errors.AuthError: no token can be had without signing in again.
            lakecode.errors.APIError: the token service failed or could not be reached.
        """
        ...


class TokenSource(Protocol):
    """Where every request gets its bearer: ``await source.token()`` per request."""

    identity: AuthIdentity
    """Whose tokens these are."""

    @property
    def relogin_hint(self) -> str:
        """What to run to sign this identity in again (for error hints)."""
        ...

    def cached(self) -> Token | None:
        """The current token without any network call (e.g. its expiry for a status bar)."""
        ...

    async def token(self) -> Token:
        """A token that is valid for at least the refresh margin (refreshing if needed)."""
        ...

    async def refresh(self, rejected: Token | None = None) -> Token:
        """A new token after ``rejected`` was refused (no fetch if another caller already
        replaced it)."""
        ...

    def token_sync(self) -> Token:
        """``token()`` for synchronous callers (not from inside a running event loop's thread)."""
        ...

    def refresh_sync(self, rejected: Token | None = None) -> Token:
        """``refresh()`` for synchronous callers."""
        ...


def _run_in_thread(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private event loop in a helper thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # handed back to the caller's thread unchanged
            box["error"] = exc

    thread = threading.Thread(target=target, name="lakecode-token-refresh", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


class RefreshingTokenSource:
    """A ``TokenSource`` over a ``TokenFetcher``: early refresh, single flight, forced refresh.

    Args:
        identity: whose tokens these are.
        fetcher: obtains new tokens.
        clock: wall clock used to judge expiry (inject a fake one in tests).
        max_margin: refresh at most this many seconds before expiry.
        initial: a token already in hand (e.g. loaded from the token store).
        relogin_hint: overrides the default ``lakecode auth login ...`` hint.
    """

    def __init__(
        self,
        identity: AuthIdentity,
        fetcher: TokenFetcher,
        *,
        clock: Clock = system_clock,
        max_margin: float = DEFAULT_REFRESH_MARGIN,
        initial: Token | None = None,
        relogin_hint: str | None = None,
    ) -> None:
        self.identity = identity
        self.fetcher = fetcher
        self._clock = clock
        self._max_margin = max_margin
        self._token = initial
        self._hint = relogin_hint
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())
        self._guard = threading.Lock()
        self._sync_lock = threading.Lock()
        self.fetch_count = 0
        """How many times the fetcher ran (for diagnostics and tests)."""

    def __repr__(self) -> str:
        return f"RefreshingTokenSource({self.identity.describe()}, token={self._token!r})"

    @property
    def relogin_hint(self) -> str:
        """What to run to sign in again."""
        if self._hint:
            return self._hint
        ident = self.identity
        return f"Run `{login_command(ident.host, ident.profile, ident.auth_type)}` to sign in again."

    def cached(self) -> Token | None:
        """The current token, without any network call."""
        return self._token

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._locks.get(loop)
            if lock is None:
                lock = self._locks[loop] = asyncio.Lock()
            return lock

    def _usable(self, token: Token | None, rejected: Token | None) -> bool:
        if token is None:
            return False
        if rejected is not None:
            return token.access_token != rejected.access_token and token.is_fresh(
                self._clock.time(), self._max_margin)
        return token.is_fresh(self._clock.time(), self._max_margin)

    async def token(self) -> Token:
        """A token valid beyond the refresh margin; at most one fetch runs at a time."""
        current = self._token
        if self._usable(current, None):
            assert current is not None
            return current
        return await self._refresh(None)

    async def refresh(self, rejected: Token | None = None) -> Token:
        """A new token to replace ``rejected`` (fetches unless it was already replaced)."""
        return await self._refresh(rejected if rejected is not None else self._token,
                                   force=rejected is None)

    async def _refresh(self, rejected: Token | None, *, force: bool = False) -> Token:
        async with self._lock():
            current = self._token
            if not force and self._usable(current, rejected):
                assert current is not None
                return current
            return await self._fetch(current)

    async def _fetch(self, current: Token | None) -> Token:
        self.fetch_count += 1
        new = await self.fetcher.fetch(current)
        self._token = new
        return new

    def token_sync(self) -> Token:
        """``token()`` for synchronous callers (e.g. an ``httpx.Client``)."""
        current = self._token
        if self._usable(current, None):
            assert current is not None
            return current
        return self.refresh_sync(None, force=False)

    def refresh_sync(self, rejected: Token | None = None, *, force: bool | None = None) -> Token:
        """``refresh()`` for synchronous callers; single flight among synchronous callers."""
        forced = rejected is None if force is None else force
        with self._sync_lock:
            current = self._token
            if not forced and self._usable(current, rejected):
                assert current is not None
                return current
            return _run_in_thread(lambda: self._fetch(current))


class TokenSourceRegistry:
    """One token source per identity in a process.

    A source is replaced when the credential behind the identity changes (``fingerprint``: e.g. a
    hash of a new personal access token), so a sign-in in the TUI takes effect at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[AuthIdentity, tuple[str | None, TokenSource]] = {}

    def get_or_create(self, identity: AuthIdentity, factory: Callable[[], TokenSource], *,
                      fingerprint: str | None = None) -> TokenSource:
        """The shared source for ``identity``, created by ``factory`` on first use."""
        with self._lock:
            entry = self._sources.get(identity)
            if entry is not None and entry[0] == fingerprint:
                return entry[1]
            source = factory()
            self._sources[identity] = (fingerprint, source)
            return source

    def fingerprint(self, identity: AuthIdentity) -> str | None:
        """The fingerprint of the credential behind ``identity``'s source (a hash of a personal
        access token or client secret; None for browser sign-ins and unknown identities)."""
        with self._lock:
            entry = self._sources.get(identity)
            return entry[0] if entry else None

    def get(self, identity: AuthIdentity) -> TokenSource | None:
        """The registered source for ``identity``, if any."""
        with self._lock:
            entry = self._sources.get(identity)
            return entry[1] if entry else None

    def discard(self, identity: AuthIdentity) -> None:
        """Forget the source for ``identity`` (after a logout or a new sign-in)."""
        with self._lock:
            self._sources.pop(identity, None)

    def discard_host(self, host: str) -> None:
        """Forget every source for ``host``."""
        with self._lock:
            for identity in [i for i in self._sources if i.host == host]:
                del self._sources[identity]

    def clear(self) -> None:
        """Forget every source (tests)."""
        with self._lock:
            self._sources.clear()


registry = TokenSourceRegistry()
"""The process-wide registry ``resolve_auth`` uses by default."""
