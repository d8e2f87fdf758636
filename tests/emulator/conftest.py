"""Shared fixtures for the emulator tests: httpx clients on the emulator.

``verify=False`` is not about security (the emulator speaks plain HTTP on loopback): building
httpx's default SSL context loads the CA bundle and costs ~80 ms per client.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lakecode.emulator import Emulator


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    """An httpx client on the emulator with ``Authorization: Bearer <PAT>``."""
    with httpx.Client(
        base_url=emulator.url, headers={"Authorization": f"Bearer {emulator.pat}"}, timeout=10, verify=False
    ) as c:
        yield c


@pytest.fixture
def anon(emulator: Emulator) -> Iterator[httpx.Client]:
    """An httpx client on the emulator without credentials (and without following redirects)."""
    with httpx.Client(base_url=emulator.url, timeout=10, verify=False) as c:
        yield c
