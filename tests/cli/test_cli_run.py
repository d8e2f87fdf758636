"""``lakecode run`` as a subprocess against the workspace emulator (loopback).

Each test starts the real command line (``python -m lakecode run ...``) with an environment built
from the hermetic fixture's plus the emulator's URL and PAT, and asserts on stdout, stderr, the
exit code, the files the agent made and the saved conversation.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import (
    MODEL,
    assert_calls_paired,
    assert_no_secret,
    base_env,
    conversation_files,
    emulator_env,
    lakecode,
    lakecode_popen,
    load_conversation,
    parse_events,
)

from lakecode.agent.loop import CANCELLED_RUNNING
from lakecode.emulator import DEMO_PROMPT, Emulator

DEMO_ANSWER = """Done. I created:

- `fizzbuzz.py` with `fizzbuzz(n)`, which returns "Fizz", "Buzz", "FizzBuzz" or the number;
- `test_fizzbuzz.py` with three tests;

and ran the tests: they all pass.
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def home(hermetic_env: Path) -> Path:
    return Path(os.environ["LAKECODE_HOME"])


def chat_requests(emu: Emulator) -> list[dict[str, object]]:
    """The JSON bodies of every chat request the emulator answered."""
    return [r.json for r in emu.requests if r.method == "POST" and r.path.endswith("/chat/completions")]


def test_a_multi_step_task_writes_and_runs_files(emulator: Emulator, project: Path, home: Path) -> None:
    result = lakecode("run", "--yes", "-t", DEMO_PROMPT, env=emulator_env(emulator), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == DEMO_ANSWER
    program = (project / "fizzbuzz.py").read_text()
    assert "def fizzbuzz(n: int) -> str:" in program
    assert "from fizzbuzz import fizzbuzz" in (project / "test_fizzbuzz.py").read_text()
    ran = subprocess.run(["python3", "fizzbuzz.py"], cwd=project, capture_output=True, text=True, check=True)
    assert ran.stdout.splitlines()[14] == "FizzBuzz"
    # Progress on stderr: turns, tool calls, summarised results, usage, how to continue.
    err = result.stderr
    assert "turn 1" in err and "turn 5" in err
    assert "→ file_editor create fizzbuzz.py" in err
    assert "→ shell: python3 test_fizzbuzz.py" in err
    assert "✓ 3 tests passed  ([exit code: 0" in err
    assert "done after 5 turns" in err and "tokens" in err
    assert "\x1b[" not in err  # no colour codes when stderr is not a terminal
    [saved] = conversation_files(home)
    assert f"saved as {saved.stem}; continue with `lakecode run --resume {saved.stem} -t ...`" in err
    messages = load_conversation(saved)
    assert_calls_paired(messages)
    shell = [m for m in messages if m.get("name") == "shell"]
    assert shell[0]["parts"][0]["text"].startswith("3 tests passed\n[exit code: 0")
    assert len(chat_requests(emulator)) == 5
    assert_no_secret([emulator.pat], texts=[result.stdout, result.stderr], trees=[home, project])


def test_json_events_follow_the_schema(emulator: Emulator, project: Path, home: Path) -> None:
    emulator.faults.add(kind="rate_limit", retry_after=0, method="POST", endpoint=MODEL, skip=1, count=1)
    result = lakecode("run", "--yes", "--json", "-t", DEMO_PROMPT, env=emulator_env(emulator), cwd=project)
    assert result.returncode == 0, result.stderr
    events = parse_events(result.stdout)  # every line validates against the shipped schema
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "finished"
    assert events[0]["model"] == MODEL and events[0]["provider"] == "databricks"
    assert events[0]["cwd"] == str(project.resolve()) and events[0]["resumed"] is False
    assert kinds.count("turn_started") == 5 and kinds.count("usage") == 5
    calls = [e for e in events if e["type"] == "tool_call"]
    results = [e for e in events if e["type"] == "tool_result"]
    assert [c["id"] for c in calls] == [r["id"] for r in results]
    assert [r["status"] for r in results] == ["ok"] * len(results)
    shell = next(r for r in results if r["name"] == "shell")
    assert shell["output"].startswith("3 tests passed")
    [retry] = [e for e in events if e["type"] == "retry"]
    assert retry["attempt"] == 1 and retry["delay"] == 0
    texts = [e for e in events if e["type"] == "text"]
    assert [t["final"] for t in texts] == [False, False, False, False, True]
    last = events[-1]
    assert last["outcome"] == "completed" and last["exit_code"] == 0
    assert last["final_text"] + "\n" == DEMO_ANSWER
    assert last["usage"]["total_tokens"] > 0
    assert last["conversation_id"] == events[0]["conversation_id"]
    assert "saved as" in result.stderr and "turn 1" not in result.stderr  # no progress in JSON mode
    assert_no_secret([emulator.pat], texts=[result.stdout, result.stderr], trees=[home])


def test_environment_only_configuration_saves_no_settings(emulator: Emulator, project: Path,
                                                          home: Path) -> None:
    assert not home.exists()
    result = lakecode("run", "-t", "hello there", env=emulator_env(emulator), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: hello there\n"
    assert not (home / "settings.toml").exists()
    assert not (home / "tokens").exists() or not any((home / "tokens").iterdir())
    [request] = chat_requests(emulator)
    assert request["model"] == MODEL  # no discovery wait or rewrite: the id is sent verbatim


def test_settings_file_is_left_unchanged(emulator: Emulator, project: Path, home: Path) -> None:
    home.mkdir(parents=True)
    settings = home / "settings.toml"
    settings.write_text('model = "databricks-gpt-5-2"\n\n[databricks]\nhost = "https://example.invalid"\n')
    before = settings.read_bytes()
    result = lakecode("run", "-t", "hello", env=emulator_env(emulator), cwd=project)
    assert result.returncode == 0, result.stderr
    assert settings.read_bytes() == before
    assert chat_requests(emulator)[0]["model"] == MODEL  # the environment beat the file


def test_resume_sends_the_earlier_history(emulator: Emulator, project: Path, home: Path) -> None:
    env = emulator_env(emulator)
    first = lakecode("run", "-t", "remember the word pelican", "--json", env=env, cwd=project)
    assert first.returncode == 0, first.stderr
    conversation_id = parse_events(first.stdout)[0]["conversation_id"]
    second = lakecode("run", "--resume", conversation_id, "-t", "which word?", env=env, cwd=project)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "Echo: which word?\n"
    assert f"continuing {conversation_id}" in second.stderr
    sent = chat_requests(emulator)[-1]["messages"]
    texts = [m["content"] if isinstance(m["content"], str) else json.dumps(m["content"]) for m in sent]
    assert any("remember the word pelican" in t for t in texts)
    assert any("Echo: remember the word pelican" in t for t in texts)
    assert "which word?" in texts[-1]
    third = lakecode("run", "--last", "-t", "and again", env=env, cwd=project)
    assert third.returncode == 0, third.stderr
    assert len(conversation_files(home)) == 1
    assert len(chat_requests(emulator)[-1]["messages"]) == len(sent) + 2


def test_last_stays_in_this_project_and_resume_by_id_goes_to_its_own(
        emulator: Emulator, project: Path, home: Path, tmp_path: Path) -> None:
    env = emulator_env(emulator)
    other = tmp_path / "other"
    other.mkdir()
    first = lakecode("run", "--json", "-t", "in the project", env=env, cwd=project)
    conversation_id = parse_events(first.stdout)[0]["conversation_id"]
    # From another directory, --last finds nothing of its own: a usage error naming the way out.
    result = lakecode("run", "--last", "-t", "hi", env=env, cwd=other)
    assert result.returncode == 2
    assert f"There is no saved conversation for {other.resolve()} to continue." in result.stderr
    assert f"lakecode run --resume {conversation_id}" in result.stderr
    assert len(conversation_files(home)) == 1
    # An explicit id continues that conversation, in its own project directory.
    resumed = lakecode("run", "--json", "--resume", conversation_id, "-t", "again", env=env, cwd=other)
    started = parse_events(resumed.stdout)[0]
    assert resumed.returncode == 0 and started["resumed"] is True
    assert started["cwd"] == str(project.resolve())


def test_resume_of_an_unknown_conversation_is_a_usage_error(emulator: Emulator, project: Path) -> None:
    result = lakecode("run", "--resume", "20200101T000000000Z-abcdef", "-t", "hi",
                      env=emulator_env(emulator), cwd=project)
    assert result.returncode == 2
    assert "20200101T000000000Z-abcdef" in result.stderr and result.stdout == ""


def test_ctrl_c_interrupts_a_running_command(emulator: Emulator, project: Path, home: Path) -> None:
    proc = lakecode_popen("run", "--yes", "--json", "-t", "run: touch started && sleep 30",
                          env=emulator_env(emulator), cwd=project)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if json.loads(line)["type"] == "tool_call":
            break
    deadline = time.monotonic() + 10
    while not (project / "started").exists():  # the command is running
        assert time.monotonic() < deadline
        time.sleep(0.02)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 5
    events = parse_events("".join(lines) + out)
    result = next(e for e in events if e["type"] == "tool_result")
    assert result["status"] == "cancelled" and result["output"] == CANCELLED_RUNNING
    assert events[-1]["type"] == "finished" and events[-1]["outcome"] == "interrupted"
    assert events[-1]["exit_code"] == 130
    [saved] = conversation_files(home)
    messages = load_conversation(saved)
    assert_calls_paired(messages)
    assert messages[-1]["role"] == "tool" and messages[-1]["parts"][0]["text"] == CANCELLED_RUNNING
    assert "saved as" in err


def test_a_model_error_after_the_first_turn(emulator: Emulator, project: Path, home: Path) -> None:
    emulator.faults.add(kind="status", status=400, method="POST", endpoint=MODEL, skip=1, count=None,
                        body={"error_code": "INVALID_PARAMETER_VALUE", "message": "Injected bad request."})
    result = lakecode("run", "--yes", "-t", "run: echo hello", env=emulator_env(emulator), cwd=project)
    assert result.returncode == 4, result.stderr
    assert "error: " in result.stderr and "Injected bad request." in result.stderr
    assert result.stdout == ""
    [saved] = conversation_files(home)
    messages = load_conversation(saved)
    assert_calls_paired(messages)
    assert messages[-1]["role"] == "tool" and messages[-1]["parts"][0]["text"].startswith("hello")


def test_a_rate_limit_burst_gives_up_with_the_model_exit_code(emulator: Emulator, project: Path) -> None:
    emulator.faults.add(kind="rate_limit", retry_after=0, method="POST", endpoint=MODEL, skip=1, count=None)
    result = lakecode("run", "--yes", "--json", "-t", "run: echo hello", env=emulator_env(emulator),
                      cwd=project)
    assert result.returncode == 4
    events = parse_events(result.stdout)
    assert [e["attempt"] for e in events if e["type"] == "retry"] == [1, 2, 3, 4]
    last = events[-1]
    assert last["type"] == "error" and last["exit_code"] == 4 and last["error"] == "RateLimitError"
    assert "gave up after 5 attempts" in last["message"] and last["hint"]
    assert last["conversation_id"] == events[0]["conversation_id"]


def test_missing_pieces_are_listed_in_one_message(project: Path, home: Path) -> None:
    result = lakecode("run", "-t", "hello", env=base_env(), cwd=project)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("error:") == 1
    assert "DATABRICKS_HOST" in result.stderr and "LLM_MODEL" in result.stderr
    as_json = lakecode("run", "-t", "hello", "--json", env=base_env(), cwd=project)
    [event] = parse_events(as_json.stdout)
    assert event["type"] == "error" and event["exit_code"] == 2 and event["error"] == "ConfigError"
    assert "DATABRICKS_HOST" in event["message"] and "LLM_MODEL" in event["message"]
    assert not home.exists() or not (home / "settings.toml").exists()


def test_a_missing_browser_sign_in_is_an_auth_error(emulator: Emulator, project: Path) -> None:
    env = base_env(DATABRICKS_HOST=emulator.url, LLM_MODEL=f"databricks/{MODEL}")
    result = lakecode("run", "-t", "hello", env=env, cwd=project, timeout=20)
    assert result.returncode == 3
    assert "Not signed in" in result.stderr
    assert "lakecode auth login" in result.stderr and "DATABRICKS_TOKEN" in result.stderr
    assert chat_requests(emulator) == []


def test_usage_errors(project: Path) -> None:
    neither = lakecode("run", env=base_env(), cwd=project)
    assert neither.returncode == 2 and "-t TEXT or -f FILE" in neither.stderr
    both = lakecode("run", "-t", "a", "--resume", "x", "--last", env=base_env(), cwd=project)
    assert both.returncode == 2 and "--resume or --last" in both.stderr
    missing = lakecode("run", "-f", "nope.txt", env=base_env(), cwd=project)
    assert missing.returncode == 2 and "cannot read nope.txt" in missing.stderr


def test_prompt_from_stdin(emulator: Emulator, project: Path) -> None:
    result = lakecode("run", "-f", "-", env=emulator_env(emulator), cwd=project, stdin="from a pipe\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: from a pipe\n"


def test_without_yes_and_without_a_terminal_writes_are_refused(emulator: Emulator, project: Path) -> None:
    result = lakecode("run", "-t", "write: notes.txt hello", env=emulator_env(emulator), cwd=project)
    assert result.returncode == 2, result.stderr  # the task did not happen: CI must not pass
    assert not (project / "notes.txt").exists()
    assert "✗ Refused: file_editor create notes.txt needs approval" in result.stderr
    assert ("1 tool call (writes or commands) were refused: there was no terminal to ask on. "
            "The task may be unfinished; re-run with --yes") in result.stderr
    [request] = chat_requests(emulator)[-1:]
    tool_message = request["messages"][-1]
    assert tool_message["role"] == "tool" and "--yes" in str(tool_message["content"])


def test_a_refused_write_is_exit_code_2_in_json_and_reads_alone_succeed(emulator: Emulator,
                                                                       project: Path) -> None:
    (project / "notes.txt").write_text("hello\n")
    read = lakecode("run", "--json", "-t", "read: notes.txt", env=emulator_env(emulator), cwd=project)
    assert read.returncode == 0, read.stderr  # read-only calls need no approval
    result = lakecode("run", "--json", "-t", "run: echo hi", env=emulator_env(emulator), cwd=project)
    events = parse_events(result.stdout)
    assert result.returncode == 2
    notice = next(e for e in events if e["type"] == "notice")
    assert notice["level"] == "warning" and notice["message"].startswith("1 tool call ")
    assert events[-1]["type"] == "finished" and events[-1]["exit_code"] == 2
    assert [e["status"] for e in events if e["type"] == "tool_result"] == ["denied"]


def test_turn_limit_exit_code(emulator: Emulator, project: Path) -> None:
    result = lakecode("run", "--yes", "--max-turns", "2", "-t", DEMO_PROMPT, env=emulator_env(emulator),
                      cwd=project)
    assert result.returncode == 5
    assert "stopped at the turn limit after 2 turns" in result.stderr
    assert result.stdout == ""


def test_generic_openai_compatible_provider(emulator: Emulator, project: Path, home: Path) -> None:
    env = base_env(LLM_BASE_URL=f"{emulator.url}/serving-endpoints", LLM_API_KEY=emulator.pat,
                   LLM_MODEL=MODEL)
    result = lakecode("run", "--yes", "--json", "-t", DEMO_PROMPT, env=env, cwd=project)
    assert result.returncode == 0, result.stderr
    events = parse_events(result.stdout)
    assert events[0]["provider"] == "openai-compatible"
    assert events[-1]["final_text"] + "\n" == DEMO_ANSWER
    assert (project / "fizzbuzz.py").is_file() and (project / "test_fizzbuzz.py").is_file()
    paths = {r.path for r in emulator.requests if r.method == "POST"}
    assert paths == {"/serving-endpoints/chat/completions"}
    assert_no_secret([emulator.pat], texts=[result.stdout, result.stderr], trees=[home, project])


def test_a_rejected_llm_api_key_says_to_replace_that_key(emulator: Emulator, project: Path) -> None:
    base = f"{emulator.url}/serving-endpoints"
    env = base_env(LLM_BASE_URL=base, LLM_API_KEY="dapi" + "0" * 32, LLM_MODEL=MODEL)
    result = lakecode("run", "--json", "-t", "hello", env=env, cwd=project)
    assert result.returncode == 3
    last = parse_events(result.stdout)[-1]
    assert last["error"] == "AuthenticationError"
    assert last["hint"] == f"The API key in LLM_API_KEY was not accepted by {base}: replace or unset it."


def test_the_agent_commands_do_not_see_the_credentials(emulator: Emulator, project: Path, home: Path) -> None:
    secret = "dose" + "0123456789abcdef" * 2  # planted: an M2M-style secret in the environment
    env = emulator_env(emulator, LLM_API_KEY=secret)
    result = lakecode("run", "--yes", "--json", "-t",
                      "run: echo token=${DATABRICKS_TOKEN:-unset} key=${LLM_API_KEY:-unset}", env=env,
                      cwd=project)
    assert result.returncode == 0, result.stderr
    shell = next(e for e in parse_events(result.stdout) if e["type"] == "tool_result")
    assert shell["output"].startswith("token=unset key=unset")
    assert_no_secret([emulator.pat, secret], texts=[result.stdout, result.stderr], trees=[home, project])


def _run_on_a_terminal(emu: Emulator, project: Path,
                      prompt: str) -> tuple[subprocess.Popen[str], int, str]:
    """Start ``lakecode run`` with stdin and stderr on a pseudo-terminal; returns it, the
    terminal's controller side and the screen so far, once the approval question is shown."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "lakecode", "run", "-t", prompt], cwd=project,
                            env=emulator_env(emu), stdin=terminal, stdout=subprocess.PIPE,
                            stderr=terminal, text=True)
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + 20
    while b"Allow? [y]es once" not in screen:
        assert time.monotonic() < deadline, screen
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            screen += os.read(controller, 4096)
    return proc, controller, screen.decode(errors="replace")


def _drain(controller: int) -> str:
    screen = b""
    while select.select([controller], [], [], 0.2)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        screen += chunk
    os.close(controller)
    return screen.decode(errors="replace")


def test_on_a_terminal_writes_are_asked_about(emulator: Emulator, project: Path) -> None:
    proc, controller, screen = _run_on_a_terminal(emulator, project, "write: notes.txt hello")
    os.write(controller, b"y\n")
    out, _ = proc.communicate(timeout=15)
    screen += _drain(controller)
    assert proc.returncode == 0, screen
    assert (project / "notes.txt").read_text() == "hello"
    assert out == "Wrote notes.txt.\n"
    assert screen.index("→ file_editor create notes.txt") < screen.index("lakecode wants to run (write)")


def test_ctrl_c_at_an_approval_question_exits_at_once(emulator: Emulator, project: Path, home: Path) -> None:
    proc, controller, _ = _run_on_a_terminal(emulator, project, "write: notes.txt hello")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=10)  # an unanswered question must not keep the process alive
    screen = _drain(controller)
    assert proc.returncode == 130, screen
    assert not (project / "notes.txt").exists()
    [saved] = conversation_files(home)
    assert_calls_paired(load_conversation(saved))


def test_an_explicit_model_runs_when_discovery_fails(emulator: Emulator, project: Path) -> None:
    """F30: listing errors are warnings; the run goes ahead and sends the id it was given."""
    emulator.faults.add(kind="error", name="endpoint_not_found", method="GET", count=None)
    env = base_env(DATABRICKS_HOST=emulator.url, DATABRICKS_TOKEN=emulator.pat)
    result = lakecode("run", "--model", MODEL, "-t", "hello", env=env, cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Echo: hello\n"
    listings = [r for r in emulator.requests if r.method == "GET"]
    assert listings and all(r.status == 404 for r in listings)
    assert [r["model"] for r in chat_requests(emulator)] == [MODEL]


def test_a_service_principal_from_the_environment(emulator: Emulator, project: Path, home: Path) -> None:
    env = base_env(DATABRICKS_HOST=emulator.url, DATABRICKS_CLIENT_ID=emulator.client_id,
                   DATABRICKS_CLIENT_SECRET=emulator.client_secret, LLM_MODEL=f"databricks/{MODEL}")
    result = lakecode("run", "--json", "--yes", "-t", "run: echo hi", env=env, cwd=project)
    assert result.returncode == 0, result.stderr
    assert parse_events(result.stdout)[-1]["final_text"].startswith("Command finished. Output:\nhi")
    assert emulator.token_requests.count("client_credentials") >= 1
    assert_no_secret([emulator.client_secret], texts=[result.stdout, result.stderr], trees=[home, project])


def test_a_malformed_settings_file_is_a_usage_error(emulator: Emulator, project: Path, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "settings.toml").write_text("model = [unclosed\n")
    result = lakecode("run", "-t", "hello", env=emulator_env(emulator), cwd=project)
    assert result.returncode == 2
    assert "settings.toml is not valid TOML" in result.stderr
    assert (home / "settings.toml").read_text() == "model = [unclosed\n"


FORBIDDEN = ("textual", "databricks.sdk", "lakecode.tui", "lakecode.emulator", "uvicorn", "starlette")


def _imported(*args: str, env: dict[str, str], cwd: Path) -> set[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "lakecode", *args], env=env, cwd=cwd,
                            capture_output=True, text=True, timeout=60, check=True)
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:")}


def test_help_and_headless_runs_import_neither_textual_nor_the_sdk(emulator: Emulator, project: Path) -> None:
    help_modules = _imported("run", "--help", env=base_env(), cwd=project)
    run_modules = _imported("run", "-t", "hello", env=emulator_env(emulator), cwd=project)
    assert "lakecode.agent.loop" in run_modules and "lakecode.agent.loop" not in help_modules
    for name in (*help_modules, *run_modules):
        assert not name.startswith(FORBIDDEN), name
    assert "asyncio" not in help_modules and "rich" not in run_modules


def test_resume_takes_the_model_and_directory_from_the_conversation(emulator: Emulator, project: Path,
                                                                    home: Path, tmp_path: Path) -> None:
    home.mkdir(parents=True)
    (home / "settings.toml").write_text('model = "databricks-gpt-oss-120b"\n')
    env = base_env(DATABRICKS_HOST=emulator.url, DATABRICKS_TOKEN=emulator.pat)
    first = lakecode("run", "--model", "databricks-claude-haiku-4-5", "--json", "-t", "hi", env=env,
                     cwd=project)
    assert first.returncode == 0, first.stderr
    conversation_id = parse_events(first.stdout)[0]["conversation_id"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    second = lakecode("run", "--resume", conversation_id, "--json", "-t", "again", env=env, cwd=elsewhere)
    assert second.returncode == 0, second.stderr
    started = parse_events(second.stdout)[0]
    assert started["resumed"] is True and started["cwd"] == str(project.resolve())
    assert [r["model"] for r in chat_requests(emulator)] == ["databricks-claude-haiku-4-5"] * 2
    third = lakecode("run", "--last", "--model", MODEL, "-t", "and now", env=env, cwd=project)
    assert third.returncode == 0, third.stderr
    assert chat_requests(emulator)[-1]["model"] == MODEL


def test_https_to_a_plain_http_host_fails_at_once_with_the_fix(emulator: Emulator, project: Path) -> None:
    """A TLS mismatch cannot heal: no retries, and the hint names the http:// URL to use."""
    https = emulator.url.replace("http://", "https://")
    result = lakecode("run", "--json", "-t", "hello", env=emulator_env(emulator, DATABRICKS_HOST=https),
                      cwd=project)
    assert result.returncode == 4
    events = parse_events(result.stdout)
    assert [e for e in events if e["type"] == "retry"] == []
    last = events[-1]
    assert last["type"] == "error" and last["error"] == "TLSError"
    assert last["message"].startswith(f"Could not reach {https} for {MODEL}: ")
    assert f"A local emulator is reached as {emulator.url}" in last["hint"]
