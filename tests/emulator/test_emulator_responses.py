"""The Responses dialect on /serving-endpoints/responses and the gateway."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lakecode.emulator import Emulator

RESPONSES = "/serving-endpoints/responses"
FLAT_TOOL = {"type": "function", "name": "shell", "parameters": {"type": "object", "properties": {}}}


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_non_streaming_shape(client: httpx.Client) -> None:
    body = client.post(RESPONSES, json={"model": "databricks-gpt-5-2-codex", "input": "hello"}).json()
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["id"].startswith("resp_")
    assert body["model"] == "gpt-5.2-codex"
    (item,) = body["output"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["content"] == [
        {"type": "output_text", "text": "Echo: hello", "annotations": [], "logprobs": []}
    ]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_function_call_loop(emulator: Emulator, client: httpx.Client) -> None:
    first = client.post(
        RESPONSES, json={"model": "databricks-gpt-5-2-codex", "input": "run: ls", "tools": [FLAT_TOOL]}
    ).json()
    (call,) = first["output"]
    assert call["type"] == "function_call" and call["name"] == "shell"
    assert call["call_id"].startswith("call_") and call["id"].startswith("fc_")
    assert json.loads(call["arguments"]) == {"command": "ls"}
    second = client.post(
        RESPONSES,
        json={
            "model": "databricks-gpt-5-2-codex",
            "instructions": "be brief",
            "tools": [FLAT_TOOL],
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "run: ls"}]},
                {
                    "type": "function_call",
                    "call_id": call["call_id"],
                    "name": "shell",
                    "arguments": call["arguments"],
                },
                {"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt"},
            ],
        },
    ).json()
    assert second["output"][0]["content"][0]["text"] == "Command finished. Output:\na.txt"


def test_stream_events(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [
            {
                "text": "Let me run that.",
                "tool_calls": [{"name": "shell", "arguments": {"command": "pytest -q"}}],
            }
        ]
    )
    r = client.post(
        RESPONSES, json={"model": "databricks-gpt-5-2", "input": "x", "tools": [FLAT_TOOL], "stream": True}
    )
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    kinds = [k for k, _ in events]
    assert all(k == payload["type"] for k, payload in events)
    assert [p["sequence_number"] for _, p in events] == list(range(len(events)))
    assert kinds[0] == "response.created" and kinds[1] == "response.in_progress"
    assert kinds[-1] == "response.completed"
    assert "[DONE]" not in r.text
    expected_order = [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    deduped = [k for i, k in enumerate(kinds[2:-1]) if i == 0 or k != kinds[2:-1][i - 1]]
    assert deduped == expected_order
    text = "".join(p["delta"] for k, p in events if k == "response.output_text.delta")
    args = "".join(p["delta"] for k, p in events if k == "response.function_call_arguments.delta")
    assert text == "Let me run that."
    assert json.loads(args) == {"command": "pytest -q"}
    done = next(p for k, p in events if k == "response.function_call_arguments.done")
    assert done["arguments"] == args and done["output_index"] == 1
    completed = events[-1][1]["response"]
    assert completed["status"] == "completed" and completed["usage"]["output_tokens"] > 0
    assert [o["type"] for o in completed["output"]] == ["message", "function_call"]


def test_nested_chat_tools_are_rejected(client: httpx.Client) -> None:
    nested = {"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}
    r = client.post(RESPONSES, json={"model": "databricks-gpt-5-2", "input": "x", "tools": [nested]})
    assert r.status_code == 400
    assert r.json()["message"] == "Missing required parameter: 'tools[0].name'."


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "databricks-gpt-5-2", "input": "x", "messages": []}, "Unknown parameter: 'messages'."),
        (
            {"model": "databricks-gpt-5-2", "input": "x", "temperature": 0.5},
            "Unsupported parameter: 'temperature' is not supported with this model.",
        ),
        (
            {"model": "databricks-claude-sonnet-4-5", "input": "x"},
            "Model databricks-claude-sonnet-4-5 does not support the Responses API",
        ),
        ({"model": "databricks-gpt-5-2"}, "Missing required parameter: 'input'."),
    ],
)
def test_responses_refusals(client: httpx.Client, body: dict[str, Any], message: str) -> None:
    r = client.post(RESPONSES, json=body)
    assert r.status_code == 400
    assert r.json()["message"] == message


def test_unknown_model_and_gateway_route(emulator: Emulator, client: httpx.Client) -> None:
    r = client.post(RESPONSES, json={"model": "gpt-6", "input": "x"})
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    ok = client.post("/ai-gateway/mlflow/v1/responses", json={"model": "system.ai.gpt-5-2", "input": "hey"})
    assert ok.status_code == 200 and ok.json()["output"][0]["content"][0]["text"] == "Echo: hey"
    emulator.config.gateway = "501"
    assert (
        client.post("/ai-gateway/mlflow/v1/responses", json={"model": "x", "input": "x"}).status_code == 501
    )


def test_responses_stream_can_be_cut(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.cut_stream(after_chunks=3, mode="eof")
    r = client.post(RESPONSES, json={"model": "databricks-gpt-5-2", "input": "x", "stream": True})
    events = _events(r.text)
    assert len(events) == 3 and events[-1][0] != "response.completed"
