"""Throwaway virtual environments for the alternatives, under ``bench/.envs/`` (gitignored).

LiteLLM and the openai client are measured, never depended on: each gets its own venv, made
with the interpreter running the bench and filled from PyPI with pip. A finished env carries a
``.ready`` marker with the installed version, so later runs reuse it.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENVS_DIR", "ThrowawayEnv", "ensure_env"]

ENVS_DIR = Path(__file__).resolve().parent / ".envs"


@dataclass(frozen=True)
class ThrowawayEnv:
    """A ready env: its interpreter and the version of the package installed in it."""

    name: str
    python: Path
    version: str


def ensure_env(package: str, *, install: bool = True) -> ThrowawayEnv | None:
    """The env for ``package`` (created and installed when missing and ``install``), or None
    when it cannot be had (no network, a failed install); the reason is printed to stderr."""
    root = ENVS_DIR / package
    python = root / "bin" / "python"
    marker = root / ".ready"
    if marker.is_file() and python.exists():
        return ThrowawayEnv(package, python, marker.read_text().strip())
    if not install:
        print(f"[bench] no env for {package} (run without --no-install to create it)", file=sys.stderr)
        return None
    print(f"[bench] installing {package} into {root} ...", file=sys.stderr)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           package], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        print(f"[bench] {package} did not install: {' | '.join(tail)}", file=sys.stderr)
        return None
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    probe = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=300)
    version = probe.stdout.strip() or "?"
    marker.write_text(version + "\n")
    return ThrowawayEnv(package, python, version)
