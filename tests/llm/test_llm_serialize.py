"""The serializer: one whitelist per dialect (F12, F13, F14), per-model shaping (F24, F26, F27)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llm_helpers import kitchen_sink_history

from lakecode.llm.quirks import Dialect, ModelQuirks
from lakecode.llm.serialize import (
    CHAT_BODY_KEYS,
    CHAT_MESSAGE_KEYS,
    MAX_ITEM_ID_LENGTH,
    RESPONSES_BODY_KEYS,
    serialize_request,
    truncate_id,
)
from lakecode.llm.types import ChatRequest, Message, ReasoningPart, TextPart, ToolCall, ToolSpec

TOOL = ToolSpec("read_file", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}},
                                              "required": ["path"]})
ALL_OPTIONS: dict[str, Any] = {
    "tools": (TOOL,), "tool_choice": "auto", "max_tokens": 10_000, "temperature": 0.2, "top_p": 0.9,
    "reasoning_effort": "high", "thinking_budget": 2048,
}
RESPONSES_ITEM_KEYS = {
    "message": {"role", "content"},
    "function_call": {"type", "call_id", "name", "arguments"},
    "function_call_output": {"type", "call_id", "output"},
    "reasoning": {"type", "id", "summary", "encrypted_content"},
}


def _walk_keys(value: Any) -> set[str]:
    keys: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            keys.add(k)
            keys |= _walk_keys(v)
    elif isinstance(value, list):
        for v in value:
            keys |= _walk_keys(v)
    return keys


@pytest.mark.parametrize("dialect", [Dialect.CHAT, Dialect.INVOCATIONS])
@pytest.mark.parametrize("style", ["effort", "thinking", "adaptive", "none"])
def test_f12_f13_chat_whitelist_for_every_internal_field(dialect: Dialect, style: Any) -> None:
    request = ChatRequest(model="databricks-claude-sonnet-4-5", messages=kitchen_sink_history(),
                          **ALL_OPTIONS)
    body = serialize_request(request, dialect, ModelQuirks(reasoning_style=style))
    assert set(body) <= CHAT_BODY_KEYS
    assert ("model" in body) is (dialect is Dialect.CHAT)
    for message in body["messages"]:
        assert set(message) <= CHAT_MESSAGE_KEYS[message["role"]], message
    forbidden = {"thinking_blocks", "reasoning_content", "reasoning_details", "strict", "store",
                 "is_error", "replayable", "item_id", "arguments_json", "parts"}
    message_keys = _walk_keys(body["messages"]) | _walk_keys(body["tools"])
    assert not (message_keys & forbidden)
    # the signed reasoning is replayed in the wire form, with its signature (F12/F18)
    assistant = body["messages"][2]
    assert assistant["content"] == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan", "signature": "sig-123"}]}
    ]
    assert "vendor chatter" not in json.dumps(body)


def test_f13_responses_whitelist_for_every_internal_field() -> None:
    request = ChatRequest(model="databricks-gpt-5-2", messages=kitchen_sink_history(), **ALL_OPTIONS)
    body = serialize_request(request, Dialect.RESPONSES, ModelQuirks())
    assert set(body) <= RESPONSES_BODY_KEYS
    assert "messages" not in body and "max_tokens" not in body and body["max_output_tokens"] == 10_000
    assert body["reasoning"] == {"effort": "high"}
    for item in body["input"]:
        kind = item.get("type", "message")
        assert set(item) <= RESPONSES_ITEM_KEYS[kind], item
    assert body["tools"] == [{"type": "function", "name": "read_file", "description": "Read a file",
                              "parameters": TOOL.parameters}]
    for item in body["input"]:  # every id fits the 64-char limit
        for key in ("id", "call_id"):
            if key in item:
                assert len(item[key]) <= MAX_ITEM_ID_LENGTH
    calls = [i["call_id"] for i in body["input"] if i.get("type") == "function_call"]
    outputs = [i["call_id"] for i in body["input"] if i.get("type") == "function_call_output"]
    assert calls == outputs  # truncated ids still pair up


def test_responses_reasoning_replay_uses_item_id_and_encrypted_content() -> None:
    msg = Message(role="assistant", parts=(ReasoningPart("why", signature="enc==", item_id="rs_1"),
                                           TextPart("answer")))
    body = serialize_request(ChatRequest(model="m", messages=(Message.user("q"), msg, Message.user("again"))),
                             Dialect.RESPONSES)
    assert body["input"][1] == {"type": "reasoning", "id": "rs_1",
                                "summary": [{"type": "summary_text", "text": "why"}],
                                "encrypted_content": "enc=="}
    assert body["input"][2] == {"role": "assistant", "content": "answer"}
    # chat-route reasoning (no item id) is not replayable on Responses: stripped
    chat_reasoning = Message(role="assistant", parts=(ReasoningPart("why", "sig"), TextPart("answer")))
    body = serialize_request(ChatRequest(model="m", messages=(Message.user("q"), chat_reasoning)),
                             Dialect.RESPONSES)
    assert [i.get("type", "message") for i in body["input"]] == ["message", "message"]


def test_truncate_id_is_stable_short_and_distinct() -> None:
    long_a, long_b = "fc_" + "a" * 200, "fc_" + "a" * 199 + "b"
    assert truncate_id("call_1") == "call_1"
    assert len(truncate_id(long_a)) == MAX_ITEM_ID_LENGTH
    assert truncate_id(long_a) == truncate_id(long_a) != truncate_id(long_b)


def test_f14_no_strict_and_object_parameters_with_a_large_toolset() -> None:
    tools = [ToolSpec(f"tool_{i}", f"synthetic {i}", {"properties": {"x": {"type": "integer"}},
                                                      "strict": True, "$schema": "x"})
             for i in range(30)]
    tools.append(ToolSpec("no_schema", "nothing", {}))
    request = ChatRequest(model="m", messages=(Message.user("hi"),), tools=(TOOL, *tools))
    for dialect in Dialect:
        body = serialize_request(request, dialect)
        assert "strict" not in _walk_keys(body) and "store" not in body
        for tool in body["tools"]:
            params = tool["parameters"] if dialect is Dialect.RESPONSES else tool["function"]["parameters"]
            assert params["type"] == "object"
        assert len(body["tools"]) == 32


def test_f19_empty_assistant_content_beside_tool_calls_is_null() -> None:
    call = ToolCall.create("call_1", "f", {"a": 1})
    history = (Message.user("q"), Message(role="assistant", parts=(TextPart(""),), tool_calls=(call,)),
               Message.tool("call_1", "ok"))
    body = serialize_request(ChatRequest(model="m", messages=history), Dialect.CHAT)
    assistant = body["messages"][1]
    assert assistant == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "ok"}


def test_f24_max_tokens_clamped_to_cap() -> None:
    request = ChatRequest(model="m", messages=(Message.user("q"),), max_tokens=25_000)
    assert serialize_request(request, Dialect.CHAT, ModelQuirks(max_tokens_cap=8192))["max_tokens"] == 8192
    assert serialize_request(request, Dialect.RESPONSES,
                             ModelQuirks(max_tokens_cap=8192))["max_output_tokens"] == 8192
    assert serialize_request(request, Dialect.CHAT)["max_tokens"] == 25_000


def test_f26_unsupported_sampling_params_omitted() -> None:
    request = ChatRequest(model="databricks-claude-opus-4-7", messages=(Message.user("q"),),
                          temperature=0.2, top_p=0.5)
    quirks = ModelQuirks(unsupported_params=frozenset({"temperature", "top_p"}))
    for dialect in Dialect:
        body = serialize_request(request, dialect, quirks)
        assert "temperature" not in body and "top_p" not in body
        assert "temperature" in serialize_request(request, dialect)


def test_essential_keys_cannot_be_dropped() -> None:
    quirks = ModelQuirks(unsupported_params=frozenset({"model", "messages", "stream", "stream_options"}))
    body = serialize_request(ChatRequest(model="m", messages=(Message.user("q"),)), Dialect.CHAT, quirks)
    assert body["model"] == "m" and body["messages"] and body["stream"] is True
    assert "stream_options" not in body


def test_f27_no_tools_for_models_without_tool_support() -> None:
    request = ChatRequest(model="m", messages=(Message.user("q"),), tools=(TOOL,), tool_choice="auto")
    for dialect in Dialect:
        body = serialize_request(request, dialect, ModelQuirks(supports_tools=False))
        assert "tools" not in body and "tool_choice" not in body


def test_string_content_for_models_without_list_content() -> None:
    msg = Message(role="assistant", parts=(ReasoningPart("think", "sig"), TextPart("answer")))
    request = ChatRequest(model="m", messages=(Message.user("q"), msg, Message.user("more")))
    listy = serialize_request(request, Dialect.CHAT)["messages"][1]["content"]
    assert listy == [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "think",
                                                        "signature": "sig"}]},
                     {"type": "text", "text": "answer"}]
    plain = serialize_request(request, Dialect.CHAT, ModelQuirks(list_content=False))["messages"][1]
    assert plain == {"role": "assistant", "content": "answer"}
    # reasoning the Responses route returned is not replayed in the chat form
    responses_reasoning = Message(role="assistant", parts=(ReasoningPart("t", "enc", item_id="rs_1"),
                                                           TextPart("answer")))
    request = ChatRequest(model="m", messages=(Message.user("q"), responses_reasoning, Message.user("more")))
    replayed = serialize_request(request, Dialect.CHAT)["messages"][1]
    assert replayed == {"role": "assistant", "content": "answer"}


def test_stream_options_only_when_allowed_and_streaming() -> None:
    request = ChatRequest(model="m", messages=(Message.user("q"),))
    assert serialize_request(request, Dialect.CHAT)["stream_options"] == {"include_usage": True}
    assert "stream_options" not in serialize_request(request, Dialect.CHAT, ModelQuirks(stream_usage=False))
    assert "stream_options" not in serialize_request(request, Dialect.RESPONSES)
    from dataclasses import replace
    non_streaming = serialize_request(replace(request, stream=False), Dialect.CHAT)
    assert "stream" not in non_streaming and "stream_options" not in non_streaming


def test_reasoning_styles() -> None:
    base = ChatRequest(model="m", messages=(Message.user("q"),), max_tokens=8000, temperature=0.3,
                       reasoning_effort="medium")
    effort = serialize_request(base, Dialect.CHAT, ModelQuirks(reasoning_style="effort"))
    assert effort["reasoning_effort"] == "medium" and "thinking" not in effort
    assert effort["temperature"] == 0.3
    claude = serialize_request(base, Dialect.CHAT, ModelQuirks(reasoning_style="thinking"))
    assert claude["thinking"] == {"type": "enabled", "budget_tokens": 7999}  # medium=8192, < max_tokens
    assert "reasoning_effort" not in claude and "temperature" not in claude
    from dataclasses import replace
    small = serialize_request(replace(base, thinking_budget=10, reasoning_effort=None), Dialect.CHAT,
                              ModelQuirks(reasoning_style="thinking"))
    assert small["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    no_max = serialize_request(replace(base, max_tokens=None, thinking_budget=2000), Dialect.CHAT,
                               ModelQuirks(reasoning_style="thinking", max_tokens_cap=5000))
    assert no_max["max_tokens"] == 5000 and no_max["thinking"]["budget_tokens"] == 2000
    too_small = serialize_request(replace(base, max_tokens=1000, thinking_budget=2000), Dialect.CHAT,
                                  ModelQuirks(reasoning_style="thinking"))
    assert "thinking" not in too_small and too_small["temperature"] == 0.3
    adaptive = serialize_request(base, Dialect.CHAT, ModelQuirks(reasoning_style="adaptive"))
    assert adaptive["thinking"] == {"type": "adaptive"} and adaptive["output_config"] == {"effort": "medium"}
    none = serialize_request(base, Dialect.CHAT, ModelQuirks(reasoning_style="none"))
    assert "thinking" not in none and "reasoning_effort" not in none


def test_tool_choice_forms() -> None:
    base = ChatRequest(model="m", messages=(Message.user("q"),), tools=(TOOL,), tool_choice="read_file")
    assert serialize_request(base, Dialect.CHAT)["tool_choice"] == {
        "type": "function", "function": {"name": "read_file"}}
    responses = serialize_request(base, Dialect.RESPONSES)
    assert responses["tool_choice"] == {"type": "function", "name": "read_file"}


def test_model_id_sent_verbatim() -> None:
    odd = "il_model_service.default.il-claude-sonnet-5"
    body = serialize_request(ChatRequest(model=odd, messages=(Message.user("q"),)), Dialect.CHAT)
    assert body["model"] == odd
