"""`lakecode auth`: login/status/token/logout/profiles against the emulator; exit codes; no secret leaks."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from auth_helpers import free_port
from click.testing import CliRunner, Result

from lakecode.cli.app import cli
from lakecode.config.paths import settings_path, tokens_dir
from lakecode.databricks.auth import oauth_login
from lakecode.databricks.auth.token_source import registry
from lakecode.emulator import Emulator
from lakecode.emulator import OAuthApp as RegisteredApp


@pytest.fixture(autouse=True)
def fresh_registry() -> None:
    registry.clear()


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["auth", *args], input=input, catch_exceptions=False)


def test_pat_login_status_token_logout(emulator: Emulator) -> None:
    result = run("login", "--host", emulator.url + "/serving-endpoints/", "--auth-type", "pat",
                 input=emulator.pat + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Signed in to {emulator.url} as emulator-user@example.com (pat).\n"
    saved = settings_path().read_text()
    assert f'host = "{emulator.url}"' in saved and 'auth_type = "pat"' in saved
    assert emulator.pat not in saved

    status = run("status", "--json")
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert (data["host"], data["auth_type"], data["signed_in"]) == (emulator.url, "pat", True)
    assert data["sources"] == {"host": "settings", "auth_type": "settings", "profile": None,
                               "client_id": None, "credential": "store"}

    text = run("status")
    assert f"Host:      {emulator.url}  (from settings)" in text.stdout
    assert "Secret:    [REDACTED]  (from store)" in text.stdout

    token = run("token")
    assert token.exit_code == 0 and token.stdout == emulator.pat + "\n"  # the one deliberate print

    out = run("logout")
    assert out.stdout == f"Signed out of {emulator.url}: removed 1 stored credential.\n"
    after = run("status")
    assert after.exit_code == 3
    assert after.stdout.startswith(f"Not signed in: No personal access token is stored for {emulator.url}.")


def test_m2m_login_takes_the_secret_from_the_environment(emulator: Emulator,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", emulator.client_secret)
    result = run("login", "--host", emulator.url, "--auth-type", "oauth-m2m",
                 "--client-id", emulator.client_id)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Signed in to {emulator.url} as {emulator.client_id} (oauth-m2m).\n"
    monkeypatch.delenv("DATABRICKS_CLIENT_SECRET")
    status = json.loads(run("status", "--json").stdout)  # now from the store
    assert status["client_id"] == emulator.client_id and status["sources"]["credential"] == "store"
    assert status["token_expires_at"] > time.time()


def test_login_with_a_wrong_pat_exits_3_and_saves_nothing(emulator: Emulator) -> None:
    result = run("login", "--host", emulator.url, "--auth-type", "pat", input="dapi" + "0" * 32 + "\n")
    assert result.exit_code == 3
    assert f"{emulator.url} rejected the credential" in result.stderr
    assert not settings_path().exists()
    assert not list(tokens_dir().glob("secrets/*.json"))


def test_a_bad_host_exits_2(emulator: Emulator) -> None:
    result = run("login", "--host", "http://example.com", "--auth-type", "pat", input="x\n")
    assert result.exit_code == 2
    assert "Refusing plain http:// for example.com" in result.stderr


def test_a_wrong_host_is_reported_as_such(emulator: Emulator) -> None:
    emulator.faults.redirect_login(count=None)
    result = run("login", "--host", emulator.url, "--auth-type", "pat", input=emulator.pat + "\n")
    assert result.exit_code == 4
    assert f"{emulator.url} does not look like a workspace API host" in result.stderr


def register(emu: Emulator) -> tuple[str, int]:
    port = free_port()
    emu.config.oauth_apps.append(RegisteredApp("lakecode-cli-tests", (f"http://localhost:{port}",)))
    return "lakecode-cli-tests", port


def test_browser_login_through_the_loopback_callback(emulator: Emulator,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app_id, port = register(emulator)
    opened: list[str] = []

    async def fake_browser(url: str) -> bool:
        import asyncio

        async def play() -> None:
            async with httpx.AsyncClient() as browser:
                location = (await browser.get(url)).headers["location"]
                await browser.get(location)

        opened.append(url)
        asyncio.get_running_loop().create_task(play())
        return True

    monkeypatch.setattr(oauth_login, "open_in_browser", fake_browser)
    result = run("login", "--host", emulator.url, "--oauth-client-id", app_id,
                 "--oauth-redirect-uri", f"http://localhost:{port}", "--timeout", "10")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Signed in to {emulator.url} as emulator-user@example.com (external-browser).\n"
    assert opened and opened[0] in result.stderr  # the URL is printed even when a browser opens
    saved = settings_path().read_text()
    assert 'auth_type = "external-browser"' in saved and f'oauth_client_id = "{app_id}"' in saved
    token_files = list((tokens_dir() / "oauth").glob("*.json"))
    assert len(token_files) == 1
    assert stat.S_IMODE(token_files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(tokens_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE(settings_path().stat().st_mode) == 0o600


def test_browser_login_times_out_with_a_message(emulator: Emulator) -> None:
    """F11: no display, nothing pasted: the URL is shown and the wait ends in time, exit 3."""
    app_id, port = register(emulator)
    started = time.monotonic()
    result = run("login", "--host", emulator.url, "--oauth-client-id", app_id,
                 "--oauth-redirect-uri", f"http://localhost:{port}", "--timeout", "0.5", input="")
    assert time.monotonic() - started < 5
    assert result.exit_code == 3
    assert f"{emulator.url}/oidc/v1/authorize?" in result.stderr
    assert "No browser was opened here." in result.stderr
    assert f"Timed out after 0.5 s waiting for the browser sign-in to {emulator.url}." in result.stderr


def test_paste_back_in_a_real_process(emulator: Emulator) -> None:
    """F11: in a process with no display and BROWSER=none, pasting the redirected URL signs in."""
    app_id, port = register(emulator)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakecode", "auth", "login", "--host", emulator.url,
         "--oauth-client-id", app_id, "--oauth-redirect-uri", f"http://localhost:{port}",
         "--timeout", "20"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "BROWSER": "none"})
    try:
        assert proc.stderr is not None and proc.stdin is not None
        url = ""
        for line in proc.stderr:
            if "/oidc/v1/authorize?" in line:
                url = line.strip()
                break
        assert url.startswith(f"{emulator.url}/oidc/v1/authorize?")
        location = httpx.get(url, follow_redirects=False).headers["location"]
        proc.stdin.write(location + "\n")
        proc.stdin.flush()
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert stdout == f"Signed in to {emulator.url} as emulator-user@example.com (external-browser).\n"
    exchange = next(r for r in emulator.requests if r.path == "/oidc/v1/token")
    assert exchange.form is not None and exchange.form["redirect_uri"] == f"http://localhost:{port}"


def test_profiles_listing(hermetic_env: Path) -> None:
    empty = run("profiles")
    assert empty.exit_code == 0
    assert empty.stdout == (f"No profiles in {hermetic_env / '.databrickscfg'}. "
                            "Run `lakecode auth login --host <workspace URL>`.\n")
    (hermetic_env / ".databrickscfg").write_text(
        "[DEFAULT]\nhost = https://a.cloud.databricks.com\ntoken = dapi" + "1" * 32 + "\n"
        "[dev]\nhost = adb-1.2.azuredatabricks.net/\nauth_type = databricks-cli\n"
        "[__settings__]\ndefault_profile = dev\n")
    listing = run("profiles")
    assert listing.stdout.splitlines() == [
        "  NAME     AUTH TYPE         HOST",
        "  DEFAULT  pat               https://a.cloud.databricks.com",
        "* dev      databricks-cli    https://adb-1.2.azuredatabricks.net",
    ]
    data = json.loads(run("profiles", "--json").stdout)
    assert [(p["name"], p["default"]) for p in data["profiles"]] == [("DEFAULT", False), ("dev", True)]
    assert "dapi" not in listing.stdout + json.dumps(data)


def test_malformed_profiles_exit_2_naming_file_and_line(hermetic_env: Path) -> None:
    path = hermetic_env / ".databrickscfg"
    path.write_text("[a]\nhost = h.com\nbroken line\n")
    result = run("profiles")
    assert result.exit_code == 2
    assert f"{path}, line 3: key-value delimiter not found" in result.stderr


def test_planted_secrets_never_reach_outputs_logs_or_settings(
        emulator: Emulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    planted = [emulator.pat, emulator.client_secret]
    outputs = []
    outputs.append(run("login", "--host", emulator.url, "--auth-type", "pat", input=emulator.pat + "\n"))
    outputs += [run("status"), run("status", "--json"), run("profiles")]
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", emulator.client_secret)
    outputs.append(run("login", "--host", emulator.url, "--auth-type", "oauth-m2m",
                       "--client-id", emulator.client_id))
    minted = run("token").stdout.strip()  # the only command that prints a token, deliberately
    planted.append(minted)
    outputs += [run("status"), run("status", "--json")]
    emulator.revoke(emulator.pat)
    emulator.expire_all_tokens()
    monkeypatch.delenv("DATABRICKS_CLIENT_SECRET")
    monkeypatch.setenv("DATABRICKS_TOKEN", emulator.pat)
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "pat")
    outputs += [run("status"), run("status", "--json"),  # a rejected credential: error paths
                run("login", "--auth-type", "pat"), run("logout")]
    assert any(r.exit_code == 3 for r in outputs)
    texts = [r.stdout + r.stderr for r in outputs]
    texts += [rec.getMessage() for rec in caplog.records]
    texts.append(settings_path().read_text())
    for secret in planted:
        assert len(secret) > 20
        leaks = [t for t in texts if secret in t]
        assert not leaks, f"a planted secret leaked into {leaks[0][:200]!r}"


def test_piped_login_reads_the_secret_from_one_stdin_line_without_a_warning(emulator: Emulator) -> None:
    """`echo $PAT | lakecode auth login`: no getpass, so no GetPassWarning and no prompt."""
    proc = subprocess.run(
        [sys.executable, "-W", "always", "-m", "lakecode", "auth", "login", "--auth-type", "pat",
         "--host", emulator.url],
        input=emulator.pat + "\n", capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"Signed in to {emulator.url} as emulator-user@example.com (pat).\n"
    assert "Warning" not in proc.stderr and "Personal access token" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == f"Settings saved to {settings_path()}."
    assert emulator.pat not in proc.stdout + proc.stderr


def test_piped_login_with_an_empty_stdin_says_what_is_missing(emulator: Emulator) -> None:
    result = run("login", "--auth-type", "pat", "--host", emulator.url, input="")
    assert result.exit_code == 2
    assert result.stderr.startswith("No personal access token on standard input.\n  hint: Pipe it in")
    assert not settings_path().exists()


def test_no_browser_login_prints_the_url_before_waiting_and_one_success_line(emulator: Emulator) -> None:
    app_id, port = register(emulator)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakecode", "auth", "login", "--host", emulator.url, "--auth-type",
         "external-browser", "--no-browser", "--oauth-client-id", app_id,
         "--oauth-redirect-uri", f"http://localhost:{port}", "--timeout", "20"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and proc.stdin is not None
        before: list[str] = []
        for line in proc.stderr:
            before.append(line.rstrip("\n"))
            if line.startswith("Waiting"):
                break
        url = next(line.strip() for line in before if "/oidc/v1/authorize?" in line)
        proc.stdin.write(httpx.get(url, follow_redirects=False).headers["location"] + "\n")
        proc.stdin.flush()
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert before == [
        f"Listening for the sign-in on http://localhost:{port}.",
        "",
        "To sign in, open this URL in a browser:",
        "",
        f"  {url}",
        "",
        "No browser was opened here. Sign in on any machine, then paste the address the browser ends "
        f"on (http://localhost:{port}/?code=...) and press Enter:",
        "Waiting for the browser sign-in.",
    ]
    assert stderr.splitlines()[:2] == ["Authorization received.", "Exchanging the authorization for tokens."]
    assert stderr.splitlines()[-1] == f"Settings saved to {settings_path()}."
    assert stdout == f"Signed in to {emulator.url} as emulator-user@example.com (external-browser).\n"
    assert "Signed in" not in stderr


def saved_model() -> object:
    import tomllib

    return tomllib.loads(settings_path().read_text()).get("model")


def test_login_saves_the_first_recommended_tool_model_when_none_is_set(emulator: Emulator) -> None:
    result = run("login", "--host", emulator.url, "--auth-type", "pat", input=emulator.pat + "\n")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "Model: databricks-claude-sonnet-4-5 (change it with lakecode run --model, LLM_MODEL or the "
        "settings screen; lakecode models lists them)",
        f"Settings saved to {settings_path()}."]
    assert saved_model() == "databricks-claude-sonnet-4-5"


def test_login_never_replaces_a_chosen_model(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text('model = "team-llm-prod"\n')
    result = run("login", "--host", emulator.url, "--auth-type", "pat", input=emulator.pat + "\n")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"Settings saved to {settings_path()}.\n"
    assert saved_model() == "team-llm-prod"
    settings_path().write_text("")
    monkeypatch.setenv("LLM_MODEL", "databricks/databricks-gpt-5-2")  # chosen for every run
    result = run("login", "--host", emulator.url, "--auth-type", "pat", input=emulator.pat + "\n")
    assert result.stderr == f"Settings saved to {settings_path()}.\n"
    assert saved_model() is None


def test_login_says_how_to_choose_a_model_when_discovery_fails(emulator: Emulator) -> None:
    emulator.faults.add(kind="permission_denied", path=r"^(?!/api/2\.0/preview/scim).*", count=None)
    result = run("login", "--host", emulator.url, "--auth-type", "pat", input=emulator.pat + "\n")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"No model was chosen: model discovery failed on {emulator.url}: "
                               "serving-endpoints listing: permission denied")
    assert lines[1:] == [
        "  hint: run `lakecode models` to see what the workspace serves, then choose one with "
        "`lakecode run --model <id>`, LLM_MODEL=databricks/<id> or the settings screen.",
        f"Settings saved to {settings_path()}."]
    assert saved_model() is None
