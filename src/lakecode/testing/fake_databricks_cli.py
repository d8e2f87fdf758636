"""A fake ``databricks`` executable for tests of ``databricks-cli`` profiles.

It answers the commands the Databricks SDK and lakecode run, in the shapes the real CLI prints:

* ``databricks version --output json`` -> ``{"Version": "0.300.0", "Major": 0, "Minor": 300, ...}``
* ``databricks auth token --profile P | --host H [--force-refresh] [--output json]`` -> ``{
  "access_token", "token_type": "Bearer", "expiry": "<local time with fractional seconds and
  offset>", "expires_in"}``. The token is minted for real from the workspace (an emulator) with
  the client credentials in the state file, so API calls made with it succeed.
* ``databricks auth profiles --output json`` -> ``{"profiles": [{name, host, auth_type, valid}]}``

and can fail on demand like the real one: ``fail = "45"`` exits 45 with ``exit status 45`` (token
cache contention), ``fail = "login"`` says the profile is not logged in. Every invocation is
appended to a JSON Lines log, so tests can check which ``--profile`` a refresh used (F5).

Use ``install_fake_databricks_cli(bin_dir, FakeCliState(...))`` and put ``bin_dir`` first on
``PATH`` (or pass the returned path as ``DATABRICKS_CLI_PATH``).
"""

from __future__ import annotations

import configparser
import json
import os
import stat
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["FakeCliState", "install_fake_databricks_cli", "main", "read_calls"]

_LAUNCHER = """#!{python}
import sys
from lakecode.testing.fake_databricks_cli import main
sys.exit(main(sys.argv[1:], state_path={state!r}))
"""


@dataclass
class FakeCliState:
    """What the fake CLI knows.

    Attributes:
        credentials: workspace host -> ``{"client_id": ..., "client_secret": ...}`` used to mint
            tokens (e.g. the emulator's service principal).
        profiles: profiles for ``auth profiles`` (``name``, ``host``, ``auth_type``); when a
            ``--profile`` is not listed here, the ``DATABRICKS_CONFIG_FILE`` file is consulted.
        version: the CLI version to report.
        fail: None, ``"45"`` (exit status 45) or ``"login"`` (not logged in).
        log: the JSON Lines file every invocation is appended to.
    """

    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    profiles: list[dict[str, str]] = field(default_factory=list)
    version: str = "0.300.0"
    fail: str | None = None
    log: str = ""


def install_fake_databricks_cli(bin_dir: Path, state: FakeCliState) -> Path:
    """Write the ``databricks`` launcher and its state into ``bin_dir``; return the launcher."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_path = bin_dir / "fake-databricks-state.json"
    if not state.log:
        state.log = str(bin_dir / "fake-databricks-calls.jsonl")
    write_state(state_path, state)
    launcher = bin_dir / "databricks"
    launcher.write_text(_LAUNCHER.format(python=sys.executable, state=str(state_path)))
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return launcher


def write_state(path: Path, state: FakeCliState) -> None:
    """Replace the state file (tests flip ``fail`` between calls)."""
    path.write_text(json.dumps(asdict(state)))


def read_calls(bin_dir: Path) -> list[list[str]]:
    """The argument lists of every invocation so far."""
    log = bin_dir / "fake-databricks-calls.jsonl"
    if not log.exists():
        return []
    return [json.loads(line)["argv"] for line in log.read_text().splitlines() if line.strip()]


def _out(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data) + "\n")


def _option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _config_profiles() -> dict[str, dict[str, str]]:
    path = os.environ.get("DATABRICKS_CONFIG_FILE") or str(Path.home() / ".databrickscfg")
    parser = configparser.ConfigParser(default_section="\x00none", interpolation=None)
    try:
        parser.read(path)
    except configparser.Error:
        return {}
    return {name: dict(parser.items(name)) for name in parser.sections()}


def _host_for(state: FakeCliState, argv: list[str]) -> tuple[str | None, str]:
    profile = _option(argv, "--profile")
    if profile is None:
        return _option(argv, "--host"), ""
    for entry in state.profiles:
        if entry.get("name") == profile:
            return entry.get("host"), profile
    return _config_profiles().get(profile, {}).get("host"), profile


def _mint(host: str, creds: dict[str, str]) -> dict[str, Any]:
    import httpx  # imported late: `version` and `profiles` need no HTTP

    response = httpx.post(f"{host.rstrip('/')}/oidc/v1/token",
                          data={"grant_type": "client_credentials", "scope": "all-apis"},
                          auth=(creds["client_id"], creds["client_secret"]), timeout=10)
    response.raise_for_status()
    payload: dict[str, Any] = response.json()
    return payload


def _token(state: FakeCliState, argv: list[str]) -> int:
    host, profile = _host_for(state, argv)
    if state.fail == "45":
        sys.stderr.write("Error: cannot update the token cache: cache update failed: exit status 45\n")
        return 45
    if state.fail == "login" or not host:
        target = f"profile {profile}" if profile else f"host {host}"
        sys.stderr.write(f"Error: {target} is not logged in. Run `databricks auth login`.\n")
        return 1
    creds = state.credentials.get(host.rstrip("/"))
    if creds is None:
        sys.stderr.write(f"Error: no credentials for {host}\n")
        return 1
    payload = _mint(host, creds)
    expires_in = int(payload.get("expires_in", 3600))
    expiry = datetime.now().astimezone() + timedelta(seconds=expires_in, microseconds=123456)
    _out({"access_token": payload["access_token"], "token_type": "Bearer",
          "expiry": expiry.isoformat(timespec="microseconds"), "expires_in": expires_in})
    return 0


def _profiles(state: FakeCliState) -> int:
    rows = state.profiles or [
        {"name": name, "host": values.get("host", ""), "auth_type": values.get("auth_type", "")}
        for name, values in _config_profiles().items() if name != "__settings__"]
    _out({"profiles": [{**row, "valid": True} for row in rows]})
    return 0


def _version(state: FakeCliState) -> int:
    major, minor, patch = (int(part) for part in state.version.split("."))
    _out({"ProjectName": "cli", "Version": state.version, "Major": major, "Minor": minor,
          "Patch": patch, "Prerelease": "", "IsSnapshot": False})
    return 0


def main(argv: list[str] | None = None, *, state_path: str | None = None) -> int:
    """Run one fake ``databricks`` command; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    path = state_path or os.environ.get("LAKECODE_FAKE_DATABRICKS_STATE", "")
    state = FakeCliState(**json.loads(Path(path).read_text())) if path else FakeCliState()
    if state.log:
        with open(state.log, "a", encoding="utf-8") as log:
            log.write(json.dumps({"argv": args, "time": time.time()}) + "\n")
    if args[:1] == ["version"]:
        return _version(state)
    if args[:2] == ["auth", "token"]:
        return _token(state, args[2:])
    if args[:2] == ["auth", "profiles"]:
        return _profiles(state)
    sys.stderr.write(f"Error: unknown command {' '.join(args)!r} (fake databricks CLI)\n")
    return 1
