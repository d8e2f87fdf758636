"""The UI never freezes: discovery and sign-in against a slow workspace leave the loop free.

While the workers talk to an emulator that delays every answer, ``LoopWatch`` times every callback
the event loop runs; none may hold the loop for 50 ms or more.

The machines these tests run on are shared (CI runners, developer laptops running other suites),
so a long callback can also mean the operating system ran another process in the middle of it.
``LoopWatch`` tells the two apart with the main thread's own accounting: when the thread was not
involuntarily preempted during a callback, its whole wall-clock duration counts (a blocking
call, a synchronous request, waiting for the GIL held by one of our threads all show up); when it
was preempted, only the CPU time the callback used counts. A probe task that sleeps 5 ms at a
time also checks that the loop kept ticking all along.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import resource
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from test_tui_signin import authorize
from textual.widgets import Button
from tui_helpers import SIZE, choose_method, fill, settings_screen

from lakecode.emulator import Emulator
from lakecode.tui.app import LakecodeApp
from lakecode.tui.screens.login import LoginScreen
from lakecode.tui.screens.settings import SettingsScreen
from lakecode.tui.widgets.model_list import ModelPicker

MAX_BLOCK = 0.050
SLOW = 0.6


def _preemptions() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nivcsw


def _where(handle: Any) -> str:
    """Where a task's coroutine is suspended (for naming a slow step)."""
    task = getattr(getattr(handle, "_callback", None), "__self__", None)
    coro = task.get_coro() if isinstance(task, asyncio.Task) else None
    frames = []
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        frame = coro.cr_frame
        frames.append(f"{frame.f_code.co_qualname}:{frame.f_lineno}")
        coro = coro.cr_await
    return " > ".join(frames[-3:]) or "?"


class LoopWatch:
    """Times every callback of the running loop while active (see the module docstring).

    Attributes:
        longest: the longest time one callback held the loop, seconds.
        culprit: that callback's repr.
        ticks: how often the 5 ms probe task woke up.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.longest = 0.0
        self.culprit = ""
        self.ticks = 0
        self._monkeypatch = monkeypatch
        self._probe: asyncio.Task[None] | None = None

    def _timed(self, original: Callable[[Any], None]) -> Callable[[Any], None]:
        watch = self

        def run(handle: Any) -> None:
            before = _where(handle)
            started, cpu, preempted = time.perf_counter(), time.thread_time(), _preemptions()
            try:
                original(handle)
            finally:
                wall = time.perf_counter() - started
                held = wall if _preemptions() == preempted else time.thread_time() - cpu
                if held > watch.longest:
                    watch.longest = held
                    watch.culprit = f"{repr(handle)[:120]} from {before} to {_where(handle)}"

        return run

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.ticks += 1

    def __enter__(self) -> LoopWatch:
        self._monkeypatch.setattr(asyncio.events.Handle, "_run",
                                  self._timed(asyncio.events.Handle._run))
        self._probe = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._probe is not None
        self._probe.cancel()
        self._monkeypatch.undo()

    def check(self) -> None:
        """Fail when a callback held the loop for too long."""
        print(f"longest callback: {self.longest * 1000:.1f} ms ({self.culprit})")
        assert self.longest < MAX_BLOCK, (f"a callback held the event loop for {self.longest * 1000:.0f} ms: "
                                          f"{self.culprit}")


async def until(predicate: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait for ``predicate`` with plain sleeps (the app repaints on its own schedule)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _settled(pilot, screen: SettingsScreen) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.2)


async def test_discovery_against_a_slow_workspace_never_blocks_the_loop(
        make_app: Callable[..., LakecodeApp], emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.faults.add(kind="delay", delay=SLOW, count=None)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        await choose_method(pilot, screen, "pat")
        await _settled(pilot, screen)
        picker = screen.query_one(ModelPicker)
        with LoopWatch(monkeypatch) as watch:
            fill(screen, host=emulator.url, pat=emulator.pat)
            await until(lambda: "Loading models" in picker.status)
            await until(lambda: "models loaded" in picker.status)
            screen.action_refresh_models()
            await until(lambda: "Loading models" in picker.status)
            await until(lambda: "models loaded" in picker.status)
        assert watch.ticks > 100  # the workers really took their time (> 2 x SLOW)
        watch.check()


async def test_sign_in_against_a_slow_workspace_never_blocks_the_loop(
        make_app: Callable[..., LakecodeApp], emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await settings_screen(pilot)
        fill(screen, host=emulator.url)
        await _settled(pilot, screen)
        emulator.faults.add(kind="delay", delay=SLOW, count=None)
        browser = httpx.AsyncClient(timeout=20)  # built before measuring: it is the test's, not the app's
        screen.query_one("#signin-start", Button).press()
        await until(lambda: isinstance(app.screen, LoginScreen))
        login = app.screen
        assert isinstance(login, LoginScreen)
        await pilot.pause(0.1)  # the dialog's first paint is a screen change, not sign-in work
        with LoopWatch(monkeypatch) as watch:
            await until(lambda: login.panel.authorize_url)
            async with browser:
                await browser.get(await authorize(login.panel.authorize_url, browser))
            await until(lambda: login.outcome is not None)
        assert login.outcome is not None and login.outcome.ok, login.outcome
        assert watch.ticks > 150  # discovery, exchange and verification each waited SLOW s
        watch.check()
