"""Clients we did not write must work against the emulator unchanged: the ``openai`` client."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from lakecode.emulator import Emulator

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "shell",
            "description": "Run a shell command.",
            "parameters": {
                "type": "object",
                "properties": {"command": {"type": "string"}},
                "required": ["command"],
            },
        },
    }
]


def _client(emu: Emulator) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{emu.url}/serving-endpoints", api_key=emu.pat, max_retries=0)


def test_openai_streams_a_tool_call(emulator: Emulator) -> None:
    emulator.scripted_model.enqueue(
        [{"text": "Listing files.", "tool_calls": [{"name": "shell", "arguments": {"command": "ls -la"}}]}]
    )
    stream = _client(emulator).chat.completions.create(
        model="team-llm-prod",
        messages=[{"role": "user", "content": "what is here?"}],
        tools=TOOLS,
        stream=True,
    )
    text, calls, finish, usage = "", {}, None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for tc in choice.delta.tool_calls or []:
                entry = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = tc.id or entry["id"]
                if tc.function is not None:
                    entry["name"] += tc.function.name or ""
                    entry["arguments"] += tc.function.arguments or ""
            finish = choice.finish_reason or finish
    assert text == "Listing files."
    assert list(calls) == [0]
    assert calls[0]["name"] == "shell"
    assert calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"command": "ls -la"}
    assert finish == "tool_calls"
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    rec = emulator.requests[-1]
    assert rec.auth_kind == "bearer" and rec.token_id == Emulator.token_id(emulator.pat)
    assert rec.json["model"] == "team-llm-prod"


def test_openai_full_tool_loop_non_streaming(emulator: Emulator) -> None:
    client = _client(emulator)
    messages: list[Any] = [{"role": "user", "content": "run: echo hi"}]
    first = client.chat.completions.create(
        model="databricks-claude-sonnet-4-5", messages=messages, tools=TOOLS
    )
    msg = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert msg.content == ""  # tool-only turns come back with empty content, like the real service
    (call,) = msg.tool_calls or []
    assert call.function.name == "shell"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"command": "echo hi"}  # type: ignore[union-attr]
    messages.append({"role": "assistant", "content": None, "tool_calls": [call.model_dump()]})
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "hi\n"})
    second = client.chat.completions.create(
        model="databricks-claude-sonnet-4-5", messages=messages, tools=TOOLS
    )
    assert second.choices[0].message.content == "Command finished. Output:\nhi\n"
    assert second.choices[0].finish_reason == "stop"


def test_openai_sees_databricks_errors_as_status_errors(emulator: Emulator) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _client(emulator).chat.completions.create(
            model="databricks-claude-opus-4-7",
            messages=[{"role": "user", "content": "hi"}],
            temperature=0.2,
        )
    assert info.value.status_code == 400
    assert "does not support the temperature parameter" in str(info.value)


def test_openai_responses_stream(emulator: Emulator) -> None:
    emulator.scripted_model.enqueue(
        [{"text": "Running it.", "tool_calls": [{"name": "shell", "arguments": {"command": "pytest -q"}}]}]
    )
    stream = _client(emulator).responses.create(
        model="databricks-gpt-5-2-codex",
        input="run the tests",
        tools=[{"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}}],
        stream=True,
    )
    kinds, text, args, final = [], "", "", None
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        elif event.type == "response.function_call_arguments.delta":
            args += event.delta
        elif event.type == "response.completed":
            final = event.response
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert text == "Running it."
    assert json.loads(args) == {"command": "pytest -q"}
    assert final is not None and final.usage is not None and final.usage.total_tokens > 0
    assert final.output_text == "Running it."
    calls = [item for item in final.output if item.type == "function_call"]
    assert [c.name for c in calls] == ["shell"]


def test_openai_responses_non_streaming(emulator: Emulator) -> None:
    response = _client(emulator).responses.create(model="databricks-gpt-5-2", input="hello there")
    assert response.output_text == "Echo: hello there"
    assert response.status == "completed"
