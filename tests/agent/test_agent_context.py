"""Context management: estimates, calibration, trimming order, pairing invariants, agent integration."""

from __future__ import annotations

import random
from pathlib import Path

from agent_helpers import EchoTool, assert_paired, collect, make_agent

from lakecode.agent.context import DEFAULT_CONTEXT_WINDOW, ContextManager, estimate_chars
from lakecode.agent.events import ContextCompacted
from lakecode.llm.types import Message, ReasoningPart, TextPart, ToolCall, Usage
from lakecode.testing.fake_provider import ScriptedProvider, ScriptedTurn, tool_call


def exchange(n: int, *, steps: int = 1, output_lines: int = 200) -> list[Message]:
    """A prompt, ``steps`` tool steps with big outputs, and a final answer."""
    out: list[Message] = [Message.user(f"prompt {n}")]
    for s in range(steps):
        call = ToolCall.create(f"c{n}-{s}", "shell", {"command": f"step {s}"})
        out.append(Message.assistant(f"step {s}", (call,)))
        out.append(Message.tool(call.id, "\n".join(f"output {n}.{s} line {i}" for i in range(output_lines)),
                                name="shell"))
    out.append(Message.assistant(f"answer {n}"))
    return out


def test_estimate_counts_what_is_sent() -> None:
    message = Message(role="assistant", parts=(TextPart("abcd" * 10), ReasoningPart("x" * 40, "s"),
                                               ReasoningPart("y" * 400, replayable=False)),
                      tool_calls=(ToolCall("i", "shell", {}, arguments_json='{"command":"ls"}'),))
    assert estimate_chars(message) == 40 + 40 + len("shell") + len('{"command":"ls"}')
    manager = ContextManager(1000)
    assert manager.estimate([message]) == int(101 / 4 + 4)


def test_budget_and_default_window() -> None:
    assert ContextManager().context_window == DEFAULT_CONTEXT_WINDOW
    assert ContextManager(100_000).budget == int((100_000 - 8192) * 0.9)
    assert ContextManager(100_000, max_output_tokens=1000).budget == int(99_000 * 0.9)


def test_a_conversation_that_fits_is_sent_unchanged() -> None:
    history = exchange(1)
    prepared = ContextManager(100_000).prepare(history)
    assert prepared.compacted is None
    assert all(a is b for a, b in zip(prepared.messages, history, strict=True))


def test_old_tool_outputs_are_trimmed_first_and_the_latest_kept() -> None:
    history = exchange(1) + exchange(2) + exchange(3, steps=1)[:3]  # ends with a fresh tool result
    manager = ContextManager(3000, max_output_tokens=500)
    before = manager.estimate(history)
    prepared = manager.prepare(history)
    assert prepared.compacted is not None and prepared.compacted.reason == "budget"
    assert prepared.compacted.tokens_before == before
    assert prepared.estimated_tokens <= manager.budget * 0.75
    texts = [m.text for m in prepared.messages if m.role == "tool"]
    assert texts[:2] == ["[output trimmed: 200 lines]", "[output trimmed: 200 lines]"]
    assert texts[2].startswith("output 3.0 line 0")  # the model has not seen it yet
    assert len(prepared.messages) == len(history)  # nothing dropped: trimming was enough
    assert manager.dropped_messages == 0 and manager.trimmed_outputs == 2
    assert_paired(prepared.messages)
    # decisions are stable: the same objects next turn, no new event
    again = manager.prepare(history)
    assert again.compacted is None
    assert all(a is b for a, b in zip(again.messages, prepared.messages, strict=True))


def test_whole_old_exchanges_are_dropped_when_trimming_is_not_enough() -> None:
    history = [Message.system("sys")]
    for n in range(1, 6):
        history += [Message.user(f"prompt {n} " + "p" * 3000), Message.assistant(f"answer {n} " + "a" * 3000)]
    manager = ContextManager(8000, max_output_tokens=1000)
    prepared = manager.prepare(history)
    roles = [m.role for m in prepared.messages]
    assert roles[0] == "system" and prepared.messages[0].text == "sys"
    assert roles[1:] == ["user", "assistant"] * (len(roles[1:]) // 2)
    kept = [m.text for m in prepared.messages if m.role == "user"]
    assert kept[-1].startswith("prompt 5")  # the latest exchange is always kept
    first_user = next(m for m in prepared.messages if m.role == "user")
    assert first_user.parts[0].text.startswith(f"[{manager.dropped_messages} earlier messages were omitted")
    assert manager.dropped_messages >= 2 and manager.dropped_messages % 2 == 0
    assert prepared.estimated_tokens <= manager.budget


def test_steps_of_the_latest_exchange_go_last_and_never_the_last_step() -> None:
    history = exchange(1, steps=8, output_lines=10)[:-1]  # still working: ends with a tool result
    for i, m in enumerate(history):  # make the assistant messages big so trimming outputs is not enough
        if m.role == "assistant":
            history[i] = Message.assistant("think " * 400, m.tool_calls)
    manager = ContextManager(3000, max_output_tokens=500)
    prepared = manager.prepare(history)
    assert prepared.messages[0].role == "user" and "prompt 1" in prepared.messages[0].text
    assert prepared.messages[-1] is history[-1]
    assert prepared.messages[-2] is history[-2]
    assert manager.dropped_messages > 0
    assert_paired(prepared.messages)


def test_random_histories_never_orphan_a_call_or_a_result() -> None:
    rng = random.Random(7)
    for trial in range(60):
        history: list[Message] = [Message.system("s")]
        for n in range(rng.randint(1, 6)):
            history.append(Message.user(f"p{n} " + "u" * rng.randint(0, 2000)))
            for s in range(rng.randint(0, 4)):
                calls = tuple(
                    ToolCall.create(f"{trial}-{n}-{s}-{k}", "echo", {"text": "x" * rng.randint(0, 500)})
                    for k in range(rng.randint(1, 3)))
                history.append(Message.assistant("t" * rng.randint(0, 800), calls))
                history += [Message.tool(c.id, "o\n" * rng.randint(0, 800), name="echo") for c in calls]
            if rng.random() < 0.7:
                history.append(Message.assistant("done " * rng.randint(0, 200)))
        manager = ContextManager(rng.choice([1500, 3000, 6000]), max_output_tokens=300)
        prepared = manager.prepare(history)
        assert_paired(prepared.messages)
        assert prepared.messages[0].text == "s"
        compacted = manager.compact(history)
        assert_paired(compacted.messages)
        last_user = max(i for i, m in enumerate(history) if m.role == "user")
        assert any(m.role == "user" and m.text.endswith(history[last_user].text) for m in compacted.messages)


def test_calibration_from_reported_usage() -> None:
    history = [Message.user("x" * 4000)]
    manager = ContextManager(100_000)
    first = manager.prepare(history).estimated_tokens
    assert first == 1004
    manager.observe(Usage(prompt_tokens=2008))  # the real tokenizer counts twice as many
    assert 1.4 < manager.ratio < 1.6  # smoothed towards 2
    for _ in range(10):
        manager.prepare(history)
        manager.observe(Usage(prompt_tokens=2008))
    assert abs(manager.ratio - 2.0) < 0.01
    manager.observe(Usage(prompt_tokens=10**9))
    assert manager.ratio <= 4.0


def test_overflow_messages_that_state_the_counts_teach_the_window() -> None:
    manager = ContextManager(1_000_000)
    manager.prepare([Message.user("x" * 40_000)])
    manager.learn_from_error("input length and max_tokens exceed context limit: 196758 + 8192 > 200000")
    assert manager.context_window == 200_000
    assert manager.ratio == 4.0  # clamped: 196758 tokens for ~10k estimated
    manager.learn_from_error("Input is too long for requested model.")
    assert manager.context_window == 200_000


async def test_agent_uses_the_model_context_window_and_compacts_on_budget(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("".join(f"line {i}\n" for i in range(3000)))
    provider = ScriptedProvider(context_window=5000).enqueue([
        ScriptedTurn(tool_calls=[tool_call("file_editor", {"command": "view", "path": "big.txt"}, id="v1")]),
        ScriptedTurn(tool_calls=[tool_call("echo", {"text": "small"}, id="e2")]),
        "done",
    ])
    tools = [*make_agent(tmp_path, ScriptedProvider()).tools.values(), EchoTool()]
    agent = make_agent(tmp_path, provider, tools=tools)
    events = await collect(agent, "go")
    assert agent.context is not None and agent.context.context_window == 5000
    compacted = [e for e in events if isinstance(e, ContextCompacted)]
    assert [c.reason for c in compacted] == ["budget"]
    # the view result was sent in full while the model had not seen it, trimmed afterwards
    assert provider.requests[1].messages[-1].text.startswith("     1\tline 0")
    last = provider.requests[-1].messages
    assert [m.text for m in last if m.role == "tool"] == ["[output trimmed: 1001 lines]", "echo: small"]
    assert agent.messages[2].text.startswith("     1\tline 0")  # the conversation itself is complete
