"""History invariants before every send (F19, F20, F21)."""

from __future__ import annotations

import itertools

from llm_helpers import kitchen_sink_history

from lakecode.llm.history import CANCELLED_RESULT, EMPTY_RESULT, MERGE_SEPARATOR, normalize_history
from lakecode.llm.types import Message, ReasoningPart, TextPart, ToolCall

CALL_A = ToolCall.create("A", "read_file", {"path": "x"})
CALL_B = ToolCall.create("B", "shell", {"cmd": "ls"})


def roles(messages: tuple[Message, ...]) -> list[str]:
    return [m.role for m in messages]


def test_f19_empty_text_beside_tool_calls_is_removed() -> None:
    history = (Message.user("q"),
               Message(role="assistant", parts=(TextPart(""), TextPart("  \n")), tool_calls=(CALL_A,)),
               Message.tool("A", "ok"))
    out = normalize_history(history)
    assert out[1].parts == () and out[1].tool_calls == (CALL_A,)


def test_f19_empty_turns_and_parts_vanish_everywhere() -> None:
    history = (Message.user(""), Message.user("q"), Message.assistant(""), Message.assistant("  "),
               Message(role="user", parts=(TextPart("a"), TextPart(""), TextPart("b"))))
    out = normalize_history(history)
    assert roles(out) == ["user"]
    assert out[0].parts == (TextPart(MERGE_SEPARATOR.join(["q", "a", "b"])),)
    for message in out:
        assert all(p.text.strip() for p in message.parts if isinstance(p, TextPart))


def test_f20_unanswered_call_gets_a_cancelled_result_directly_after() -> None:
    history = (Message.user("q"), Message.assistant("", tool_calls=(CALL_A,)), Message.user("stop, do X"))
    out = normalize_history(history)
    assert roles(out) == ["user", "assistant", "tool", "user"]
    assert out[2].tool_call_id == "A" and out[2].text == CANCELLED_RESULT and out[2].is_error


def test_f20_orphan_result_is_dropped() -> None:
    history = (Message.user("q"), Message.tool("ZZZ", "left over"), Message.assistant("answer"))
    out = normalize_history(history)
    assert roles(out) == ["user", "assistant"]


def test_f20_results_follow_their_call_in_call_order() -> None:
    history = (Message.user("q"), Message.assistant("", tool_calls=(CALL_A, CALL_B)),
               Message.user("interjection"), Message.tool("B", "b"), Message.tool("A", "a"))
    out = normalize_history(history)
    assert roles(out) == ["user", "assistant", "tool", "tool", "user"]
    assert [m.tool_call_id for m in out[2:4]] == ["A", "B"]
    assert [m.text for m in out[2:4]] == ["a", "b"]


def test_f20_result_before_its_call_is_an_orphan() -> None:
    history = (Message.user("q"), Message.tool("A", "early"), Message.assistant("", tool_calls=(CALL_A,)))
    out = normalize_history(history)
    assert roles(out) == ["user", "assistant", "tool"]
    assert out[2].text == CANCELLED_RESULT


def test_f21_same_role_runs_merge_in_order_and_system_moves_first() -> None:
    history = (Message.user("one"), Message.system("sys-1"), Message.user("two"),
               Message.assistant("a1"), Message.assistant("a2"), Message.system("sys-2"),
               Message.user("three"))
    out = normalize_history(history)
    assert roles(out) == ["system", "user", "assistant", "user"]
    assert out[0].text == "sys-1" + MERGE_SEPARATOR + "sys-2"
    assert out[1].text == "one" + MERGE_SEPARATOR + "two"
    assert out[2].text == "a1" + MERGE_SEPARATOR + "a2"


def test_f21_text_then_tool_calls_assistant_runs_merge() -> None:
    history = (Message.user("q"), Message.assistant("Let me look."),
               Message.assistant("", tool_calls=(CALL_A,)), Message.tool("A", "x"))
    out = normalize_history(history)
    assert roles(out) == ["user", "assistant", "tool"]
    assert out[1].text == "Let me look." and out[1].tool_calls == (CALL_A,)


def test_empty_tool_result_gets_placeholder() -> None:
    out = normalize_history((Message.user("q"), Message.assistant("", tool_calls=(CALL_A,)),
                             Message.tool("A", "   ")))
    assert out[2].text == EMPTY_RESULT


def test_unreplayable_reasoning_is_dropped_and_reasoning_only_turns_vanish() -> None:
    history = (Message.user("q"),
               Message(role="assistant", parts=(ReasoningPart("r", replayable=False), TextPart("a"))),
               Message.user("q2"),
               Message(role="assistant", parts=(ReasoningPart("only thinking", "sig"),)),
               Message.user("q3"))
    out = normalize_history(history)
    assert out[1].parts == (TextPart("a"),)
    assert roles(out) == ["user", "assistant", "user"]
    assert out[2].text == "q2" + MERGE_SEPARATOR + "q3"


def test_duplicate_call_ids_are_answered_once() -> None:
    history = (Message.user("q"), Message.assistant("", tool_calls=(CALL_A, CALL_A)), Message.tool("A", "x"))
    out = normalize_history(history)
    assert out[1].tool_calls == (CALL_A,) and roles(out) == ["user", "assistant", "tool"]


def test_kitchen_sink_invariants_and_idempotence() -> None:
    out = normalize_history(kitchen_sink_history())
    assert roles(out) == ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "user",
                          "assistant", "user"]
    assert roles(out).count("system") == 1
    for i, message in enumerate(out):
        if message.role == "tool":
            caller = next(m for m in reversed(out[:i]) if m.role != "tool")
            assert message.tool_call_id in {c.id for c in caller.tool_calls}
        if message.tool_calls:
            results = [m.tool_call_id for m in out[i + 1:i + 1 + len(message.tool_calls)]]
            assert results == [c.id for c in message.tool_calls]
    for a, b in itertools.pairwise(out):
        assert not (a.role == b.role and a.role in ("user", "assistant"))
    assert normalize_history(out) == out
    assert normalize_history(()) == ()


def test_unchanged_history_is_returned_as_is() -> None:
    history = (Message.system("s"), Message.user("q"), Message.assistant("a"))
    out = normalize_history(history)
    assert out == history and all(a is b for a, b in zip(out[1:], history[1:], strict=True))
