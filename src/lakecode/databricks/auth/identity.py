"""Who a credential belongs to: the key of the token store and of the token-source registry.

An ``AuthIdentity`` is (host, auth type, client id, profile, scopes). Two callers with the same
identity in one process share one token source; the token store keys its files by a hash of the
same fields (the Python SDK keys its own OAuth cache the same way).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

__all__ = ["AuthIdentity", "login_command"]


@dataclass(frozen=True, slots=True)
class AuthIdentity:
    """The identity a token source serves. Holds no secret.

    Attributes:
        host: the normalised workspace origin.
        auth_type: the Databricks auth type name (``pat``, ``oauth-m2m``, ``external-browser``,
            ``databricks-cli``, ... or ``default`` for the SDK's automatic chain).
        client_id: the OAuth client (service principal or OAuth app), when there is one.
        profile: the ``~/.databrickscfg`` profile, when one was used.
        scopes: OAuth scopes, sorted and de-duplicated.
    """

    host: str
    auth_type: str
    client_id: str | None = None
    profile: str | None = None
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", tuple(sorted(set(self.scopes))))

    @property
    def key(self) -> str:
        """A stable hex digest of the identity (the token store's file name)."""
        canonical = json.dumps(
            [self.host, self.auth_type, self.client_id, self.profile, list(self.scopes)],
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready description (no secrets)."""
        return {
            "host": self.host,
            "auth_type": self.auth_type,
            "client_id": self.client_id,
            "profile": self.profile,
            "scopes": list(self.scopes),
        }

    def describe(self) -> str:
        """A short human description, e.g. ``https://h (profile dev, external-browser)``."""
        details = [f"profile {self.profile}"] if self.profile else []
        details.append(self.auth_type)
        return f"{self.host} ({', '.join(details)})"


def login_command(host: str | None, profile: str | None = None, auth_type: str | None = None) -> str:
    """The ``lakecode auth login`` command line that signs this identity in again."""
    parts = ["lakecode auth login"]
    if host:
        parts.append(f"--host {host}")
    if profile:
        parts.append(f"--profile {profile}")
    elif auth_type in ("pat", "oauth-m2m", "external-browser"):
        parts.append(f"--auth-type {auth_type}")
    return " ".join(parts)
