"""The emulator's clock: real time plus an offset that tests can move forward."""

from __future__ import annotations

import threading
import time

__all__ = ["EmulatorClock"]


class EmulatorClock:
    """Wall-clock time as the emulator sees it.

    By default it follows real time; ``advance`` adds to an offset, so tokens minted by the emulator
    expire server-side exactly when a test says so, without sleeping. ``freeze`` stops it at the
    current instant (useful for byte-stable JWT ``exp`` claims).
    """

    def __init__(self, offset: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._offset = offset
        self._frozen: float | None = None

    def time(self) -> float:
        """Seconds since the epoch, as the emulator sees them."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen + self._offset
            return time.time() + self._offset

    @property
    def offset(self) -> float:
        """Seconds this clock is ahead of real time (ignoring a freeze)."""
        return self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (negative moves it back)."""
        with self._lock:
            self._offset += seconds

    def freeze(self) -> None:
        """Stop the clock at the current instant; ``advance`` still moves it."""
        with self._lock:
            if self._frozen is None:
                self._frozen = time.time()

    def unfreeze(self) -> None:
        """Let the clock follow real time again (keeping the offset)."""
        with self._lock:
            self._frozen = None
