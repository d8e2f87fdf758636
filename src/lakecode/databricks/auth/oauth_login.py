"""Browser sign-in (OAuth U2M): authorization code + PKCE, driven by the CLI or the TUI.

The protocol pieces come from authlib (PKCE S256 challenge, authorize URL, token form); this
module owns the orchestration: the loopback callback server with a deadline, the authorize URL
handed to the UI, the paste-back path, cancellation.

Defaults follow the Databricks CLI: public client ``databricks-cli``, redirect URI
``http://localhost:8020`` (the one that app has registered), scopes ``all-apis offline_access``.
When 8020 is busy the public client falls back only to 8021–8040, which the Databricks CLI uses
too, and says so through the progress callback; a configured redirect URI is used exactly, and a
busy port fails at once with a message naming it (F10). The listener accepts on IPv4 and IPv6
loopback, since ``localhost`` may resolve to ``::1``. The redirect URI sent in the code exchange is
byte-identical to the one sent to the authorize endpoint.

Driving a sign-in (the CLI and the TUI do exactly this)::

    async with BrowserLogin(host, on_progress=show) as login:   # discovers, binds the listener
        show_url(login.authorize_url)                            # always shown to the user
        opened = await open_in_browser(login.authorize_url)      # honours $BROWSER / BROWSER=none
        # a UI may call login.submit_redirect_url(pasted) (paste-back) or login.cancel()
        token = await login.wait()                               # deadline -> LoginError

``wait`` raises ``LoginError`` on timeout, cancellation, a refused authorization or a failed
exchange. Nothing here prints: the caller decides where the URL and progress go.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import os
import secrets
import sys
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, TypeAlias
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from pydantic import SecretStr

from lakecode.clock import Clock, system_clock
from lakecode.databricks.auth.defaults import (
    DATABRICKS_CLI_CLIENT_ID,
    DEFAULT_REDIRECT_URI,
    FALLBACK_PORTS,
)
from lakecode.databricks.auth.identity import login_command
from lakecode.databricks.auth.oidc import OidcEndpoints, discover, oauth_http_client, request_token
from lakecode.databricks.auth.strategies import U2M_SCOPES
from lakecode.databricks.auth.token_source import Token
from lakecode.databricks.host import normalize_host
from lakecode.errors import AuthError, LoginError
from lakecode.redact import redact, register_secret

__all__ = [
    "DATABRICKS_CLI_CLIENT_ID",
    "DEFAULT_LOGIN_TIMEOUT",
    "DEFAULT_REDIRECT_URI",
    "FALLBACK_PORTS",
    "BrowserLogin",
    "LoginProgress",
    "OAuthApp",
    "browser_available",
    "open_in_browser",
]

DEFAULT_LOGIN_TIMEOUT = 300.0

Stage: TypeAlias = Literal["listening", "port_fallback", "waiting", "code_received", "exchanging",
                           "signed_in", "ignored_callback"]


@dataclass(frozen=True, slots=True)
class LoginProgress:
    """A step of the sign-in, for a progress line or a status widget.

    Attributes:
        stage: what happened.
        message: a sentence for the user.
    """

    stage: Stage
    message: str


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """The OAuth app to sign in with: the public ``databricks-cli`` app, or a custom one.

    Attributes:
        client_id: the app's client id.
        client_secret: a confidential app's secret (sent as a form field in the exchange).
        redirect_uri: the redirect URI registered for the app; None means the public client's
            ``http://localhost:8020`` with the registered fallback ports.
    """

    client_id: str = DATABRICKS_CLI_CLIENT_ID
    client_secret: SecretStr | None = None
    redirect_uri: str | None = None

    def candidate_redirects(self) -> list[str]:
        """Redirect URIs to try, in order (only one unless this is the default public client)."""
        if self.redirect_uri is not None:
            return [self.redirect_uri]
        if self.client_id == DATABRICKS_CLI_CLIENT_ID:
            return [DEFAULT_REDIRECT_URI, *(f"http://localhost:{p}" for p in FALLBACK_PORTS)]
        return [DEFAULT_REDIRECT_URI]


def browser_available(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a browser can be opened here: not ``BROWSER=none``, not SSH without ``$BROWSER``,
    and a display on Linux (DISPLAY or WAYLAND_DISPLAY)."""
    env = os.environ if environ is None else environ
    chosen = env.get("BROWSER", "").strip()
    if chosen.lower() == "none":
        return False
    if chosen:
        return True
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return False
    if sys.platform.startswith("linux"):
        return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return True


async def open_in_browser(url: str, environ: Mapping[str, str] | None = None) -> bool:
    """Open ``url`` in the user's browser when one is available; True when one was launched."""
    if not browser_available(environ):
        return False
    return await asyncio.to_thread(webbrowser.open, url)


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>lakecode</title></head>
<body style="font-family:system-ui,sans-serif;margin:4em auto;max-width:36em">
<h1>{title}</h1><p>{body}</p></body></html>"""


def _page(status: str, title: str, body: str) -> bytes:
    content = _PAGE.format(title=html.escape(title), body=html.escape(body)).encode()
    head = (f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(content)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n")
    return head.encode() + content


class _CallbackServer:
    """A loopback HTTP listener that answers only the callback path."""

    def __init__(self, path: str, deliver: Callable[[str], tuple[bool, str]]) -> None:
        self.path = path or "/"
        self._deliver = deliver
        self._servers: list[asyncio.Server] = []

    async def bind(self, hostname: str, port: int) -> None:
        """Listen on ``port`` on the loopback addresses ``hostname`` names.

        Raises:
            OSError: ``EADDRINUSE`` when the port is taken.
        """
        addresses = {"localhost": ["127.0.0.1", "::1"], "::1": ["::1"]}.get(hostname, ["127.0.0.1"])
        try:
            for address in addresses:
                try:
                    server = await asyncio.start_server(self._handle, address, port)
                except OSError as exc:
                    ipv6_missing = address == "::1" and len(addresses) > 1 and exc.errno in (
                        errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT)
                    if ipv6_missing:
                        continue  # no IPv6 loopback on this machine: IPv4 is enough
                    raise
                self._servers.append(server)
        except OSError:
            await self.close()
            raise

    async def close(self) -> None:
        for server in self._servers:
            server.close()
            with contextlib.suppress(OSError):
                await server.wait_closed()
        self._servers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request_line = (await reader.readline()).decode("latin-1").strip()
                while (await reader.readline()).strip():
                    pass  # headers are not needed
            method, _, rest = request_line.partition(" ")
            target = rest.rsplit(" ", 1)[0] if " " in rest else rest
            if method != "GET" or urlsplit(target).path != self.path:
                writer.write(_page("404 Not Found", "Not found",
                                   "This address only receives the lakecode sign-in."))
            else:
                ok, message = self._deliver(target)
                writer.write(_page("200 OK" if ok else "400 Bad Request",
                                   "Signed in to lakecode" if ok else "Sign-in not completed",
                                   message))
            await writer.drain()
        except (TimeoutError, OSError, UnicodeError):
            pass  # a broken or idle browser connection: nothing to tell anyone
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class BrowserLogin:
    """One browser sign-in (see the module docstring for the sequence).

    Args:
        host: the workspace (any form; normalised).
        app: the OAuth app (default: the public ``databricks-cli`` client).
        scopes: requested scopes (default ``all-apis offline_access``).
        clock: the wall clock token expiry is computed on.
        timeout: seconds ``wait`` waits for the browser before giving up.
        on_progress: called with each ``LoginProgress``.
        listen: run the loopback listener (False: paste-back only).
        transport: an httpx transport (tests).
    """

    def __init__(self, host: str, *, app: OAuthApp | None = None,
                 scopes: tuple[str, ...] = U2M_SCOPES, clock: Clock = system_clock,
                 timeout: float = DEFAULT_LOGIN_TIMEOUT,
                 on_progress: Callable[[LoginProgress], None] | None = None, listen: bool = True,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.host = normalize_host(host)
        self.app = app or OAuthApp()
        self.scopes = scopes
        self.timeout = timeout
        self._clock = clock
        self._progress = on_progress or (lambda _event: None)
        self._listen = listen
        self._transport = transport
        self._verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
        self._state = secrets.token_urlsafe(16)
        register_secret(self._verifier)
        self._redirect_uri: str | None = None
        self._authorize_url: str | None = None
        self._endpoints: OidcEndpoints | None = None
        self._server: _CallbackServer | None = None
        self._code: asyncio.Future[str] | None = None

    @property
    def redirect_uri(self) -> str:
        """The redirect URI in use (after ``start``)."""
        if self._redirect_uri is None:
            raise RuntimeError("call start() first")
        return self._redirect_uri

    @property
    def authorize_url(self) -> str:
        """The URL the user opens to sign in (after ``start``)."""
        if self._authorize_url is None:
            raise RuntimeError("call start() first")
        return self._authorize_url

    def _hint(self) -> str:
        return (f"Run `{login_command(self.host, auth_type='external-browser')}` again; without a "
                "browser on this machine, open the URL elsewhere and paste back the address it "
                f"ends on, or use `{login_command(self.host, auth_type='pat')}`.")

    async def start(self) -> str:
        """Discover the endpoints, bind the listener and build the authorize URL; return it.

        Raises:
            LoginError: the callback port is busy (named in the message).
            WrongHostError, APIConnectionError: the host is not a reachable workspace.
        """
        self._code = asyncio.get_running_loop().create_future()
        # A cancelled sign-in nobody waits for must not log "exception was never retrieved".
        self._code.add_done_callback(lambda f: f.cancelled() or f.exception())
        async with oauth_http_client(transport=self._transport, auth_type="external-browser") as http:
            self._endpoints = await discover(self.host, http)
        self._redirect_uri = await self._bind() if self._listen else self.app.candidate_redirects()[0]
        self._authorize_url = prepare_grant_uri(
            self._endpoints.authorization_endpoint, client_id=self.app.client_id,
            response_type="code", redirect_uri=self._redirect_uri, scope=" ".join(self.scopes),
            state=self._state, code_challenge=create_s256_code_challenge(self._verifier),
            code_challenge_method="S256")
        self._progress(LoginProgress("waiting", "Waiting for the browser sign-in."))
        return self._authorize_url

    async def _bind(self) -> str:
        candidates = self.app.candidate_redirects()
        for uri in candidates:
            parts = urlsplit(uri)
            hostname, port = (parts.hostname or "localhost").lower(), parts.port or 80
            server = _CallbackServer(parts.path, self._deliver)
            try:
                await server.bind(hostname, port)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise LoginError(f"Cannot listen on {hostname}:{port} for the sign-in "
                                     f"callback: {exc.strerror}.", hint=self._hint()) from None
                continue
            self._server = server
            first = urlsplit(candidates[0]).port
            if uri != candidates[0]:
                self._progress(LoginProgress(
                    "port_fallback", f"Port {first} is in use; listening on port {port} instead "
                                     f"(also registered for {self.app.client_id})."))
            self._progress(LoginProgress("listening", f"Listening for the sign-in on {uri}."))
            return uri
        first_port = urlsplit(candidates[0]).port
        also = f" (and ports {FALLBACK_PORTS[0]}–{FALLBACK_PORTS[-1]})" if len(candidates) > 1 else ""
        raise LoginError(
            f"Port {first_port} is in use{also}, so the sign-in callback cannot be received.",
            hint=f"Close the program using port {first_port} (`lsof -i :{first_port}` names it), "
                 "or configure a custom OAuth app with another registered redirect URI.")

    def _deliver(self, target: str) -> tuple[bool, str]:
        """Take a callback (``/path?code=...&state=...``); returns (accepted, page text)."""
        query = parse_qs(urlsplit(target).query)
        state = (query.get("state") or [""])[0]
        if not secrets.compare_digest(state.encode(), self._state.encode()):
            self._progress(LoginProgress("ignored_callback",
                                         "Ignored a sign-in callback from another attempt (state mismatch)."))
            return False, "This sign-in link belongs to another attempt. Start the sign-in again."
        if "error" in query:
            error = query["error"][0]
            description = (query.get("error_description") or [""])[0]
            self._fail(LoginError(f"The workspace refused the sign-in: {redact(error)}"
                                  + (f": {redact(description)}" if description else ""),
                                  hint=self._hint()))
            return False, f"The workspace refused the sign-in ({error}). You can close this tab."
        code = (query.get("code") or [""])[0]
        if not code:
            return False, "The sign-in callback carried no authorization code."
        register_secret(code)
        if self._code is not None and not self._code.done():
            self._code.set_result(code)
            self._progress(LoginProgress("code_received", "Authorization received."))
        return True, "You are signed in to lakecode. You can close this tab."

    def _fail(self, error: LoginError) -> None:
        if self._code is not None and not self._code.done():
            self._code.set_exception(error)

    def submit_redirect_url(self, url: str) -> None:
        """Paste-back: finish with the address the browser was redirected to.

        Raises:
            LoginError: the URL is not this sign-in's callback (no code, or another state).
        """
        text = url.strip()
        if "?" not in text:
            raise LoginError("That is not the redirected address: it has no ?code=...&state=... part.",
                             hint="Copy the whole address from the browser's address bar.")
        ok, message = self._deliver(text)
        if not ok and not (self._code is not None and self._code.done()):
            raise LoginError(f"The pasted address was not accepted: {message}")

    def cancel(self) -> None:
        """Abandon the sign-in: ``wait`` raises ``LoginError``."""
        self._fail(LoginError("Sign-in cancelled.", hint=self._hint()))

    async def wait(self) -> Token:
        """Wait for the callback (or a pasted URL) and exchange the code for tokens.

        Raises:
            LoginError: timed out, cancelled, refused, or the exchange failed.
        """
        if self._code is None or self._endpoints is None:
            raise RuntimeError("call start() first")
        try:
            async with asyncio.timeout(self.timeout):
                code = await asyncio.shield(self._code)
        except TimeoutError:
            raise LoginError(f"Timed out after {self.timeout:g} s waiting for the browser "
                             f"sign-in to {self.host}.", hint=self._hint()) from None
        finally:
            await self.aclose()
        self._progress(LoginProgress("exchanging", "Exchanging the authorization for tokens."))
        token = await self._exchange(code)
        self._progress(LoginProgress("signed_in", f"Signed in to {self.host}."))
        return token

    async def _exchange(self, code: str) -> Token:
        assert self._endpoints is not None
        secret = self.app.client_secret.get_secret_value() if self.app.client_secret else None
        async with oauth_http_client(transport=self._transport, auth_type="external-browser") as http:
            try:
                return await request_token(
                    http, self._endpoints.token_endpoint, "authorization_code", clock=self._clock,
                    host=self.host, relogin_hint=self._hint(), client_id=self.app.client_id,
                    client_secret=secret,
                    client_auth_method="client_secret_post" if secret else "none",
                    code=code, code_verifier=self._verifier, redirect_uri=self.redirect_uri)
            except AuthError as exc:
                raise LoginError(exc.message, hint=exc.hint) from None

    async def aclose(self) -> None:
        """Stop the listener (idempotent)."""
        if self._server is not None:
            await self._server.close()
            self._server = None

    async def __aenter__(self) -> BrowserLogin:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._code is not None and not self._code.done():
            self._code.cancel()
        await self.aclose()

