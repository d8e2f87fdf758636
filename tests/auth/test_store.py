"""The token store: 0600 files, one per entry, corruption and lock recovery, cross-process refresh."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import filelock
import pytest
from auth_helpers import EmulatorClockAdapter, free_port
from pydantic import SecretStr

from lakecode.config.paths import tokens_dir
from lakecode.config.settings import DatabricksSettings
from lakecode.databricks.auth.identity import AuthIdentity
from lakecode.databricks.auth.login import complete_browser_login
from lakecode.databricks.auth.oauth_login import BrowserLogin, OAuthApp
from lakecode.databricks.auth.resolve import resolve_auth, u2m_identity
from lakecode.databricks.auth.store import TokenStore, api_key_key, client_secret_key, pat_key
from lakecode.databricks.auth.token_source import Token, TokenSourceRegistry
from lakecode.emulator import Emulator
from lakecode.emulator import OAuthApp as RegisteredApp
from lakecode.errors import AuthError, TokenStoreError
from lakecode.testing.fakes import FakeClock

HOST = "https://dbc-a1b2345c-d6e7.cloud.databricks.com"
IDENT = AuthIdentity(HOST, "external-browser", "databricks-cli", None, ("all-apis", "offline_access"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trips_and_file_modes() -> None:
    store = TokenStore()
    assert store.root == tokens_dir()
    token = Token("access-1234567890", expires_at=2e9, obtained_at=1.9e9, refresh_token="refresh-1234567890",
                  scopes=("all-apis",))
    store.save_token(IDENT, token)
    assert store.load_token(IDENT) == token
    store.put_secret(pat_key(HOST), SecretStr("dapi" + "2" * 32), host=HOST)
    store.put_secret(api_key_key("http://localhost:11434/v1"), "sk-local-key-123")
    secret = store.get_secret(pat_key(HOST))
    assert secret is not None and secret.get_secret_value() == "dapi" + "2" * 32
    assert store.get_secret(client_secret_key(HOST, "x")) is None
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert len(files) == 3 and all(mode(p) == 0o600 for p in files)
    assert all(mode(p) == 0o700 for p in [store.root, store.root / "oauth", store.root / "secrets"])
    assert IDENT.key + ".json" in {p.name for p in files}


def test_entries_and_forget_host_describe_without_secrets() -> None:
    store = TokenStore()
    store.save_token(IDENT, Token("access-1234567890", expires_at=5.0))
    store.put_secret(pat_key(HOST), "dapi" + "3" * 32, host=HOST)
    store.put_secret(pat_key("https://other.cloud.databricks.com"), "dapi" + "4" * 32,
                     host="https://other.cloud.databricks.com")
    entries = store.entries()
    assert sorted((e.kind, e.host) for e in entries) == [
        ("oauth-token", HOST), ("secret", HOST), ("secret", "https://other.cloud.databricks.com")]
    assert all("dapi" not in e.name and "access-" not in e.name for e in entries)
    assert store.forget_host(HOST) == 2
    assert store.load_token(IDENT) is None and store.get_secret(pat_key(HOST)) is None
    assert store.get_secret(pat_key("https://other.cloud.databricks.com")) is not None


@pytest.mark.parametrize("content", ["{not json", "[]", '{"version": 99}', "\x00\x01"])
def test_a_corrupt_entry_is_moved_aside_and_the_others_survive(content: str) -> None:
    clock = FakeClock(1_800_000_000)
    store = TokenStore(clock=clock)
    other = AuthIdentity(HOST, "external-browser", "databricks-cli", "p", ("all-apis",))
    store.save_token(IDENT, Token("access-1234567890"))
    store.save_token(other, Token("access-other-123456"))
    path = store.root / "oauth" / f"{IDENT.key}.json"
    path.write_text(content)
    with pytest.raises(TokenStoreError) as info:
        store.load_token(IDENT)
    backup = path.with_name(f"{path.name}.corrupt-1800000000")
    assert backup.exists() and not path.exists()
    assert info.value.message == (f"The stored sign-in for {IDENT.describe()} was unreadable; it was "
                                  f"moved to {backup} and the rest of the store is untouched.")
    assert info.value.hint == f"Run `lakecode auth login --host {HOST} --auth-type external-browser`."
    assert store.load_token(IDENT) is None  # recovered: the next sign-in writes a fresh file
    assert store.load_token(other) == Token("access-other-123456")
    assert isinstance(info.value, AuthError)


async def test_a_lock_held_by_another_process_is_a_clear_error() -> None:
    store = TokenStore(lock_timeout=0.2)
    held = filelock.FileLock(store.root / "locks" / f"{IDENT.key}.lock")
    (store.root / "locks").mkdir(parents=True)
    with held:
        with pytest.raises(TokenStoreError) as info:
            async with store.locked(IDENT):
                pass
    assert info.value.message == (f"The token store entry for {IDENT.describe()} is locked by another "
                                  "lakecode process (waited 0.2 s).")
    assert str(store.root / "locks") in (info.value.hint or "")


def test_an_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    root = blocker / "tokens"
    with pytest.raises(TokenStoreError) as info:
        TokenStore(root).put_secret("k", "value-1234567")
    assert info.value.message == f"Cannot write the token store at {root}: Not a directory."
    assert info.value.hint == (f"Check the permissions of {root}, or set LAKECODE_HOME to a writable "
                               "directory.")


async def signed_in(emu: Emulator) -> tuple[TokenStore, AuthIdentity]:
    """A U2M sign-in with a custom app on a free port (the test plays the browser)."""
    import httpx

    port = free_port()
    emu.config.oauth_apps.append(RegisteredApp("store-tests", (f"http://localhost:{port}",)))
    async with BrowserLogin(emu.url, app=OAuthApp("store-tests", redirect_uri=f"http://localhost:{port}"),
                            timeout=10) as login:
        async with httpx.AsyncClient() as browser:
            await browser.get((await browser.get(login.authorize_url)).headers["location"])
        token = await login.wait()
    store = TokenStore()
    await complete_browser_login(login, token, store=store, token_registry=TokenSourceRegistry())
    return store, u2m_identity(emu.url, "store-tests")


def u2m_settings(emu: Emulator) -> DatabricksSettings:
    return DatabricksSettings(host=emu.url, auth_type="external-browser", oauth_client_id="store-tests")


async def test_a_rotated_refresh_token_is_saved_at_once(emulator: Emulator) -> None:
    store, identity = await signed_in(emulator)
    before = store.load_token(identity)
    assert before is not None and before.refresh_token
    resolved = resolve_auth(u2m_settings(emulator), store=store, token_registry=TokenSourceRegistry())
    new = await resolved.token_source.refresh()
    after = store.load_token(identity)
    assert after == new and after.refresh_token not in (None, before.refresh_token)
    assert emulator.token_requests.by_grant_type() == {"authorization_code": 1, "refresh_token": 1}


async def test_a_second_process_uses_the_token_the_first_one_refreshed(emulator: Emulator) -> None:
    """Two token sources (two processes) share one store: one refresh, no lost rotation."""
    emulator.clock.freeze()
    store, _ = await signed_in(emulator)
    clock = EmulatorClockAdapter(emulator.clock)
    first, second = (resolve_auth(u2m_settings(emulator), store=store, clock=clock,
                                  token_registry=TokenSourceRegistry()) for _ in range(2))
    emulator.clock.advance(3600)  # both hold the same, now expired, token
    a = await first.token_source.token()
    b = await second.token_source.token()
    assert a.access_token == b.access_token
    assert emulator.token_requests.count("refresh_token") == 1


async def test_a_refused_refresh_token_says_how_to_sign_in_again(emulator: Emulator) -> None:
    store, identity = await signed_in(emulator)
    stored = store.load_token(identity)
    assert stored is not None and stored.refresh_token
    emulator.revoke(stored.refresh_token)
    resolved = resolve_auth(u2m_settings(emulator), store=store, token_registry=TokenSourceRegistry())
    with pytest.raises(AuthError) as info:
        await resolved.token_source.refresh()
    assert info.value.message.startswith(f"{emulator.url} refused the sign-in (refresh_token): ")
    assert info.value.hint == (f"Run `lakecode auth login --host {emulator.url} --auth-type "
                               "external-browser` to sign in again.")


_REFRESH_SCRIPT = textwrap.dedent("""
    import asyncio, json, sys
    from lakecode.config.settings import DatabricksSettings
    from lakecode.databricks.auth.resolve import resolve_auth

    async def main() -> None:
        settings = DatabricksSettings(host=sys.argv[1], auth_type="external-browser",
                                      oauth_client_id="store-tests")
        resolved = resolve_auth(settings)
        held = resolved.token_source.cached()
        sys.stdout.write("ready\\n"); sys.stdout.flush()
        sys.stdin.readline()
        token = await resolved.token_source.refresh(rejected=held)
        sys.stdout.write(json.dumps({"fingerprint": token.fingerprint}) + "\\n")

    asyncio.run(main())
""")


async def test_two_real_processes_refresh_concurrently_without_losing_a_rotation(emulator: Emulator) -> None:
    store, identity = await signed_in(emulator)
    procs = [subprocess.Popen([sys.executable, "-c", _REFRESH_SCRIPT, emulator.url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for proc in procs:  # both have loaded the same token before either refreshes
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [await asyncio.to_thread(p.communicate, timeout=30) for p in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [p.returncode for p in procs] == [0, 0]
    fingerprints = {json.loads(out)["fingerprint"] for out, _ in outputs}
    assert len(fingerprints) == 1  # the second process used the token the first one saved
    assert emulator.token_requests.count("refresh_token") == 1
    assert emulator.token_requests.count("refresh_token", status=400) == 0
    final = store.load_token(identity)
    assert final is not None and final.fingerprint in fingerprints
