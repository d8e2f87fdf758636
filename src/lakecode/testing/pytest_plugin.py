"""pytest fixtures for the workspace emulator.

Register with ``pytest_plugins = ["lakecode.testing.pytest_plugin"]`` in a ``conftest.py``.

Fixtures:
    emulator: a running ``Emulator`` with fresh state for each test. One server is shared by the
        session and ``reset()`` before every test (new credentials, tokens, faults, logs and
        queue), so nothing leaks between tests and no test pays for a server start. Configure it
        with the marker ``@pytest.mark.emulator_config(token_ttl=60, strict=False, ...)``
        (any ``EmulatorConfig`` field except ``host``/``port``).
    emulator_factory: ``make(config=None, **overrides) -> Emulator`` starting dedicated servers,
        stopped at the end of the test (for several workspaces at once, or a fixed port).

Tip: give httpx clients ``verify=False`` (the emulator speaks plain HTTP on loopback): building
httpx's default SSL context loads the CA bundle and costs ~80 ms per client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lakecode.emulator import Emulator, EmulatorConfig

__all__ = ["emulator", "emulator_factory"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "emulator_config(**fields): EmulatorConfig fields for the `emulator` fixture",
    )


@pytest.fixture(scope="session")
def _lakecode_emulator_server() -> Iterator[Emulator]:
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator(request: pytest.FixtureRequest, _lakecode_emulator_server: Emulator) -> Iterator[Emulator]:
    """A running emulator with fresh state (see the module docstring)."""
    marker = request.node.get_closest_marker("emulator_config")
    fields: dict[str, Any] = dict(marker.kwargs) if marker else {}
    emu = _lakecode_emulator_server
    emu.reset(EmulatorConfig(**fields))
    try:
        yield emu
    finally:
        emu.reset(EmulatorConfig())


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """Start dedicated emulators; all are stopped when the test ends."""
    started: list[Emulator] = []

    def make(config: EmulatorConfig | None = None, **overrides: Any) -> Emulator:
        emu = Emulator(config, **overrides).start()
        started.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in started:
            emu.stop()
