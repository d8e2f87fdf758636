"""Bad input, table-driven: hosts, profiles, model ids, tool arguments the model invents, and tool
output that is not UTF-8. Each gets a clear error (a ``LakecodeError`` or an error result the
model can read), the run goes on, and nothing is written outside the project.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import MODEL, SharedClock, agent, ask, collect, provider, tree, turn

from lakecode.agent import ConversationStore
from lakecode.agent.events import RunFinished, ToolCallResult
from lakecode.databricks.host import normalize_host
from lakecode.databricks.profiles import load_databricks_config
from lakecode.emulator import Emulator
from lakecode.errors import HostError, LakecodeError, NotFoundError, ProfileError

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]

# ---- hosts --------------------------------------------------------------------------------------

BAD_HOSTS = [
    ("", "No workspace host"),
    ("   ", "No workspace host"),
    ("ftp://dbc-1.cloud.databricks.com", "scheme"),
    ("http://dbc-1.cloud.databricks.com", "http"),
    ("https://", "no host name"),
    ("https://exa mple.com", "host name"),
    ("https://dbc-1.cloud.databricks.com:99999", "port"),
    ("https://user:secret@dbc-1.cloud.databricks.com", "user name or password"),
    ("javascript:alert(1)", ""),
    ("dbc-1.cloud.databricks.com\x00.evil.com", "control characters"),
    ("https://" + "a" * 300 + ".com", ""),
    ("https://[::1", "IPv6"),
    # urlsplit drops the newline: without a check this would be the host "...databricks.com.evil.com"
    ("https://dbc-1.cloud.databricks.com\n.evil.com", "control characters"),
    ("https://dbc-1.cloud.databricks.com\t.evil.com", "control characters"),
]


@pytest.mark.parametrize(("value", "says"), BAD_HOSTS)
def test_a_bad_host_is_a_host_error_that_says_why(value: str, says: str) -> None:
    with pytest.raises(HostError) as info:
        normalize_host(value)
    assert says.lower() in info.value.message.lower()
    assert "secret" not in info.value.describe()  # credentials pasted in a URL are not echoed


@pytest.mark.parametrize(("value", "expected"), [
    ("HTTPS://DBC-1.Cloud.Databricks.com/serving-endpoints/", "https://dbc-1.cloud.databricks.com"),
    ("adb-123.7.azuredatabricks.net//", "https://adb-123.7.azuredatabricks.net"),
    ("  https://x.gcp.databricks.com:443/?o=1#frag  ", "https://x.gcp.databricks.com"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
])
def test_pasted_hosts_normalise(value: str, expected: str) -> None:
    assert normalize_host(value) == expected


# ---- profiles ------------------------------------------------------------------------------------

BAD_PROFILES: list[tuple[bytes, str]] = [
    (b"[DEFAULT]\nhost = https://x.cloud.databricks.com\nthis line has no delimiter\n", "line 3"),
    (b"[dev]\nhost = https://x\n[dev]\nhost = https://y\n", "line 3"),
    (b"host = https://x.cloud.databricks.com\n", "line 1"),
    (b"[dev]\nhost = \xff\xfe\n", "cannot be read"),
    (b"[dev\nhost = x\n", "line 1"),
]


@pytest.mark.parametrize(("content", "says"), BAD_PROFILES)
def test_a_malformed_config_file_names_the_file_and_line(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "databrickscfg"
    path.write_bytes(content)
    with pytest.raises(ProfileError) as info:
        load_databricks_config(path)
    assert str(path) in info.value.message and says in info.value.message


def test_a_missing_profile_lists_the_ones_there_are(tmp_path: Path) -> None:
    path = tmp_path / "databrickscfg"
    path.write_text("[dev]\nhost = https://x.cloud.databricks.com\n[prod]\nhost = https://y.cloud.databricks.com\n")
    with pytest.raises(ProfileError) as info:
        load_databricks_config(path).get("../../etc/passwd")
    assert "dev, prod" in info.value.message


def test_a_config_path_that_is_a_directory_is_a_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        load_databricks_config(tmp_path)
    assert str(tmp_path) in info.value.message


# ---- model ids -----------------------------------------------------------------------------------

BAD_MODEL_IDS = ["no-such-model", "../../api/2.0/serving-endpoints", "x" * 5000, "model\nwith-newline",
                 "ünïcödé-modèl", f"{MODEL} ", "databricks/", "model\x00nul", "%2e%2e%2f"]


@pytest.mark.parametrize("model", BAD_MODEL_IDS)
async def test_a_bad_model_id_is_sent_verbatim_once_and_is_a_not_found_error(
        emulator: Emulator, model: str) -> None:
    p = provider(emulator, clock=SharedClock(emulator))
    with pytest.raises(NotFoundError) as info:
        await turn(p, ask(model))
    chats = [r for r in emulator.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 1 and chats[0].json["model"] == model  # verbatim, never retried (F25)
    assert chats[0].path == "/serving-endpoints/chat/completions"  # the id never becomes a path
    assert info.value.describe()
    await p.aclose()


# ---- tool arguments the model invents -------------------------------------------------------------

CANARY = "canary: must never change"


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, Path]:
    """A project, a sibling directory outside it with a canary, a symlink from inside to outside."""
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    (outside / "canary.txt").write_text(CANARY)
    (project / "inside.txt").write_text("inside\n")
    (project / "link").symlink_to(outside)
    return {"project": project, "outside": outside, "home": Path(os.environ["HOME"])}


def _home_tree(home: Path) -> dict[str, bytes | None]:
    return {k: v for k, v in tree(home).items() if not k.startswith(".lakecode")}


def _cases(outside: Path) -> list[tuple[str, Any, str]]:
    canary = str(outside / "canary.txt")
    return [
        # wrong types
        ("file_editor", {"command": "view", "path": 123}, "'path' must be a string"),
        ("file_editor", {"command": "view", "path": "inside.txt", "view_range": "1-2"}, "must be an array"),
        ("file_editor", {"command": "view", "path": "inside.txt", "view_range": [1]}, "exactly 2 items"),
        ("file_editor", {"command": "insert", "path": "inside.txt", "insert_line": "1", "new_str": "x"},
         "must be an integer"),
        ("file_editor", {"command": "insert", "path": "inside.txt", "insert_line": 1e300, "new_str": "x"},
         "out of range"),
        ("shell", {"command": ["ls", "-l"]}, "'command' must be a string"),
        ("shell", {"command": "true", "timeout": "10"}, "must be a number"),
        ("shell", {"command": "true", "timeout": -1}, "positive"),
        ("task_list", {"command": "set", "tasks": "buy milk"}, "must be an array"),
        # missing fields
        ("file_editor", {"path": "inside.txt"}, "missing required argument 'command'"),
        ("file_editor", {"command": "create", "path": "new.txt"}, "needs the 'file_text'"),
        ("file_editor", {"command": "str_replace", "path": "inside.txt"}, "needs the 'old_str'"),
        ("shell", {"cmd": "ls"}, "you passed 'cmd'"),
        ("file_editor", {"command": "explode", "path": "inside.txt"}, "must be one of"),
        # huge strings
        ("file_editor", {"command": "str_replace", "path": "inside.txt", "old_str": "z" * 100_000,
                         "new_str": "y"}, "no match"),
        ("file_editor", {"command": "view", "path": "p" * 5000}, "too long"),
        # path traversal and escapes
        ("file_editor", {"command": "create", "path": "../outside/canary.txt", "file_text": "pwned"},
         "outside the project"),
        ("file_editor", {"command": "create", "path": canary, "file_text": "pwned"}, "outside the project"),
        ("file_editor", {"command": "create", "path": "link/canary.txt", "file_text": "pwned"},
         "outside the project"),
        ("file_editor", {"command": "create", "path": "sub/../../outside/new.txt", "file_text": "pwned"},
         "outside the project"),
        ("file_editor", {"command": "create", "path": "~/planted.txt", "file_text": "pwned"},
         "outside the project"),
        ("file_editor", {"command": "view", "path": "../../etc/passwd"}, "outside the project"),
        ("file_editor", {"command": "view", "path": "/etc/passwd"}, "outside the project"),
        ("file_editor", {"command": "str_replace", "path": "link/canary.txt", "old_str": "canary",
                         "new_str": "pwned"}, "outside the project"),
        ("file_editor", {"command": "undo_edit", "path": "../outside/canary.txt"}, "outside the project"),
        # bytes no file system or process accepts
        ("file_editor", {"command": "create", "path": "nul\x00.txt", "file_text": "x"}, "NUL"),
        ("shell", {"command": "echo before\x00after"}, "NUL"),
        ("file_editor", {"command": "create", "path": "surrogate.txt", "file_text": "bad \ud800 text"},
         "not valid Unicode"),
        # not a tool at all
        ("rm_everything", {"path": "/"}, "unknown tool"),
    ]


CASE_IDS = [f"{i:02d}" for i in range(29)]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
async def test_invented_tool_arguments_get_a_clear_error_and_touch_nothing(
        emulator: Emulator, sandbox: dict[str, Path], index: int) -> None:
    project, outside, home = sandbox["project"], sandbox["outside"], sandbox["home"]
    name, arguments, says = _cases(outside)[index]
    before = (tree(project), tree(outside), _home_tree(home))
    emulator.scripted_model.enqueue([{"tool_calls": [{"name": name, "arguments": arguments}]}, "done"])
    p = provider(emulator, clock=SharedClock(emulator))
    store = ConversationStore()
    a = agent(p, project, store=store)
    events, error = await collect(a, "do something odd")
    assert error is None, error
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert len(results) == 1 and results[0].is_error, results
    assert says.lower() in results[0].content.lower(), results[0].content
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"
    assert (tree(project), tree(outside), _home_tree(home)) == before
    assert store.load(a.conversation.id).messages == a.messages  # saved and readable
    await p.aclose()


@pytest.mark.parametrize("raw", ['["not", "an", "object"]', "{not json", '"a string"', "42"])
async def test_tool_arguments_that_are_not_an_object_are_sent_back_not_run(
        emulator: Emulator, sandbox: dict[str, Path], raw: str) -> None:
    emulator.scripted_model.enqueue([{"tool_calls": [{"name": "shell", "arguments": raw}]}, "done"])
    p = provider(emulator, clock=SharedClock(emulator))
    a = agent(p, sandbox["project"])
    events, error = await collect(a, "go")
    assert error is None, error
    assert isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"
    assert not any(isinstance(e, ToolCallResult) and not e.is_error for e in events)
    await p.aclose()


# ---- tool output that is not UTF-8 -----------------------------------------------------------------


async def test_non_utf8_tool_output_is_readable_saved_and_sent_back(
        emulator: Emulator, sandbox: dict[str, Path]) -> None:
    project = sandbox["project"]
    (project / "latin1.txt").write_bytes("café crème\n".encode("latin-1"))
    (project / (os.fsdecode(b"bad-\xff-name.txt"))).write_text("odd name\n")
    emulator.scripted_model.enqueue([
        {"tool_calls": [{"name": "shell", "arguments": {"command": "printf 'out \\377\\376\\200 end\\n'; "
                                                                   "printf 'err \\377\\n' >&2"}},
                        {"name": "file_editor", "arguments": {"command": "view", "path": "latin1.txt"}},
                        {"name": "file_editor", "arguments": {"command": "view", "path": "."}},
                        {"name": "shell", "arguments": {"command": "ls"}}]},
        "done",
    ])
    p = provider(emulator, clock=SharedClock(emulator))
    store = ConversationStore()
    a = agent(p, project, store=store)
    events, error = await collect(a, "show me odd bytes")
    assert error is None, error
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [r.is_error for r in results] == [False, False, False, False]
    assert "out \ufffd\ufffd\ufffd end" in results[0].content and "err \ufffd" in results[0].content
    assert "caf\ufffd cr\ufffdme" in results[1].content
    assert "bad-" in results[2].content and "bad-" in results[3].content
    for event in events:
        event.to_dict()  # every event serialises (the JSON Lines output)
    saved = store.load(a.conversation.id)
    assert [m.text for m in saved.messages] == [m.text for m in a.messages]
    assert isinstance(events[-1], RunFinished) and events[-1].final_text == "done"
    followup = [r for r in emulator.requests if r.path.endswith("/chat/completions")][-1]
    assert followup.status == 200  # the strict service accepted the history with those results
    await p.aclose()


def test_every_case_table_is_consistent(tmp_path: Path) -> None:
    assert len(_cases(tmp_path)) == len(CASE_IDS)
    assert all(issubclass(type(e), LakecodeError) for e in [HostError("x"), ProfileError("y")])


# ---- model text that is not valid Unicode ------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False])
async def test_a_lone_surrogate_in_model_text_becomes_a_replacement_character(
        emulator: Emulator, stream: bool) -> None:
    emulator.scripted_model.enqueue(["broken \ud83d half, whole \ud83d\ude00 emoji"])
    p = provider(emulator, clock=SharedClock(emulator))
    _, finish = await turn(p, ask(stream=stream))
    assert finish.message.text == "broken \ufffd half, whole \U0001f600 emoji"
    await p.aclose()


@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_lakecode_run_prints_a_reply_with_a_lone_surrogate(
        emulator: Emulator, tmp_path: Path, json_flag: list[str]) -> None:
    from reliability_helpers import cli_env, lakecode_cli

    emulator.scripted_model.enqueue(["broken \ud83d text"])
    env = cli_env(tmp_path / "home6", DATABRICKS_HOST=emulator.url, DATABRICKS_TOKEN=emulator.pat)
    done = lakecode_cli(["run", *json_flag, "--model", MODEL, "-t", "hi"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "broken \ufffd text" in done.stdout
