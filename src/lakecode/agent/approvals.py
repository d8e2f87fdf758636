"""Who decides whether a tool call may run: the approval policy the user interface supplies.

Every call is classified by its tool (``ToolAccess``: read, write or execute; the paths it
touches; whether any is outside the project). ``Approvals.decide`` turns that into a
``Verdict``. The modes:

``ask`` (the TUI default, and headless on a terminal)
    Read-only calls inside the project run. Anything else is put to the user through the async
    ``ask`` callback, which answers ``"once"`` (approve this call), ``"session"`` (approve this
    and later calls with the same ``ToolAccess.scope_key`` for the rest of the session, e.g.
    every ``file_editor`` write, or every ``pytest`` command) or ``"deny"``.
``auto`` (headless with ``--yes``)
    Everything inside the project runs.
``read-only`` (headless without a terminal to ask on)
    Read-only calls run; writes and commands are refused with a message telling the user to
    pass ``--yes``.

In every mode a call touching paths outside the project is refused unless the policy was built
with ``allow_outside=True`` (then it is treated like any other call of its kind, so ``ask``
still asks). A refused or denied call is not run: the loop feeds the ``Verdict.reason`` back to
the model as the tool result, so it can adapt, and emits ``ToolCallDenied``.

``headless(ask=...)`` picks the headless mode: ``auto`` when ``yes``, ``ask`` when a terminal
prompt is available, otherwise ``read-only``. ``terminal_prompt`` builds such a prompt on given
streams, and ``for_terminal(sys.stdin, sys.stderr, yes=...)`` does both for a CLI (tests pass
``io.StringIO`` objects).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TextIO, TypeAlias

from lakecode.agent.tools.base import ToolAccess
from lakecode.llm.types import ToolCall

__all__ = [
    "Approvals",
    "AskCallback",
    "Decision",
    "Mode",
    "Verdict",
    "scope_description",
    "terminal_prompt",
]

Decision: TypeAlias = Literal["once", "session", "deny"]
Mode: TypeAlias = Literal["ask", "auto", "read-only"]
AskCallback: TypeAlias = Callable[[ToolCall, ToolAccess], Awaitable[Decision]]
"""Shows a call to the user and returns their decision."""

YES_HINT = "re-run with --yes to allow writes and commands inside the project"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on one call.

    Attributes:
        approved: the call may run.
        how: for approved calls: "read-only", "auto", "once", "session" or "remembered";
            for refused ones: "denied", "outside-project" or "no-terminal".
        reason: for refused calls, the text the model receives as the tool result.
    """

    approved: bool
    how: str
    reason: str = ""


@dataclass
class Approvals:
    """An approval policy (see the module docstring for the modes).

    Args:
        mode: "ask", "auto" or "read-only".
        ask: the callback that asks the user; required for "ask".
        allow_outside: permit calls that touch paths outside the project.

    Attributes:
        remembered: the ``scope_key``s approved for the session.
    """

    mode: Mode = "read-only"
    ask: AskCallback | None = None
    allow_outside: bool = False
    remembered: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.mode == "ask" and self.ask is None:
            raise ValueError("Approvals(mode='ask') needs an ask callback")

    @classmethod
    def interactive(cls, ask: AskCallback, *, allow_outside: bool = False) -> Approvals:
        """The TUI policy: read-only calls run, others are asked about."""
        return cls("ask", ask, allow_outside)

    @classmethod
    def auto(cls, *, allow_outside: bool = False) -> Approvals:
        """``--yes``: everything inside the project runs."""
        return cls("auto", None, allow_outside)

    @classmethod
    def headless(cls, *, yes: bool = False, ask: AskCallback | None = None,
                 allow_outside: bool = False) -> Approvals:
        """The headless policy: ``auto`` with ``yes``; else ask on the terminal if ``ask`` is
        given (the CLI passes one only when stdin is a TTY); else read-only."""
        if yes:
            return cls.auto(allow_outside=allow_outside)
        if ask is not None:
            return cls("ask", ask, allow_outside)
        return cls("read-only", None, allow_outside)

    @classmethod
    def for_terminal(cls, stdin: TextIO, stderr: TextIO, *, yes: bool = False,
                     allow_outside: bool = False) -> Approvals:
        """The headless policy for a CLI: asks on ``stderr``/``stdin`` when ``stdin`` is a TTY.

        ``lakecode run`` calls ``Approvals.for_terminal(sys.stdin, sys.stderr, yes=args.yes)``.
        """
        ask = terminal_prompt(stdin, stderr) if stdin.isatty() else None
        return cls.headless(yes=yes, ask=ask, allow_outside=allow_outside)

    async def decide(self, call: ToolCall, access: ToolAccess) -> Verdict:
        """Decide whether ``call`` (classified as ``access``) may run. May await the user."""
        if access.outside_project and not self.allow_outside:
            where = ", ".join(str(p) for p in access.paths) or "a path"
            return Verdict(False, "outside-project", (
                f"Refused: {access.summary} touches {where}, outside the project directory. "
                "lakecode only works inside the project unless started with permission to go "
                "outside it."))
        if access.kind == "read":
            return Verdict(True, "read-only")
        if self.mode == "auto":
            return Verdict(True, "auto")
        if self.mode == "read-only":
            return Verdict(False, "no-terminal", (
                f"Refused: {access.summary} needs approval ({access.kind}), but lakecode is running "
                f"headless with no terminal to ask on; {YES_HINT}."))
        if access.scope_key and access.scope_key in self.remembered:
            return Verdict(True, "remembered")
        assert self.ask is not None
        decision = await self.ask(call, access)
        if decision == "session":
            if access.scope_key:
                self.remembered.add(access.scope_key)
            return Verdict(True, "session")
        if decision == "once":
            return Verdict(True, "once")
        return Verdict(False, "denied", (
            f"Denied: the user did not approve {access.summary}. Do not retry the same call; "
            "choose another approach or ask the user what they want."))


def scope_description(scope_key: str) -> str:
    """What "always this session" would approve, in words: ``file_editor:write`` -> "every file
    edit", ``shell:pytest`` -> "every `pytest` command", a compound command -> "this exact command"."""
    tool, _, rest = scope_key.partition(":")
    if tool == "file_editor":
        return "every file edit" if rest == "write" else f"every file_editor {rest or 'call'}"
    if tool == "shell" and rest:
        if any(ch in rest for ch in "|&;<>()$`\n"):
            return "this exact command"
        return f"every `{rest}` command"
    return f"every {tool or 'such'} call"


def terminal_prompt(stdin: TextIO, stdout: TextIO) -> AskCallback:
    """An ``AskCallback`` that asks on a terminal: y = once, a = always this session, n = deny.

    The question is written to ``stdout`` (the CLI passes stderr, keeping stdout for results) and
    the answer read from ``stdin`` in a daemon thread, so the event loop keeps running and an
    interrupted question (Ctrl+C) cannot keep the process alive waiting for a line.
    End of input counts as deny.
    """

    async def ask(call: ToolCall, access: ToolAccess) -> Decision:
        while True:
            always = f"[a]lways this session ({scope_description(access.scope_key)})" \
                if access.scope_key else "[a]lways this session"
            stdout.write(f"\nlakecode wants to run ({access.kind}): {access.summary}\n"
                         f"Allow? [y]es once / {always} / [n]o: ")
            stdout.flush()
            line = await _read_line(stdin)
            answer = line.strip().lower()
            if not line or answer in ("n", "no"):
                return "deny"
            if answer in ("y", "yes"):
                return "once"
            if answer in ("a", "always"):
                return "session"

    return ask


def _read_line(stdin: TextIO) -> asyncio.Future[str]:
    """``stdin.readline()`` in a daemon thread (not the default executor, whose threads are
    joined at exit: a prompt nobody answers would then block the exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def settle(line: str | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(line or "")

    def read() -> None:
        try:
            line, error = stdin.readline(), None
        except (OSError, ValueError) as exc:  # a closed or broken stdin
            line, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody waits
            loop.call_soon_threadsafe(settle, line, error)

    threading.Thread(target=read, name="lakecode-prompt", daemon=True).start()
    return future
