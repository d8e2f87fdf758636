"""The Anthropic Messages dialect (Claude models) and its credential rules."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lakecode.emulator import Emulator

SERVING = "/serving-endpoints/anthropic/v1/messages"
GATEWAY = "/ai-gateway/anthropic/v1/messages"
TOOL = {"name": "shell", "description": "Run.", "input_schema": {"type": "object", "properties": {}}}


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "databricks-claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hello"}],
        **extra,
    }


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_text_message(client: httpx.Client) -> None:
    body = client.post(SERVING, json=_body(system="be brief")).json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": "Echo: hello"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] > 0


@pytest.mark.parametrize("path", [SERVING, GATEWAY])
def test_x_api_key_only_is_rejected(emulator: Emulator, anon: httpx.Client, path: str) -> None:
    emulator.set_invalid_token_style("403")
    r = anon.post(path, json=_body(), headers={"x-api-key": emulator.pat, "anthropic-version": "2023-06-01"})
    assert (r.status_code, r.json()["message"]) == (403, "Invalid Token")
    assert emulator.requests[-1].auth_kind == "x-api-key-only"


def test_tool_use_round_trip(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [{"tool_calls": [{"name": "shell", "arguments": {"command": "ls"}, "id": "toolu_1"}]}]
    )
    first = client.post(SERVING, json=_body(tools=[TOOL])).json()
    assert first["stop_reason"] == "tool_use"
    assert first["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "shell", "input": {"command": "ls"}}
    ]
    history = [
        {"role": "user", "content": "run: ls"},
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}]},
    ]
    second = client.post(GATEWAY, json=_body(messages=history, tools=[TOOL])).json()
    assert second["content"] == [{"type": "text", "text": "Command finished. Output:\na.txt"}]


def test_stream_with_thinking_and_tool(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [
            {
                "text": "ok",
                "reasoning": "think hard",
                "signature": "sig-123",
                "tool_calls": [{"name": "shell", "arguments": {"command": "pwd"}}],
            }
        ]
    )
    r = client.post(
        SERVING, json=_body(stream=True, tools=[TOOL], thinking={"type": "enabled", "budget_tokens": 1024})
    )
    events = _events(r.text)
    kinds = [k for k, _ in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    starts = [p["content_block"]["type"] for k, p in events if k == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use"]
    deltas = [p["delta"] for k, p in events if k == "content_block_delta"]
    assert "".join(d.get("thinking", "") for d in deltas) == "think hard"
    assert [d["signature"] for d in deltas if d["type"] == "signature_delta"] == ["sig-123"]
    assert "".join(d.get("text", "") for d in deltas) == "ok"
    assert json.loads("".join(d.get("partial_json", "") for d in deltas)) == {"command": "pwd"}
    final = next(p for k, p in events if k == "message_delta")
    assert final["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        (
            {"tools": [{**TOOL, "eager_input_streaming": True}]},
            "tools.0.custom.eager_input_streaming: Extra inputs are not permitted",
        ),
        (
            {"model": "databricks-gpt-5-2"},
            "Model databricks-gpt-5-2 does not support the Anthropic Messages API",
        ),
        (
            {"model": "databricks-claude-opus-4-7", "temperature": 0.3},
            "BAD_REQUEST: Model us.anthropic.claude-opus-4-7 does not support the temperature parameter",
        ),
        ({"max_tokens": 64001}, "max_tokens (64001) cannot exceed 64000"),
        ({"betas": ["x"]}, "betas: Extra inputs are not permitted"),
    ],
)
def test_refusals(client: httpx.Client, change: dict[str, Any], message: str) -> None:
    body = {k: v for k, v in {**_body(), **change}.items() if v is not None}
    r = client.post(SERVING, json=body)
    assert r.status_code == 400
    assert r.json()["message"] == message


def test_gateway_accepts_uc_names_and_can_be_absent(emulator: Emulator, client: httpx.Client) -> None:
    r = client.post(GATEWAY, json=_body(model="il_model_service.default.il-claude-sonnet-5"))
    assert r.status_code == 200
    emulator.config.gateway = "feature_disabled"
    assert client.post(GATEWAY, json=_body()).json()["error_code"] == "FEATURE_DISABLED"


def test_count_tokens_is_not_a_serving_route(client: httpx.Client) -> None:
    r = client.post(SERVING + "/count_tokens", json=_body())
    assert r.status_code == 404
    assert r.json()["message"].startswith(
        "Path must be of form /serving-endpoints/<endpoint_name>/invocations"
    )
