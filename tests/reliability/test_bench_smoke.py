"""The side-by-side benchmarks stay importable and their report renders (they are not run here)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODULES = ["bench.__main__", "bench._driver", "bench._emulator", "bench._envs", "bench._report",
           "bench.cold_start", "bench.overhead", "bench.token_expiry", "bench.discovery", "bench.memory"]


@pytest.mark.parametrize("name", MODULES)
def test_bench_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__


def test_ratios_and_markdown() -> None:
    from bench._report import Row, render_markdown

    row = Row("per-request", "latency", "ms", {"lakecode": 2.0, "httpx": 1.0, "litellm": 8.0, "openai": None})
    assert row.ratios() == "2.00× httpx, 0.25× litellm"
    text = render_markdown([row], {"CPU": "test"}, ["a note"], "python -m bench")
    assert "| per-request | latency | ms | 2 | 1 | n/a | 8 | 2.00× httpx, 0.25× litellm |" in text
    assert "- **CPU**: test" in text and "- a note" in text


def test_bench_cli_rejects_unknown_sections(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import main

    with pytest.raises(SystemExit) as exc:
        main(["--only", "nope", "--no-install", "--no-write"])
    assert exc.value.code == 2
    assert "unknown section" in capsys.readouterr().err
