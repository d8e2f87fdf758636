"""Browser sign-in (U2M): a small dialog over the settings that owns the whole flow.

Sequence, in one exclusive worker: discover the workspace's OAuth endpoints and bind the loopback
listener (``BrowserLogin.start``), show the authorize URL (always: it can be opened on any
device), try to open a browser (``BROWSER=none``, SSH and display-less sessions open none), wait
for the callback or a pasted redirect address, exchange the code, store the tokens, and verify
who we are (``complete_browser_login``). The dialog closes with a ``LoginOutcome``: who signed in
and for how long, or why it failed; Esc or Cancel abandon the attempt at any step.

Every request of the flow goes through one transport built in a thread, so no TLS context is
built on the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from pydantic import SecretStr
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from lakecode.config.settings import DatabricksSettings
from lakecode.databricks.auth.login import complete_browser_login
from lakecode.databricks.auth.oauth_login import BrowserLogin, OAuthApp
from lakecode.databricks.auth.store import client_secret_key
from lakecode.errors import LakecodeError, LoginError
from lakecode.tui.services import Services, shared_transport
from lakecode.tui.widgets.signin import SignInPanel
from lakecode.tui.widgets.status import format_expiry

__all__ = ["LoginOutcome", "LoginRequest", "LoginScreen"]


@dataclass(frozen=True)
class LoginRequest:
    """What to sign in to.

    Attributes:
        host: the normalised workspace origin.
        client_id: a custom OAuth app's client id ("" = the public databricks-cli app).
        client_secret: a newly typed secret of that app ("" = the stored one, if any).
        redirect_uri: the app's registered redirect URI ("" = the default).
        base: the Databricks settings being edited (the sign-in completes them).
    """

    host: str
    client_id: str = ""
    client_secret: str = ""
    redirect_uri: str = ""
    base: DatabricksSettings | None = None


@dataclass(frozen=True)
class LoginOutcome:
    """How a sign-in ended.

    Attributes:
        ok: signed in.
        message: who signed in and for how long, or what went wrong and what to do.
    """

    ok: bool
    message: str


class LoginScreen(ModalScreen[LoginOutcome]):
    """The browser sign-in dialog (see the module docstring).

    Args:
        request: what to sign in to.
        services: the outside world (browser, token store, clock, transport).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel sign-in", id="login.cancel"),
    ]

    def __init__(self, request: LoginRequest, services: Services) -> None:
        super().__init__(classes="dialog-screen")
        self.request = request
        self.services = services
        self._login: BrowserLogin | None = None
        self.outcome: LoginOutcome | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog login-dialog"):
            yield Static(Text(f"Sign in to {self.request.host}"), classes="dialog-title")
            yield SignInPanel(id="signin")

    def on_mount(self) -> None:
        self.sign_in()

    def _finish(self, outcome: LoginOutcome) -> None:
        self.outcome = outcome
        self.dismiss(outcome)

    @property
    def panel(self) -> SignInPanel:
        """The panel."""
        return self.query_one(SignInPanel)

    # ---- the flow -------------------------------------------------------------------------------

    async def _oauth_app(self) -> OAuthApp:
        request = self.request
        redirect = request.redirect_uri or None
        if not request.client_id:
            return OAuthApp(redirect_uri=redirect)
        secret = SecretStr(request.client_secret) if request.client_secret else await asyncio.to_thread(
            self.services.store.get_secret, client_secret_key(request.host, request.client_id))
        return OAuthApp(request.client_id, secret, redirect)

    @work(exclusive=True, group="signin")
    async def sign_in(self) -> None:
        """Run the browser sign-in and close with its outcome."""
        panel, clock, host = self.panel, self.services.clock, self.request.host
        transport, owned = await shared_transport(self.services)
        login = BrowserLogin(host, app=await self._oauth_app(), clock=clock,
                             timeout=self.services.login_timeout,
                             on_progress=lambda step: panel.show_progress(step.message),
                             transport=transport)
        try:
            url = await login.start()
            self._login = login
            panel.show_url(url)
            opened = await self.services.open_browser(url)
            panel.show_progress(
                "Your browser should now be open: sign in there. Waiting for it…" if opened else
                "No browser can be opened here: open the address below on any device, sign in, then "
                "paste the address the browser ends on. Waiting…")
            if not opened:
                panel.focus_paste()
            token = await login.wait()
            result = await complete_browser_login(login, token, base=self.request.base,
                                                  store=self.services.store, clock=clock,
                                                  transport=transport)
        except LakecodeError as exc:
            self._finish(LoginOutcome(False, exc.describe()))
            return
        finally:
            self._login = None
            login.cancel()  # no-op once finished; stops a wait nobody will collect
            await login.aclose()
            if owned is not None:
                await owned.close()
        expiry = format_expiry(result.resolved.token_expiry(), clock.time())
        who = f" as {result.whoami.user}" if result.whoami.user else ""
        self._finish(LoginOutcome(True, f"Signed in to {host}{who}"
                                        + (f" · token valid for {expiry}" if expiry else "")))

    # ---- the user -------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        """Abandon the sign-in."""
        if self._login is not None:
            self._login.cancel()  # the worker sees LoginError("Sign-in cancelled.") and closes
            return
        self.workers.cancel_group(self, "signin")
        self._finish(LoginOutcome(False, "Sign-in cancelled."))

    @on(SignInPanel.CancelRequested)
    def _cancel_requested(self, event: SignInPanel.CancelRequested) -> None:
        event.stop()
        self.action_cancel()

    @on(SignInPanel.RedirectPasted)
    def _pasted(self, event: SignInPanel.RedirectPasted) -> None:
        event.stop()
        login = self._login
        if login is None:
            self.panel.show_progress("The workspace has not answered yet; paste again in a moment.",
                                     error=True)
            return
        try:
            login.submit_redirect_url(event.url)
        except LoginError as exc:
            self.panel.show_progress(exc.message, error=True)
