"""Fault injection: every kind, its scope (path, endpoint, method, count, skip) and its values."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from emu_helpers import chat, sse_data

from lakecode.emulator import NAMED_ERRORS, Emulator, EmulatorConfig, Fault

CHAT = "/serving-endpoints/chat/completions"
LIST = "/api/2.0/serving-endpoints"
QPS = (
    "Exceeded workspace QPS rate limit for databricks-gpt-5-2. Please use a provisioned throughput "
    "Foundation Model APIs endpoint for a higher rate limit."
)


def test_rate_limit_with_retry_after(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.rate_limit(retry_after=2, endpoint="databricks-gpt-5-2")
    r = client.post(CHAT, json=chat("databricks-gpt-5-2"))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "2"
    assert r.json() == {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": QPS}
    assert client.post(CHAT, json=chat("databricks-gpt-5-2")).status_code == 200


def test_rate_limit_without_retry_after_and_variants(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.rate_limit(count=None)
    r = client.post(CHAT, json=chat("databricks-gpt-5-2"))
    assert r.status_code == 429 and "retry-after" not in r.headers
    assert client.post(CHAT, json=chat("databricks-gpt-5-2")).status_code == 429
    emulator.faults.clear()
    emulator.faults.add("rate_limit", variant="tokens")
    tokens = client.post(CHAT, json=chat("databricks-claude-haiku-4-5")).json()["message"]
    assert tokens.startswith(
        "Exceeded workspace output tokens per minute rate limit for databricks-claude-haiku-4-5."
    )
    emulator.faults.add("rate_limit", variant="rest")
    assert client.get(LIST).json()["message"] == "Error: RPC token bucket limit has been exceeded"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (500, "INTERNAL_ERROR"),
        (502, "TEMPORARILY_UNAVAILABLE"),
        (503, "TEMPORARILY_UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ],
)
def test_server_error_burst(emulator: Emulator, client: httpx.Client, status: int, code: str) -> None:
    fault = emulator.faults.server_error(status, count=3, path=CHAT)
    statuses = [client.post(CHAT, json=chat("databricks-gpt-5-2")).status_code for _ in range(4)]
    assert statuses == [status, status, status, 200]
    assert fault.hits == 3
    assert client.get(LIST).status_code == 200  # the path scope leaves other routes alone
    failed = [r for r in emulator.requests if r.status == status]
    assert len(failed) == 3 and all(r.fault == fault.id for r in failed)


def test_scope_by_method_endpoint_glob_and_regex(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.server_error(503, endpoint="databricks-claude-*", count=None)
    assert client.post(CHAT, json=chat("databricks-claude-haiku-4-5")).status_code == 503
    assert client.post(CHAT, json=chat("databricks-gpt-5-2")).status_code == 200
    emulator.faults.clear()
    emulator.faults.server_error(500, path="^/serving-endpoints/.+/invocations$", method="POST")
    body = {"messages": [{"role": "user", "content": "x"}]}
    assert client.post(CHAT, json=chat("databricks-gpt-5-2")).status_code == 200
    assert client.post("/serving-endpoints/team-llm-prod/invocations", json=body).status_code == 500


def test_named_errors(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.error("context_overflow_nested")
    r = client.post(CHAT, json=chat("databricks-claude-sonnet-4-5"))
    assert r.status_code == 400
    outer = r.json()
    assert outer["error_code"] == "BAD_REQUEST"
    inner = json.loads(outer["message"])
    assert inner["external_model_provider"] == "databricks-model-serving"
    assert inner["external_model_error"]["message"] == "Input is too long for requested model."
    emulator.faults.error("context_overflow_flat")
    assert client.post(CHAT, json=chat("databricks-gpt-5-2")).json()["message"] == (
        "input length and max_tokens exceed context limit: 196758 + 8192 > 200000"
    )
    emulator.faults.error("responses_only")
    assert client.post(CHAT, json=chat("databricks-gpt-5-2")).json()["message"] == (
        "Model databricks-gpt-5-2 only supports the Responses API"
    )
    with pytest.raises(ValueError, match="unknown error 'no-such-error'"):
        emulator.faults.error("no-such-error")


@pytest.mark.parametrize("name", sorted(NAMED_ERRORS))
def test_every_named_error_is_served_as_json(emulator: Emulator, client: httpx.Client, name: str) -> None:
    emulator.faults.error(name)
    r = client.get(LIST)
    assert r.status_code == NAMED_ERRORS[name].status
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error_code", "message"}


def test_custom_status_and_body(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.add("status", status=418, body={"error": {"message": "teapot", "type": "x", "code": 418}})
    assert client.get(LIST).json() == {"error": {"message": "teapot", "type": "x", "code": 418}}
    emulator.faults.add("status", status=502, body="<html>Bad Gateway</html>")
    r = client.get(LIST)
    assert (r.status_code, r.text, r.headers["content-type"].split(";")[0]) == (
        502,
        "<html>Bad Gateway</html>",
        "text/plain",
    )


def test_invalid_token_fault(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.add("invalid_token", variant="403")
    r = client.get(LIST)
    assert (r.status_code, r.json()["message"]) == (403, "Invalid Token")
    assert client.get(LIST).status_code == 200


@pytest.mark.parametrize("html", [False, True])
def test_redirect_login(emulator: Emulator, anon: httpx.Client, html: bool) -> None:
    emulator.faults.redirect_login(html=html, path="/api/*", count=None)
    r = anon.get(LIST)  # before authentication: a wrong host does not look at credentials
    assert r.status_code == 303
    assert r.headers["location"] == "/login"
    if html:
        assert r.headers["content-type"].startswith("text/html") and "<title>" in r.text
    else:
        assert r.content == b""
    assert anon.get("/.well-known/databricks-config").status_code == 200
    assert not any(rec.path == "/login" for rec in emulator.requests)


def test_expire_tokens_fault(emulator: Emulator, anon: httpx.Client) -> None:
    token = emulator.mint_token()
    headers = {"Authorization": f"Bearer {token}"}
    emulator.faults.add("expire_tokens", path=CHAT)
    assert anon.get(LIST, headers=headers).status_code == 200
    assert anon.post(CHAT, headers=headers, json=chat("databricks-gpt-5-2")).status_code == 401


def test_skip_lets_requests_through_first(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.server_error(500, skip=2, count=1)
    assert [client.get(LIST).status_code for _ in range(4)] == [200, 200, 500, 200]


def test_delay_fault(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.add("delay", delay=0.2)
    t0 = time.perf_counter()
    assert client.get(LIST).status_code == 200
    assert time.perf_counter() - t0 >= 0.2


def _stream(
    client: httpx.Client, model: str = "databricks-gpt-5-2", **extra: object
) -> tuple[list[str], Exception | None]:
    lines: list[str] = []
    try:
        with client.stream(
            "POST", CHAT, json=chat(model, "one two three four five six seven", stream=True, **extra)
        ) as r:
            for line in r.iter_lines():
                lines.append(line)
    except httpx.HTTPError as exc:
        return lines, exc
    return lines, None


def test_cut_stream_abort_breaks_the_connection(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.cut_stream(after_chunks=2)
    lines, exc = _stream(client)
    assert isinstance(exc, httpx.RemoteProtocolError)
    data = [ln for ln in lines if ln.startswith("data: ")]
    assert len(data) == 2
    assert "data: [DONE]" not in lines
    assert client.get(LIST).status_code == 200  # the server is fine afterwards


def test_cut_stream_eof_ends_cleanly_without_done(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.cut_stream(after_chunks=3, mode="eof")
    lines, exc = _stream(client)
    assert exc is None
    events = sse_data("\n".join(lines))
    assert len(events) == 3 and "[DONE]" not in events
    assert all(e["choices"][0]["finish_reason"] is None for e in events)


def test_cut_stream_mid_tool_call(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [
            {
                "text": "running",
                "tool_calls": [{"name": "shell", "arguments": {"command": "a long command line"}}],
            }
        ]
    )
    emulator.faults.cut_stream(at="tool_call", mode="eof")
    tool = {
        "type": "function",
        "function": {"name": "shell", "parameters": {"type": "object", "properties": {}}},
    }
    lines, _ = _stream(client, tools=[tool])
    events = sse_data("\n".join(lines))
    last = events[-1]["choices"][0]["delta"]["tool_calls"][0]
    assert "id" not in last and last["function"]["arguments"]
    args = "".join(
        e["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for e in events
        if "tool_calls" in e["choices"][0]["delta"]
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(args)


def test_slow_stream(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.slow_stream(0.03)
    t0 = time.perf_counter()
    lines, _ = _stream(client)
    elapsed = time.perf_counter() - t0
    n = sum(1 for ln in lines if ln.startswith("data: "))
    assert elapsed >= 0.03 * n
    t1 = time.perf_counter()
    _stream(client)
    assert time.perf_counter() - t1 < 0.03 * n  # count=1: only the first stream was slow


def test_stream_faults_do_not_touch_json_requests(emulator: Emulator, client: httpx.Client) -> None:
    fault = emulator.faults.cut_stream(after_chunks=1)
    assert client.post(CHAT, json=chat("databricks-gpt-5-2")).status_code == 200
    assert fault.hits == 0


def test_fault_parse_and_validation() -> None:
    f = Fault.parse("rate_limit:retry_after=2,count=3,endpoint=databricks-*")
    assert (f.kind, f.retry_after, f.count, f.endpoint) == ("rate_limit", 2, 3, "databricks-*")
    assert Fault.parse("server_error:status=503,count=inf").count is None
    assert Fault.parse("slow_stream:delay=0.5").delay == 0.5
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault.parse("explode")
    with pytest.raises(ValueError, match="unknown fault field"):
        Fault.parse("rate_limit:colour=red")
    with pytest.raises(ValueError, match="not key=value"):
        Fault.parse("rate_limit:oops")


def test_faults_from_config(emulator_factory) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(EmulatorConfig(faults=[Fault.parse("server_error:status=503,path=/api/*")]))
    with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.pat}"}, verify=False) as c:
        assert c.get(LIST).status_code == 503
        assert c.get(LIST).status_code == 200


def test_faults_on_the_token_endpoint(emulator: Emulator, anon: httpx.Client) -> None:
    emulator.faults.server_error(503, path="/oidc/v1/token")
    form = {"grant_type": "client_credentials", "scope": "all-apis"}
    assert (
        anon.post("/oidc/v1/token", auth=(emulator.client_id, emulator.client_secret), data=form).status_code
        == 503
    )
    assert (
        anon.post("/oidc/v1/token", auth=(emulator.client_id, emulator.client_secret), data=form).status_code
        == 200
    )
    assert emulator.token_requests.count("client_credentials") == 2
    assert emulator.token_requests.count("client_credentials", status=503) == 1


def test_remove_fault(emulator: Emulator, client: httpx.Client) -> None:
    fault = emulator.faults.server_error(500, count=None)
    assert emulator.faults.remove(fault.id) is True
    assert emulator.faults.remove(fault.id) is False
    assert client.get(LIST).status_code == 200


def test_server_error_with_retry_after(emulator: Emulator, client: httpx.Client) -> None:
    emulator.faults.server_error(503, retry_after=3)
    r = client.get(LIST)
    assert (r.status_code, r.headers["retry-after"]) == (503, "3")


def test_endpoint_qps_limit_on_the_emulator_clock(emulator: Emulator, client: httpx.Client) -> None:
    emulator.clock.freeze()
    emulator.catalog.add({"name": "tiny-qps", "function_calling": True, "qps_limit": 2})
    listed = client.get("/api/2.0/serving-endpoints/tiny-qps").json()
    assert listed["ai_gateway"]["rate_limits"] == [
        {"calls": 120, "renewal_period": "minute", "key": "endpoint"}
    ]
    statuses = [client.post(CHAT, json=chat("tiny-qps")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.post(CHAT, json=chat("tiny-qps"))
    assert limited.json()["message"].startswith("Exceeded workspace QPS rate limit for tiny-qps.")
    assert limited.headers["retry-after"] == "1"
    emulator.clock.advance(1.0)
    assert client.post(CHAT, json=chat("tiny-qps")).status_code == 200
