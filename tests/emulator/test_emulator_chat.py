"""Data plane: chat completions (JSON and SSE), invocations, the gateway route, embeddings."""

from __future__ import annotations

import json

import httpx
import pytest
from emu_helpers import chat, sse_data

from lakecode.emulator import Emulator

CHAT = "/serving-endpoints/chat/completions"
GATEWAY = "/ai-gateway/mlflow/v1/chat/completions"
SHELL_TOOL = {
    "type": "function",
    "function": {
        "name": "shell",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}},
    },
}


def test_json_completion(emulator: Emulator, client: httpx.Client) -> None:
    r = client.post(CHAT, json=chat("databricks-claude-haiku-4-5", "hi there"))
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl_")
    assert body["model"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Echo: hi there"}, "finish_reason": "stop"}
    ]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert r.headers["x-databricks-org-id"] == emulator.workspace_id
    assert emulator.requests[-1].endpoint == "databricks-claude-haiku-4-5"


def test_tool_only_turn_has_empty_string_content(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [{"tool_calls": [{"name": "shell", "arguments": {"command": "ls"}, "id": "call_1"}]}]
    )
    body = client.post(CHAT, json=chat("databricks-gpt-5-2", tools=[SHELL_TOOL])).json()
    message = body["choices"][0]["message"]
    assert message["content"] == ""
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": '{"command":"ls"}'}}
    ]
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_stream_shape(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(["Hello there, how can I help you today?"])
    r = client.post(CHAT, json=chat("databricks-gpt-5-2", stream=True))
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_data(r.text)
    assert events[-1] == "[DONE]"
    first = events[0]
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"] == {"role": "assistant"}
    text_chunks = events[1:-3]
    assert len(text_chunks) > 1
    assert (
        "".join(e["choices"][0]["delta"]["content"] for e in text_chunks)
        == "Hello there, how can I help you today?"
    )
    finish = events[-3]
    assert finish["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    usage_only = events[-2]
    assert usage_only["choices"] == []
    assert usage_only["usage"]["completion_tokens"] > 0
    assert all("usage" not in e for e in events[:-2])


def test_stream_tool_calls_by_index(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [
            {
                "tool_calls": [
                    {"name": "shell", "arguments": {"command": "echo a long argument"}, "id": "call_a"},
                    {"name": "shell", "arguments": {"command": "echo b"}, "id": "call_b"},
                ]
            }
        ]
    )
    events = sse_data(
        client.post(CHAT, json=chat("databricks-gpt-5-2", stream=True, tools=[SHELL_TOOL])).text
    )
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e["choices"]]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    heads = [c for c in calls if "id" in c]
    assert heads == [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "shell", "arguments": ""}},
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "shell", "arguments": ""}},
    ]
    args: dict[int, str] = {}
    for c in calls:
        args[c["index"]] = args.get(c["index"], "") + c["function"]["arguments"]
    assert json.loads(args[0]) == {"command": "echo a long argument"}
    assert json.loads(args[1]) == {"command": "echo b"}
    order = [c["index"] for c in calls]
    assert order == sorted(order)  # sequential by default
    assert all("content" not in d for d in deltas[1:])
    assert events[-3]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.emulator_config(interleave_tool_calls=True, stream_chunk_chars=4)
def test_stream_interleaved_tool_calls(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [
            {
                "tool_calls": [
                    {"name": "shell", "arguments": {"command": "echo one"}},
                    {"name": "shell", "arguments": {"command": "echo two"}},
                ]
            }
        ]
    )
    events = sse_data(
        client.post(CHAT, json=chat("databricks-gpt-5-2", stream=True, tools=[SHELL_TOOL])).text
    )
    order = [
        e["choices"][0]["delta"]["tool_calls"][0]["index"]
        for e in events
        if isinstance(e, dict) and e["choices"] and "tool_calls" in e["choices"][0]["delta"]
    ]
    assert order[:4] == [0, 1, 0, 1]


@pytest.mark.emulator_config(stream_usage="cumulative", stream_done=False, stream_keepalive=True)
def test_stream_cumulative_usage_no_done_keepalives(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(["one two three four five six seven eight nine ten"])
    r = client.post(CHAT, json=chat("databricks-gpt-5-2", stream=True))
    assert r.text.startswith(": keep-alive\n\n")
    assert r.text.count(": keep-alive") == 2
    events = sse_data(r.text)
    assert "[DONE]" not in events
    assert all("usage" in e for e in events)
    completions = [e["usage"]["completion_tokens"] for e in events]
    assert completions == sorted(completions)
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["usage"]["completion_tokens"] == completions[-1]


@pytest.mark.emulator_config(stream_usage="none")
def test_stream_without_usage(client: httpx.Client) -> None:
    events = sse_data(client.post(CHAT, json=chat("databricks-gpt-5-2", stream=True)).text)
    assert all("usage" not in e for e in events if isinstance(e, dict))


def test_gpt_oss_typed_parts(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue([{"text": "answer", "reasoning": "think"}])
    content = client.post(CHAT, json=chat("databricks-gpt-oss-120b")).json()["choices"][0]["message"][
        "content"
    ]
    assert content == [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
        {"type": "text", "text": "answer"},
    ]
    emulator.scripted_model.enqueue([{"text": "the answer", "reasoning": "let me think"}])
    events = sse_data(client.post(CHAT, json=chat("databricks-gpt-oss-120b", stream=True)).text)
    parts = [
        e["choices"][0]["delta"]["content"]
        for e in events[1:]
        if isinstance(e, dict) and e["choices"] and "content" in e["choices"][0]["delta"]
    ]
    assert all(isinstance(p, list) and len(p) == 1 for p in parts)
    reasoning = "".join(p[0]["summary"][0]["text"] for p in parts if p[0]["type"] == "reasoning")
    text = "".join(p[0]["text"] for p in parts if p[0]["type"] == "text")
    assert (reasoning, text) == ("let me think", "the answer")


def test_claude_reasoning_only_with_thinking_and_late_signature(
    emulator: Emulator, client: httpx.Client
) -> None:
    plain = client.post(CHAT, json=chat("databricks-claude-sonnet-4-5")).json()
    assert isinstance(plain["choices"][0]["message"]["content"], str)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    emulator.scripted_model.enqueue([{"text": "ok", "reasoning": "step by step", "signature": "sig-123"}])
    events = sse_data(
        client.post(
            CHAT, json=chat("databricks-claude-sonnet-4-5", stream=True, thinking=thinking, max_tokens=2048)
        ).text
    )
    parts = [
        e["choices"][0]["delta"]["content"][0]
        for e in events[1:]
        if isinstance(e, dict) and e["choices"] and "content" in e["choices"][0]["delta"]
    ]
    reasoning = [p for p in parts if p["type"] == "reasoning"]
    signatures = [p["summary"][0]["signature"] for p in reasoning]
    assert signatures[:-1] == [""] * (len(signatures) - 1)
    assert signatures[-1] == "sig-123"
    assert "".join(p["summary"][0]["text"] for p in reasoning) == "step by step"
    emulator.scripted_model.enqueue([{"text": "ok", "reasoning": "hm"}])
    body = client.post(
        CHAT, json=chat("databricks-claude-sonnet-4-5", thinking=thinking, max_tokens=2048)
    ).json()
    first = body["choices"][0]["message"]["content"][0]
    assert first["type"] == "reasoning" and first["summary"][0]["signature"].startswith("sig-")


def test_reasoning_content_string(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [{"text": "answer", "reasoning": "hmm"}, {"text": "answer", "reasoning": "hmm"}]
    )
    message = client.post(CHAT, json=chat("databricks-deepseek-r1")).json()["choices"][0]["message"]
    assert message["content"] == "answer" and message["reasoning_content"] == "hmm"
    events = sse_data(client.post(CHAT, json=chat("databricks-deepseek-r1", stream=True)).text)
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "hmm"
    assert "".join(d.get("content", "") for d in deltas) == "answer"


def test_invocations(client: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "client_request_id": "r-1"}
    r = client.post("/serving-endpoints/databricks-llama-4-maverick/invocations", json=body)
    assert r.status_code == 200
    assert r.headers["served-model-name"] == "databricks-llama-4-maverick"
    assert r.json()["choices"][0]["message"]["content"] == "Echo: hi"
    missing = client.post("/serving-endpoints/nope/invocations", json=body)
    assert missing.status_code == 404
    assert missing.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Endpoint with name 'nope' does not exist.",
    }


def test_invocations_stream(client: httpx.Client) -> None:
    r = client.post(
        "/serving-endpoints/team-llm-prod/invocations",
        json={"messages": [{"role": "user", "content": "hi"}], "stream": True},
    )
    assert r.headers["served-model-name"] == "team-llm-prod"
    assert sse_data(r.text)[-1] == "[DONE]"


def test_gateway_accepts_endpoint_and_uc_names(client: httpx.Client) -> None:
    for model in ("il-claude-sonnet-5", "il_model_service.default.il-claude-sonnet-5", "databricks-gpt-5-2"):
        r = client.post(GATEWAY, json=chat(model))
        assert r.status_code == 200, r.text
    missing = client.post(GATEWAY, json=chat("gpt-6-astra"))
    assert missing.status_code == 404
    assert missing.json() == {"error_code": "NOT_FOUND", "message": "llm model not found"}
    # UC-only services are not serving endpoints.
    assert client.post(CHAT, json=chat("il-claude-sonnet-5")).status_code == 404


@pytest.mark.emulator_config(gateway_error_style="openai")
def test_gateway_openai_error_envelope(client: httpx.Client) -> None:
    r = client.post(GATEWAY, json=chat("gpt-6-astra"))
    assert r.json() == {
        "error": {"message": "llm model not found", "type": "invalid_request_error", "code": "NOT_FOUND"}
    }


def test_unknown_model_on_chat_route(client: httpx.Client) -> None:
    r = client.post(CHAT, json=chat("gpt-6-astra"))
    assert r.status_code == 404
    assert r.json() == {
        "error_code": "ENDPOINT_NOT_FOUND",
        "message": "Endpoint with name 'gpt-6-astra' does not exist.",
    }


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("databricks-llama-4-maverick", {"max_tokens": 10000}, "max_tokens (10000) cannot exceed 8192"),
        ("databricks-gpt-oss-120b", {"max_tokens": 25001}, "max_tokens (25001) cannot exceed 25000"),
        (
            "databricks-claude-opus-4-7",
            {"temperature": 0.2},
            "BAD_REQUEST: Model us.anthropic.claude-opus-4-7 does not support the temperature parameter",
        ),
        (
            "databricks-meta-llama-3-3-70b-instruct",
            {"tools": [SHELL_TOOL]},
            "Model response did not respect the required format. Please try again or use a different model.",
        ),
        ("databricks-gpt-5-2-codex", {}, "Model databricks-gpt-5-2-codex only supports the Responses API"),
        ("team-llm-canary", {}, "Endpoint team-llm-canary is not ready. Current state: NOT_READY."),
        ("databricks-gte-large-en", {}, "Missing required embeddings parameter: 'input'"),
    ],
)
def test_model_refusals(client: httpx.Client, model: str, extra: dict[str, object], message: str) -> None:
    r = client.post(CHAT, json=chat(model, **extra))
    assert r.status_code == 400
    assert r.json()["message"] == message


def test_llama_without_tools_and_maverick_at_its_cap_work(client: httpx.Client) -> None:
    assert client.post(CHAT, json=chat("databricks-meta-llama-3-3-70b-instruct")).status_code == 200
    assert client.post(CHAT, json=chat("databricks-llama-4-maverick", max_tokens=8192)).status_code == 200
    assert client.post(CHAT, json=chat("team-llm-prod", tools=[SHELL_TOOL])).status_code == 200


def test_context_overflow_flat(client: httpx.Client) -> None:
    big = "word " * 170_000
    r = client.post(CHAT, json=chat("databricks-claude-haiku-4-5", big, max_tokens=8192))
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("input length and max_tokens exceed context limit: ")
    assert message.endswith(" + 8192 > 200000")


def test_pyfunc_endpoint(client: httpx.Client) -> None:
    chat_body = client.post("/serving-endpoints/churn-predictor/invocations", json={"messages": []})
    assert chat_body.status_code == 400
    assert (
        "exactly one of the input fields {'instances','dataframe_records','dataframe_split','inputs'}"
        in (chat_body.json()["message"])
    )
    ok = client.post(
        "/serving-endpoints/churn-predictor/invocations", json={"dataframe_records": [{"a": 1}, {"a": 2}]}
    )
    assert ok.json() == {"predictions": [0.0, 0.1]}
    assert ok.headers["served-model-name"] == "churn-predictor"


def test_embeddings(client: httpx.Client) -> None:
    r = client.post(
        "/serving-endpoints/embeddings", json={"model": "databricks-gte-large-en", "input": ["a", "b"]}
    )
    body = r.json()
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert len(body["data"][0]["embedding"]) == 8
    again = client.post("/serving-endpoints/databricks-gte-large-en/invocations", json={"input": "a"}).json()
    assert again["data"][0]["embedding"] == body["data"][0]["embedding"]
    assert (
        client.post(
            "/serving-endpoints/embeddings", json={"model": "databricks-gpt-5-2", "input": "a"}
        ).status_code
        == 400
    )
    missing = client.post("/serving-endpoints/databricks-gte-large-en/invocations", json={"text": "a"})
    assert missing.json()["message"] == "Missing required embeddings parameter: 'input'"


def test_unknown_serving_subpath(client: httpx.Client) -> None:
    r = client.post("/serving-endpoints/anthropic/v1/messages/count_tokens", json={})
    assert r.status_code == 404
    assert r.json()["message"].startswith(
        "Path must be of form /serving-endpoints/<endpoint_name>/invocations or "
        "/serving-endpoints/<endpoint_name>/served-models/<served_model_name>/invocations"
    )


def test_malformed_json(client: httpx.Client) -> None:
    r = client.post(CHAT, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["message"] == "Bad request: the request body is not valid JSON"


@pytest.mark.emulator_config(stream_usage="final_bare")
def test_stream_final_chunk_without_choices(client: httpx.Client) -> None:
    events = sse_data(client.post(CHAT, json=chat("databricks-gpt-5-2", stream=True)).text)
    last = events[-2]
    assert "choices" not in last and last["usage"]["total_tokens"] > 0
    assert events[-1] == "[DONE]"
