"""The conversation store: exact round trips, atomic saves, corrupt files, listing and resume."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
from agent_helpers import EchoTool, collect, make_agent

from lakecode.agent import ConversationStore
from lakecode.agent.events import Notice, RunFinished
from lakecode.agent.store import (
    ConversationNotFoundError,
    CorruptConversationError,
    message_from_dict,
    message_to_dict,
)
from lakecode.config.paths import conversations_dir
from lakecode.llm.types import Message, ReasoningPart, TextPart, ToolCall, Usage
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call
from lakecode.testing.fakes import FakeClock

RICH_HISTORY = [
    Message.system("You are lakecode."),
    Message.user("héllo ✓ \u2028 \"quotes\"\nsecond line"),
    Message(role="assistant",
            parts=(ReasoningPart("let me think", signature="sig==abc"),
                   ReasoningPart("shown only", replayable=False),
                   TextPart("I'll look.")),
            tool_calls=(ToolCall("call_1", "shell", {"command": "ls", "timeout": 5},
                                 arguments_json='{ "command" : "ls", "timeout": 5 }'),
                        ToolCall.create("call_2", "file_editor", {"command": "view", "path": "a b/ç.py"}))),
    Message.tool("call_1", "a.py\nb.py", name="shell"),
    Message.tool("call_2", "no such file", name="file_editor", is_error=True),
    Message.assistant("done"),
]


def test_every_message_field_round_trips() -> None:
    for message in RICH_HISTORY:
        data = json.loads(json.dumps(message_to_dict(message)))
        assert message_from_dict(data) == message


def test_save_load_round_trip_with_metadata() -> None:
    clock = FakeClock()
    store = ConversationStore(clock=clock)
    conv = store.new(model="m-1", provider="scripted", cwd="/work/proj")
    for message in RICH_HISTORY:
        conv.append(message)
    store.save(conv)
    path = conversations_dir() / f"{conv.id}.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = store.load(conv.id)
    assert loaded.messages == RICH_HISTORY
    assert (loaded.model, loaded.provider, loaded.cwd) == ("m-1", "scripted", "/work/proj")
    assert loaded.title == "héllo ✓"  # the first line (U+2028 ends a line too)
    assert (loaded.created, loaded.updated) == (clock.time(), clock.time())
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["type"] == "meta" and first["version"] == 1 and first["message_count"] == 6


def test_title_is_the_first_prompt_line_shortened() -> None:
    store = ConversationStore()
    conv = store.new()
    conv.append(Message.user("x" * 200 + "\nmore"))
    conv.append(Message.user("later prompt"))
    assert conv.title == "x" * 79 + "…"


def test_ids_sort_by_time_and_list_is_newest_first() -> None:
    clock = FakeClock()
    store = ConversationStore(clock=clock)
    ids = []
    for i in range(3):
        conv = store.new(model=f"m{i}")
        conv.append(Message.user(f"prompt {i}"))
        store.save(conv)
        ids.append(conv.id)
        clock.advance(0.002)
    assert ids == sorted(ids)
    assert re.fullmatch(r"\d{8}T\d{9}Z-[0-9a-f]{6}", ids[0])
    listing = store.list()
    assert [s.id for s in listing.conversations] == ids[::-1]
    assert [s.title for s in listing.conversations] == ["prompt 2", "prompt 1", "prompt 0"]
    assert listing.problems == ()
    last = store.last()
    assert last is not None and last.id == ids[2]


def test_last_is_the_most_recently_updated() -> None:
    clock = FakeClock()
    store = ConversationStore(clock=clock)
    old, new = store.new(), store.new()
    clock.advance(1)
    store.save(new)
    clock.advance(1)
    store.save(old)
    last = store.last()
    assert last is not None and last.id == old.id


def test_empty_store() -> None:
    store = ConversationStore()
    assert store.list().conversations == () and store.last() is None


def test_corrupt_files_are_reported_not_crashed_on() -> None:
    store = ConversationStore()
    good = store.new()
    good.append(Message.user("fine"))
    store.save(good)
    directory = conversations_dir()
    (directory / "20200101T000000000Z-aaaaaa.jsonl").write_text("{not json\n")
    (directory / "20200101T000000000Z-bbbbbb.jsonl").write_text('{"type": "message"}\n')
    truncated = directory / "20200101T000000000Z-cccccc.jsonl"
    lines = good.to_jsonl().decode().splitlines()
    lines[0] = lines[0].replace(good.id, "20200101T000000000Z-cccccc")
    truncated.write_text(lines[0] + "\n" + lines[1][:20] + "\n")

    listing = store.list()
    assert {s.id for s in listing.conversations} == {good.id, "20200101T000000000Z-cccccc"}
    problems = {p.name: msg for p, msg in listing.problems}
    assert problems["20200101T000000000Z-aaaaaa.jsonl"].endswith("the first line is not JSON "
                                                                 "(Expecting property name enclosed in "
                                                                 "double quotes: line 1 column 2 (char 1))")
    assert problems["20200101T000000000Z-bbbbbb.jsonl"].endswith(
        "the first line is not a conversation header")
    with pytest.raises(CorruptConversationError, match=r"cccccc.jsonl, line 2: JSONDecodeError"):
        store.load("20200101T000000000Z-cccccc")
    last = store.last()
    assert last is not None and last.id == good.id


def test_unknown_ids_and_bad_ids() -> None:
    store = ConversationStore()
    with pytest.raises(ConversationNotFoundError):
        store.load("20990101T000000000Z-ffffff")
    with pytest.raises(ConversationNotFoundError):
        store.load("../../etc/passwd")


def test_a_full_disk_during_save_keeps_the_previous_save(monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConversationStore()
    conv = store.new()
    conv.append(Message.user("first"))
    store.save(conv)
    path = conversations_dir() / f"{conv.id}.jsonl"
    before = path.read_bytes()

    conv.append(Message.assistant("second"))

    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space left"):
        store.save(conv)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert [m.text for m in store.load(conv.id).messages] == ["first"]


async def test_the_agent_reports_a_failed_save_and_carries_on(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConversationStore()

    def failing_save(conversation_id: str, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write", failing_save)
    provider = ScriptedProvider().enqueue(["fine"])
    agent = make_agent(tmp_path, provider, tools=[], store=store)
    events = await collect(agent, "go")
    notices = [e for e in events if isinstance(e, Notice)]
    assert notices and notices[0].message == "could not save the conversation: No space left on device"
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"


def test_incremental_serialisation_matches_a_fresh_one() -> None:
    store = ConversationStore()
    conv = store.new()
    conv.append(Message.user("a"))
    store.save(conv)
    conv.append(Message.assistant("b"))
    conv.messages[0] = Message.user("replaced")  # a changed object is re-serialised
    store.save(conv)
    fresh = store.load(conv.id)
    assert [m.text for m in fresh.messages] == ["replaced", "b"]
    assert fresh.to_jsonl().split(b"\n")[1:] == conv.to_jsonl().split(b"\n")[1:]


async def test_resume_continues_with_the_exact_history(tmp_path: Path) -> None:
    store = ConversationStore()
    provider = ScriptedProvider().enqueue([
        ScriptedTurn(reasoning="plan", reasoning_signature="SIG", text="Looking",
                     tool_calls=[tool_call("echo", {"text": "x"}, id="r1")], usage=Usage(10, 2, 12)),
        ScriptedTurn(text="first answer", usage=Usage(20, 3, 23)),
    ])
    agent = make_agent(tmp_path, provider, tools=[EchoTool()], store=store, system_prompt="sys")
    await collect(agent, "first task")
    saved_id = agent.conversation.id

    resumed_conv = store.last()
    assert resumed_conv is not None and resumed_conv.id == saved_id
    assert resumed_conv.messages == agent.messages
    assert resumed_conv.usage == Usage(30, 5, 35)
    assert (resumed_conv.model, resumed_conv.cwd) == ("scripted-model", str(tmp_path))

    provider2 = ScriptedProvider().enqueue(["second answer"])
    agent2 = make_agent(tmp_path, provider2, tools=[EchoTool()], store=store, conversation=resumed_conv,
                        system_prompt="ignored for a resumed conversation")
    await collect(agent2, "second task")
    sent = provider2.requests[0].messages
    assert list(sent[:-1]) == agent.messages
    assert sent[2].parts[0] == ReasoningPart("plan", signature="SIG")
    assert sent[-1] == Message.user("second task")
    final = store.load(saved_id)
    assert [m.text for m in final.messages][-2:] == ["second task", "second answer"]
    assert len(store.list().conversations) == 1
