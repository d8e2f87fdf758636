"""Per-request overhead: the same chat turns through lakecode, bare httpx, openai and LiteLLM.

The emulator runs in its own process; each client runs in its own driver process
(``bench/_driver.py``, under its throwaway env's interpreter), so nobody shares a GIL. Every
driver sends the same turn (a system and a user message, ``max_tokens`` 256) to the same eight
endpoints round robin, non-streaming and streaming (~25 SSE chunks), at concurrency 1, 8 and 32.
Rounds interleave the contenders in rotating order.

Two figures per case: the median **latency** of a turn (what a user waits; bounded below by the
emulator, which is shared) and the driver process's **CPU time per turn** (the client's own
cost; robust to machine noise because a waiting process burns none). lakecode caps requests in
flight per endpoint at 4 (F22); eight endpoints keep the cap from binding at concurrency 32, so
the contenders do the same work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from bench._emulator import EmulatorProcess
from bench._envs import ThrowawayEnv
from bench._report import Row, median

__all__ = ["Driver", "run"]

DRIVER = Path(__file__).resolve().parent / "_driver.py"
CONCURRENCY = (1, 8, 32)
ENDPOINTS = 8


class Driver:
    """One driver process (see ``bench/_driver.py``): send a command, read its JSON answer."""

    def __init__(self, client: str, python: Path | str, emu: EmulatorProcess, models: list[str], *,
                 auth: str = "pat") -> None:
        self.client = client
        argv = [str(python), str(DRIVER), "--client", client, "--url", emu.url, "--models",
                ",".join(models), "--auth", auth, "--pat", emu.pat, "--client-id", emu.client_id,
                "--client-secret", emu.client_secret]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "LLM_", "OPENAI_"))}
        # lakecode's discovery cache and route memory go to a throwaway home, never the user's.
        self._home = tempfile.TemporaryDirectory(prefix="lakecode-bench-")
        env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LAKECODE_HOME=self._home.name,
                   DATABRICKS_CONFIG_FILE=os.path.join(self._home.name, "databrickscfg"))
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                      env=env)
        self._read()  # {"ready": ...}

    @property
    def pid(self) -> int:
        """The driver's process id."""
        return self._proc.pid

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.client} driver exited (code {self._proc.poll()})")
        data: dict[str, Any] = json.loads(line)
        return data

    def ask(self, **cmd: Any) -> dict[str, Any]:
        """Send one command and wait for its result."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(cmd) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def __enter__(self) -> Driver:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._proc.poll() is None and self._proc.stdin is not None:
                self._proc.stdin.write('{"cmd": "quit"}\n')
                self._proc.stdin.flush()
            self._proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self._home.cleanup()


def contenders(envs: dict[str, ThrowawayEnv]) -> dict[str, Path | str]:
    """Client name -> the interpreter its driver runs under."""
    out: dict[str, Path | str] = {"lakecode": sys.executable, "httpx": sys.executable}
    for name in ("openai", "litellm"):
        if name in envs:
            out[name] = envs[name].python
    return out


def _batch(concurrency: int, quick: bool) -> int:
    return {1: 20, 8: 64, 32: 128}[concurrency] if quick else {1: 60, 8: 200, 32: 400}[concurrency]


def run(envs: dict[str, ThrowawayEnv], *, rounds: int, quick: bool) -> tuple[list[Row], list[str]]:
    """Measure; returns the rows and notes."""
    rows: list[Row] = []
    notes: list[str] = []
    with EmulatorProcess(synthetic=ENDPOINTS) as emu:
        models = emu.synthetic_models(ENDPOINTS)
        drivers = [Driver(name, python, emu, models) for name, python in contenders(envs).items()]
        try:
            for d in drivers:  # warm up: imports, discovery, connection pools
                for stream in (False, True):
                    result = d.ask(cmd="load", stream=stream, concurrency=32, requests=64)
                    if result["errors"]:
                        notes.append(f"per-request: {d.client} warm-up errors {result['errors']}")
            for stream in (False, True):
                for conc in CONCURRENCY:
                    rows += _case(drivers, emu, stream=stream, concurrency=conc, rounds=rounds,
                                  n=_batch(conc, quick), notes=notes)
        finally:
            for d in drivers:
                d.__exit__(None, None, None)
    return rows, notes


def _case(drivers: list[Driver], emu: EmulatorProcess, *, stream: bool, concurrency: int, rounds: int,
          n: int, notes: list[str]) -> list[Row]:
    latencies: dict[str, list[float]] = {d.client: [] for d in drivers}
    cpu: dict[str, list[float]] = {d.client: [] for d in drivers}
    errors: dict[str, int] = {d.client: 0 for d in drivers}
    for r in range(rounds):
        order = drivers[r % len(drivers):] + drivers[:r % len(drivers)]
        for d in order:
            result = d.ask(cmd="load", stream=stream, concurrency=concurrency, requests=n)
            latencies[d.client] += result["latencies"]
            done = max(1, len(result["latencies"]))
            cpu[d.client].append(result["cpu"] / done)
            errors[d.client] += sum(result["errors"].values())
        emu.admin("requests", "DELETE")  # keep the emulator's request log (and memory) small
    mode = "streaming" if stream else "non-streaming"
    for name, count in errors.items():
        if count:
            notes.append(f"per-request {mode} c={concurrency}: {name} had {count} failed requests")
    lat = {k: median(v) * 1000 if v else None for k, v in latencies.items()}
    per = {k: median(v) * 1e6 if v else None for k, v in cpu.items()}
    return [Row("per-request", f"{mode}, concurrency {concurrency}: latency", "ms", lat),
            Row("per-request", f"{mode}, concurrency {concurrency}: client CPU per turn", "µs", per)]
