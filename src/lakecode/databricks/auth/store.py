"""The token store: OAuth tokens and secrets, kept out of ``settings.toml``.

Layout under ``tokens_dir()`` (``$LAKECODE_HOME/tokens``, mode 0700)::

    oauth/<sha256 of the identity>.json     one OAuth token per AuthIdentity
    secrets/<sha256 of the key>.json        one secret (PAT, client secret, API key) per key
    locks/<same hash>.lock                  file locks (two processes refreshing one identity)

Every file is written atomically with mode 0600 from the start (``lakecode.secure_io``), and one
file per entry means a damaged entry never costs the others. A rotated refresh token is saved the
moment it arrives. A corrupt entry is moved aside (``*.corrupt-<epoch>``) and reported as a
``TokenStoreError`` whose hint says how to sign in again; a lock held too long by another process
is a ``TokenStoreError`` too, never a traceback.

Secrets are addressed by a clear key; build keys with ``pat_key``, ``client_secret_key`` and
``api_key_key`` so every caller names the same secret the same way::

    store = TokenStore()
    store.put_secret(pat_key(host), pat)
    store.get_secret(pat_key(host))            # SecretStr | None
    store.save_token(identity, token); store.load_token(identity)
    async with store.locked(identity): ...     # cross-process lock
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
from pydantic import SecretStr

from lakecode.clock import Clock, system_clock
from lakecode.config.paths import tokens_dir
from lakecode.databricks.auth.identity import AuthIdentity, login_command
from lakecode.databricks.auth.token_source import Token
from lakecode.errors import TokenStoreError
from lakecode.redact import register_secret
from lakecode.secure_io import PRIVATE_FILE_MODE, atomic_write_text, ensure_private_dir, move_aside

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "StoreEntry",
    "TokenStore",
    "api_key_key",
    "client_secret_key",
    "pat_key",
]

DEFAULT_LOCK_TIMEOUT = 15.0
_VERSION = 1
_log = logging.getLogger(__name__)


def pat_key(host: str) -> str:
    """The secret key of the personal access token for ``host``."""
    return f"databricks-pat:{host}"


def client_secret_key(host: str, client_id: str) -> str:
    """The secret key of an OAuth client secret (service principal or custom OAuth app)."""
    return f"databricks-client-secret:{host}:{client_id}"


def api_key_key(base_url: str) -> str:
    """The secret key of an OpenAI-compatible endpoint's API key."""
    return f"openai-api-key:{base_url}"


@dataclass(frozen=True, slots=True)
class StoreEntry:
    """A stored entry, described without its secret (for ``auth status`` and logout).

    Attributes:
        kind: ``oauth-token`` or ``secret``.
        path: the file.
        name: the secret key, or the identity description.
        host: the workspace host the entry belongs to, when known.
        expires_at: the token expiry (``oauth-token`` only).
    """

    kind: str
    path: Path
    name: str
    host: str | None = None
    expires_at: float | None = None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class TokenStore:
    """File-backed store of OAuth tokens and secrets (see the module docstring).

    Args:
        root: the store directory; defaults to ``tokens_dir()`` at construction.
        clock: names corrupt-file backups.
        lock_timeout: seconds to wait for another process's lock before giving up.
    """

    def __init__(self, root: Path | None = None, *, clock: Clock = system_clock,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.root = Path(root) if root is not None else tokens_dir()
        self._clock = clock
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"TokenStore({str(self.root)!r})"

    def _token_path(self, identity: AuthIdentity) -> Path:
        return self.root / "oauth" / f"{identity.key}.json"

    def _secret_path(self, key: str) -> Path:
        return self.root / "secrets" / f"{_digest(key)}.json"

    # -- reading and writing -------------------------------------------------------------------

    def _read(self, path: Path, what: str, hint: str) -> dict[str, Any] | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(f"Cannot read {what} from {path}: {exc.strerror}.",
                                  hint=f"Check the permissions of {self.root}.") from None
        try:
            data = json.loads(raw.decode("utf-8"))  # bad UTF-8 is corruption like bad JSON
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            backup = self._move_aside(path)
            raise TokenStoreError(
                f"The stored {what} was unreadable; it was moved to {backup} and the rest of "
                "the store is untouched.", hint=hint)
        return data

    def _move_aside(self, path: Path) -> Path:
        try:
            return move_aside(path, self._clock.time())
        except OSError:
            _log.warning("could not move the corrupt store file %s aside", path)
            return path

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        try:
            ensure_private_dir(self.root)
            ensure_private_dir(path.parent)
            atomic_write_text(path, json.dumps(data, indent=1), mode=PRIVATE_FILE_MODE)
        except OSError as exc:
            raise TokenStoreError(f"Cannot write the token store at {self.root}: {exc.strerror}.",
                                  hint=f"Check the permissions of {self.root}, or set "
                                       "LAKECODE_HOME to a writable directory.") from None

    def _delete(self, path: Path) -> bool:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise TokenStoreError(f"Cannot delete {path}: {exc.strerror}.") from None
        return True

    # -- OAuth tokens --------------------------------------------------------------------------

    def load_token(self, identity: AuthIdentity) -> Token | None:
        """The stored token for ``identity``, or None.

        Raises:
            TokenStoreError: the entry is corrupt (it is moved aside) or unreadable.
        """
        hint = f"Run `{login_command(identity.host, identity.profile, identity.auth_type)}`."
        data = self._read(self._token_path(identity), f"sign-in for {identity.describe()}", hint)
        if data is None:
            return None
        try:
            return Token.from_json(data.get("token") or {})
        except ValueError:
            backup = self._move_aside(self._token_path(identity))
            raise TokenStoreError(f"The stored sign-in for {identity.describe()} was incomplete; "
                                  f"it was moved to {backup}.", hint=hint) from None

    def save_token(self, identity: AuthIdentity, token: Token) -> None:
        """Store ``token`` for ``identity`` (atomically, mode 0600)."""
        self._write(self._token_path(identity), {
            "version": _VERSION,
            "kind": "oauth-token",
            "identity": identity.as_dict(),
            "token": token.to_json(),
            "saved_at": self._clock.time(),
        })

    def delete_token(self, identity: AuthIdentity) -> bool:
        """Forget the token for ``identity``; True when there was one."""
        return self._delete(self._token_path(identity))

    # -- secrets -------------------------------------------------------------------------------

    def put_secret(self, key: str, value: str | SecretStr, *, host: str | None = None) -> None:
        """Store a secret under ``key`` (see ``pat_key`` & co.); ``host`` groups it for logout."""
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        register_secret(plain)
        self._write(self._secret_path(key), {"version": _VERSION, "kind": "secret", "key": key,
                                             "host": host, "value": plain})

    def get_secret(self, key: str) -> SecretStr | None:
        """The secret stored under ``key``, or None.

        Raises:
            TokenStoreError: the entry is corrupt (it is moved aside) or unreadable.
        """
        data = self._read(self._secret_path(key), f"secret {key!r}",
                          "Sign in again with `lakecode auth login` to store it afresh.")
        if data is None:
            return None
        value = data.get("value")
        if not isinstance(value, str) or not value:
            return None
        register_secret(value)
        return SecretStr(value)

    def delete_secret(self, key: str) -> bool:
        """Forget the secret under ``key``; True when there was one."""
        return self._delete(self._secret_path(key))

    # -- listing and logout --------------------------------------------------------------------

    def entries(self) -> list[StoreEntry]:
        """Every readable entry, described without secrets (corrupt files are skipped)."""
        found: list[StoreEntry] = []
        for kind, folder in (("oauth-token", "oauth"), ("secret", "secrets")):
            for path in sorted((self.root / folder).glob("*.json")):
                try:
                    data = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError, UnicodeDecodeError):
                    continue
                if not isinstance(data, dict):
                    continue
                if kind == "secret":
                    found.append(StoreEntry(kind, path, str(data.get("key")), data.get("host")))
                    continue
                ident = data.get("identity") or {}
                token = data.get("token") or {}
                found.append(StoreEntry(kind, path, json.dumps(ident), ident.get("host"),
                                        token.get("expires_at")))
        return found

    def forget_host(self, host: str) -> int:
        """Delete every token and secret stored for ``host``; returns how many."""
        count = 0
        for entry in self.entries():
            if entry.host == host and self._delete(entry.path):
                count += 1
        return count

    # -- locking -------------------------------------------------------------------------------

    def _lock(self, name: str) -> filelock.FileLock:
        locks = self.root / "locks"
        try:
            ensure_private_dir(locks)
        except OSError as exc:
            raise TokenStoreError(f"Cannot create {locks}: {exc.strerror}.") from None
        return filelock.FileLock(locks / f"{name}.lock", mode=PRIVATE_FILE_MODE, thread_local=False)

    def _timeout_error(self, lock: filelock.FileLock, what: str) -> TokenStoreError:
        return TokenStoreError(
            f"The token store entry for {what} is locked by another lakecode process "
            f"(waited {self.lock_timeout:g} s).",
            hint=f"Wait for the other process to finish; if none is running, delete {lock.lock_file}.")

    @contextlib.asynccontextmanager
    async def locked(self, identity: AuthIdentity) -> AsyncIterator[None]:
        """Hold the cross-process lock for ``identity`` (acquired without blocking the loop).

        Raises:
            TokenStoreError: another process held the lock for longer than ``lock_timeout``.
        """
        lock = self._lock(identity.key)
        try:
            await asyncio.to_thread(lock.acquire, timeout=self.lock_timeout)
        except filelock.Timeout:
            raise self._timeout_error(lock, identity.describe()) from None
        try:
            yield
        finally:
            lock.release()
