"""The ``shell`` tool: run a bash command in the project, with a working directory that persists.

Each call starts a fresh ``bash --noprofile --norc`` in the remembered working directory (the
project root at first). The command is ``eval``ed by a tiny wrapper whose ``EXIT`` trap writes
``pwd -P`` to a private temporary file, so a ``cd`` in one call carries over to the next - also
when the command ``exit``s or fails - without a long-lived shell whose state a crashed command
could wedge. Environment changes (``export``) do not persist; that is documented to the model.

Safety and robustness:
    * stdin is ``/dev/null`` and the process runs in its own session (no controlling terminal),
      so commands that read input or open ``/dev/tty`` (password prompts) fail instead of hanging;
      pagers are disabled (``PAGER=cat``) and git never prompts.
    * a timeout (default from settings, capped) kills the whole process group: SIGTERM, then
      SIGKILL after a short grace. Cancellation (the user interrupts) kills it at once.
    * stdout and stderr are captured separately with bounded memory, decoded as UTF-8 with
      replacement, and truncated to their head and tail with the number of lines omitted.
    * if the command leaves the working directory outside the project (and the scope does not
      allow that), it is reset to the project root and the result says so.
    * output goes to unlinked temporary files rather than pipes, so a background process
      (``server &``) does not hold up the result; what it prints later is not captured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from lakecode.agent.tools.base import (
    ProjectScope,
    Tool,
    ToolAccess,
    ToolArgumentError,
    ToolResult,
    validate_arguments,
)
from lakecode.agent.tools.output import BoundedCapture, render

__all__ = ["ShellTool"]

_WRAPPER = (
    '__lc_pwd_file=$__LAKECODE_PWD_FILE; __lc_cmd=$__LAKECODE_COMMAND\n'
    'unset __LAKECODE_PWD_FILE __LAKECODE_COMMAND\n'
    "trap '__lc_status=$?; pwd -P >\"$__lc_pwd_file\" 2>/dev/null; exit $__lc_status' EXIT\n"
    'eval "$__lc_cmd"\n'
)
_COMPOUND = re.compile(r"[;&|`<>\n]|\$\(")
_SUBCOMMAND = re.compile(r"^[a-z][a-z0-9-]*$")
_SUBCOMMAND_TOOLS = frozenset({"git", "npm", "pnpm", "yarn", "uv", "pip", "pip3", "cargo", "docker", "make",
                               "go", "poetry", "kubectl", "gh", "databricks", "terraform", "dotnet"})
_KILL_GRACE = 1.0


class ShellTool(Tool):
    """Runs bash commands in the project directory.

    Args:
        scope: the project directory (and whether the working directory may leave it).
        default_timeout: seconds a command may run when the model gives no ``timeout``.
        max_timeout: the largest ``timeout`` the model may ask for.
        max_lines: lines of stdout kept (head and tail); stderr keeps a third of that.
        max_chars: characters of stdout kept; stderr keeps a third of that.
        env: extra environment variables for every command.
    """

    name = "shell"
    description = (
        "Run a bash command in the project directory and return its stdout, stderr and exit code. "
        "The working directory persists between calls (a `cd` carries over); exported variables "
        "do not. stdin is empty: never run interactive commands (editors, pagers, prompts); pass "
        "flags such as --yes instead. Long outputs are truncated to their head and tail."
    )
    parameters: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "The bash command to run."},
            "timeout": {"type": "number", "description": "Seconds before the command is killed."},
        },
        "required": ["command"],
    }

    def __init__(self, scope: ProjectScope, *, default_timeout: float = 120.0, max_timeout: float = 1800.0,
                 max_lines: int = 400, max_chars: int = 24_000, env: Mapping[str, str] | None = None) -> None:
        self.scope = scope
        self.default_timeout = default_timeout
        self.max_timeout = max(max_timeout, default_timeout)
        self.max_lines = max_lines
        self.max_chars = max_chars
        self._extra_env = dict(env or {})
        self._cwd = scope.root

    @property
    def cwd(self) -> Path:
        """The working directory the next command starts in."""
        return self._cwd

    def check(self, args: Mapping[str, Any]) -> ToolAccess:
        """Validate and classify: always "execute"; outside the project if the cwd is."""
        validate_arguments(self.name, args, self.parameters)
        command: str = args["command"]
        if not command.strip():
            raise ToolArgumentError("shell: 'command' is empty")
        timeout = args.get("timeout")
        if timeout is not None and timeout <= 0:
            raise ToolArgumentError(f"shell: 'timeout' must be a positive number of seconds, got {timeout}")
        first_line = command.strip().splitlines()[0]
        summary = f"shell: {first_line[:200]}" + (" …" if "\n" in command.strip() else "")
        return ToolAccess(kind="execute", summary=summary, paths=(self._cwd,),
                          outside_project=not self.scope.contains(self._cwd),
                          scope_key=f"shell:{_scope_key(command)}")

    async def run(self, args: Mapping[str, Any]) -> ToolResult:
        """Run the command; non-zero exit codes and timeouts are error results."""
        command: str = args["command"]
        timeout = min(float(args.get("timeout") or self.default_timeout), self.max_timeout)
        notes: list[str] = []
        if not self._cwd.is_dir():
            notes.append(f"[working directory {self._cwd} no longer exists; using the project root]")
            self._cwd = self.scope.root
        pwd_file = _new_pwd_file()
        try:
            started = time.monotonic()
            try:
                status, out, err, timed_out = await self._execute(command, pwd_file, timeout)
            except OSError as exc:
                return ToolResult(f"could not start bash: {exc}", is_error=True)
            elapsed = time.monotonic() - started
            notes.extend(self._update_cwd(pwd_file))
        finally:
            _remove(pwd_file)
        return self._result(status, out, err, timed_out, timeout, elapsed, notes)

    async def _execute(self, command: str, pwd_file: Path,
                       limit: float) -> tuple[int | None, BoundedCapture, BoundedCapture, bool]:
        env = {**os.environ, "PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0",
               "NO_COLOR": "1", **self._extra_env,
               "__LAKECODE_COMMAND": command, "__LAKECODE_PWD_FILE": str(pwd_file)}
        # Output goes to unlinked temporary files, not pipes: a background process that keeps
        # a pipe open would otherwise hold up the result (asyncio waits for pipes to close).
        with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
            proc = await asyncio.create_subprocess_exec(
                "bash", "--noprofile", "--norc", "-c", _WRAPPER, cwd=self._cwd, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out_file, stderr=err_file,
                start_new_session=True)
            timed_out = False
            try:
                async with asyncio.timeout(limit):
                    await proc.wait()
            except TimeoutError:
                timed_out = True
                await _terminate(proc)
            except BaseException:
                # Cancelled (the user interrupted): kill at once, reap, let the cancellation go on.
                _signal_group(proc.pid, signal.SIGKILL)
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(proc.wait(), _KILL_GRACE)
                raise
            out = BoundedCapture(head_limit=self.max_chars * 2, tail_limit=self.max_chars * 2)
            err = BoundedCapture(head_limit=self.max_chars, tail_limit=self.max_chars)
            await asyncio.to_thread(_read_into, out_file, out)
            await asyncio.to_thread(_read_into, err_file, err)
        return proc.returncode, out, err, timed_out

    def _update_cwd(self, pwd_file: Path) -> list[str]:
        try:
            recorded = pwd_file.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            recorded = ""
        if not recorded:
            return []
        new = Path(recorded)
        if not self.scope.allow_outside and not self.scope.contains(new.resolve()):
            self._cwd = self.scope.root
            return [f"[the working directory {new} is outside the project; "
                    f"it was reset to {self.scope.root}]"]
        self._cwd = new
        return []

    def _result(self, status: int | None, out: BoundedCapture, err: BoundedCapture, timed_out: bool,
                timeout: float, elapsed: float, notes: list[str]) -> ToolResult:
        sections: list[str] = []
        if out.total_bytes:
            sections.append(render(out, max_lines=self.max_lines, max_chars=self.max_chars))
        if err.total_bytes:
            sections.append("[stderr]\n" + render(err, max_lines=max(20, self.max_lines // 3),
                                                   max_chars=max(2000, self.max_chars // 3)))
        if not sections:
            sections.append("(no output)")
        where = "" if self._cwd == self.scope.root else f", cwd: {self.scope.display(self._cwd)}"
        if timed_out:
            status_line = f"[timed out after {timeout:g}s; the process group was killed{where}]"
        else:
            status_line = f"[exit code: {status}{where}, {elapsed:.1f}s]"
        text = "\n".join([*sections, *notes, status_line])
        return ToolResult(text, is_error=timed_out or status != 0)


def _new_pwd_file() -> Path:
    fd, name = tempfile.mkstemp(prefix="lakecode-pwd-")
    os.close(fd)
    return Path(name)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _read_into(file: IO[bytes], capture: BoundedCapture) -> None:
    """Feed what the command wrote to ``file`` (up to now) into ``capture``."""
    file.seek(0)
    while chunk := file.read(1 << 20):
        capture.feed(chunk)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited after a grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), _KILL_GRACE)
    except TimeoutError:
        _signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()
    # Children in the group that ignored SIGTERM may outlive bash; make sure none is left.
    _signal_group(proc.pid, signal.SIGKILL)


def _scope_key(command: str) -> str:
    """What "approve for this session" covers.

    A simple command is keyed by its program ("pytest"), or program and subcommand for tools
    whose subcommands differ in risk ("git status" vs "git push"). A compound command (pipes,
    lists, redirections, substitutions) is keyed by its whole text: approving ``cd x && make``
    must not approve ``cd x && rm -rf y``.
    """
    stripped = command.strip()
    if _COMPOUND.search(stripped):
        return stripped
    try:
        words = shlex.split(stripped)
    except ValueError:
        return stripped
    if not words:
        return stripped
    if words[0] in _SUBCOMMAND_TOOLS and len(words) > 1 and _SUBCOMMAND.match(words[1]):
        return f"{words[0]} {words[1]}"
    return words[0]
