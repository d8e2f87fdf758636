"""Strict mode: what the real service rejects, with its strings; lenient mode lets it through."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lakecode.emulator import Emulator

CHAT = "/serving-endpoints/chat/completions"
GATEWAY = "/ai-gateway/mlflow/v1/chat/completions"
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
CALL = {"id": "call_A", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def _post(
    client: httpx.Client, messages: list[dict[str, Any]], path: str = CHAT, **extra: Any
) -> httpx.Response:
    return client.post(path, json={"model": "databricks-claude-sonnet-4-5", "messages": messages, **extra})


def _message(r: httpx.Response) -> str:
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "BAD_REQUEST"
    message: str = r.json()["message"]
    return message


USER = {"role": "user", "content": "hi"}


def test_unknown_top_level_key(client: httpx.Client) -> None:
    assert _message(_post(client, [USER], metadata={})) == 'Bad request: json: unknown field "metadata"'
    assert _message(_post(client, [USER], strict=True)) == 'Bad request: json: unknown field "strict"'
    assert (
        _message(_post(client, [USER], path=GATEWAY, store=True)) == "store: Extra inputs are not permitted"
    )
    assert _message(_post(client, [USER], max_completion_tokens=5)).endswith('"max_completion_tokens"')


def test_invocations_accept_their_extra_fields(client: httpx.Client) -> None:
    body = {"messages": [USER], "extra_params": {}, "usage_context": {}, "client_request_id": "x"}
    assert client.post("/serving-endpoints/databricks-gpt-5-2/invocations", json=body).status_code == 200
    assert client.post(CHAT, json={"model": "databricks-gpt-5-2", **body}).status_code == 400


@pytest.mark.parametrize("key", ["thinking_blocks", "reasoning_content", "reasoning_details"])
def test_unknown_message_keys(client: httpx.Client, key: str) -> None:
    messages = [USER, {"role": "assistant", "content": "ok", key: "x"}, {"role": "user", "content": "more"}]
    assert _message(_post(client, messages)) == f"messages.1.{key}: Extra inputs are not permitted"


def test_strict_in_tools(client: httpx.Client) -> None:
    tool = {"type": "function", "function": {**TOOL["function"], "strict": True}}  # type: ignore[dict-item]
    assert (
        _message(_post(client, [USER], tools=[tool]))
        == "tools.0.custom.strict: Extra inputs are not permitted"
    )


def test_tool_without_parameters(client: httpx.Client) -> None:
    r = _post(client, [USER], tools=[{"type": "function", "function": {"name": "f"}}])
    assert _message(r) == '"parameters" is a required property for "function" object in parameter "tools"'


def test_tool_schema_must_be_an_object(client: httpx.Client) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}
    assert (
        _message(_post(client, [USER], tools=[tool]))
        == "tools.0.custom.input_schema.type: Input should be 'object'"
    )


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": ""}],
        [{"role": "user", "content": [{"type": "text", "text": ""}]}],
        [{"role": "user", "content": []}],
        [
            USER,
            {"role": "assistant", "content": "", "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_A", "content": "r"},
        ],
        [USER, {"role": "assistant", "content": None}, {"role": "user", "content": "x"}],
    ],
)
def test_empty_text_is_rejected(client: httpx.Client, messages: list[dict[str, Any]]) -> None:
    assert _message(_post(client, messages)) == "messages: text content blocks must be non-empty"


ALTERNATE = (
    "Conversation roles must alternate (user -> assistant -> user -> assistant -> ...) "
    "with an optional system at the start"
)


@pytest.mark.parametrize(
    "messages",
    [
        [USER, USER],
        [USER, {"role": "system", "content": "late"}],
        [{"role": "assistant", "content": "first"}],
        [USER, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}],
    ],
)
def test_roles_must_alternate(client: httpx.Client, messages: list[dict[str, Any]]) -> None:
    assert _message(_post(client, messages)) == ALTERNATE


def test_tool_calls_need_results_immediately_after(client: httpx.Client) -> None:
    messages = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "user", "content": "?"},
    ]
    assert _message(_post(client, messages)) == (
        "messages.1: tool_use ids were found without tool_result blocks immediately after: call_A. "
        "Each tool_use block must have a corresponding tool_result block in the next message."
    )


def test_every_parallel_call_needs_a_result(client: httpx.Client) -> None:
    call_b = {**CALL, "id": "call_B"}
    messages = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [CALL, call_b]},
        {"role": "tool", "tool_call_id": "call_A", "content": "a"},
    ]
    assert "immediately after: call_B." in _message(_post(client, messages))
    messages.append({"role": "tool", "tool_call_id": "call_B", "content": "b"})
    assert _post(client, messages).status_code == 200


def test_result_for_an_unknown_id(client: httpx.Client) -> None:
    messages = [
        USER,
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_A", "content": "a"},
        {"role": "tool", "tool_call_id": "call_Z", "content": "z"},
    ]
    assert _message(_post(client, messages)) == (
        "messages.3.content.0: unexpected tool_use_id found in tool_result blocks: call_Z. "
        "Each tool_result block must have a corresponding tool_use block in the previous message."
    )
    orphan = [USER, {"role": "tool", "tool_call_id": "call_Q", "content": "q"}]
    assert "unexpected tool_use_id found in tool_result blocks: call_Q" in _message(_post(client, orphan))


def test_valid_history_with_reasoning_replay_is_accepted(client: httpx.Client) -> None:
    reasoning = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "t", "signature": "sig-123"}],
    }
    messages = [
        {"role": "system", "content": "be brief"},
        USER,
        {"role": "assistant", "content": [reasoning], "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_A", "content": "done"},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {"role": "user", "content": [{"type": "text", "text": "thanks"}]},
    ]
    r = _post(
        client, messages, tools=[TOOL], thinking={"type": "enabled", "budget_tokens": 1024}, max_tokens=4096
    )
    assert r.status_code == 200, r.text


def test_unknown_part_type(client: httpx.Client) -> None:
    r = _post(client, [{"role": "user", "content": [{"type": "foo", "text": "x"}]}])
    assert "Input tag 'foo' found using 'type' does not match" in _message(r)


def test_thinking_rules_for_claude(client: httpx.Client) -> None:
    low = _post(client, [USER], thinking={"type": "enabled", "budget_tokens": 512}, max_tokens=4096)
    assert _message(low) == "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
    over = _post(client, [USER], thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=2048)
    assert _message(over) == "`max_tokens` must be greater than `thinking.budget_tokens`"
    gpt = client.post(
        CHAT, json={"model": "databricks-gpt-5-2", "messages": [USER], "thinking": {"type": "adaptive"}}
    )
    assert _message(gpt) == 'Bad request: json: unknown field "thinking"'


def test_gemini_rejects_stream_options(client: httpx.Client) -> None:
    body = {
        "model": "databricks-gemini-2-5-pro",
        "messages": [USER],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    r = client.post(CHAT, json=body)
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert r.json()["message"].startswith("INVALID_ARGUMENT")


@pytest.mark.emulator_config(strict=False)
def test_lenient_mode_accepts_what_strict_rejects(client: httpx.Client) -> None:
    messages = [
        USER,
        USER,
        {"role": "assistant", "content": "", "reasoning_content": "x"},
        {"role": "user", "content": "y"},
    ]
    assert _post(client, messages, metadata={"a": 1}).status_code == 200
    # Model behaviour still applies in lenient mode.
    capped = client.post(
        CHAT, json={"model": "databricks-llama-4-maverick", "messages": [USER], "max_tokens": 9000}
    )
    assert capped.status_code == 400


def test_strict_can_be_switched_at_run_time(emulator: Emulator, client: httpx.Client) -> None:
    assert _post(client, [USER, USER]).status_code == 400
    emulator.config.strict = False
    assert _post(client, [USER, USER]).status_code == 200


THINKING = {"type": "enabled", "budget_tokens": 1024}


def _thinking_turn(client: httpx.Client, emulator: Emulator) -> dict[str, Any]:
    emulator.scripted_model.enqueue(
        [{"reasoning": "plan", "tool_calls": [{"name": "f", "arguments": {}, "id": "call_A"}]}]
    )
    r = _post(client, [USER], tools=[TOOL], thinking=THINKING, max_tokens=4096)
    message: dict[str, Any] = r.json()["choices"][0]["message"]
    return message


def test_thinking_tool_turns_must_replay_the_signed_reasoning(
    emulator: Emulator, client: httpx.Client
) -> None:
    message = _thinking_turn(client, emulator)
    reasoning = message["content"][0]
    assert reasoning["type"] == "reasoning" and reasoning["summary"][0]["signature"].startswith("sig-")
    result = {"role": "tool", "tool_call_id": "call_A", "content": "done"}
    replayed = {"role": "assistant", "content": [reasoning], "tool_calls": message["tool_calls"]}
    ok = _post(client, [USER, replayed, result], tools=[TOOL], thinking=THINKING, max_tokens=4096)
    assert ok.status_code == 200, ok.text
    stripped = {"role": "assistant", "content": None, "tool_calls": message["tool_calls"]}
    missing = _post(client, [USER, stripped, result], tools=[TOOL], thinking=THINKING, max_tokens=4096)
    assert _message(missing).startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`."
    )
    forged = {**reasoning, "summary": [{**reasoning["summary"][0], "signature": "sig-forged"}]}
    bad = _post(
        client,
        [USER, {**replayed, "content": [forged]}, result],
        tools=[TOOL],
        thinking=THINKING,
        max_tokens=4096,
    )
    assert _message(bad) == "messages.1.content.0: Invalid `signature` in `thinking` block"
    # Without thinking the same stripped history is fine.
    assert _post(client, [USER, stripped, result], tools=[TOOL]).status_code == 200
