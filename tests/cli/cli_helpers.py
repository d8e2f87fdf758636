"""Helpers for driving the ``lakecode`` command as a subprocess against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from lakecode.emulator import Emulator

MODEL = "databricks-claude-sonnet-4-5"


def base_env(**extra: str) -> dict[str, str]:
    """The hermetic test environment (HOME, LAKECODE_HOME... set by ``hermetic_env``) plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


def emulator_env(emu: Emulator, **extra: str) -> dict[str, str]:
    """Environment-only configuration for the emulator: host, PAT and a ``databricks/`` model."""
    return base_env(**{"DATABRICKS_HOST": emu.url, "DATABRICKS_TOKEN": emu.pat,
                       "LLM_MODEL": f"databricks/{MODEL}", **extra})


def lakecode(*args: str, env: Mapping[str, str], cwd: Path, stdin: str = "",
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lakecode ARGS`` to completion (stdin is a pipe: never a terminal)."""
    return subprocess.run([sys.executable, "-m", "lakecode", *args], env=dict(env), cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)


def lakecode_popen(*args: str, env: Mapping[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -m lakecode ARGS`` with piped stdin/stdout/stderr."""
    return subprocess.Popen([sys.executable, "-m", "lakecode", *args], env=dict(env), cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@cache
def event_schema() -> dict[str, Any]:
    """The shipped JSON Schema of ``lakecode run --json`` lines."""
    text = resources.files("lakecode.cli").joinpath("run_events.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def parse_events(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line as a JSON object, each validated against the schema."""
    validator = jsonschema.Draft202012Validator(event_schema())
    events = []
    for line in stdout.splitlines():
        event = json.loads(line)
        validator.validate(event)
        events.append(event)
    return events


def conversation_files(home: Path) -> list[Path]:
    """The saved conversations under a lakecode home."""
    return sorted((home / "conversations").glob("*.jsonl"))


def load_conversation(path: Path) -> list[dict[str, Any]]:
    """The ``message`` lines of a saved conversation, as dicts."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [line["message"] for line in lines if line["type"] == "message"]


def assert_calls_paired(messages: Iterable[dict[str, Any]]) -> None:
    """Every tool call in a saved conversation has exactly one result."""
    history = list(messages)
    calls = [c["id"] for m in history for c in m.get("tool_calls", ())]
    results = [m["tool_call_id"] for m in history if m["role"] == "tool"]
    assert sorted(calls) == sorted(results), (calls, results)


def assert_no_secret(secrets: Iterable[str], *, texts: Iterable[str] = (),
                     trees: Iterable[Path] = ()) -> None:
    """None of ``secrets`` appears in ``texts`` or in any file under ``trees``."""
    secrets = [s for s in secrets if s]
    assert secrets
    for text in texts:
        for secret in secrets:
            assert secret not in text
    for tree in trees:
        for path in tree.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in data, f"{secret[:6]}... found in {path}"
