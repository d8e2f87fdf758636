"""Time, injected: every place where time matters takes a ``Clock``.

Token expiry, TTL caches and retry backoff read time through this protocol so tests can use
``lakecode.testing.fakes.FakeClock`` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "system_clock"]


@runtime_checkable
class Clock(Protocol):
    """Wall-clock and monotonic time plus an awaitable sleep."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock: compare with token ``exp`` claims)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic clock (for durations and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock advances instead)."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


system_clock: Clock = SystemClock()
