"""The scripted model: queue, scenario rules, placeholders, default answers, the demo loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from emu_helpers import chat

from lakecode.emulator import DEMO_PROMPT, Emulator, EmulatorConfig, Reply, ToolCallSpec
from lakecode.emulator.scripted_model import Conversation, ScriptedModel, parse_scenario

CHAT = "/serving-endpoints/chat/completions"


def _tool(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {}}},
    }


AGENT_TOOLS = [_tool("shell"), _tool("file_editor"), _tool("task_list")]


def _text(r: httpx.Response) -> str:
    content: str = r.json()["choices"][0]["message"]["content"]
    return content


def test_queue_is_consumed_in_order_then_default(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(["first", Reply(text="second"), {"text": "third"}])
    assert emulator.scripted_model.pending == 3
    texts = [_text(client.post(CHAT, json=chat("databricks-gpt-5-2", "q"))) for _ in range(4)]
    assert texts == ["first", "second", "third", "Echo: q"]
    assert emulator.scripted_model.pending == 0


def test_enqueued_error_reply(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue([{"error": "rate_limit"}, {"error": {"status": 500, "body": {"x": 1}}}])
    first = client.post(CHAT, json=chat("databricks-gpt-5-2"))
    assert first.status_code == 429 and first.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    second = client.post(CHAT, json=chat("databricks-gpt-5-2"))
    assert (second.status_code, second.json()) == (500, {"x": 1})


def test_enqueued_usage_and_finish_reason(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue(
        [{"text": "", "finish_reason": "length", "usage": {"completion_tokens": 7}}]
    )
    body = client.post(CHAT, json=chat("databricks-gpt-5-2")).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 7
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 7


def test_raw_json_arguments_are_sent_verbatim(emulator: Emulator, client: httpx.Client) -> None:
    emulator.scripted_model.enqueue([Reply(tool_calls=(ToolCallSpec("shell", '{"command": "ls"}'),))])
    message = client.post(CHAT, json=chat("databricks-gpt-5-2", tools=[_tool("shell")])).json()["choices"][0][
        "message"
    ]
    assert message["tool_calls"][0]["function"]["arguments"] == '{"command": "ls"}'


def test_default_after_a_tool_result(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "shell", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "line one\nline two"},
    ]
    r = client.post(
        CHAT, json={"model": "databricks-gpt-5-2", "messages": messages, "tools": [_tool("shell")]}
    )
    assert _text(r) == "The shell tool returned: line one"


RULES = """
[defaults]
user = "(?i)deploy (?P<service>\\\\w+)"

[[rules]]
name = "check"
step = 1
text = "Checking {service} for {user}."
[[rules.tool_calls]]
name = "shell"
arguments = { command = "status {service}", literal = "{not_a_placeholder} {x: 1}" }

[[rules]]
name = "done"
tool = "shell"
tool_result = "(?P<state>up|down)"
text = "{service} is {state} (turn {turn}, step {step}, model {model})."
"""


def test_rules_placeholders_and_conditions() -> None:
    model = ScriptedModel()
    model.add_rules(parse_scenario(RULES, "inline.toml"))
    tools = ("shell",)
    conv = Conversation.from_chat([{"role": "user", "content": "please deploy api"}], "m1", tools)
    reply = model.respond(conv)
    assert reply.text == "Checking api for please deploy api."
    assert reply.tool_calls[0].arguments == {"command": "status api", "literal": "{not_a_placeholder} {x: 1}"}
    history = [
        {"role": "user", "content": "please deploy api"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "function": {"name": "shell"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "service is up"},
    ]
    done = model.respond(Conversation.from_chat(history, "m1", tools))
    assert done.text == "api is up (turn 2, step 2, model m1)."
    # Without the tool on offer the rule that calls it does not fire.
    assert model.respond(Conversation.from_chat(history[:1], "m1", ())).text == "Echo: please deploy api"


def test_rule_validation() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        parse_scenario('[[rules]]\nname = "x"\ncolour = "red"\n', "bad.toml")
    with pytest.raises(ValueError, match="has no name"):
        parse_scenario('[[rules]]\nname = "x"\n[[rules.tool_calls]]\narguments = {}\n', "bad.toml")


def test_scenarios_directory(emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.toml").write_text('[[rules]]\nuser = "ping"\ntext = "pong"\n')
    emu = emulator_factory(EmulatorConfig(scenarios=tmp_path, bundled_scenarios=False))
    assert [r.name for r in emu.scripted_model.rules] == [""]
    with httpx.Client(base_url=emu.url, headers={"Authorization": f"Bearer {emu.pat}"}, verify=False) as c:
        assert _text(c.post(CHAT, json=chat("databricks-gpt-5-2", "ping"))) == "pong"


@pytest.mark.emulator_config(scripted=["from config"])
def test_queue_from_config(client: httpx.Client) -> None:
    assert _text(client.post(CHAT, json=chat("databricks-gpt-5-2"))) == "from config"


def test_tools_scenario_run_and_parallel(client: httpx.Client) -> None:
    first = client.post(CHAT, json=chat("team-llm-prod", "run: echo hi", tools=AGENT_TOOLS)).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"command": "echo hi"}
    par = client.post(CHAT, json=chat("team-llm-prod", "parallel: echo a | echo b", tools=AGENT_TOOLS)).json()
    commands = [
        json.loads(c["function"]["arguments"])["command"] for c in par["choices"][0]["message"]["tool_calls"]
    ]
    assert commands == ["echo a", "echo b"]


def _run_tool(name: str, args: dict[str, Any], cwd: Path, fail_shell: bool) -> str:
    if name == "file_editor":
        assert args["command"] == "create"
        (cwd / args["path"]).write_text(args["file_text"])
        return f"File created: {args['path']}"
    if name == "task_list":
        return "Task list updated."
    if fail_shell:
        return "bash: python3: command not found (exit code 127)"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        args["command"], shell=True, cwd=cwd, capture_output=True, text=True, env=env, timeout=60
    )
    return f"exit code {done.returncode}\n{done.stdout}{done.stderr}"


def _agent_loop(client: httpx.Client, cwd: Path, *, fail_shell: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": DEMO_PROMPT}]
    for _ in range(12):
        body = {"model": "databricks-claude-sonnet-4-5", "messages": messages, "tools": AGENT_TOOLS}
        r = client.post(CHAT, json=body)
        assert r.status_code == 200, r.text
        message = r.json()["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        content = message["content"] or None
        messages.append({"role": "assistant", "content": content, **({"tool_calls": calls} if calls else {})})
        if not calls:
            return messages
        for call in calls:
            result = _run_tool(
                call["function"]["name"], json.loads(call["function"]["arguments"]), cwd, fail_shell
            )
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    raise AssertionError("the demo scenario did not finish")


def test_demo_scenario_drives_a_real_tool_loop(client: httpx.Client, tmp_path: Path) -> None:
    messages = _agent_loop(client, tmp_path)
    assert (tmp_path / "fizzbuzz.py").exists() and (tmp_path / "test_fizzbuzz.py").exists()
    shell_results = [m["content"] for m in messages if m["role"] == "tool" and "exit code" in m["content"]]
    assert shell_results == ["exit code 0\n3 tests passed\n"]
    assert messages[-1]["content"].startswith("Done. I created:")
    assistant_turns = [m for m in messages if m["role"] == "assistant"]
    assert len(assistant_turns) == 5
    names = [c["function"]["name"] for m in assistant_turns for c in m.get("tool_calls", [])]
    assert names == [
        "task_list",
        "file_editor",
        "file_editor",
        "task_list",
        "task_list",
        "shell",
        "task_list",
    ]


def test_demo_scenario_gives_up_when_tests_cannot_run(client: httpx.Client, tmp_path: Path) -> None:
    messages = _agent_loop(client, tmp_path, fail_shell=True)
    commands = [
        json.loads(c["function"]["arguments"])["command"]
        for m in messages
        if m["role"] == "assistant"
        for c in m.get("tool_calls", [])
        if c["function"]["name"] == "shell"
    ]
    assert commands == ["python3 test_fizzbuzz.py", "python test_fizzbuzz.py"]
    final = messages[-1]["content"]
    assert final.startswith("The test did not pass")
    assert "command not found" in final
