"""``lakecode demo``: the whole path against its own in-process emulator, isolated from the user."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from cli_helpers import assert_calls_paired, base_env, lakecode, load_conversation
from click.testing import CliRunner

from lakecode.cli.app import cli


def test_demo_runs_the_task_and_shows_every_section(tmp_path: Path) -> None:
    user_home = Path(os.environ["LAKECODE_HOME"])
    where = tmp_path / "demo"
    # The user's own environment must not leak into the demo (nor be changed by it).
    env = base_env(DATABRICKS_HOST="https://example.invalid", DATABRICKS_TOKEN="dapi" + "0" * 32,
                   LLM_MODEL="databricks/not-a-model")
    started = time.monotonic()
    result = lakecode("demo", "--dir", str(where), env=env, cwd=tmp_path)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert took < 15
    out = result.stdout
    for section in ("[1/5] Workspace", "[2/5] Sign-in: the browser flow", "[3/5] Models",
                    "[4/5] Task", "[5/5] Result", "Next:"):
        assert section in out
    assert "the workspace says  302 -> http://127.0.0.1:" in out and "/callback?code=…&state=…" in out
    assert "✓ signed in as emulator-user@example.com (external-browser)" in out
    assert "MODEL" in out and "databricks-claude-sonnet-4-5  claude" in out and "discovered" in out
    assert "→ shell: python3 test_fizzbuzz.py" in out and "✓ 3 tests passed" in out
    assert "» and ran the tests: they all pass." in out
    assert "fizzbuzz.py " in out and "test_fizzbuzz.py " in out and "bytes" in out
    assert "tokens used:" in out and "lakecode emulator" in out and "lakecode run" in out
    project = where / "project"
    assert (project / "fizzbuzz.py").is_file() and (project / "test_fizzbuzz.py").is_file()
    [saved] = (where / "home" / "conversations").glob("*.jsonl")
    assert f"conversation saved as {saved}" in out
    assert_calls_paired(load_conversation(saved))
    assert not user_home.exists()  # the user's lakecode home was never touched


def test_demo_m2m_in_process_leaves_nothing_behind(tmp_path: Path) -> None:
    where = tmp_path / "demo"
    environ = dict(os.environ)
    threads = set(threading.enumerate())
    result = CliRunner().invoke(cli, ["demo", "--auth", "m2m", "--dir", str(where), "--clean"])
    assert result.exit_code == 0, result.output
    assert "[2/5] Sign-in: a service principal (OAuth M2M" in result.output
    assert "(oauth-m2m)" in result.output and "is removed now" in result.output
    assert not where.exists()
    assert dict(os.environ) == environ
    assert set(threading.enumerate()) <= threads
