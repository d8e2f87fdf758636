"""Shared pieces of the reliability suite: providers on the real auth path, a clock shared with
the emulator, leak counters, the CLI as a subprocess, and an emulator in a killable process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from lakecode.agent import Agent, Approvals, ConversationStore, ProjectScope, default_tools
from lakecode.agent.events import AgentEvent
from lakecode.config.env import EnvOverrides
from lakecode.config.settings import DatabricksSettings, Settings
from lakecode.databricks.auth.token_source import registry
from lakecode.databricks.provider import DatabricksProvider, build_databricks_provider
from lakecode.emulator import Emulator
from lakecode.llm.types import ChatRequest, Finish, Message, StreamEvent

MODEL = "databricks-claude-sonnet-4-5"
"""A tool-capable chat model of the bundled emulator workspace."""


class SharedClock:
    """lakecode's ``Clock`` over the emulator's clock: client and server agree on token expiry,
    and a backoff ``sleep`` moves both forward instead of waiting."""

    def __init__(self, emu: Emulator) -> None:
        self._emu = emu
        self.sleeps: list[float] = []

    def time(self) -> float:
        return float(self._emu.clock.time())

    def monotonic(self) -> float:
        return float(self._emu.clock.time())

    def advance(self, seconds: float) -> None:
        self._emu.clock.advance(seconds)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._emu.clock.advance(max(0.0, seconds))
        await asyncio.sleep(0)


def provider(emu: Emulator, *, auth: str = "pat", clock: Any = None,
             route: str = "serving-endpoints") -> DatabricksProvider:
    """A provider built the way the runtime builds one (``resolve_auth`` and the token registry),
    signed in with the emulator's PAT or its service principal (``auth="oauth-m2m"``)."""
    registry.clear()
    if auth == "oauth-m2m":
        dbx = DatabricksSettings(host=emu.url, auth_type="oauth-m2m", client_id=emu.client_id,
                                 route=route)  # type: ignore[arg-type]
        secrets = {"client_secret": SecretStr(emu.client_secret)}
    else:
        dbx = DatabricksSettings(host=emu.url, auth_type="pat", route=route)  # type: ignore[arg-type]
        secrets = {"pat": SecretStr(emu.pat)}
    settings = Settings(databricks=dbx)
    kwargs: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return build_databricks_provider(settings, EnvOverrides(settings=settings, secrets=secrets), **kwargs)


def ask(model: str = MODEL, text: str = "hello", *, stream: bool = True) -> ChatRequest:
    """A one-message chat turn."""
    return ChatRequest(model=model, messages=(Message.user(text),), stream=stream)


async def turn(p: DatabricksProvider, request: ChatRequest) -> tuple[list[StreamEvent], Finish]:
    """Run one turn; its events and its ``Finish``."""
    events = [e async for e in p.stream_chat(request)]
    assert isinstance(events[-1], Finish)
    return events, events[-1]


def agent(p: Any, project: Path, *, store: ConversationStore | None = None, **kw: Any) -> Agent:
    """An agent with the standard tools in ``project``, approving everything inside it."""
    return Agent(p, MODEL, tools=default_tools(ProjectScope.at(project), shell_timeout=30.0),
                 approvals=Approvals.auto(), store=store, cwd=project, **kw)


async def collect(a: Agent, prompt: str) -> tuple[list[AgentEvent], BaseException | None]:
    """All events of one run, and the error it ended with (None when it ended normally)."""
    events: list[AgentEvent] = []
    try:
        async for event in a.run(prompt):
            events.append(event)
    except Exception as exc:  # the run's error is part of what the tests assert on
        return events, exc
    return events, None


def open_fds() -> int:
    """How many file descriptors this process has open."""
    return len(os.listdir("/proc/self/fd"))


async def settle_fds(limit: int, timeout: float = 10.0) -> int:
    """Wait until at most ``limit`` descriptors are open (servers close their side late)."""
    deadline = time.monotonic() + timeout
    count = open_fds()
    while count > limit and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        count = open_fds()
    return count


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its content (None for directories), for before/after checks."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = b"-> " + os.readlink(path).encode()
        elif path.is_dir():
            out[rel] = None
        else:
            out[rel] = path.read_bytes()
    return out


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """A hermetic environment for a ``lakecode`` subprocess."""
    scrub = ("DATABRICKS_", "LLM_", "LAKECODE_", "OPENAI_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(scrub)}
    env.update(HOME=str(home), LAKECODE_HOME=str(home / ".lakecode"), NO_COLOR="1", BROWSER="none",
               XDG_CONFIG_HOME=str(home / ".config"), DATABRICKS_CONFIG_FILE=str(home / ".databrickscfg"))
    env.pop("DISPLAY", None)
    env.update(extra)
    return env


def lakecode_cli(args: list[str], env: Mapping[str, str], cwd: Path | None = None,
                 timeout: float = 120.0, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lakecode <args>`` to completion."""
    return subprocess.run([sys.executable, "-m", "lakecode", *args], env=dict(env), cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, input=stdin or "")


class EmulatorProcess:
    """``lakecode emulator`` in a child process, so a test can kill it (SIGKILL) and restart it on
    the same port with the same credentials."""

    def __init__(self, port: int = 0, pat: str = "dapi" + "0123456789abcdef" * 2) -> None:
        self.port = port
        self.pat = pat
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> EmulatorProcess:
        argv = [sys.executable, "-m", "lakecode", "emulator", "--json", "--port", str(self.port),
                "--pat", self.pat]
        self._proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process did not start")
        self.url = json.loads(line)["url"]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye to open connections."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)
            self._close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._close()

    def _close(self) -> None:
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        self._proc = None

    def admin(self, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        response = httpx.request(method, f"{self.url}/__emulator/{path}", json=body, timeout=30.0)
        response.raise_for_status()
        return response.json()


def emulator_process(port: int = 0) -> Iterator[EmulatorProcess]:
    """A started ``EmulatorProcess``, stopped afterwards (use with ``contextlib.contextmanager``)."""
    proc = EmulatorProcess(port).start()
    try:
        yield proc
    finally:
        proc.stop()


class LoopbackServer:
    """A Starlette app on a loopback port, in a thread (for a workspace that misbehaves)."""

    def __init__(self, app: Any) -> None:
        import socket
        import threading

        import uvicorn

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                                     log_config=None))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._sock.close()
