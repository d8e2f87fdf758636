"""The shell tool: persistent cwd, timeouts, truncation, decoding, stdin, validation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from lakecode.agent.tools import ProjectScope, ShellTool, ToolArgumentError


@pytest.fixture
def shell(tmp_path: Path) -> ShellTool:
    return ShellTool(ProjectScope.at(tmp_path), default_timeout=10)


async def run(shell: ShellTool, command: str, **extra: object) -> tuple[str, bool]:
    args = {"command": command, **extra}
    shell.check(args)
    result = await shell.run(args)
    return result.content, result.is_error


async def test_output_and_exit_code(shell: ShellTool) -> None:
    text, failed = await run(shell, "echo hello")
    assert not failed
    assert text.startswith("hello\n[exit code: 0, ") and text.endswith("s]")
    text, failed = await run(shell, "echo out; echo err >&2; exit 3")
    assert failed
    assert text.startswith("out\n[stderr]\nerr\n[exit code: 3")


async def test_cd_persists_between_calls(shell: ShellTool, tmp_path: Path) -> None:
    await run(shell, "mkdir -p pkg/sub && cd pkg")
    text, _ = await run(shell, "cd sub && pwd")
    assert text.splitlines()[0] == str(tmp_path.resolve() / "pkg" / "sub")
    assert "cwd: pkg/sub" in text
    # the cwd is kept even when the command fails or exits early
    await run(shell, "cd .. && exit 4")
    text, _ = await run(shell, "pwd")
    assert text.splitlines()[0] == str(tmp_path.resolve() / "pkg")
    assert shell.cwd == tmp_path.resolve() / "pkg"


async def test_cd_outside_the_project_is_reset(shell: ShellTool, tmp_path: Path) -> None:
    text, _ = await run(shell, "cd /")
    assert "[the working directory / is outside the project; it was reset to" in text
    assert shell.cwd == tmp_path.resolve()
    assert shell.check({"command": "ls"}).outside_project is False


async def test_cd_outside_is_kept_when_the_scope_allows_it(tmp_path: Path) -> None:
    shell = ShellTool(ProjectScope.at(tmp_path / "p", allow_outside=True))
    (tmp_path / "p").mkdir()
    await run(shell, "cd ..")
    assert shell.cwd == tmp_path.resolve()
    assert shell.check({"command": "ls"}).outside_project is True


async def test_removed_working_directory_falls_back_to_the_root(shell: ShellTool, tmp_path: Path) -> None:
    await run(shell, "mkdir gone && cd gone")
    (tmp_path / "gone").rmdir()
    text, _ = await run(shell, "pwd")
    assert "no longer exists; using the project root" in text
    assert text.splitlines()[0] == str(tmp_path.resolve())


async def test_timeout_kills_the_whole_process_group(shell: ShellTool, tmp_path: Path) -> None:
    started = time.monotonic()
    text, failed = await run(shell, "(sleep 1; touch child-survived) & sleep 30", timeout=0.3)
    assert time.monotonic() - started < 3
    assert failed
    assert "[timed out after 0.3s; the process group was killed]" in text
    await asyncio.sleep(1.2)
    assert not (tmp_path / "child-survived").exists()


async def test_timeout_is_capped_and_defaults_apply(tmp_path: Path) -> None:
    shell = ShellTool(ProjectScope.at(tmp_path), default_timeout=0.2, max_timeout=0.4)
    text, _ = await run(shell, "sleep 5")
    assert "timed out after 0.2s" in text
    text, _ = await run(shell, "sleep 5", timeout=100)
    assert "timed out after 0.4s" in text


async def test_huge_output_keeps_head_and_tail_with_the_count_dropped(tmp_path: Path) -> None:
    shell = ShellTool(ProjectScope.at(tmp_path), max_lines=10, max_chars=5000)
    text, failed = await run(shell, "seq 1 100000")
    assert not failed
    lines = text.splitlines()
    assert lines[:5] == ["1", "2", "3", "4", "5"]
    assert lines[5] == "[... 99990 lines omitted ...]"
    assert lines[6:11] == ["99996", "99997", "99998", "99999", "100000"]


async def test_a_single_giant_line_is_cut_and_reported(tmp_path: Path) -> None:
    shell = ShellTool(ProjectScope.at(tmp_path), max_lines=10, max_chars=2000)
    text, _ = await run(shell, "head -c 300000 /dev/zero | tr '\\0' a")
    assert len(text) < 3000
    assert "bytes omitted ...]" in text


async def test_non_utf8_output_is_decoded_with_replacement(shell: ShellTool) -> None:
    text, failed = await run(shell, r"printf 'caf\xe9 \xff\xfe ok\n'")
    assert not failed
    assert text.splitlines()[0] == "caf\ufffd \ufffd\ufffd ok"


async def test_commands_reading_stdin_do_not_hang(shell: ShellTool) -> None:
    started = time.monotonic()
    text, _ = await run(shell, 'read -r line; echo "got:[$line]"; cat')
    assert text.splitlines()[0] == "got:[]"
    assert time.monotonic() - started < 3


async def test_no_output_and_unknown_command(shell: ShellTool) -> None:
    text, failed = await run(shell, "true")
    assert text.startswith("(no output)\n[exit code: 0")
    text, failed = await run(shell, "definitely-not-a-command-xyz")
    assert failed and "[exit code: 127" in text and "not found" in text


async def test_pagers_are_disabled(shell: ShellTool) -> None:
    text, _ = await run(shell, 'echo "$PAGER $GIT_PAGER $GIT_TERMINAL_PROMPT"')
    assert text.splitlines()[0] == "cat cat 0"


@pytest.mark.parametrize(("args", "message"), [
    ({}, "shell: missing required argument 'command'"),
    ({"command": 5}, "shell: 'command' must be a string, got integer 5"),
    ({"command": "   "}, "shell: 'command' is empty"),
    ({"command": "ls", "timeout": -1}, "shell: 'timeout' must be a positive number of seconds, got -1"),
    ({"command": "ls", "timeout": "10"}, "shell: 'timeout' must be a number, got string '10'"),
    ({"cmd": "ls"}, "shell: missing required argument 'command' (you passed 'cmd'; the argument is called"),
])
def test_invalid_arguments_have_clear_messages(shell: ShellTool, args: dict[str, object],
                                               message: str) -> None:
    with pytest.raises(ToolArgumentError) as info:
        shell.check(args)
    assert info.value.message.startswith(message)


@pytest.mark.parametrize(("command", "key"), [
    ("pytest -q tests", "shell:pytest"),
    ("git push origin main", "shell:git push"),
    ("git status", "shell:git status"),
    ("cd src && rm -rf build", "shell:cd src && rm -rf build"),
    ("cat x | sh", "shell:cat x | sh"),
    ("echo $(whoami)", "shell:echo $(whoami)"),
])
def test_session_approval_scope_keys(shell: ShellTool, command: str, key: str) -> None:
    access = shell.check({"command": command})
    assert (access.kind, access.scope_key) == ("execute", key)
    assert access.summary == f"shell: {command}"
