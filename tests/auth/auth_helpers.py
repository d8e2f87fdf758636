"""Shared helpers for the auth tests: JWT-shaped tokens and a counting fake fetcher."""

from __future__ import annotations

import base64
import json
import secrets

from lakecode.clock import Clock
from lakecode.databricks.auth.token_source import Token


def make_jwt(exp: float, **claims: object) -> str:
    """A JWT-shaped token with an ``exp`` claim (unsigned: clients treat it as opaque)."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = b64(json.dumps({"exp": int(exp), **claims}).encode())
    return f"{header}.{body}.{b64(secrets.token_bytes(16))}"


class CountingFetcher:
    """A TokenFetcher minting ``ttl``-second tokens on ``clock``; counts its calls."""

    def __init__(self, clock: Clock, ttl: float = 3600.0) -> None:
        self.clock = clock
        self.ttl = ttl
        self.calls = 0
        self.issued: list[str] = []

    async def fetch(self, current: Token | None) -> Token:
        self.calls += 1
        now = self.clock.time()
        value = f"tok-{self.calls}-{secrets.token_hex(8)}"
        self.issued.append(value)
        return Token(value, expires_at=now + self.ttl, obtained_at=now)


class EmulatorClockAdapter:
    """Our ``Clock`` over the emulator's clock, so client and server agree on expiry."""

    def __init__(self, emu_clock: object) -> None:
        self._emu = emu_clock

    def time(self) -> float:
        return float(self._emu.time())  # type: ignore[attr-defined]

    def monotonic(self) -> float:
        return self.time()

    async def sleep(self, seconds: float) -> None:
        self._emu.advance(seconds)  # type: ignore[attr-defined]


def free_port() -> int:
    """A TCP port free on IPv4 loopback right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
