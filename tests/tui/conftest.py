"""Fixtures for the TUI tests: the app on hermetic, injectable services."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from lakecode.tui.app import LakecodeApp
from lakecode.tui.services import Services


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory for the agent."""
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def make_app(project: Path) -> Callable[..., LakecodeApp]:
    """``make_app(environ=None, **services)``: the app on hermetic services."""

    def make(environ: Mapping[str, str] | None = None, **kwargs: Any) -> LakecodeApp:
        env = dict(os.environ)
        env.update(environ or {})
        kwargs.setdefault("cwd", project)
        return LakecodeApp(Services(environ=env, **kwargs))

    return make
