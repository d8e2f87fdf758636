"""Run every side-by-side benchmark and write ``bench/RESULTS.md``.

    .venv/bin/python -m bench            # everything (~10 min on 2 cores)
    .venv/bin/python -m bench --quick    # a smoke run (~3 min): fewer rounds, 15 s soak
    .venv/bin/python -m bench --only cold,memory --no-write

Sections: ``cold`` (cold start), ``overhead`` (per-request overhead), ``tokens`` (token
handling under expiry), ``discovery`` (5,000 endpoints), ``memory`` (peak RSS). LiteLLM and the
openai client are installed into ``bench/.envs/`` on first use (PyPI must be reachable; pass
``--no-install`` to skip the ones that are missing). The older single-topic benches
(``bench/catalog.py``, ``bench/transport_overhead.py``, ``bench/agent_overhead.py``) still run on
their own.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import cold_start, discovery, memory, overhead, token_expiry
from bench._envs import ThrowawayEnv, ensure_env
from bench._report import Row, machine, render_markdown
from lakecode import __version__

SECTIONS = ("cold", "overhead", "tokens", "discovery", "memory")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _plan(args: argparse.Namespace, envs: dict[str, ThrowawayEnv]
          ) -> dict[str, Callable[[], tuple[list[Row], list[str]]]]:
    quick = args.quick
    return {
        "cold": lambda: cold_start.run(envs, rounds=3 if quick else 15),
        "overhead": lambda: overhead.run(envs, rounds=2 if quick else 5, quick=quick),
        "tokens": lambda: token_expiry.run(envs, seconds=15.0 if quick else 60.0),
        "discovery": lambda: discovery.run(endpoints=args.endpoints, rounds=1 if quick else 3),
        "memory": lambda: memory.run(envs, repeats=1 if quick else 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the chosen sections, print the table, write RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections ({', '.join(SECTIONS)})")
    parser.add_argument("--endpoints", type=int, default=5000, help="endpoints for the discovery section")
    parser.add_argument("--no-install", action="store_true", help="do not install missing throwaway envs")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the results")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    info = machine()
    envs: dict[str, ThrowawayEnv] = {}
    for package in ("openai", "litellm"):
        env = ensure_env(package, install=not args.no_install)
        if env is not None:
            envs[package] = env
    versions = [f"lakecode {__version__}", *(f"{e.name} {e.version}" for e in envs.values())]
    info["versions"] = ", ".join(versions)
    plan = _plan(args, envs)
    rows: list[Row] = []
    notes: list[str] = []
    started = time.perf_counter()
    for section in chosen:
        t0 = time.perf_counter()
        print(f"[bench] {section} ...", file=sys.stderr, flush=True)
        section_rows, section_notes = plan[section]()
        rows += section_rows
        notes += section_notes
        print(f"[bench] {section} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    for package in ("openai", "litellm"):
        if package not in envs:
            notes.append(f"{package} could not be installed, so it was not measured.")
    info["duration"] = f"{time.perf_counter() - started:.0f} s" + (" (--quick)" if args.quick else "")
    command = "python -m bench" + (" --quick" if args.quick else "")
    text = render_markdown(rows, info, notes, command)
    print(text)
    if not args.no_write:
        args.output.write_text(text, encoding="utf-8")
        print(f"[bench] wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
