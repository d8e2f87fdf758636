"""Catalog benchmarks: classification cost, and time to a usable model list on a big workspace.

Run: ``.venv/bin/python bench/catalog.py [--endpoints 5000] [--classify 2000]``

Prints:

* merge + classify of N discovered endpoints (two sources each, as the serving-endpoints and
  foundation-models listings give them) - the budget is 50 ms for 2,000;
* time to the first usable list against the workspace emulator with M synthetic endpoints:
  cold (nothing cached), warm from the disk cache (a second ``lakecode models`` process) and
  warm in memory (the settings screen reopening in the same process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import httpx

from lakecode.databricks.catalog import cache as cache_module
from lakecode.databricks.catalog.cache import CatalogCache
from lakecode.databricks.catalog.classify import classify_record, sort_key
from lakecode.databricks.catalog.curated import load_curated
from lakecode.databricks.catalog.records import merge_records
from lakecode.databricks.catalog.service import CatalogService
from lakecode.databricks.catalog.sources import parse_endpoint_list


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def _listing(n: int) -> tuple[dict[str, object], dict[str, object]]:
    families = ["claude-sonnet", "gpt", "gemini", "meta-llama", "gpt-oss", "qwen"]
    plain, foundation = [], []
    for i in range(n):
        name = f"databricks-{families[i % len(families)]}-{i:05d}"
        plain.append({"name": name, "task": "llm/v1/chat", "endpoint_type": "FOUNDATION_MODEL_API",
                      "state": {"ready": "READY"}, "capabilities": {"function_calling": i % 3 == 0}})
        foundation.append({"name": name, "config": {"served_entities": [{"foundation_model": {
            "name": name, "display_name": name.title(), "api_types": ["mlflow/v1/chat/completions"],
            "ai_gateway_v2_supported": i % 2 == 0}}]}})
    return {"endpoints": plain}, {"endpoints": foundation}


def bench_classify(n: int, rounds: int = 15) -> None:
    plain, foundation = _listing(n)
    a = parse_endpoint_list(plain)
    b = parse_endpoint_list(foundation, "foundation-models")
    curated = load_curated()
    times, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.thread_time()
        merged = merge_records([a, b])
        infos = sorted((classify_record(r, curated) for r in merged), key=sort_key)
        times.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    assert len(infos) == n
    parse_start = time.perf_counter()
    parse_endpoint_list(plain)
    parse_endpoint_list(foundation, "foundation-models")
    parse = time.perf_counter() - parse_start
    print(f"merge + classify {n} endpoints: best {min(times) * 1000:.1f} ms, "
          f"median {statistics.median(times) * 1000:.1f} ms wall; best {min(cpu) * 1000:.1f} ms CPU "
          f"(budget 50 ms); parsing both listings {parse * 1000:.1f} ms")


@contextlib.contextmanager
def _emulator_process(n: int) -> Iterator[dict[str, str]]:
    """The emulator in its own process (like a real workspace: no GIL shared with the client)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakecode", "emulator", "--port", "0", "--json",
         "--synthetic-endpoints", str(n)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _first_list(url: str, pat: str, cache_dir: Path) -> tuple[float, int]:
    """Seconds from a new catalog service to its listing (HTTP client set-up excluded)."""
    async with httpx.AsyncClient(base_url=url, auth=_Bearer(pat), follow_redirects=False,
                                 timeout=60.0) as client:
        start = time.perf_counter()
        service = CatalogService(client, host=url, identity="bench", cache=CatalogCache(cache_dir))
        result = await service.catalog()
        elapsed = time.perf_counter() - start
    return elapsed, len(result.listing().models)


def _cli_process(url: str, pat: str, home: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "LLM_"))}
    env.update(DATABRICKS_HOST=url, DATABRICKS_TOKEN=pat, LAKECODE_HOME=str(home),
               DATABRICKS_CONFIG_FILE=str(home / "databrickscfg"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lakecode", "models", "--json"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_emulator(n: int) -> None:
    with _emulator_process(n) as emu, tempfile.TemporaryDirectory() as tmp:
        url, pat = emu["url"], emu["pat"]
        first, count = asyncio.run(_first_list(url, pat, Path(tmp) / "a"))
        cold, _ = asyncio.run(_first_list(url, pat, Path(tmp) / "b"))
        cache_module._shared.clear()  # a new process: only the disk cache remains
        warm_disk, _ = asyncio.run(_first_list(url, pat, Path(tmp) / "b"))
        warm_memory, _ = asyncio.run(_first_list(url, pat, Path(tmp) / "b"))
        home = Path(tmp) / "home"
        cli_cold = _cli_process(url, pat, home)
        cli_warm = _cli_process(url, pat, home)
    print(f"first usable list, emulator with {n} synthetic endpoints ({count} chat models), "
          "emulator in its own process:")
    print(f"  cold, emulator's first render:  {first * 1000:.0f} ms")
    print(f"  cold (discovery over HTTP):     {cold * 1000:.0f} ms")
    print(f"  warm (disk cache, new process): {warm_disk * 1000:.0f} ms")
    print(f"  warm (in memory, same process): {warm_memory * 1000:.1f} ms")
    print(f"  `lakecode models --json` process: cold {cli_cold * 1000:.0f} ms, "
          f"warm {cli_warm * 1000:.0f} ms (interpreter start-up included)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--classify", type=int, default=2000, help="endpoints to classify")
    parser.add_argument("--endpoints", type=int, default=5000, help="synthetic emulator endpoints")
    args = parser.parse_args(argv)
    bench_classify(args.classify)
    bench_emulator(args.endpoints)
    return 0


if __name__ == "__main__":
    sys.exit(main())
