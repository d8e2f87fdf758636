"""The ``Emulator`` handle: a uvicorn server in a daemon thread on loopback, plus test controls.

Start-up binds the socket first (so the port is known at once) and returns when the server is
accepting connections; ``stop`` closes connections and joins the thread without uvicorn's fixed
shutdown pauses, so starting and stopping an emulator costs milliseconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn

from lakecode.emulator.app import StateRef, build_app
from lakecode.emulator.catalog import Catalog
from lakecode.emulator.clock import EmulatorClock
from lakecode.emulator.config import EmulatorConfig, InvalidTokenStyle
from lakecode.emulator.faults import FaultSet
from lakecode.emulator.requestlog import RequestRecord, TokenRequests
from lakecode.emulator.scripted_model import ScriptedModel
from lakecode.emulator.sse import quiet_stream_cuts
from lakecode.emulator.state import EmulatorState
from lakecode.emulator.tokens import token_id

__all__ = ["Emulator"]

_INVALID_TOKEN_STYLES = ("401", "403", "400", "403-access")


class Emulator:
    """A local Databricks workspace emulator.

    Use as a context manager (``with Emulator(EmulatorConfig(...)) as emu: ...``) or call
    ``start()``/``stop()``. Keyword arguments override fields of ``config``.

    Attributes (live, per state; ``reset()`` replaces them): ``url``, ``pat``, ``client_id``,
    ``client_secret``, ``workspace_id``, ``requests``, ``token_requests``, ``faults``, ``clock``,
    ``scripted_model``, ``catalog``, ``config``.
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        base = config if config is not None else EmulatorConfig()
        self._config = dataclasses.replace(base, **overrides) if overrides else base
        self._ref: StateRef | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._port = 0

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind, start serving in a daemon thread, and return once connections are accepted."""
        if self._thread is not None:
            return self
        quiet_stream_cuts()
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it small keep-alive responses wait ~40 ms on delayed ACKs.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self._config.host, self._config.port))
        self._port = sock.getsockname()[1]
        self._ref = StateRef(EmulatorState.create(self._config, self.url))
        config = uvicorn.Config(
            build_app(self._ref),
            log_config=None,
            log_level="warning",
            lifespan="off",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, args=(sock,), name=f"lakecode-emulator-{self._port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout=10) or self._error is not None:
            raise RuntimeError(f"the emulator did not start: {self._error!r}")
        return self

    def _run(self, sock: socket.socket) -> None:
        try:
            asyncio.run(self._serve(sock))
        except BaseException as exc:  # surfaced to start(); the thread must not die silently
            self._error = exc
            self._ready.set()

    async def _serve(self, sock: socket.socket) -> None:
        server = self._server
        assert server is not None
        server.config.load()
        server.lifespan = server.config.lifespan_class(server.config)
        await server.startup(sockets=[sock])
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._ready.set()
        await self._stop_event.wait()
        await self._shutdown(server)
        sock.close()

    @staticmethod
    async def _shutdown(server: uvicorn.Server) -> None:
        for listener in server.servers:
            listener.close()
        state = server.server_state
        for conn in list(state.connections):
            conn.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 0.5  # in-flight requests get this long, then they are cut
        while state.connections and loop.time() < deadline:  # noqa: ASYNC110 - polling uvicorn's set
            await asyncio.sleep(0.005)
        for conn in list(state.connections):
            transport = getattr(conn, "transport", None)
            if transport is not None:
                transport.abort()
        for task in list(state.tasks):
            task.cancel()

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)
        thread.join(timeout=10)
        self._thread = None
        self._ready.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self, config: EmulatorConfig | None = None, **overrides: Any) -> Emulator:
        """Replace all state (credentials, tokens, faults, logs, queue) with a fresh one.

        ``config`` (and keyword overrides) become the new configuration; ``host`` and ``port`` of
        a running server cannot change.
        """
        if config is not None or overrides:
            base = config if config is not None else self._config
            self._config = dataclasses.replace(base, **overrides) if overrides else base
        if self._ref is not None:
            self._ref.current = EmulatorState.create(self._config, self.url)
        return self

    # --- state access -------------------------------------------------------------------------

    @property
    def state(self) -> EmulatorState:
        """The live state (raises when the emulator is not started)."""
        if self._ref is None:
            raise RuntimeError("the emulator is not started; use `with Emulator() as emu:`")
        return self._ref.current

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (the workspace host)."""
        host = self._config.host if self._config.host not in ("0.0.0.0", "") else "127.0.0.1"
        return f"http://{host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def config(self) -> EmulatorConfig:
        """The live configuration; switches may be flipped between requests."""
        return self.state.config

    @property
    def pat(self) -> str:
        """A valid personal access token (``dapi`` + 32 hex digits)."""
        return self.state.pat

    @property
    def client_id(self) -> str:
        """The M2M service principal's application id (a UUID)."""
        return self.state.client_id

    @property
    def client_secret(self) -> str:
        """The M2M service principal's OAuth secret."""
        return self.state.client_secret

    @property
    def workspace_id(self) -> str:
        """The workspace id (digits)."""
        return self.state.workspace_id

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log (never contains a secret)."""
        return self.state.log.snapshot()

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.state.log.clear()

    @property
    def token_requests(self) -> TokenRequests:
        """Calls to ``POST /oidc/v1/token`` by grant type."""
        return self.state.token_requests

    @property
    def faults(self) -> FaultSet:
        """Fault injection (``emu.faults.add(...)``, ``rate_limit``, ``server_error``, ...)."""
        return self.state.faults

    @property
    def clock(self) -> EmulatorClock:
        """The clock tokens expire by (``emu.clock.advance(seconds)``)."""
        return self.state.clock

    @property
    def scripted_model(self) -> ScriptedModel:
        """The scripted model (``enqueue``, scenario rules)."""
        return self.state.scripted_model

    @property
    def catalog(self) -> Catalog:
        """The endpoint catalogue (``add``/``remove`` at run time)."""
        return self.state.catalog

    # --- token controls -----------------------------------------------------------------------

    def expire_all_tokens(self, include_pats: bool = False) -> int:
        """Expire every OAuth access token now (PATs too when asked); returns how many."""
        return self.state.tokens.expire_all(include_pats)

    def revoke(self, token: str) -> bool:
        """Revoke an access token, PAT or refresh token; False when the emulator never issued it."""
        return self.state.tokens.revoke(token)

    def set_invalid_token_style(self, style: InvalidTokenStyle) -> None:
        """Reject expired/unknown tokens with 401, 403 ``Invalid Token``, 400 ``Invalid Token``,
        or 403 ``Invalid access token.`` (``"403-access"``)."""
        if style not in _INVALID_TOKEN_STYLES:
            raise ValueError(f"style must be one of {_INVALID_TOKEN_STYLES}")
        self.state.config.invalid_token_style = style

    def mint_token(self, ttl: float | None = None, scope: str = "all-apis") -> str:
        """An OAuth access token for the M2M principal, issued without an HTTP call."""
        st = self.state
        return st.tokens.mint_access(
            st.client_id, scope, st.client_id, st.config.token_ttl if ttl is None else ttl
        )

    @staticmethod
    def token_id(token: str) -> str:
        """The non-secret handle the request log shows for ``token``."""
        return token_id(token)
