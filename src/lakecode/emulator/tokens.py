"""Credentials the emulator issues and checks: PATs, OAuth access and refresh tokens, auth codes.

Access tokens are JWT-shaped (``header.payload.signature``, base64url, with ``exp``, ``iat``,
``scope``, ``sub`` and ``client_id`` claims) and expire server-side on the emulator clock. The
signature is random bytes: clients must treat tokens as opaque, as they should with the real
service. Nothing here ever logs a token; ``token_id`` gives a short non-secret handle.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Literal, TypeAlias

from lakecode.emulator.clock import EmulatorClock

__all__ = [
    "AuthCode",
    "TokenRecord",
    "TokenState",
    "TokenStore",
    "new_client_id",
    "new_client_secret",
    "new_pat",
    "token_id",
]

TokenState: TypeAlias = Literal["ok", "expired", "revoked", "unknown"]
CODE_TTL = 600.0


def token_id(token: str) -> str:
    """A short, non-secret handle for a token (the first 12 hex digits of its SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def new_pat() -> str:
    """A PAT in the Databricks shape: ``dapi`` + 32 hex digits."""
    return "dapi" + secrets.token_hex(16)


def new_client_id() -> str:
    """A service-principal application id (a UUID)."""
    return str(uuid.uuid4())


def new_client_secret() -> str:
    """An OAuth secret in the Databricks shape (``dose`` + 32 hex digits)."""
    return "dose" + secrets.token_hex(16)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRecord:
    """What the emulator knows about an issued credential."""

    kind: Literal["pat", "oauth"]
    subject: str
    client_id: str | None
    scope: str
    expires_at: float | None
    revoked: bool = False


@dataclass
class AuthCode:
    """An authorization code waiting to be exchanged."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    expires_at: float
    used: bool = False


@dataclass
class _Refresh:
    client_id: str
    scope: str
    subject: str
    valid: bool = True


class TokenStore:
    """Every credential the emulator has issued, with server-side expiry. Thread-safe."""

    def __init__(self, clock: EmulatorClock, issuer: str = "") -> None:
        self.clock = clock
        self.issuer = issuer
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenRecord] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._codes: dict[str, AuthCode] = {}

    # --- PATs and access tokens ---------------------------------------------------------------

    def add_pat(self, pat: str, subject: str = "emulator-user@example.com") -> None:
        """Register a PAT (no expiry)."""
        with self._lock:
            self._tokens[pat] = TokenRecord("pat", subject, None, "all-apis", None)

    def mint_access(self, client_id: str, scope: str, subject: str, ttl: float) -> str:
        """Issue a JWT-shaped access token valid for ``ttl`` seconds of emulator time."""
        now = int(self.clock.time())
        exp = now + int(ttl)
        header = {"alg": "RS256", "kid": "emulator-1", "typ": "JWT"}
        payload = {
            "iss": self.issuer,
            "sub": subject,
            "aud": client_id,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": uuid.uuid4().hex,
        }
        token = ".".join(
            (
                _b64(json.dumps(header, separators=(",", ":")).encode()),
                _b64(json.dumps(payload, separators=(",", ":")).encode()),
                _b64(secrets.token_bytes(32)),
            )
        )
        with self._lock:
            self._tokens[token] = TokenRecord("oauth", subject, client_id, scope, now + ttl)
        return token

    def check(self, token: str) -> TokenState:
        """Whether a presented token is valid now."""
        with self._lock:
            record = self._tokens.get(token)
        if record is None:
            return "unknown"
        if record.revoked:
            return "revoked"
        if record.expires_at is not None and self.clock.time() >= record.expires_at:
            return "expired"
        return "ok"

    def record(self, token: str) -> TokenRecord | None:
        """The record of an issued token, or None."""
        with self._lock:
            return self._tokens.get(token)

    def expire_all(self, include_pats: bool = False) -> int:
        """Expire every OAuth access token now (and PATs too when asked); returns how many."""
        now = self.clock.time()
        n = 0
        with self._lock:
            for record in self._tokens.values():
                if record.kind == "oauth" or include_pats:
                    record.expires_at = now
                    n += 1
        return n

    def revoke(self, token: str) -> bool:
        """Revoke one access token, PAT or refresh token; False when unknown."""
        with self._lock:
            if token in self._tokens:
                self._tokens[token].revoked = True
                return True
            if token in self._refresh:
                self._refresh[token].valid = False
                return True
        return False

    def access_tokens(self) -> int:
        """How many OAuth access tokens were issued."""
        with self._lock:
            return sum(1 for r in self._tokens.values() if r.kind == "oauth")

    # --- refresh tokens -----------------------------------------------------------------------

    def mint_refresh(self, client_id: str, scope: str, subject: str) -> str:
        """Issue a refresh token."""
        rt = "doau" + secrets.token_hex(24)
        with self._lock:
            self._refresh[rt] = _Refresh(client_id, scope, subject)
        return rt

    def use_refresh(self, rt: str, client_id: str, rotate: bool) -> _Refresh | None:
        """Validate a refresh token for ``client_id``; invalidate it when rotating."""
        with self._lock:
            entry = self._refresh.get(rt)
            if entry is None or not entry.valid or entry.client_id != client_id:
                return None
            if rotate:
                entry.valid = False
            return entry

    # --- authorization codes ------------------------------------------------------------------

    def issue_code(self, client_id: str, redirect_uri: str, code_challenge: str, scope: str) -> str:
        """Issue a single-use authorization code (valid ten minutes)."""
        code = "dcode" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = AuthCode(
                client_id, redirect_uri, code_challenge, scope, self.clock.time() + CODE_TTL
            )
        return code

    def redeem_code(self, code: str) -> AuthCode | None:
        """Mark a code used and return it; None when unknown, used or expired."""
        with self._lock:
            entry = self._codes.get(code)
            if entry is None or entry.used or self.clock.time() >= entry.expires_at:
                return None
            entry.used = True
            return entry
