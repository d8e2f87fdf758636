"""The name lakecode gives itself in the commands it suggests (they must work when pasted)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lakecode.cli.program import program_name


def _script(directory: Path) -> Path:
    directory.mkdir(parents=True)
    script = directory / "lakecode"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    return script


def test_on_path_it_is_just_lakecode(tmp_path: Path) -> None:
    script = _script(tmp_path / "bin")
    assert program_name(str(script), path=str(script.parent)) == "lakecode"


def test_not_on_path_it_is_the_path_it_was_started_by(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    script = _script(tmp_path / "proj" / ".venv" / "bin")
    monkeypatch.chdir(tmp_path / "proj")
    assert program_name(".venv/bin/lakecode", path="/nonexistent") == ".venv/bin/lakecode"
    assert program_name(str(script), path="/nonexistent") == ".venv/bin/lakecode"
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path / "other")  # outside the project: the absolute path
    assert program_name(str(script), path="/nonexistent") == str(script)


def test_another_lakecode_on_path_is_not_the_one_running(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    running = _script(tmp_path / "venv" / "bin")
    other = _script(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path)
    assert program_name(str(running), path=str(other.parent)) == os.path.join("venv", "bin", "lakecode")


def test_started_as_a_module_it_is_python_dash_m() -> None:
    assert program_name("/x/lakecode/__main__.py") == f"{sys.executable} -m lakecode"
