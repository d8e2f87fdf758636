"""The workspace emulator in its own process, for benchmarks (no GIL shared with the clients).

``EmulatorProcess(...)`` runs ``python -m lakecode emulator --json`` with fixed throwaway
credentials and reads its connection line; ``admin(path)`` calls its ``/__emulator`` routes.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
from types import TracebackType
from typing import Any

import httpx

__all__ = ["EmulatorProcess"]


class EmulatorProcess:
    """``lakecode emulator`` in a child process.

    Args:
        token_ttl: OAuth access-token lifetime (seconds).
        synthetic: generated chat endpoints to add (``synthetic-chat-00000`` ...).
        strict: reject what the real service rejects (``--lenient`` when False).
        bundled: also serve the bundled workspace catalogue (always on; the flag is for clarity).

    Attributes:
        url, pat, client_id, client_secret: the workspace URL and its credentials.
    """

    def __init__(self, *, token_ttl: float = 3600.0, synthetic: int = 0, strict: bool = True) -> None:
        self.pat = "dapi" + secrets.token_hex(16)
        self.client_id = "bench-" + secrets.token_hex(8)
        self.client_secret = "dose" + secrets.token_hex(16)
        self._argv = [sys.executable, "-m", "lakecode", "emulator", "--port", "0", "--json",
                      "--token-ttl", str(token_ttl), "--synthetic-endpoints", str(synthetic),
                      "--pat", self.pat, "--client-id", self.client_id,
                      "--client-secret", self.client_secret]
        if not strict:
            self._argv.append("--lenient")
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> EmulatorProcess:
        self._proc = subprocess.Popen(self._argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process did not start")
        self.url = json.loads(line)["url"]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        proc = self._proc
        if proc is None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self._proc = None

    @property
    def pid(self) -> int:
        """The emulator's process id."""
        assert self._proc is not None
        return self._proc.pid

    def admin(self, path: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
        """Call ``/__emulator/<path>`` and return the decoded JSON answer."""
        response = httpx.request(method, f"{self.url}/__emulator/{path}", json=body, timeout=60.0)
        response.raise_for_status()
        return response.json()

    def synthetic_models(self, n: int) -> list[str]:
        """The names of the first ``n`` synthetic endpoints."""
        return [f"synthetic-chat-{i:05d}" for i in range(n)]
