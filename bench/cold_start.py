"""Cold start: how long until each tool can do anything, as a fresh process.

``lakecode --version`` and ``lakecode run --help`` (the console script in this venv) against
``python -c "import litellm"`` and ``python -c "import openai"`` in their throwaway envs, with
``python -c pass`` as the interpreter's own floor. Every round runs each command once in a
shuffled order; two warm-up rounds (bytecode compiled, files in the page cache) are not counted.
LiteLLM is told to use its bundled model-cost map (``LITELLM_LOCAL_MODEL_COST_MAP=True``) so the
figure measures the import, not a download.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

from bench._envs import ThrowawayEnv
from bench._report import Row, median

__all__ = ["run"]


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(envs: dict[str, ThrowawayEnv], *, rounds: int) -> tuple[list[Row], list[str]]:
    """Measure; returns the rows and notes."""
    script = str(Path(sys.executable).parent / "lakecode")
    commands: dict[str, list[str]] = {
        "lakecode --version": [script, "--version"],
        "lakecode run --help": [script, "run", "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    for name in ("litellm", "openai"):
        if name in envs:
            commands[f"import {name}"] = [str(envs[name].python), "-c", f"import {name}"]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    times: dict[str, list[float]] = {name: [] for name in commands}
    rng = random.Random(7)
    for i in range(rounds + 2):
        order = list(commands)
        rng.shuffle(order)
        for name in order:
            elapsed = _time(commands[name], env)
            if i >= 2:
                times[name].append(elapsed)
    ms = {name: median(values) * 1000 for name, values in times.items()}
    alternatives: dict[str, float | None] = {
        "openai": ms.get("import openai"), "litellm": ms.get("import litellm")}
    rows = [
        Row("cold start", "`lakecode --version` vs `import <client>`", "ms",
            {"lakecode": ms["lakecode --version"], **alternatives}),
        Row("cold start", "`lakecode run --help` vs `import <client>`", "ms",
            {"lakecode": ms["lakecode run --help"], **alternatives}),
    ]
    notes = [f"cold start: `python -c pass` alone takes {ms['python -c pass']:.0f} ms here (included in "
             f"every figure); {rounds} counted rounds, shuffled order."]
    return rows, notes
