"""Discovery at scale: a workspace with 5,000 serving endpoints; time to a usable model list.

The emulator (own process) serves the bundled workspace plus N synthetic chat endpoints.
In process, each round (contenders in rotating order) measures:

* lakecode ``CatalogService.catalog()`` cold (empty disk cache, nothing in memory: every listing
  fetched, merged and classified), warm from the disk cache (what a new process sees), and warm
  in memory (a settings screen reopening);
* the Databricks SDK: ``WorkspaceClient(host, token).serving_endpoints.list()`` filtered to chat
  endpoints - what a script would write; it has no cache, so warm equals cold;
* bare httpx: one ``GET /api/2.0/serving-endpoints`` and ``json.loads`` (the floor).

And as whole processes: ``lakecode models --json`` cold and warm against a Python one-liner
that lists chat endpoints with the SDK. LiteLLM has no Databricks discovery to compare.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench._emulator import EmulatorProcess
from bench._report import Row, median
from bench.catalog import _Bearer
from lakecode.databricks.catalog import cache as cache_module
from lakecode.databricks.catalog.cache import CatalogCache
from lakecode.databricks.catalog.service import CatalogService

__all__ = ["run"]

_SDK_SCRIPT = ("from databricks.sdk import WorkspaceClient\n"
               "w = WorkspaceClient()\n"
               "print(sum(1 for e in w.serving_endpoints.list() if e.task == 'llm/v1/chat'))\n")


async def _lakecode(url: str, pat: str, cache_dir: Path) -> tuple[float, int]:
    async with httpx.AsyncClient(base_url=url, auth=_Bearer(pat), follow_redirects=False,
                                 timeout=120.0) as client:
        started = time.perf_counter()
        service = CatalogService(client, host=url, identity="bench", cache=CatalogCache(cache_dir))
        result = await service.catalog()
        return time.perf_counter() - started, len(result.listing().models)


def _sdk(url: str, pat: str) -> tuple[float, int]:
    from databricks.sdk import WorkspaceClient

    started = time.perf_counter()
    client = WorkspaceClient(host=url, token=pat)
    count = sum(1 for e in client.serving_endpoints.list() if e.task == "llm/v1/chat")
    return time.perf_counter() - started, count


def _httpx(url: str, pat: str) -> tuple[float, int]:
    started = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {pat}"}, timeout=120.0) as c:
        data = c.get("/api/2.0/serving-endpoints").json()
    count = sum(1 for e in data["endpoints"] if e.get("task") == "llm/v1/chat")
    return time.perf_counter() - started, count


def _process(argv: list[str], url: str, pat: str, home: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "LLM_"))}
    env.update(DATABRICKS_HOST=url, DATABRICKS_TOKEN=pat, LAKECODE_HOME=str(home), HOME=str(home),
               DATABRICKS_CONFIG_FILE=str(home / "databrickscfg"))
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def run(*, endpoints: int, rounds: int) -> tuple[list[Row], list[str]]:
    """Measure; returns the rows and notes."""
    cold: list[float] = []
    disk: list[float] = []
    memory: list[float] = []
    sdk: list[float] = []
    bare: list[float] = []
    proc: dict[str, list[float]] = {"cold": [], "warm": [], "sdk": []}
    counts: dict[str, int] = {}
    script = str(Path(sys.executable).parent / "lakecode")
    with EmulatorProcess(synthetic=endpoints) as emu, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_lakecode(emu.url, emu.pat, Path(tmp) / "warmup"))  # the emulator renders once
        for r in range(rounds):
            cache_dir = Path(tmp) / f"cache-{r}"
            steps = ["lakecode", "sdk", "httpx"]
            steps = steps[r % 3:] + steps[:r % 3]
            for step in steps:
                if step == "lakecode":
                    cache_module._shared.clear()
                    elapsed, counts["lakecode"] = asyncio.run(_lakecode(emu.url, emu.pat, cache_dir))
                    cold.append(elapsed)
                    cache_module._shared.clear()  # a new process: only the disk cache remains
                    disk.append(asyncio.run(_lakecode(emu.url, emu.pat, cache_dir))[0])
                    memory.append(asyncio.run(_lakecode(emu.url, emu.pat, cache_dir))[0])
                elif step == "sdk":
                    elapsed, counts["sdk"] = _sdk(emu.url, emu.pat)
                    sdk.append(elapsed)
                else:
                    elapsed, counts["httpx"] = _httpx(emu.url, emu.pat)
                    bare.append(elapsed)
            home = Path(tmp) / f"home-{r}"
            home.mkdir()
            proc["cold"].append(_process([script, "models", "--json"], emu.url, emu.pat, home))
            proc["sdk"].append(_process([sys.executable, "-c", _SDK_SCRIPT], emu.url, emu.pat, home))
            proc["warm"].append(_process([script, "models", "--json"], emu.url, emu.pat, home))
    ms = 1000.0
    label = f"{endpoints:,} endpoints"
    sdk_ms, bare_ms = median(sdk) * ms, median(bare) * ms
    rows = [
        Row("discovery", f"{label}: first usable list, cold", "ms",
            {"lakecode": median(cold) * ms, "httpx": bare_ms, "databricks-sdk": sdk_ms}),
        Row("discovery", f"{label}: list again, new process (disk cache)", "ms",
            {"lakecode": median(disk) * ms, "httpx": bare_ms, "databricks-sdk": sdk_ms},
            note="the others have no cache"),
        Row("discovery", f"{label}: list again, same process (memory)", "ms",
            {"lakecode": median(memory) * ms, "httpx": bare_ms, "databricks-sdk": sdk_ms}),
        Row("discovery", f"{label}: whole process, cold (`lakecode models --json`)", "ms",
            {"lakecode": median(proc["cold"]) * ms, "databricks-sdk": median(proc["sdk"]) * ms}),
        Row("discovery", f"{label}: whole process, warm cache", "ms",
            {"lakecode": median(proc["warm"]) * ms, "databricks-sdk": median(proc["sdk"]) * ms}),
    ]
    notes = [f"discovery: lakecode lists {counts.get('lakecode')} chat models (several listings merged and "
             f"classified: family, tools, route); the SDK and httpx rows only fetch and filter one listing "
             f"({counts.get('sdk')} / {counts.get('httpx')} chat endpoints). LiteLLM has no Databricks "
             "model discovery."]
    return rows, notes
