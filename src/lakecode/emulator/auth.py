"""How the emulator reads and judges credentials on API routes.

Accepted: ``Authorization: Bearer <PAT or OAuth token>`` and HTTP Basic ``token:<PAT>``. An
``x-api-key`` header is never a credential: a request carrying only that is rejected like an
invalid token. Expired, revoked and unknown tokens are rejected in the configured style.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Literal, TypeAlias

from starlette.responses import Response

from lakecode.emulator.errors import databricks_error

__all__ = ["AuthKind", "credential", "invalid_token_response", "missing_credential_response"]

AuthKind: TypeAlias = Literal["bearer", "basic", "none", "x-api-key-only", "other"]


def credential(headers: Mapping[str, str]) -> tuple[AuthKind, str | None]:
    """Classify the credential a request carries and extract the token (never logged).

    ``headers`` must have lower-case names. Basic auth yields the password only when the user is
    ``token`` (the documented ``curl -u token:$DATABRICKS_TOKEN`` form).
    """
    value = headers.get("authorization")
    if value:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return "bearer", rest.strip()
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "basic", None
            return "basic", password if user == "token" and password else None
        return "other", None
    if headers.get("x-api-key"):
        return "x-api-key-only", None
    return "none", None


def invalid_token_response(style: str) -> Response:
    """The rejection of an expired, revoked or unknown token in the chosen style."""
    if style == "403":
        return databricks_error(403, "PERMISSION_DENIED", "Invalid Token")
    if style == "400":
        return databricks_error(400, "BAD_REQUEST", "Invalid Token")
    if style == "403-access":
        return databricks_error(403, "PERMISSION_DENIED", "Invalid access token.")
    return databricks_error(401, "UNAUTHENTICATED", "Invalid Token")


def missing_credential_response() -> Response:
    """401 for a request that carries no credential at all."""
    return databricks_error(
        401,
        "UNAUTHENTICATED",
        "Credential was not sent or was of an unsupported type for this API.",
    )
