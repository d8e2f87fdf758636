"""Network faults: each one ends in recovery or in a clear error, and no conversation data is lost.

429 with and without ``Retry-After``, 5xx bursts, a stream cut in the middle of a tool call, a
token revoked mid-session (service principal: recovers; PAT: a clear re-login error), and the
workspace killed and restarted on the same port in the middle of a run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from reliability_helpers import (
    MODEL,
    EmulatorProcess,
    SharedClock,
    agent,
    ask,
    collect,
    emulator_process,
    provider,
    turn,
)

from lakecode.agent import ConversationStore
from lakecode.agent.events import Notice, Retrying, RunFinished, ToolCallResult
from lakecode.config.settings import DatabricksSettings
from lakecode.emulator import Emulator
from lakecode.errors import (
    APIConnectionError,
    AuthenticationError,
    RateLimitError,
    ServerError,
    StreamError,
)
from lakecode.llm.retry import MAX_ATTEMPTS
from lakecode.llm.types import RetryNotice
from lakecode.testing.fakes import FakeClock

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]


def chat_posts(emu: Emulator) -> list[int]:
    return [r.status for r in emu.requests if r.path.endswith("/chat/completions")]


# ---- 429 and 5xx -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
async def test_429_with_retry_after_waits_that_long_then_succeeds(emulator: Emulator, stream: bool) -> None:
    clock = SharedClock(emulator)
    p = provider(emulator, clock=clock)
    emulator.faults.rate_limit(retry_after=2, count=1, method="POST", endpoint=MODEL)
    events, finish = await turn(p, ask(stream=stream))
    notices = [e for e in events if isinstance(e, RetryNotice)]
    assert [n.delay for n in notices] == [2.0] and clock.sleeps == [2.0]
    assert finish.message.text == "Echo: hello"
    assert chat_posts(emulator) == [429, 200]
    await p.aclose()


async def test_429_without_retry_after_backs_off_and_gives_a_named_error_when_it_persists(
        emulator: Emulator) -> None:
    clock = SharedClock(emulator)
    p = provider(emulator, clock=clock)
    emulator.faults.rate_limit(count=2, method="POST", endpoint=MODEL)
    _, finish = await turn(p, ask())
    assert finish.message.text == "Echo: hello" and chat_posts(emulator) == [429, 429, 200]
    assert len(clock.sleeps) == 2 and all(0 <= s <= 2.0 for s in clock.sleeps)
    emulator.clear_requests()
    emulator.faults.rate_limit(count=None, method="POST", endpoint=MODEL)
    with pytest.raises(RateLimitError) as info:
        await turn(p, ask())
    assert chat_posts(emulator) == [429] * MAX_ATTEMPTS
    assert "REQUEST_LIMIT_EXCEEDED" in info.value.describe() and MODEL in info.value.describe()
    await p.aclose()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_burst_is_retried_through(emulator: Emulator, status: int) -> None:
    p = provider(emulator, clock=SharedClock(emulator))
    emulator.faults.server_error(status, count=MAX_ATTEMPTS - 1, method="POST", endpoint=MODEL)
    _, finish = await turn(p, ask())
    assert finish.message.text == "Echo: hello"
    assert chat_posts(emulator) == [status] * (MAX_ATTEMPTS - 1) + [200]
    await p.aclose()


async def test_a_5xx_outage_ends_the_run_with_a_clear_error_and_a_resumable_conversation(
        emulator: Emulator, tmp_path: Path) -> None:
    p = provider(emulator, clock=SharedClock(emulator))
    store = ConversationStore()
    first = agent(p, tmp_path, store=store)
    _, error = await collect(first, "remember the number 42")
    assert error is None
    emulator.faults.server_error(503, count=None, method="POST")
    events, error = await collect(first, "and now the second question")
    assert isinstance(error, ServerError) and "503" in error.describe()
    assert sum(isinstance(e, Retrying) for e in events) == MAX_ATTEMPTS - 1
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "error"
    saved = store.load(first.conversation.id)
    assert [m.text for m in saved.messages if m.role == "user"] == [
        "remember the number 42", "and now the second question"]
    emulator.faults.clear()
    resumed = agent(p, tmp_path, store=store, conversation=saved)
    events, error = await collect(resumed, "try again")
    assert error is None and isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"
    assert store.load(first.conversation.id).messages[:len(saved.messages)] == saved.messages
    await p.aclose()


# ---- a stream cut in the middle of a tool call ---------------------------------------------------


@pytest.mark.parametrize("mode", ["abort", "eof"])
async def test_a_stream_cut_mid_tool_call_keeps_a_valid_saved_history(
        emulator: Emulator, tmp_path: Path, mode: str) -> None:
    p = provider(emulator, clock=SharedClock(emulator))
    store = ConversationStore()
    emulator.scripted_model.enqueue([
        {"text": "Let me write the file.", "tool_calls": [
            {"name": "file_editor", "arguments": {"command": "create", "path": "cut.txt",
                                                  "file_text": "x" * 400}}]},
    ])
    emulator.faults.add(kind="cut_stream", at="tool_call", mode=mode, count=1, method="POST")
    a = agent(p, tmp_path, store=store)
    events, error = await collect(a, "write cut.txt")
    assert isinstance(error, StreamError), error
    assert "dropped" in error.describe() or "ended" in error.describe()
    assert not any(isinstance(e, ToolCallResult) and not e.is_error for e in events)
    assert not (tmp_path / "cut.txt").exists()  # a half-streamed call never runs
    saved = store.load(a.conversation.id)
    assert saved.messages[0].text == "write cut.txt"
    calls = {c.id for m in saved.messages for c in m.tool_calls}
    answered = {m.tool_call_id for m in saved.messages if m.role == "tool"}
    assert calls == answered  # no call without a result: the strict service accepts it
    emulator.faults.clear()
    resumed = agent(p, tmp_path, store=store, conversation=saved)
    emulator.scripted_model.enqueue(["Recovered."])
    events, error = await collect(resumed, "please continue")
    assert error is None and isinstance(events[-1], RunFinished)
    assert events[-1].final_text == "Recovered."
    await p.aclose()


# ---- a token revoked mid-session ---------------------------------------------------------------


async def test_a_revoked_m2m_token_is_replaced_once_and_the_session_goes_on(emulator: Emulator) -> None:
    p = provider(emulator, auth="oauth-m2m", clock=SharedClock(emulator))
    await turn(p, ask(text="one"))
    assert emulator.token_requests.count("client_credentials") == 1
    token = [r for r in emulator.requests if r.path.endswith("/chat/completions")][-1].token_id
    live = p.http.auth.source.cached()  # type: ignore[union-attr]
    assert live is not None and Emulator.token_id(live.access_token) == token
    assert emulator.revoke(live.access_token)
    _, finish = await turn(p, ask(text="two"))
    assert finish.message.text == "Echo: two"
    assert emulator.token_requests.count("client_credentials") == 2
    assert chat_posts(emulator)[-2:] == [401, 200]
    await p.aclose()


@pytest.mark.parametrize("style", ["401", "403", "400"])
async def test_a_revoked_pat_is_one_clear_relogin_error_not_a_retry_storm(
        emulator: Emulator, tmp_path: Path, style: str) -> None:
    emulator.set_invalid_token_style(style)  # type: ignore[arg-type]
    p = provider(emulator, clock=FakeClock())
    store = ConversationStore()
    a = agent(p, tmp_path, store=store)
    assert (await collect(a, "first"))[1] is None
    emulator.revoke(emulator.pat)
    emulator.clear_requests()
    _, error = await collect(a, "second")
    assert isinstance(error, AuthenticationError)
    assert "lakecode auth login" in (error.hint or "") and emulator.url in (error.hint or "")
    assert error.message.endswith("Invalid Token. The credential cannot be refreshed."), error.message
    assert len(chat_posts(emulator)) == 1  # a PAT cannot be refreshed: no retry
    assert [m.text for m in store.load(a.conversation.id).messages if m.role == "user"] == ["first", "second"]
    await p.aclose()


# ---- the workspace killed and restarted mid-run ---------------------------------------------------


@pytest.fixture
def workspace() -> EmulatorProcess:
    with contextlib.contextmanager(emulator_process)() as proc:
        yield proc  # type: ignore[misc]


def _settings_provider(proc: EmulatorProcess, clock: FakeClock) -> object:
    from pydantic import SecretStr

    from lakecode.config.env import EnvOverrides
    from lakecode.config.settings import Settings
    from lakecode.databricks.auth.token_source import registry
    from lakecode.databricks.provider import build_databricks_provider

    registry.clear()
    settings = Settings(databricks=DatabricksSettings(host=proc.url, auth_type="pat",
                                                      route="serving-endpoints"))
    return build_databricks_provider(settings, EnvOverrides(settings=settings,
                                                            secrets={"pat": SecretStr(proc.pat)}),
                                     clock=clock)


async def test_a_run_survives_the_workspace_restarting_on_the_same_port(
        workspace: EmulatorProcess, tmp_path: Path) -> None:
    p = _settings_provider(workspace, FakeClock())
    store = ConversationStore()
    a = agent(p, tmp_path, store=store)
    assert (await collect(a, "before the restart"))[1] is None  # a pooled keep-alive connection now
    workspace.kill()
    workspace.start()  # same port, same PAT, fresh state
    events, error = await collect(a, "after the restart")
    assert error is None, error
    assert isinstance(events[-1], RunFinished) and events[-1].final_text == "Echo: after the restart"
    await p.aclose()  # type: ignore[attr-defined]


async def test_a_workspace_that_stays_down_is_a_connection_error_and_the_run_can_resume(
        workspace: EmulatorProcess, tmp_path: Path) -> None:
    p = _settings_provider(workspace, FakeClock())
    store = ConversationStore()
    a = agent(p, tmp_path, store=store)
    assert (await collect(a, "first"))[1] is None
    workspace.kill()
    events, error = await collect(a, "second")
    assert isinstance(error, APIConnectionError)
    assert f"127.0.0.1:{workspace.port}" in error.describe()
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "error"
    assert not any(isinstance(e, Notice) for e in events)  # the save itself worked
    saved = store.load(a.conversation.id)
    workspace.start()
    resumed = agent(p, tmp_path, store=store, conversation=saved)
    events, error = await collect(resumed, "third")
    # The unanswered "second" and "third" reach the model as one user turn (F21).
    assert error is None and events[-1].final_text == "Echo: second\n\nthird"  # type: ignore[attr-defined]
    assert [m.text for m in store.load(a.conversation.id).messages if m.role == "user"] == [
        "first", "second", "third"]
    await p.aclose()  # type: ignore[attr-defined]


async def test_the_workspace_killed_mid_stream_is_a_clear_error_and_a_resumable_conversation(
        workspace: EmulatorProcess, tmp_path: Path) -> None:
    import asyncio

    from lakecode.agent.events import TextChunk

    p = _settings_provider(workspace, FakeClock())
    store = ConversationStore()
    workspace.admin("faults", "POST", {"kind": "slow_stream", "delay": 0.2, "count": 1})
    a = agent(p, tmp_path, store=store)
    events = []
    error: BaseException | None = None
    try:
        async for event in a.run("a long answer " * 8):
            events.append(event)
            if isinstance(event, TextChunk) and sum(isinstance(e, TextChunk) for e in events) == 2:
                await asyncio.to_thread(workspace.kill)
    except Exception as exc:  # the error the run ends with is the subject of the test
        error = exc
    assert isinstance(error, StreamError | APIConnectionError)
    assert "dropped" in error.describe() or "reach" in error.describe()
    saved = store.load(a.conversation.id)
    partial = [m for m in saved.messages if m.role == "assistant"]
    assert partial and partial[-1].text  # what had streamed is kept
    workspace.start()
    resumed = agent(p, tmp_path, store=store, conversation=saved)
    events2, error2 = await collect(resumed, "continue")
    assert error2 is None and events2[-1].final_text == "Echo: continue"  # type: ignore[attr-defined]
    await p.aclose()  # type: ignore[attr-defined]
