"""Security: planted secrets never reach an output channel, secret files are private, the OAuth
callback accepts only its own answer, and no credential is ever sent to another host.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from reliability_helpers import LoopbackServer, ask, cli_env, lakecode_cli, turn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lakecode.config.env import EnvOverrides
from lakecode.config.settings import DatabricksSettings, Settings
from lakecode.databricks.auth.oauth_login import BrowserLogin, OAuthApp
from lakecode.databricks.auth.resolve import u2m_identity
from lakecode.databricks.auth.store import TokenStore
from lakecode.databricks.auth.token_source import Token, registry
from lakecode.databricks.provider import build_databricks_provider
from lakecode.emulator import Emulator
from lakecode.emulator import OAuthApp as RegisteredApp
from lakecode.errors import LakecodeError
from lakecode.testing.fakes import FakeClock

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(180)]

PAT = "plantedpat" + secrets.token_hex(16)  # not PAT-shaped: redaction must come from knowing it
CLIENT_SECRET = "plantedsecret" + secrets.token_hex(16)
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
MODEL = "databricks-claude-sonnet-4-5"


def _leaks(text: str, planted: list[str]) -> list[str]:
    found = [s[:14] + "…" for s in planted if s in text]
    found += [m.group(0)[:14] + "…" for m in JWT.finditer(text)]
    return found


def _files(home: Path) -> dict[str, str]:
    """Every file lakecode wrote under its home, except the token store (which holds secrets by
    design, in private files)."""
    out = {}
    for path in (home / ".lakecode").rglob("*"):
        if path.is_file() and "tokens" not in path.relative_to(home / ".lakecode").parts:
            out[str(path)] = path.read_bytes().decode("utf-8", "replace")
    return out


# ---- the planted-secret scan ----------------------------------------------------------------------


def _script_run(emu: Emulator) -> None:
    """The model runs commands that print the environment, then a server error echoes secrets."""
    emu.scripted_model.enqueue([
        {"tool_calls": [{"name": "shell", "arguments": {
            "command": "env; echo token=$DATABRICKS_TOKEN secret=$DATABRICKS_CLIENT_SECRET"}}]},
        "I looked at the environment.",
    ])


@pytest.mark.emulator_config(pat=PAT, client_secret=CLIENT_SECRET)
@pytest.mark.parametrize("auth", ["pat", "oauth-m2m"])
@pytest.mark.parametrize("as_json", [True, False])
def test_no_planted_secret_reaches_any_output_channel(
        emulator: Emulator, tmp_path: Path, auth: str, as_json: bool) -> None:
    home, project = tmp_path / "home2", tmp_path / "project"
    project.mkdir()
    creds = ({"DATABRICKS_TOKEN": PAT} if auth == "pat" else
             {"DATABRICKS_CLIENT_ID": emulator.client_id, "DATABRICKS_CLIENT_SECRET": CLIENT_SECRET})
    env = cli_env(home, DATABRICKS_HOST=emulator.url, **creds)
    json_flag = ["--json"] if as_json else []
    outputs: list[str] = []
    planted = [PAT] if auth == "pat" else [CLIENT_SECRET]  # what lakecode was given (and must hide)

    _script_run(emulator)
    done = lakecode_cli(["run", "--yes", "--model", MODEL, *json_flag, "-t", "show me the env"], env,
                        cwd=project)
    assert done.returncode == 0, done.stderr
    outputs += [done.stdout, done.stderr]
    shell_output = [line for line in done.stdout.splitlines() if "token=" in line]
    if as_json:
        assert shell_output  # the command really ran (its environment is checked by the scan)

    # A service that echoes the credential in an error message (seen in the field for bodies).
    emulator.faults.add(kind="status", status=400, path="*/chat/completions", count=None, body={
        "error_code": "BAD_REQUEST", "message": f"bad request from {PAT} / {CLIENT_SECRET}"})
    done = lakecode_cli(["run", "--yes", "--last", "--model", MODEL, *json_flag, "-t", "again"], env,
                        cwd=project)
    assert done.returncode == 4, done.stderr
    outputs += [done.stdout, done.stderr]
    emulator.faults.clear()

    for command in (["auth", "status"], ["auth", "status", "--json"], ["models"], ["models", "--json"]):
        done = lakecode_cli(command, env, cwd=project)
        outputs += [done.stdout, done.stderr]
    outputs += list(_files(home).values())
    outputs += [p.read_text(errors="replace") for p in project.rglob("*") if p.is_file()]
    leaks = [leak for text in outputs for leak in _leaks(text, planted)]
    assert leaks == []


def test_no_browser_sign_in_token_reaches_status_run_or_files(emulator: Emulator, tmp_path: Path) -> None:
    """OAuth access and refresh tokens from a browser sign-in stay in the token store."""
    home, project = tmp_path / "home3", tmp_path / "project"
    project.mkdir()
    st = emulator.state
    access = st.tokens.mint_access("databricks-cli", "all-apis offline_access", "user@example.com", 3600)
    refresh = st.tokens.mint_refresh("databricks-cli", "all-apis offline_access", "user@example.com")
    now = emulator.clock.time()
    store = TokenStore(home / ".lakecode" / "tokens")
    store.save_token(u2m_identity(emulator.url), Token(access, expires_at=now + 3600, obtained_at=now,
                                                       refresh_token=refresh))
    env = cli_env(home, DATABRICKS_HOST=emulator.url, DATABRICKS_AUTH_TYPE="external-browser")
    outputs: list[str] = []
    for command in (["auth", "status"], ["auth", "status", "--json"],
                    ["run", "--json", "--model", MODEL, "-t", "hello"]):
        done = lakecode_cli(command, env, cwd=project)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        outputs += [done.stdout, done.stderr]
    outputs += list(_files(home).values())
    assert [leak for text in outputs for leak in _leaks(text, [access, refresh])] == []


# ---- private files ---------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.emulator_config(pat=PAT)
def test_secret_files_are_0600_and_their_directories_0700_even_with_umask_0(
        emulator: Emulator, tmp_path: Path) -> None:
    import subprocess
    import sys

    home, project = tmp_path / "home4", tmp_path / "project"
    project.mkdir()
    env = cli_env(home, DATABRICKS_HOST=emulator.url, DATABRICKS_TOKEN=PAT)
    for args in (["auth", "login", "--auth-type", "pat"], ["run", "--model", MODEL, "-t", "hi"]):
        done = subprocess.run([sys.executable, "-m", "lakecode", *args], env=env, cwd=project,
                              capture_output=True, text=True, timeout=120, umask=0)
        assert done.returncode == 0, done.stderr
    root = home / ".lakecode"
    files = [p for p in root.rglob("*") if p.is_file()]
    secret_files = [p for p in files if "tokens" in p.parts or p.suffix in (".toml", ".jsonl", ".lock")]
    assert any(PAT in p.read_text() for p in secret_files)  # the PAT was stored somewhere...
    assert {str(p): _mode(p) for p in secret_files} == {str(p): 0o600 for p in secret_files}
    private_dirs = [root / "tokens", *[p for p in (root / "tokens").rglob("*") if p.is_dir()],
                    root / "conversations"]
    assert {str(d): _mode(d) for d in private_dirs} == {str(d): 0o700 for d in private_dirs}


# ---- the OAuth callback -----------------------------------------------------------------------------


async def test_the_oauth_callback_takes_only_its_own_answer(emulator: Emulator) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    redirect = f"http://localhost:{port}/lakecode-callback"
    emulator.config.oauth_apps.append(RegisteredApp("rel-tests", (redirect,)))
    async with BrowserLogin(emulator.url, app=OAuthApp("rel-tests", None, redirect), timeout=20) as login:
        state = parse_qs(urlsplit(login.authorize_url).query)["state"][0]
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=5) as browser:
            wrong_state = await browser.get(f"{base}/lakecode-callback?code=stolen&state=not-{state}")
            other_path = await browser.get(f"{base}/?code=stolen&state={state}")
            sub_path = await browser.get(f"{base}/lakecode-callback/x?code=stolen&state={state}")
            favicon = await browser.get(f"{base}/favicon.ico")
            post = await browser.post(f"{base}/lakecode-callback?code=stolen&state={state}")
            assert wrong_state.status_code == 400
            assert [r.status_code for r in (other_path, sub_path, favicon, post)] == [404] * 4
            assert emulator.token_requests.count("authorization_code") == 0  # nothing exchanged
            consent = await browser.get(login.authorize_url)
            page = await browser.get(consent.headers["location"])
        token = await login.wait()
    assert page.status_code == 200 and token.access_token
    assert emulator.token_requests.count("authorization_code") == 1


# ---- credentials never go to another host -------------------------------------------------------------


class Recorder:
    """A loopback server that records every request it gets (headers and form fields)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        async def record(request: Request) -> Response:
            body = (await request.body()).decode(errors="replace")
            self.seen.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
            return JSONResponse({"access_token": "stolen", "token_type": "Bearer", "expires_in": 3600})

        return Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])


def _redirecting(status: int, target: str) -> Starlette:
    async def redirect(request: Request) -> Response:
        return Response(status_code=status, headers={"Location": f"{target}{request.url.path}"})

    return Starlette(routes=[Route("/{path:path}", redirect, methods=["GET", "POST"])])


def _pat_provider(host: str) -> Any:
    registry.clear()
    settings = Settings(databricks=DatabricksSettings(host=host, auth_type="pat", route="serving-endpoints"))
    return build_databricks_provider(settings, EnvOverrides(settings=settings,
                                                            secrets={"pat": SecretStr(PAT)}),
                                     clock=FakeClock(), discovery_wait=5.0)


def _m2m_provider(host: str) -> Any:
    registry.clear()
    settings = Settings(databricks=DatabricksSettings(host=host, auth_type="oauth-m2m", client_id="sp-1",
                                                      route="serving-endpoints"))
    return build_databricks_provider(settings, EnvOverrides(
        settings=settings, secrets={"client_secret": SecretStr(CLIENT_SECRET)}), clock=FakeClock(),
        discovery_wait=5.0)


def _leaked_to(recorder: Recorder) -> list[str]:
    return [f"{r['path']}: {k}" for r in recorder.seen for k, v in r["headers"].items()
            if k in ("authorization", "x-api-key") or PAT in v or CLIENT_SECRET in v] + [
        r["path"] for r in recorder.seen if PAT in r["body"] or CLIENT_SECRET in r["body"]]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("auth", ["pat", "oauth-m2m"])
async def test_a_redirecting_workspace_never_forwards_the_credential(status: int, auth: str) -> None:
    recorder = Recorder()
    with LoopbackServer(recorder.app()) as other, LoopbackServer(_redirecting(status, other.url)) as ws:
        p = _pat_provider(ws.url) if auth == "pat" else _m2m_provider(ws.url)
        with pytest.raises(LakecodeError) as info:
            await turn(p, ask(MODEL))
        listing = await p.list_models()  # discovery: never fatal, never followed
        await p.aclose()
    assert recorder.seen == []  # redirects are not followed on any API call
    assert info.value.describe()
    assert listing.models is not None


def _workspace_with_foreign_token_endpoint(foreign: str, token_calls: list[str]) -> Starlette:
    """A workspace whose OIDC discovery names endpoints on another origin."""
    async def discovery(request: Request) -> Response:
        return JSONResponse({"issuer": f"{foreign}/oidc",
                             "authorization_endpoint": f"{foreign}/oidc/v1/authorize",
                             "token_endpoint": f"{foreign}/oidc/v1/token"})

    async def token(request: Request) -> Response:
        token_calls.append((await request.body()).decode())
        return JSONResponse({"access_token": "ws-token-" + "a" * 20, "token_type": "Bearer",
                             "expires_in": 3600})

    async def chat(request: Request) -> Response:
        return JSONResponse({"id": "c1", "object": "chat.completion", "created": 0, "model": MODEL,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": "ok"}}]})

    async def missing(request: Request) -> Response:
        return JSONResponse({"error_code": "ENDPOINT_NOT_FOUND", "message": "no"}, status_code=404)

    return Starlette(routes=[
        Route("/oidc/.well-known/oauth-authorization-server", discovery),
        Route("/oidc/v1/token", token, methods=["POST"]),
        Route("/serving-endpoints/chat/completions", chat, methods=["POST"]),
        Route("/{path:path}", missing, methods=["GET", "POST"]),
    ])


async def test_the_client_secret_only_goes_to_the_workspace_token_endpoint() -> None:
    recorder = Recorder()
    token_calls: list[str] = []
    with LoopbackServer(recorder.app()) as other, \
            LoopbackServer(_workspace_with_foreign_token_endpoint(other.url, token_calls)) as ws:
        p = _m2m_provider(ws.url)
        _, finish = await turn(p, ask(MODEL, stream=False))
        await p.aclose()
    assert finish.message.text == "ok"
    assert _leaked_to(recorder) == [] and recorder.seen == []
    assert len(token_calls) == 1 and "client_credentials" in token_calls[0]


def test_the_environment_seen_by_tools_has_no_secret_variables(emulator: Emulator, tmp_path: Path) -> None:
    """Belt and braces for the scan above: the variable names are gone, not just redacted."""
    home, project = tmp_path / "home5", tmp_path / "project"
    project.mkdir()
    emulator.scripted_model.enqueue([
        {"tool_calls": [{"name": "shell", "arguments": {"command": "env | cut -d= -f1 | sort"}}]}, "ok"])
    env = cli_env(home, DATABRICKS_HOST=emulator.url, DATABRICKS_TOKEN=emulator.pat)
    done = lakecode_cli(["run", "--yes", "--json", "--model", MODEL, "-t", "names"], env, cwd=project)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    names = next(e["output"] for e in results if e.get("type") == "tool_result")
    assert "DATABRICKS_TOKEN" not in names and "PATH" in names
    assert os.environ.get("DATABRICKS_TOKEN") is None


async def test_token_store_entries_locks_and_their_directories_are_private_under_umask_0(
        tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    identity = u2m_identity("https://x.cloud.databricks.com")
    old = os.umask(0)
    try:
        store.save_token(identity, Token("a" * 40, expires_at=2e9, obtained_at=1e9, refresh_token="r" * 40))
        store.put_secret("databricks-pat:https://x.cloud.databricks.com", SecretStr("dapi" + "5" * 32))
        async with store.locked(identity):
            pass
    finally:
        os.umask(old)
    files = [p for p in store.root.rglob("*") if p.is_file()]
    dirs = [store.root, *[p for p in store.root.rglob("*") if p.is_dir()]]
    assert {p.parent.name for p in files} == {"oauth", "secrets", "locks"}
    assert {str(p): _mode(p) for p in files} == {str(p): 0o600 for p in files}
    assert {str(d): _mode(d) for d in dirs} == {str(d): 0o700 for d in dirs}
