"""Memory: peak resident set size (``ru_maxrss`` from ``wait4``) of whole processes.

* the headless demo task: ``lakecode run --yes`` with the emulator's demo prompt (FizzBuzz: five
  model turns, a plan, two files written, a test run), against the emulator in its own process;
* one streamed chat turn through each client (``bench/_driver.py --once``), lakecode next to
  bare httpx, openai and LiteLLM in their throwaway envs.

Each figure is the median of a few runs; the process tree's largest member is counted (the
test the demo runs is far smaller than lakecode itself).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._emulator import EmulatorProcess
from bench._envs import ThrowawayEnv
from bench._report import Row, median
from bench.overhead import DRIVER, contenders
from lakecode.emulator import DEMO_PROMPT

__all__ = ["peak_rss_mb", "run"]


# A tiny launcher measures the child: forking this (large) bench process directly would count
# its pages in the child's high-water mark before exec.
_LAUNCHER = ("import os, subprocess, sys\n"
             "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
             "_, status, usage = os.wait4(p.pid, 0)\n"
             "print(usage.ru_maxrss)\n"
             "sys.exit(os.waitstatus_to_exitcode(status))\n")


def peak_rss_mb(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Run ``argv`` to completion and return its peak RSS in MB (raises if it fails)."""
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {done.returncode}: {done.stderr[-400:]}")
    return int(done.stdout.strip().splitlines()[-1]) / 1024  # kilobytes on Linux


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "LLM_", "OPENAI_"))}
    env.update(HOME=str(home), LAKECODE_HOME=str(home / ".lakecode"), LITELLM_LOCAL_MODEL_COST_MAP="True",
               DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"), NO_COLOR="1")
    return env


def run(envs: dict[str, ThrowawayEnv], *, repeats: int) -> tuple[list[Row], list[str]]:
    """Measure; returns the rows and notes."""
    script = str(Path(sys.executable).parent / "lakecode")
    demo: list[float] = []
    once: dict[str, list[float]] = {}
    with EmulatorProcess(synthetic=1) as emu, tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            home = Path(tmp) / f"home-{i}"
            project = Path(tmp) / f"project-{i}"
            home.mkdir()
            project.mkdir()
            env = _clean_env(home)
            env.update(DATABRICKS_HOST=emu.url, DATABRICKS_TOKEN=emu.pat)
            demo.append(peak_rss_mb([script, "run", "--yes", "--model", "databricks-claude-sonnet-4-5",
                                     "-t", DEMO_PROMPT], env, cwd=project))
            for client, python in contenders(envs).items():
                argv = [str(python), str(DRIVER), "--client", client, "--url", emu.url, "--models",
                        "synthetic-chat-00000", "--pat", emu.pat, "--once"]
                once.setdefault(client, []).append(peak_rss_mb(argv, _clean_env(home)))
    rows = [
        Row("memory", "peak RSS, one streamed turn (whole process)", "MB",
            {c: median(v) for c, v in once.items()}),
        Row("memory", "peak RSS, headless demo task (`lakecode run`, 5 turns, tools)", "MB",
            {"lakecode": median(demo)}),
    ]
    return rows, [f"memory: medians of {repeats} runs; `ru_maxrss` of the process tree's largest member."]
