"""The Emulator handle: start-up, credentials, reset, the fixtures."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest

from lakecode.emulator import Emulator, EmulatorConfig


def test_handle_exposes_ready_credentials(emulator: Emulator) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.url)
    assert re.fullmatch(r"dapi[0-9a-f]{32}", emulator.pat)
    assert str(uuid.UUID(emulator.client_id)) == emulator.client_id
    assert emulator.client_secret.startswith("dose")
    assert emulator.workspace_id.isdigit() and len(emulator.workspace_id) == 16


def test_pat_lists_endpoints_and_log_has_no_secret(emulator: Emulator) -> None:
    r = httpx.get(
        f"{emulator.url}/api/2.0/serving-endpoints",
        headers={"Authorization": f"Bearer {emulator.pat}", "User-Agent": "lakecode/0 test"},
    )
    assert r.status_code == 200
    assert r.headers["x-databricks-org-id"] == emulator.workspace_id
    assert r.headers["x-request-id"]
    (rec,) = emulator.requests
    assert (rec.method, rec.path, rec.status, rec.auth_kind) == (
        "GET",
        "/api/2.0/serving-endpoints",
        200,
        "bearer",
    )
    assert rec.token_id == Emulator.token_id(emulator.pat)
    assert "authorization" not in rec.headers
    assert rec.header("User-Agent") == "lakecode/0 test"
    assert emulator.pat not in repr(rec)


def test_reset_gives_fresh_state(emulator: Emulator) -> None:
    old_pat = emulator.pat
    emulator.faults.server_error(503)
    httpx.get(f"{emulator.url}/api/2.0/serving-endpoints", headers={"Authorization": f"Bearer {old_pat}"})
    emulator.reset()
    assert emulator.pat != old_pat
    assert emulator.requests == []
    assert len(emulator.faults) == 0
    r = httpx.get(f"{emulator.url}/api/2.0/serving-endpoints", headers={"Authorization": f"Bearer {old_pat}"})
    assert r.status_code == 401


@pytest.mark.emulator_config(token_ttl=42, expires_in_as_string=True)
def test_marker_configures_the_fixture(emulator: Emulator) -> None:
    assert emulator.config.token_ttl == 42
    r = httpx.post(
        f"{emulator.url}/oidc/v1/token",
        auth=(emulator.client_id, emulator.client_secret),
        data={"grant_type": "client_credentials", "scope": "all-apis"},
    )
    assert r.json()["expires_in"] == "42"


def test_dedicated_emulator_starts_and_stops_fast(emulator_factory) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    emu = emulator_factory(EmulatorConfig(), token_ttl=5)
    assert time.perf_counter() - t0 < 0.3
    assert emu.config.token_ttl == 5
    assert httpx.get(f"{emu.url}/.well-known/databricks-config").status_code == 200
    t1 = time.perf_counter()
    emu.stop()
    assert time.perf_counter() - t1 < 0.3
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{emu.url}/.well-known/databricks-config")


def test_context_manager_stops_cleanly() -> None:
    with Emulator() as emu:
        url = emu.url
        assert httpx.get(f"{url}/.well-known/databricks-config").json()["workspace_id"] == emu.workspace_id
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/.well-known/databricks-config")


def test_stop_cuts_streams_still_in_flight(caplog: pytest.LogCaptureFixture) -> None:
    import threading

    seen: list[BaseException] = []
    with Emulator() as emu:
        emu.faults.slow_stream(0.5)
        body = {
            "model": "databricks-gpt-5-2",
            "stream": True,
            "messages": [{"role": "user", "content": "a b c d e f"}],
        }

        def call() -> None:
            try:
                httpx.post(
                    f"{emu.url}/serving-endpoints/chat/completions",
                    json=body,
                    headers={"Authorization": f"Bearer {emu.pat}"},
                    verify=False,
                )
            except httpx.HTTPError as exc:
                seen.append(exc)

        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
    assert time.perf_counter() - t0 < 1.0
    worker.join(5)
    assert len(seen) == 1 and isinstance(seen[0], httpx.RemoteProtocolError)
    assert not [r for r in caplog.records if r.name.startswith("uvicorn") and r.levelname == "ERROR"]
