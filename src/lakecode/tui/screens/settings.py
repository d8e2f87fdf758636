"""The settings screen: provider, workspace, sign-in method, model - checked, saved, applied.

A modal over the chat (and the first thing a new user sees). It owns three workflows, each in an
exclusive async worker so the UI never waits on the network:

* **models** — as soon as host and credentials allow (debounced while typing), a provider is
  built from the form *as typed* (in a thread: profile and SDK auth may block) and asked for its
  models; the 5-minute catalog cache makes reopening instant. Failures fall back to the curated
  recommended list, and the status line says why;
* **sign-in** — the browser (U2M) flow, in its own dialog (``screens/login.py``);
* **save** — validates the whole form (problems are listed and the first field focused), asks
  before saving a model the workspace does not list, writes secrets to the token store (0600)
  and settings.toml atomically, and dismisses with the new ``Settings``. The app then builds a
  new provider; nothing running is mutated.

Fields set by environment variables show the environment's value, are read-only, are labelled
with the variable, and are never saved. Secret fields are masked; a secret already in the token
store shows as "•••• stored" placeholder text, and leaving the field empty keeps it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Button, Collapsible, Footer, Input, Label, RadioButton, RadioSet, Select, Static

from lakecode.config.settings import AuthMethod, DatabricksSettings, OpenAICompatibleSettings, Settings
from lakecode.config.store import backup_corrupt, save_settings
from lakecode.databricks.auth.store import TokenStore
from lakecode.databricks.profiles import Profile
from lakecode.errors import AuthenticationError, AuthError, LakecodeError, ProfileError
from lakecode.tui.forms import (
    AUTH_METHODS,
    FIELD_IDS,
    PROVIDERS,
    SECRET_ENV,
    FormValues,
    draft_overrides,
    field_help,
    host_feedback,
    is_uuid,
    method_hint,
    secret_keys,
    secrets_to_store,
    settings_to_save,
    validate,
)
from lakecode.tui.screens.dialogs import ConfirmScreen
from lakecode.tui.screens.login import LoginOutcome, LoginRequest, LoginScreen
from lakecode.tui.services import Services, Session, list_models, rejected_credential
from lakecode.tui.widgets.choice import ChoiceSet
from lakecode.tui.widgets.model_list import ModelPicker

__all__ = ["SettingsScreen"]

_SECRET_PLACEHOLDERS = {
    "pat": "paste a token (dapi…); it is kept in the token store, never in settings.toml",
    "client_secret": "the service principal's OAuth secret",
    "oauth_client_secret": "only for a confidential app",
    "api_key": "optional (Ollama and vLLM need none)",
}
_STORED = "•••• stored — leave empty to keep it"
_SECRET_FIELDS = tuple(_SECRET_PLACEHOLDERS)
_RELOAD_FIELDS = frozenset({"host", "client_id", "client_secret", "pat", "base_url", "api_key",
                            "oauth_client_id"})


def _label(text: str, field: str) -> Label:
    return Label(text, id=f"label-{field}", classes="field-label")


def _help(text: str) -> Static:
    return Static(Text(text), classes="field-help")


class SettingsScreen(ModalScreen[Settings | None]):
    """Settings (see the module docstring). Dismisses with the saved ``Settings``, or None.

    Args:
        session: the running session (saved settings, environment overrides).
        services: the outside world.
        first_run: show the welcome line (nothing is configured yet).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="settings.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="settings.cancel"),
        Binding("ctrl+r", "refresh_models", "Refresh models", id="settings.refresh"),
    ]

    RELOAD_DELAY: ClassVar[float] = 0.6
    """Seconds of quiet typing before models are loaded for what was typed."""

    def __init__(self, session: Session, services: Services, *, first_run: bool = False) -> None:
        super().__init__(classes="dialog-screen")
        self.session = session
        self.services = services
        self.first_run = first_run
        self.initial = FormValues.from_settings(session.settings)
        self._profiles: list[Profile] = []
        self._profile_error: str | None = None
        self._stored: dict[str, bool] = {}
        self._reload: Timer | None = None
        self._ready = False
        # The form as it was when the workspace rejected its credential, and what it said.
        self._rejected: tuple[FormValues, str] | None = None

    # ---- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        values = self.initial
        with Vertical(id="settings-dialog", classes="dialog"):
            yield Static("Settings", classes="dialog-title")
            if self.first_run:
                yield Static(Text("Welcome to lakecode. Connect it to your Databricks workspace (or any "
                                  "OpenAI-compatible endpoint), pick a model, and press Save."),
                             id="settings-welcome")
            yield Static("", id="env-notice")
            with VerticalScroll(id="settings-body"):
                yield _label("Provider", "provider")
                yield ChoiceSet(*(RadioButton(label, value=kind == values.provider, id=f"provider-{kind}")
                                 for kind, label in PROVIDERS), id="provider", compact=True)
                with Vertical(id="databricks-section"):
                    yield from self._compose_databricks(values)
                with Vertical(id="openai-section"):
                    yield _label("Base URL", "base_url")
                    yield _help(field_help(OpenAICompatibleSettings, "base_url"))
                    yield Input(values.base_url, id="base_url", placeholder="e.g. http://localhost:11434/v1")
                    yield _label("API key", "api_key")
                    yield Input(id="api_key", password=True, placeholder=_SECRET_PLACEHOLDERS["api_key"])
                yield _label("Model", "model")
                yield _help(field_help(Settings, "model"))
                yield ModelPicker(values.model, id="model-picker")
            with Horizontal(id="settings-buttons"):
                yield Static("", id="settings-problems")
                yield Button("Cancel", id="settings-cancel", compact=True)
                yield Button("Save", id="settings-save", variant="primary", compact=True)
        yield Footer()

    def _compose_databricks(self, values: FormValues) -> ComposeResult:
        yield _label("Workspace host", "host")
        yield _help(field_help(DatabricksSettings, "host"))
        yield Input(values.host, id="host",
                    placeholder="paste it from your browser, e.g. https://dbc-a1b2345c-d6e7.cloud.databricks.com")
        yield Static("", id="host-feedback", classes="feedback")
        yield _label("Sign-in method", "auth_type")
        yield ChoiceSet(*(RadioButton(label, value=method == values.auth_type, id=f"method-{method}")
                         for method, label in AUTH_METHODS), id="auth_type", compact=True)
        yield Static("", id="method-hint", classes="hint")
        with Vertical(id="fields-external-browser", classes="method-fields"):
            with Horizontal(classes="signin-row"):
                yield Button("Sign in with browser", id="signin-start", variant="primary", compact=True)
                yield Static("", id="signin-result")
            custom = bool(values.oauth_client_id or values.oauth_redirect_uri)
            with Collapsible(title="Custom OAuth app (optional)", collapsed=not custom, id="custom-app"):
                yield _label("Client id", "oauth_client_id")
                yield _help(field_help(DatabricksSettings, "oauth_client_id"))
                yield Input(values.oauth_client_id, id="oauth_client_id",
                            placeholder="leave empty for the default app, databricks-cli")
                yield _label("Client secret", "oauth_client_secret")
                yield Input(id="oauth_client_secret", password=True,
                            placeholder=_SECRET_PLACEHOLDERS["oauth_client_secret"])
                yield _label("Redirect URI", "oauth_redirect_uri")
                yield Input(values.oauth_redirect_uri, id="oauth_redirect_uri",
                            placeholder="leave empty for http://localhost:8020")
        with Vertical(id="fields-oauth-m2m", classes="method-fields"):
            yield _label("Client id (the service principal's application id)", "client_id")
            yield Input(values.client_id, id="client_id",
                        placeholder="e.g. 1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901")
            yield Static("", id="client_id-feedback", classes="feedback")
            yield _label("Client secret", "client_secret")
            yield Input(id="client_secret", password=True, placeholder=_SECRET_PLACEHOLDERS["client_secret"])
        with Vertical(id="fields-pat", classes="method-fields"):
            yield _label("Personal access token", "pat")
            yield Input(id="pat", password=True, placeholder=_SECRET_PLACEHOLDERS["pat"])
        with Vertical(id="fields-profile", classes="method-fields"):
            yield _label("Profile", "profile")
            yield _help(field_help(DatabricksSettings, "profile"))
            yield Select[str]([], id="profile", prompt="Choose a profile", allow_blank=True)
            yield Static("", id="profile-feedback", classes="feedback")

    async def on_mount(self) -> None:
        await self._load_profiles()
        self._mark_environment()
        self._sync()
        self._ready = True
        self.query_one("#host" if self.initial.provider == "databricks" else "#base_url").focus()
        self.refresh_models()

    async def _load_profiles(self) -> None:
        try:
            self._profiles = await asyncio.to_thread(self.services.profiles)
        except ProfileError as exc:
            self._profiles, self._profile_error = [], exc.message
        options = [(Text(f"{p.name}  —  {p.host or 'no host'}  ({p.auth_label})"), p.name)
                   for p in self._profiles]
        select = self.query_one("#profile", Select)
        select.set_options(options)
        if self.initial.profile and any(p.name == self.initial.profile for p in self._profiles):
            select.value = self.initial.profile
        note = self._profile_error or ("" if self._profiles else
                                       f"No profiles in {self._config_file()}.")
        self.query_one("#profile-feedback", Static).update(Text(note))

    def _mark_environment(self) -> None:
        """Show environment overrides as such: read-only fields labelled with their variable."""
        overrides = self.session.overrides
        shown: list[str] = []
        for path, var in overrides.applied.items():
            field = FIELD_IDS.get(path)
            if field is None:
                continue
            self._lock(field, var)
            shown.append(f"{var} → {path}")
        for name in overrides.secrets:
            var = next((v for v in SECRET_ENV.get(name, ()) if self.services.environ.get(v)), name)
            self._lock(name, var, secret=True)
            shown.append(f"{var} → {name}")
        notice = self.query_one("#env-notice", Static)
        notice.display = bool(shown)
        if shown:
            notice.update(Text("Environment overrides in effect (used for this run, never saved): "
                               + ", ".join(dict.fromkeys(shown))))

    def _lock(self, field: str, var: str, *, secret: bool = False) -> None:
        widget_id = "model" if field == "model" else field
        for widget in self.query(f"#{widget_id}"):
            widget.disabled = True
            if secret and isinstance(widget, Input):
                widget.placeholder = f"from {var} (environment; not saved)"
        for label in self.query(f"#label-{field}").results(Label):
            label.update(Text(f"{label.content}  ← {var} (environment; not saved)"))

    def _config_file(self) -> str:
        """The Databricks config file, with the home directory shown as ``~``."""
        path = self.services.config_file()
        home = Path(self.services.environ.get("HOME") or Path.home())
        return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)

    # ---- reading the form -----------------------------------------------------------------------

    def _input(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value

    def _radio(self, widget_id: str, prefix: str, default: str) -> str:
        pressed = self.query_one(f"#{widget_id}", RadioSet).pressed_button
        return (pressed.id or "").removeprefix(prefix) if pressed is not None else default

    def values(self) -> FormValues:
        """The form as it is now."""
        provider = self._radio("provider", "provider-", "databricks")
        method = self._radio("auth_type", "method-", "external-browser")
        profile = self.query_one("#profile", Select).value
        return FormValues(
            provider="openai-compatible" if provider == "openai-compatible" else "databricks",
            host=self._input("host"), auth_type=_method(method),
            client_id=self._input("client_id"), client_secret=self._input("client_secret"),
            pat=self._input("pat"), profile=profile if isinstance(profile, str) else None,
            oauth_client_id=self._input("oauth_client_id"),
            oauth_client_secret=self._input("oauth_client_secret"),
            oauth_redirect_uri=self._input("oauth_redirect_uri"),
            base_url=self._input("base_url"), api_key=self._input("api_key"),
            model=self.query_one(ModelPicker).value)

    # ---- live feedback --------------------------------------------------------------------------

    def _sync(self) -> None:
        """Show the sections and fields that fit the provider and method; refresh the hints."""
        values = self.values()
        databricks = values.provider == "databricks"
        self.query_one("#databricks-section").display = databricks
        self.query_one("#openai-section").display = not databricks
        for method, _ in AUTH_METHODS:
            self.query_one(f"#fields-{method}").display = method == values.auth_type
        normalized, error = host_feedback(values.host)
        host_note = f"✗ {error}" if error else (
            f"→ {normalized}" if normalized and normalized != values.host.strip() else "")
        _feedback(self.query_one("#host-feedback", Static), host_note, error=bool(error))
        client_id = values.client_id.strip()
        uuid_note = "" if not client_id or is_uuid(client_id) else \
            "✗ Not a UUID: use the service principal's application id (8-4-4-4-12 hex digits)."
        _feedback(self.query_one("#client_id-feedback", Static), uuid_note, error=True)
        self.query_one("#method-hint", Static).update(
            Text(method_hint(values, config_file=self._config_file())))

    def _show_stored(self, stored: dict[str, bool]) -> None:
        self._stored = stored
        env = self.session.overrides.secrets
        for name in _SECRET_FIELDS:
            field = self.query_one(f"#{name}", Input)
            if name in env or field.disabled:
                continue
            field.placeholder = _STORED if stored.get(name) else _SECRET_PLACEHOLDERS[name]

    def _stored_flags(self, values: FormValues) -> dict[str, bool]:
        store: TokenStore = self.services.store
        return {name: store.get_secret(key) is not None for name, key in secret_keys(values).items()}

    def _schedule_reload(self) -> None:
        if not self._ready:
            return
        if self._reload is not None:
            self._reload.stop()
        self._reload = self.set_timer(self.RELOAD_DELAY, self.refresh_models)

    @on(RadioSet.Changed)
    def _radio_changed(self, event: RadioSet.Changed) -> None:
        event.stop()
        self._sync()
        self._schedule_reload()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        field = event.input.id or ""
        if field in ("model", "signin-paste"):
            return
        self._sync()
        if field in _RELOAD_FIELDS:
            self._schedule_reload()

    @on(Input.Blurred, "#host")
    def _host_left(self, event: Input.Blurred) -> None:
        normalized, _ = host_feedback(event.value)
        if normalized and normalized != event.value:
            event.input.value = normalized  # the same normaliser as everywhere else

    @on(Select.Changed, "#profile")
    def _profile_chosen(self, event: Select.Changed) -> None:
        profile = next((p for p in self._profiles if p.name == event.value), None)
        host = self.query_one("#host", Input)
        if profile is not None and profile.host and not host.disabled:
            host.value = profile.host
        self._sync()
        self._schedule_reload()

    # ---- browser sign-in ------------------------------------------------------------------------

    def _show_sign_in(self, text: str, *, ok: bool | None = None) -> None:
        line = self.query_one("#signin-result", Static)
        line.update(Text(text))
        line.set_class(ok is False, "error")
        line.set_class(ok is True, "success")

    @on(Button.Pressed, "#signin-start")
    def _sign_in_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        values = self.values()
        host = values.normalized_host
        if host is None:
            self._show_sign_in("✗ Enter the workspace host first.", ok=False)
            self.query_one("#host").focus()
            return
        draft = draft_overrides(values, self.session.overrides)
        request = LoginRequest(host, values.oauth_client_id.strip(), values.oauth_client_secret.strip(),
                               values.oauth_redirect_uri.strip(),
                               draft.settings.databricks if draft is not None else None)
        self.app.push_screen(LoginScreen(request, self.services), self._signed_in)

    def _signed_in(self, outcome: LoginOutcome | None) -> None:
        if outcome is None:
            return
        self._show_sign_in(("✓ " if outcome.ok else "✗ ") + outcome.message, ok=outcome.ok)
        if outcome.ok:
            self.refresh_models()

    # ---- models ---------------------------------------------------------------------------------

    def action_refresh_models(self) -> None:
        """Ask the workspace for its models again (bypassing the cache)."""
        self.refresh_models(refresh=True)

    @on(ModelPicker.RefreshRequested)
    def _refresh_requested(self) -> None:
        self.action_refresh_models()

    @on(ModelPicker.Chosen)
    def _model_chosen(self, event: ModelPicker.Chosen) -> None:
        event.stop()

    @work(exclusive=True, group="models")
    async def refresh_models(self, refresh: bool = False) -> None:
        """Load the models for the form as typed (falling back to the recommended list)."""
        self._reload = None
        values = self.values()
        picker = self.query_one(ModelPicker)
        stored = await asyncio.to_thread(self._stored_flags, values)
        if not picker.is_attached:
            return  # the dialog closed meanwhile
        self._show_stored(stored)
        draft = draft_overrides(values, self.session.overrides)
        gap = self._credential_gap(values)
        if draft is None or gap:
            if values.provider == "databricks":
                picker.show_fallback(gap or "Enter the workspace host to list its models")
            else:  # the curated list is Databricks' own: nothing to offer for another server
                picker.show_fallback("Enter the base URL to list its models", ())
            return
        where = values.normalized_host or values.base_url.strip() or "the workspace"
        picker.show_loading(where)
        provider, listing, error, rejected = None, None, None, None
        try:
            provider = await asyncio.to_thread(self.services.build_provider, draft)
            listing = await list_models(provider, refresh=refresh)
            rejected = rejected_credential(provider)
        except LakecodeError as exc:
            error = exc
        finally:
            if provider is not None:
                await provider.aclose()
        if not picker.is_attached:
            return
        if isinstance(error, AuthenticationError):
            rejected = error.message
        self._rejected = (values, rejected) if rejected is not None else None
        if listing is not None:
            picker.show_listing(listing, where)
            line = str(self.query_one("#signin-result", Static).render())
            if values.auth_type == "external-browser" and not line.startswith("✓"):
                self._show_sign_in("✓ Signed in earlier (a stored sign-in); sign in again to switch "
                                   "users.", ok=True)
            return
        reason = error.message if error is not None else "No models"
        if isinstance(error, AuthError) and values.auth_type == "external-browser":
            reason = f"{reason.rstrip('.')}: press Sign in"
            self._show_sign_in("Not signed in yet.")
        # the curated list is Databricks' own; a generic endpoint has none to offer
        picker.show_fallback(reason, None if values.provider == "databricks" else ())

    def _credential_gap(self, values: FormValues) -> str | None:
        """Why models cannot be listed yet, or None."""
        if values.provider != "databricks":
            return None
        env = self.session.overrides.secrets
        if values.auth_type == "pat" and not (values.pat.strip() or self._stored.get("pat") or "pat" in env):
            return "Enter a personal access token to list the workspace's models"
        if values.auth_type == "oauth-m2m":
            if not is_uuid(values.client_id):
                return "Enter the service principal's client id to list the workspace's models"
            if not (values.client_secret.strip() or self._stored.get("client_secret")
                    or "client_secret" in env):
                return "Enter the client secret to list the workspace's models"
        if values.auth_type == "profile" and not values.profile:
            return "Choose a profile to list the workspace's models"
        return None

    # ---- save / cancel --------------------------------------------------------------------------

    def _close(self, result: Settings | None) -> None:
        self.workers.cancel_group(self, "models")
        if self._reload is not None:
            self._reload.stop()
        self.dismiss(result)

    def action_cancel(self) -> None:
        """Close without saving anything."""
        self._close(None)

    def action_save(self) -> None:
        """Validate, confirm where needed, write, and close."""
        self.save()

    @on(Button.Pressed, "#settings-save")
    def _save_pressed(self) -> None:
        self.save()

    @on(Button.Pressed, "#settings-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def _show_problems(self, problems: list[str], focus: str | None) -> None:
        line = self.query_one("#settings-problems", Static)
        line.update(Text("✗ " + " ".join(problems)) if problems else "")
        line.set_class(bool(problems), "error")
        if focus:
            target = "model" if focus == "model" else focus
            widget: Widget | None = next(iter(self.query(f"#{target}")), None)
            if widget is not None:
                if focus.startswith("oauth_"):
                    self.query_one("#custom-app", Collapsible).collapsed = False
                widget.focus()
                widget.scroll_visible()

    @work(exclusive=True, group="save")
    async def save(self) -> None:
        """Check the form, ask where needed, write secrets and settings, then close."""
        values = self.values()
        stored = await asyncio.to_thread(self._stored_flags, values)
        profiles = {p.name: p.host for p in self._profiles}
        problems = validate(values, stored=stored, env=self.session.overrides, profiles=profiles)
        if problems:
            self._show_problems([p.message for p in problems], problems[0].field)
            return
        self._show_problems([], None)
        if not await self._confirm_credential(values) or not await self._confirm_model(values):
            return
        settings = settings_to_save(values, self.session.saved, self.session.overrides.applied)
        try:
            await asyncio.to_thread(self._write, values, settings)
        except (OSError, LakecodeError) as exc:
            message = exc.describe() if isinstance(exc, LakecodeError) else str(exc)
            self.notify(f"Could not save the settings: {message}", severity="error", timeout=10)
            return
        self._close(settings)

    async def _confirm_credential(self, values: FormValues) -> bool:
        """Ask before saving a credential the workspace has just rejected (for this very form)."""
        if self._rejected is None or self._rejected[0] != values:
            return True
        question = (f"The workspace rejected this credential ({self._rejected[1].rstrip('.')}). "
                    "Turns will fail with it. Save anyway?")
        answer: bool = await self.app.push_screen_wait(ConfirmScreen(question, yes="Save anyway"))
        return answer

    async def _confirm_model(self, values: FormValues) -> bool:
        picker = self.query_one(ModelPicker)
        model = values.model.strip()
        if "model" in self.session.overrides.applied:
            return True
        where = values.normalized_host or values.base_url.strip()
        if picker.is_listed(model) is False:
            question = (f"{model} is not listed by {where}. Turns will fail if the workspace does "
                        "not serve it. Save it anyway?")
            if not await self.app.push_screen_wait(ConfirmScreen(question, yes="Save anyway")):
                return False
        info = picker.info(model)
        if info is not None and info.supports_tools is False:
            question = (f"{model} cannot call tools reliably, and lakecode's agent works through "
                        "tools (files, shell). Save it anyway?")
            answer: bool = await self.app.push_screen_wait(ConfirmScreen(question, yes="Save anyway"))
            return answer
        return True

    def _write(self, values: FormValues, settings: Settings) -> None:
        """Secrets to the token store, then settings.toml (blocking: runs in a thread)."""
        host = values.normalized_host
        for _, key, secret in secrets_to_store(values):
            self.services.store.put_secret(key, secret, host=host)
        if self.session.load_error is not None:
            backup_corrupt(self.services.settings_file, clock=self.services.clock)
        save_settings(settings, self.services.settings_file)


def _feedback(line: Static, text: str, *, error: bool) -> None:
    """Show a feedback line under a field (hidden while there is nothing to say)."""
    line.update(Text(text))
    line.display = bool(text)
    line.set_class(error, "error")


def _method(value: str) -> AuthMethod:
    for method, _ in AUTH_METHODS:
        if method == value:
            return method
    return "external-browser"
