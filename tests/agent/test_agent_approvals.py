"""Approval policies: ask, auto (--yes), headless read-only, outside-project refusal, terminal prompt."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from agent_helpers import collect, make_agent

from lakecode.agent import Approvals, terminal_prompt
from lakecode.agent.approvals import Decision
from lakecode.agent.events import ToolCallApproved, ToolCallDenied
from lakecode.agent.tools.base import ToolAccess
from lakecode.llm.types import ToolCall
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call

CALL = ToolCall.create("c", "shell", {"command": "make"})
READ = ToolAccess(kind="read", summary="file_editor view a.py", scope_key="file_editor:read")
WRITE = ToolAccess(kind="write", summary="file_editor create a.py", scope_key="file_editor:write")
EXEC = ToolAccess(kind="execute", summary="shell: make", scope_key="shell:make")
OUTSIDE = ToolAccess(kind="read", summary="file_editor view /etc/passwd", paths=(Path("/etc/passwd"),),
                     outside_project=True, scope_key="file_editor:read")


class Asker:
    """An ask callback answering from a list and recording what it was asked."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []

    async def __call__(self, call: ToolCall, access: ToolAccess) -> Decision:
        self.asked.append(access.summary)
        return self.answers.pop(0)


async def test_auto_approves_everything_inside_and_refuses_outside() -> None:
    policy = Approvals.auto()
    assert [(await policy.decide(CALL, a)).how for a in (READ, WRITE, EXEC)] == ["read-only", "auto", "auto"]
    verdict = await policy.decide(CALL, OUTSIDE)
    assert (verdict.approved, verdict.how) == (False, "outside-project")
    assert verdict.reason.startswith(
        "Refused: file_editor view /etc/passwd touches /etc/passwd, outside the project")


async def test_allow_outside_treats_outside_calls_like_any_other() -> None:
    assert (await Approvals.auto(allow_outside=True).decide(CALL, OUTSIDE)).approved
    asker = Asker("deny")
    outside_write = ToolAccess(kind="write", summary="w", outside_project=True, scope_key="w")
    policy = Approvals.interactive(asker, allow_outside=True)
    assert not (await policy.decide(CALL, outside_write)).approved
    assert asker.asked == ["w"]


async def test_headless_without_a_terminal_runs_reads_and_refuses_the_rest() -> None:
    policy = Approvals.headless()
    assert policy.mode == "read-only"
    assert (await policy.decide(CALL, READ)).approved
    verdict = await policy.decide(CALL, EXEC)
    assert (verdict.approved, verdict.how) == (False, "no-terminal")
    assert verdict.reason == (
        "Refused: shell: make needs approval (execute), but lakecode is running headless "
        "with no terminal to ask on; re-run with --yes to allow writes and commands inside the project.")


def test_headless_modes() -> None:
    assert Approvals.headless(yes=True).mode == "auto"
    assert Approvals.headless(ask=Asker()).mode == "ask"
    assert Approvals.headless().mode == "read-only"
    with pytest.raises(ValueError, match="needs an ask callback"):
        Approvals("ask")


async def test_ask_once_session_and_deny() -> None:
    asker = Asker("once", "session", "deny")
    policy = Approvals.interactive(asker)
    assert (await policy.decide(CALL, READ)).how == "read-only"  # reads are not asked about
    assert (await policy.decide(CALL, WRITE)).how == "once"
    assert (await policy.decide(CALL, WRITE)).how == "session"
    assert (await policy.decide(CALL, WRITE)).how == "remembered"  # not asked again
    verdict = await policy.decide(CALL, EXEC)  # another scope key: asked
    assert (verdict.approved, verdict.how) == (False, "denied")
    assert verdict.reason.startswith("Denied: the user did not approve shell: make.")
    assert asker.asked == ["file_editor create a.py", "file_editor create a.py", "shell: make"]
    assert policy.remembered == {"file_editor:write"}


async def test_terminal_prompt_reads_answers_and_writes_the_question() -> None:
    out = io.StringIO()
    ask = terminal_prompt(io.StringIO("maybe\ny\na\nn\n"), out)
    assert await ask(CALL, EXEC) == "once"  # "maybe" is asked again
    assert await ask(CALL, EXEC) == "session"
    assert await ask(CALL, EXEC) == "deny"
    assert await ask(CALL, EXEC) == "deny"  # end of input
    assert out.getvalue().count("lakecode wants to run (execute): shell: make") == 5


async def test_agent_headless_without_tty_refuses_with_the_yes_hint(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[tool_call("file_editor", {"command": "view", "path": "."}, id="r"),
                                 tool_call("shell", {"command": "touch made"}, id="w")]),
        "ok"])
    agent = make_agent(tmp_path, provider, approvals=Approvals.headless())
    events = await collect(agent, "go")
    assert [(e.call_id, e.how) for e in events if isinstance(e, ToolCallApproved)] == [("r", "read-only")]
    denied = [e for e in events if isinstance(e, ToolCallDenied)]
    assert [d.call_id for d in denied] == ["w"]
    assert "re-run with --yes" in denied[0].reason
    assert provider.requests[1].messages[-1].text == denied[0].reason
    assert not (tmp_path / "made").exists()


async def test_agent_refuses_outside_paths_even_with_yes(tmp_path: Path) -> None:
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(tool_calls=[
            tool_call("file_editor", {"command": "view", "path": "/etc/hostname"}, id="o")]),
        "ok"])
    agent = make_agent(tmp_path, provider, approvals=Approvals.auto())
    await collect(agent, "go")
    result = provider.requests[1].messages[-1]
    assert result.is_error and "outside the project directory" in result.text


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_for_terminal_asks_only_when_stdin_is_a_tty() -> None:
    assert Approvals.for_terminal(io.StringIO(), io.StringIO()).mode == "read-only"
    assert Approvals.for_terminal(io.StringIO(), io.StringIO(), yes=True).mode == "auto"
    err = io.StringIO()
    policy = Approvals.for_terminal(FakeTTY("y\n"), err)
    assert policy.mode == "ask"
    assert (await policy.decide(CALL, EXEC)).how == "once"
    assert "shell: make" in err.getvalue()
    assert Approvals().mode == "read-only"  # the safe default


@pytest.mark.parametrize(("scope_key", "words"), [
    ("file_editor:write", "every file edit"),
    ("shell:pytest", "every `pytest` command"),
    ("shell:git push", "every `git push` command"),
    ("shell:cd x && make", "this exact command"),
    ("task_list", "every task_list call"),
])
def test_always_says_what_it_covers(scope_key: str, words: str) -> None:
    from lakecode.agent.approvals import scope_description

    assert scope_description(scope_key) == words


async def test_the_terminal_question_names_what_always_would_approve() -> None:
    out = io.StringIO()
    ask = terminal_prompt(io.StringIO("a\n"), out)
    access = ToolAccess(kind="execute", summary="shell: pytest -q", scope_key="shell:pytest")
    assert await ask(CALL, access) == "session"
    assert "Allow? [y]es once / [a]lways this session (every `pytest` command) / [n]o: " in out.getvalue()
