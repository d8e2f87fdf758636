"""Local faults: a corrupted or locked token store, a corrupted settings file, a full disk.

Each asserts a clear error (or recovery) and that nothing the user had is lost: corrupt files are
moved aside with their bytes intact, a rotated refresh token written by another process is used
rather than clobbered, and a failed save leaves the previous save untouched.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from reliability_helpers import SharedClock, agent, ask, cli_env, collect, lakecode_cli, provider, turn

from lakecode import secure_io
from lakecode.agent import ConversationStore
from lakecode.agent.events import Notice, RunFinished
from lakecode.config.env import EnvOverrides
from lakecode.config.paths import settings_path
from lakecode.config.settings import DatabricksSettings, Settings
from lakecode.config.store import load_settings, save_settings
from lakecode.databricks.auth.identity import AuthIdentity
from lakecode.databricks.auth.resolve import u2m_identity
from lakecode.databricks.auth.store import TokenStore, pat_key
from lakecode.databricks.auth.strategies import RefreshTokenFetcher
from lakecode.databricks.auth.token_source import Token, registry
from lakecode.databricks.provider import build_databricks_provider
from lakecode.emulator import Emulator
from lakecode.errors import ConfigError, TokenStoreError

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(120)]

U2M_SCOPE = "all-apis offline_access"


def signed_in(emu: Emulator, store: TokenStore, *, expired: bool = False) -> tuple[AuthIdentity, Token]:
    """A browser sign-in as the token store keeps it (access + refresh token for databricks-cli)."""
    identity = u2m_identity(emu.url)
    st = emu.state
    access = st.tokens.mint_access("databricks-cli", U2M_SCOPE, "emulator-user@example.com",
                                   -10.0 if expired else 3600.0)
    refresh = st.tokens.mint_refresh("databricks-cli", U2M_SCOPE, "emulator-user@example.com")
    now = emu.clock.time()
    token = Token(access, expires_at=now + (-10 if expired else 3600), obtained_at=now - 60,
                  refresh_token=refresh, scopes=("all-apis", "offline_access"))
    store.save_token(identity, token)
    return identity, token


def u2m_provider(emu: Emulator, clock: SharedClock) -> object:
    registry.clear()
    settings = Settings(databricks=DatabricksSettings(host=emu.url, auth_type="external-browser",
                                                      route="serving-endpoints"))
    return build_databricks_provider(settings, EnvOverrides(settings=settings), clock=clock)


# ---- the token store ---------------------------------------------------------------------------


def test_a_corrupted_token_entry_is_moved_aside_and_named_and_nothing_else_is_touched(
        emulator: Emulator) -> None:
    store = TokenStore()
    identity, _ = signed_in(emulator, store)
    store.put_secret(pat_key("https://other.cloud.databricks.com"), "dapi" + "1" * 32)
    path = store.root / "oauth" / f"{identity.key}.json"
    garbage = b'{"version": 1, "token": {"access_tok\x00\xff'
    path.write_bytes(garbage)
    with pytest.raises(TokenStoreError) as info:
        u2m_provider(emulator, SharedClock(emulator))
    backups = list(path.parent.glob(f"{path.name}.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == garbage  # the bytes are kept
    assert str(backups[0]) in info.value.message
    assert "lakecode auth login" in (info.value.hint or "")
    assert store.get_secret(pat_key("https://other.cloud.databricks.com")) is not None


def test_a_second_corruption_in_the_same_second_keeps_both_backups(emulator: Emulator) -> None:
    store = TokenStore()
    identity, _ = signed_in(emulator, store)
    path = store.root / "oauth" / f"{identity.key}.json"
    for content in (b"first garbage", b"second garbage"):
        path.write_bytes(content)
        with pytest.raises(TokenStoreError):
            store.load_token(identity)
    kept = sorted(p.read_bytes() for p in path.parent.glob(f"{path.name}.corrupt-*"))
    assert kept == [b"first garbage", b"second garbage"]


def test_lakecode_run_with_a_corrupted_store_exits_with_the_auth_code(
        emulator: Emulator, tmp_path: Path) -> None:
    home = tmp_path / "cli-home"
    env = cli_env(home)
    store = TokenStore(home / ".lakecode" / "tokens")
    identity = u2m_identity(emulator.url)
    path = store.root / "oauth" / f"{identity.key}.json"
    path.parent.mkdir(parents=True)
    path.write_text("not json")
    project = tmp_path / "project"
    project.mkdir()
    done = lakecode_cli(["run", "-t", "hello", "--model", "databricks-claude-sonnet-4-5"],
                        {**env, "DATABRICKS_HOST": emulator.url, "DATABRICKS_AUTH_TYPE": "external-browser"},
                        cwd=project)
    assert done.returncode == 3, done.stderr
    assert "moved to" in done.stderr and "Traceback" not in done.stderr


_HOLDER = textwrap.dedent("""
    import json, sys, filelock, httpx
    from lakecode.databricks.auth.store import TokenStore
    from lakecode.databricks.auth.resolve import u2m_identity
    from lakecode.databricks.auth.token_source import Token
    root, host, refresh_first = sys.argv[1], sys.argv[2], sys.argv[3] == "refresh"
    store = TokenStore(__import__("pathlib").Path(root))
    identity = u2m_identity(host)
    lock = filelock.FileLock(str(store.root / "locks" / (identity.key + ".lock")))
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.readline()
    if refresh_first:  # another lakecode process refreshes (rotating the refresh token) and saves
        old = store.load_token(identity)
        answer = httpx.post(host + "/oidc/v1/token", data={
            "grant_type": "refresh_token", "refresh_token": old.refresh_token,
            "client_id": "databricks-cli"}).json()
        store.save_token(identity, Token.from_oauth_response(answer, now=__import__("time").time(),
                                                             previous_refresh_token=old.refresh_token))
    lock.release()
    print("released", flush=True)
""")


def _hold_lock(store: TokenStore, host: str, mode: str) -> subprocess.Popen[str]:
    (store.root / "locks").mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(store.root), host, mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _finish(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    except BrokenPipeError:
        pass
    proc.wait(timeout=30)
    proc.stdin.close()
    proc.stdout.close()


async def test_a_lock_held_by_another_process_is_a_clear_error_in_bounded_time(emulator: Emulator) -> None:
    store = TokenStore(lock_timeout=1.0)
    identity, token = signed_in(emulator, store, expired=True)
    holder = _hold_lock(store, emulator.url, "hold")
    try:
        fetcher = RefreshTokenFetcher(identity, store, clock=SharedClock(emulator))
        started = time.monotonic()
        with pytest.raises(TokenStoreError) as info:
            await fetcher.fetch(token)
        assert time.monotonic() - started < 10
        assert "locked by another lakecode process" in info.value.message
        assert ".lock" in (info.value.hint or "")
        assert emulator.token_requests.count("refresh_token") == 0
    finally:
        _finish(holder)
    assert store.load_token(identity) == token  # untouched


async def test_a_refresh_by_another_process_is_picked_up_not_repeated(emulator: Emulator) -> None:
    store = TokenStore()
    identity, stale = signed_in(emulator, store, expired=True)
    holder = _hold_lock(store, emulator.url, "refresh")
    clock = SharedClock(emulator)
    p = u2m_provider(emulator, clock)
    import asyncio

    pending = asyncio.ensure_future(turn(p, ask(text="while the other process refreshes")))  # type: ignore[arg-type]
    await asyncio.sleep(0.3)
    assert not pending.done()  # waiting for the other process's lock
    await asyncio.to_thread(_finish, holder)
    _, finish = await asyncio.wait_for(pending, 30)
    assert finish.message.text == "Echo: while the other process refreshes"
    assert emulator.token_requests.count("refresh_token") == 1  # the other process's, not ours
    stored = store.load_token(identity)
    assert stored is not None and stored.refresh_token != stale.refresh_token
    # The rotated refresh token is the one in use: a forced refresh later still works.
    fresh = await p.http.auth.source.refresh()  # type: ignore[attr-defined]
    assert fresh.access_token != stored.access_token
    assert emulator.token_requests.count("refresh_token", status=200) == 2
    await p.aclose()  # type: ignore[attr-defined]


# ---- the settings file ---------------------------------------------------------------------------


CORRUPT_SETTINGS = [b"model = \n[databricks\nhost = 'x'", b"\xff\xfe\x00 not utf-8", b"databricks = 5\n"]


@pytest.mark.parametrize("garbage", CORRUPT_SETTINGS)
def test_saving_over_a_corrupted_settings_file_backs_it_up_first(garbage: bytes) -> None:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(garbage)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(path) in info.value.message
    save_settings(Settings(model="databricks-gpt-5-2"))
    assert load_settings().model == "databricks-gpt-5-2"
    backups = list(path.parent.glob("settings.toml.corrupt-*"))
    assert [b.read_bytes() for b in backups] == [garbage]  # never silently overwritten


def test_saving_valid_settings_over_valid_settings_makes_no_backup() -> None:
    save_settings(Settings(model="a"))
    save_settings(Settings(model="b"))
    assert load_settings().model == "b"
    assert not list(settings_path().parent.glob("settings.toml.corrupt-*"))


@pytest.mark.parametrize("command", [["run", "-t", "hi"], ["models"], ["auth", "status"]])
def test_cli_commands_refuse_a_corrupted_settings_file_and_leave_it_alone(
        tmp_path: Path, command: list[str]) -> None:
    home = tmp_path / "cli-home"
    path = home / ".lakecode" / "settings.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(CORRUPT_SETTINGS[0])
    done = lakecode_cli(command, cli_env(home, DATABRICKS_HOST="https://x.cloud.databricks.com",
                                         DATABRICKS_TOKEN="dapi" + "2" * 32), cwd=tmp_path)
    assert done.returncode == 2, (done.returncode, done.stderr)
    output = done.stdout + done.stderr  # (`auth status` reports on stdout: the status is its output)
    assert str(path) in output and "Traceback" not in output
    assert path.read_bytes() == CORRUPT_SETTINGS[0]


# ---- a full disk -----------------------------------------------------------------------------------


def _enospc_for(monkeypatch: pytest.MonkeyPatch, marker: str) -> list[int]:
    """Make ``secure_io``'s writes fail with ENOSPC for temporary files named after ``marker``."""
    real_open, real_write = os.open, os.write
    doomed: set[int] = set()
    failures: list[int] = []

    def fake_open(path: object, flags: int, mode: int = 0o777, **kw: object) -> int:
        fd = real_open(path, flags, mode, **kw)  # type: ignore[arg-type]
        if marker in str(path):
            doomed.add(fd)
        return fd

    def fake_write(fd: int, data: bytes) -> int:
        if fd in doomed:
            failures.append(fd)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(secure_io.os, "open", fake_open)
    monkeypatch.setattr(secure_io.os, "write", fake_write)
    return failures


async def test_a_full_disk_while_saving_keeps_the_previous_save_and_says_so(
        emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = provider(emulator, clock=SharedClock(emulator))
    store = ConversationStore()
    a = agent(p, tmp_path, store=store)
    assert (await collect(a, "first prompt"))[1] is None
    path = store.path_for(a.conversation.id)
    before = path.read_bytes()
    with monkeypatch.context() as patched:  # (never monkeypatch.undo(): it would undo the hermetic env)
        failures = _enospc_for(patched, a.conversation.id)
        events, error = await collect(a, "second prompt")
    assert error is None and isinstance(events[-1], RunFinished) and events[-1].outcome == "completed"
    notices = [e for e in events if isinstance(e, Notice)]
    assert failures and notices and "No space left on device" in notices[0].message
    assert path.read_bytes() == before  # the previous save is intact
    assert [f.name for f in store.directory.iterdir()] == [path.name]  # no temporary file left behind
    assert (await collect(a, "third prompt"))[1] is None  # space again: everything is saved
    assert [m.text for m in store.load(a.conversation.id).messages if m.role == "user"] == [
        "first prompt", "second prompt", "third prompt"]
    await p.aclose()


def test_a_full_disk_while_storing_a_secret_is_a_clear_error_and_keeps_the_old_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    store = TokenStore()
    key = pat_key("https://x.cloud.databricks.com")
    store.put_secret(key, SecretStr("dapi" + "3" * 32))
    with monkeypatch.context() as patched, pytest.raises(TokenStoreError) as info:
        _enospc_for(patched, ".json.")
        store.put_secret(key, SecretStr("dapi" + "4" * 32))
    assert "No space left on device" in info.value.message
    assert store.get_secret(key) == SecretStr("dapi" + "3" * 32)


def test_a_full_disk_while_saving_settings_keeps_the_old_file(monkeypatch: pytest.MonkeyPatch) -> None:
    save_settings(Settings(model="kept"))
    with monkeypatch.context() as patched, pytest.raises(OSError) as info:
        _enospc_for(patched, "settings.toml")
        save_settings(Settings(model="lost"))
    assert info.value.errno == errno.ENOSPC
    assert load_settings().model == "kept"
    assert sorted(f.name for f in settings_path().parent.iterdir()) == ["settings.toml"]


@pytest.mark.parametrize("command", [["run", "-t", "hi"], ["models"],
                                     ["auth", "login", "--auth-type", "pat"]])
def test_an_unusable_lakecode_home_is_a_clear_error_not_a_traceback(
        emulator: Emulator, tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("LAKECODE_HOME points through this regular file")
    env = cli_env(tmp_path / "cli-home", LAKECODE_HOME=str(blocker / "home"),
                  DATABRICKS_HOST=emulator.url, DATABRICKS_TOKEN=emulator.pat)
    done = lakecode_cli(command, env, cwd=tmp_path)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert str(blocker / "home") in done.stderr and "Traceback" not in done.stderr
    assert blocker.read_text().startswith("LAKECODE_HOME")


async def test_a_browser_sign_in_revoked_mid_session_asks_for_a_new_sign_in(
        emulator: Emulator, tmp_path: Path) -> None:
    from lakecode.errors import AuthError

    store = TokenStore()
    _, token = signed_in(emulator, store)
    p = u2m_provider(emulator, SharedClock(emulator))
    conversations = ConversationStore()
    a = agent(p, tmp_path, store=conversations)
    assert (await collect(a, "first"))[1] is None
    assert emulator.revoke(token.access_token) and emulator.revoke(token.refresh_token or "")
    _, error = await collect(a, "second")
    assert isinstance(error, AuthError)
    assert "--auth-type external-browser" in (error.hint or "") and emulator.url in (error.hint or "")
    assert emulator.token_requests.count("refresh_token") == 1  # one attempt, no storm
    saved = conversations.load(a.conversation.id)
    assert [m.text for m in saved.messages if m.role == "user"] == ["first", "second"]
    await p.aclose()  # type: ignore[attr-defined]
