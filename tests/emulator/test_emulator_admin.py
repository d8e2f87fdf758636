"""The /__emulator admin routes, the CLI command, module isolation and latency."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import lakecode.emulator
from lakecode.emulator import Emulator

LIST = "/api/2.0/serving-endpoints"


def test_state_and_reset(emulator: Emulator, anon: httpx.Client) -> None:
    state = anon.get("/__emulator/state").json()
    assert state["url"] == emulator.url and state["pat"] == emulator.pat
    assert state["client_id"] == emulator.client_id
    old = emulator.pat
    new = anon.post("/__emulator/reset").json()
    assert new["pat"] != old and emulator.pat == new["pat"]


def test_admin_traffic_is_not_logged_or_faulted(emulator: Emulator, anon: httpx.Client) -> None:
    emulator.faults.server_error(500, count=None)
    assert anon.get("/__emulator/state").status_code == 200
    assert emulator.requests == []


def test_requests_log_route(emulator: Emulator, client: httpx.Client, anon: httpx.Client) -> None:
    client.get(LIST, headers={"User-Agent": "lakecode/9"})
    records = anon.get("/__emulator/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"], r["auth_kind"]) for r in records] == [
        ("GET", LIST, 200, "bearer")
    ]
    assert records[0]["headers"]["user-agent"] == "lakecode/9"
    assert emulator.pat not in json.dumps(records)
    anon.delete("/__emulator/requests")
    assert emulator.requests == []


def test_faults_routes(emulator: Emulator, client: httpx.Client, anon: httpx.Client) -> None:
    created = anon.post("/__emulator/faults", json={"kind": "rate_limit", "retry_after": 2, "path": LIST})
    assert created.status_code == 201
    fault_id = created.json()["id"]
    r = client.get(LIST)
    assert (r.status_code, r.headers["retry-after"]) == (429, "2")
    listed = anon.get("/__emulator/faults").json()["faults"]
    assert listed[0]["id"] == fault_id and listed[0]["hits"] == 1
    assert anon.delete(f"/__emulator/faults/{fault_id}").json() == {"removed": True}
    assert anon.delete(f"/__emulator/faults/{fault_id}").status_code == 404
    bad = anon.post("/__emulator/faults", json={"kind": "nope"})
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["error"]
    anon.post("/__emulator/faults", json={"kind": "server_error", "status": 503})
    anon.delete("/__emulator/faults")
    assert client.get(LIST).status_code == 200


def test_clock_and_token_routes(emulator: Emulator, anon: httpx.Client) -> None:
    token = emulator.mint_token(ttl=60)
    headers = {"Authorization": f"Bearer {token}"}
    anon.post("/__emulator/clock/advance", json={"seconds": 61})
    assert anon.get(LIST, headers=headers).status_code == 401
    fresh = emulator.mint_token()
    assert anon.post("/__emulator/tokens/expire", json={}).json()["expired"] == 2
    assert anon.get(LIST, headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
    other = emulator.mint_token()
    assert anon.post("/__emulator/tokens/revoke", json={"token": other}).json() == {"revoked": True}
    assert anon.get(LIST, headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_token_requests_route(emulator: Emulator, anon: httpx.Client) -> None:
    anon.post(
        "/oidc/v1/token",
        auth=(emulator.client_id, emulator.client_secret),
        data={"grant_type": "client_credentials"},
    )
    body = anon.get("/__emulator/token-requests").json()
    assert body["total"] == 1 and body["by_grant_type"] == {"client_credentials": 1}
    assert body["records"][0]["client_id"] == emulator.client_id


def test_config_route(emulator: Emulator, client: httpx.Client, anon: httpx.Client) -> None:
    assert (
        anon.patch("/__emulator/config", json={"gateway": "404", "strict": False}).json()["gateway"] == "404"
    )
    assert emulator.config.strict is False
    assert client.get("/ai-gateway/anthropic/v1/models").status_code == 404
    refused = anon.patch("/__emulator/config", json={"port": 1})
    assert refused.status_code == 400 and "not changeable" in refused.json()["error"]


def test_enqueue_route(client: httpx.Client, anon: httpx.Client) -> None:
    assert anon.post("/__emulator/scripted/enqueue", json={"replies": ["scripted!"]}).json() == {"pending": 1}
    r = client.post(
        "/serving-endpoints/chat/completions",
        json={"model": "databricks-gpt-5-2", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.json()["choices"][0]["message"]["content"] == "scripted!"


def test_the_emulator_imports_nothing_else_from_lakecode() -> None:
    root = Path(lakecode.emulator.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("lakecode") and not n.startswith("lakecode.emulator")
            ]
    assert offenders == []


def test_keep_alive_requests_add_no_latency(client: httpx.Client) -> None:
    body = {"model": "databricks-gpt-5-2", "messages": [{"role": "user", "content": "hi"}]}
    client.post("/serving-endpoints/chat/completions", json=body)
    timings = []
    for _ in range(30):
        t0 = time.perf_counter()
        client.post("/serving-endpoints/chat/completions", json=body)
        timings.append(time.perf_counter() - t0)
    timings.sort()
    assert timings[len(timings) // 2] < 0.02  # no ~40 ms delayed-ACK stalls


def test_cli_is_registered_and_helps() -> None:
    from lakecode.cli.app import cli

    result = CliRunner().invoke(cli, ["emulator", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--port",
        "--token-ttl",
        "--scenarios",
        "--consent",
        "--strict / --lenient",
        "--invalid-token-style",
        "--fault",
    ):
        assert flag in result.output


def test_cli_rejects_a_bad_fault() -> None:
    from lakecode.cli.app import cli

    result = CliRunner().invoke(cli, ["emulator", "--fault", "explode"])
    assert result.exit_code == 2
    assert "unknown fault kind" in result.output


@pytest.mark.timeout(30)
def test_cli_serves_until_terminated(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [
        sys.executable,
        "-m",
        "lakecode",
        "emulator",
        "--json",
        "--pat",
        "dapi" + "1" * 32,
        "--fault",
        "server_error:status=503,path=/api/*",
        "--token-ttl",
        "90",
    ]
    with subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            details = json.loads(proc.stdout.readline())
            assert details["pat"] == "dapi" + "1" * 32
            assert details["url"].startswith("http://127.0.0.1:")
            with httpx.Client(base_url=details["url"], verify=False) as c:
                headers = {"Authorization": f"Bearer {details['pat']}"}
                assert c.get(LIST, headers=headers).status_code == 503
                assert c.get(LIST, headers=headers).status_code == 200
                token = c.post(
                    "/oidc/v1/token",
                    auth=(details["client_id"], details["client_secret"]),
                    data={"grant_type": "client_credentials"},
                ).json()
                assert token["expires_in"] == 90
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0


def test_admin_answers_loopback_clients_only(emulator: Emulator) -> None:
    from starlette.testclient import TestClient

    from lakecode.emulator.app import StateRef, build_app

    app = build_app(StateRef(emulator.state))
    with TestClient(app) as remote:  # its client address is "testclient", not loopback
        r = remote.get("/__emulator/state")
    assert r.status_code == 403
    assert r.json() == {"error": "the admin API only answers loopback clients"}


def test_reset_with_overrides_and_clock_freeze(emulator: Emulator) -> None:
    emulator.reset(token_ttl=7, strict=False)
    assert (emulator.config.token_ttl, emulator.config.strict) == (7, False)
    emulator.clock.freeze()
    t = emulator.clock.time()
    time.sleep(0.01)
    assert emulator.clock.time() == t
    emulator.clock.advance(5)
    assert emulator.clock.time() == t + 5
    emulator.clock.unfreeze()
    assert emulator.clock.time() > t + 5
