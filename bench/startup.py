"""Start-up benchmark: how long the command line takes before it does anything useful.

Measured side by side in one run (medians of several runs, wall time):

* ``python -c pass`` - the interpreter alone, the floor;
* ``lakecode --help`` and ``lakecode run --help`` - and their difference to the floor (aim:
  under 250 ms);
* ``lakecode run -t ...`` against an in-process workspace emulator: from process start to the
  first request reaching the emulator, to the first model request, and to the exit (aim: the
  first request under 500 ms).

It also checks, with ``python -X importtime``, that the help and the headless paths import
neither Textual nor the Databricks SDK nor the emulator.

Run: ``.venv/bin/python bench/startup.py [--runs N]``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lakecode.emulator import Emulator

FORBIDDEN = ("textual", "databricks.sdk", "lakecode.emulator", "lakecode.tui", "uvicorn", "starlette")
MODEL = "databricks-claude-sonnet-4-5"


def lakecode_command() -> list[str]:
    """The installed console script next to this interpreter (what users run)."""
    script = Path(sys.executable).parent / "lakecode"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lakecode"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(command: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + sys) times in ms of ``runs`` runs of ``command``, after a warm-up."""
    times, cpu = [], []
    for i in range(runs + 1):
        cpu_before, started = _children_cpu(), time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if i:
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((_children_cpu() - cpu_before) * 1000)
    return times, cpu


def imported(args: list[str], env: dict[str, str]) -> set[str]:
    """The modules ``python -X importtime -m lakecode ARGS`` imports."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "lakecode", *args], env=env,
                            capture_output=True, text=True, check=False)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN))


def first_request(emu: Emulator, env: dict[str, str], cwd: str, runs: int, *,
                  cold: bool) -> list[tuple[float, float, float, float]]:
    """(first request, first model call, exit, CPU of the run) in ms from process start, per run.

    ``cold``: a new lakecode home per run, so model discovery is not cached and runs first;
    otherwise the home is shared and discovery comes from its 5-minute cache, as for repeated
    runs with the same credential.
    """
    out = []
    for i in range(runs + 1):
        emu.reset(pat="dapi" + "7" * 32)  # one credential: the discovery cache is keyed by it
        run_env = {**env, "DATABRICKS_TOKEN": emu.pat}
        if cold:
            run_env["LAKECODE_HOME"] = tempfile.mkdtemp(dir=cwd)
        cpu_before, started = _children_cpu(), time.time()
        subprocess.run([*lakecode_command(), "run", "-t", "hello"], env=run_env, cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        ended, cpu = time.time(), (_children_cpu() - cpu_before) * 1000
        records = emu.requests
        chat = [r.time for r in records if r.method == "POST"]
        if i and records and chat:
            out.append(((records[0].time - started) * 1000, (chat[0] - started) * 1000,
                        (ended - started) * 1000, cpu))
    return out


def row(label: str, values: tuple[list[float], list[float]] | list[float],
        floor: tuple[float, float] | None = None) -> str:
    """One line: median and min wall time, median CPU time, and the difference to the floor."""
    times, cpu = values if isinstance(values, tuple) else (values, [])
    median = statistics.median(times)
    text = f"  {label:<38} wall median {median:7.1f} ms, min {min(times):7.1f} ms"
    if cpu:
        text += f"   cpu {statistics.median(cpu):6.1f} ms"
    if floor is not None:
        extra_cpu = statistics.median(cpu) - floor[1]
        text += f"   (+{median - floor[0]:6.1f} ms wall, +{extra_cpu:6.1f} ms cpu over python)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="lakecode-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "LLM_", "LAKECODE_"))}
        env.update(LAKECODE_HOME=str(Path(tmp) / "home"), HOME=tmp, NO_COLOR="1", BROWSER="none",
                   DATABRICKS_CONFIG_FILE=str(Path(tmp) / "databrickscfg"))
        floor = wall([sys.executable, "-c", "pass"], env, runs)
        base = (statistics.median(floor[0]), statistics.median(floor[1]))
        load = os.getloadavg()[0]
        print(f"start-up, {runs} runs each (load average {load:.1f} on {os.cpu_count()} cores):")
        print(row("python -c pass", floor))
        print(row("lakecode --help", wall([*lakecode_command(), "--help"], env, runs), base))
        print(row("lakecode run --help", wall([*lakecode_command(), "run", "--help"], env, runs), base))
        with Emulator() as emu:
            emu_env = {**env, "DATABRICKS_HOST": emu.url, "LLM_MODEL": f"databricks/{MODEL}"}
            for cold in (False, True):
                timings = first_request(emu, emu_env, tmp, runs, cold=cold)
                label = "cold cache" if cold else "warm cache"
                print(row(f"run ({label}): start -> 1st request", [t[0] for t in timings]))
                print(row(f"run ({label}): start -> model call", [t[1] for t in timings]))
                print(row(f"run ({label}): whole run", ([t[2] for t in timings], [t[3] for t in timings])))
            emu.reset()
            run_modules = imported(["run", "-t", "hello"], {**emu_env, "DATABRICKS_TOKEN": emu.pat})
        help_modules = imported(["--help"], env) | imported(["run", "--help"], env)
        print("imports:")
        print(f"  --help / run --help import {len(help_modules)} modules; forbidden among them: "
              f"{forbidden(help_modules) or 'none'}")
        print(f"  a headless run imports {len(run_modules)} modules; forbidden among them: "
              f"{forbidden(run_modules) or 'none'}")


if __name__ == "__main__":
    main()
