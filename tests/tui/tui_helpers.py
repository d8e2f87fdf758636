"""Helpers for the TUI tests: wait for conditions, reach the settings screen, fill forms."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, RadioButton

from lakecode.tui.screens.settings import SettingsScreen

SIZE = (120, 40)


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0,
                   what: str = "condition") -> None:
    """Let the app run until ``predicate()`` is true (fails the test after ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def settings_screen(pilot: Pilot[Any]) -> SettingsScreen:
    """Wait for the settings screen to be on top and ready."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, SettingsScreen)
                   and pilot.app.screen._ready, what="the settings screen")
    screen = pilot.app.screen
    assert isinstance(screen, SettingsScreen)
    return screen


async def choose_method(pilot: Pilot[Any], screen: SettingsScreen, method: str) -> None:
    """Press the radio button of a sign-in method."""
    screen.query_one(f"#method-{method}", RadioButton).value = True
    await pilot.pause()


def fill(screen: SettingsScreen, **values: str) -> None:
    """Set inputs by id."""
    for widget_id, value in values.items():
        screen.query_one(f"#{widget_id}", Input).value = value


def mode(path: Path) -> int:
    """A file's permission bits."""
    return path.stat().st_mode & 0o777
