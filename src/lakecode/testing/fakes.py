"""Fakes shipped for tests (ours and users'): a controllable clock."""

from __future__ import annotations

import asyncio

__all__ = ["FakeClock"]


class FakeClock:
    """A clock that only moves when told to.

    ``sleep`` advances the clock by the requested time instead of waiting (after yielding to the
    event loop once), so code with backoff and expiry runs instantly and deterministically.
    ``sleeps`` records every requested sleep for assertions.
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self._wall += seconds
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
