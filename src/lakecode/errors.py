"""The lakecode error tree: one root, every class with a hint and a retry flag.

Library code raises these; only the CLI and the TUI turn them into messages and exit codes.
Each class answers three questions a user (or a retry loop) has about a failure: what happened
(the message), what to do about it (``hint``), and whether trying again can help (``retryable``).

The tree, split by who is at fault (the user's configuration, the infrastructure, the model)::

    LakecodeError
    ├── ConfigError                 the user's configuration is wrong or incomplete
    │   ├── HostError               a host that cannot be a workspace (normalisation refused it)
    │   └── ProfileError            ~/.databrickscfg is malformed or names an unknown profile
    ├── AuthError                   no usable credential; signing in again fixes it
    │   ├── LoginError              an interactive sign-in failed, timed out or was cancelled
    │   └── TokenStoreError         the token store is corrupt, locked or not writable
    ├── APIError                    an HTTP exchange with the model service failed
    │   ├── WrongHostError          a 3xx to a login page or an HTML body: not a workspace API host
    │   ├── APIStatusError          the service answered with an error status
    │   │   ├── AuthenticationError       401, or 400/403 "Invalid Token", still failing after a refresh
    │   │   ├── PermissionDeniedError     403 without an invalid-token text: no access
    │   │   ├── NotFoundError             404: endpoint or model not found (never retried)
    │   │   ├── RateLimitError            429 (retryable)
    │   │   ├── BadRequestError           400/422 that no self-healing could fix
    │   │   │   ├── ContextOverflowError        the conversation is longer than the model accepts
    │   │   │   ├── UnsupportedParameterError   the model rejects a parameter such as temperature
    │   │   │   ├── MaxTokensExceededError      max_tokens above the endpoint's cap
    │   │   │   ├── ToolsUnsupportedError       the model cannot call tools reliably
    │   │   │   └── WrongRouteError             e.g. "only supports the Responses API"
    │   │   ├── FeatureDisabledError      the AI Gateway (or another feature) is off on this host
    │   │   └── ServerError               5xx (retryable)
    │   ├── APIConnectionError      the request never got an answer (retryable)
    │   │   └── APITimeoutError
    │   └── StreamError             an event stream broke off or could not be parsed
    └── ModelBehaviourError         the model answered with something unusable
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "ContextOverflowError",
    "FeatureDisabledError",
    "HostError",
    "LakecodeError",
    "LoginError",
    "MaxTokensExceededError",
    "ModelBehaviourError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProfileError",
    "RateLimitError",
    "ServerError",
    "StreamError",
    "TLSError",
    "TokenStoreError",
    "ToolsUnsupportedError",
    "UnsupportedParameterError",
    "WrongHostError",
    "WrongRouteError",
]


class LakecodeError(Exception):
    """Root of every error lakecode raises on purpose.

    Args:
        message: what happened, in one sentence, with no secret in it.
        hint: what the user should do next, or None when there is nothing useful to say.
    """

    retryable: ClassVar[bool] = False
    default_hint: ClassVar[str | None] = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message

    def describe(self) -> str:
        """The message followed by the hint, as shown to users."""
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(LakecodeError):
    """The configuration is wrong or incomplete; the hint names what to set."""

    default_hint = "Run `lakecode` and open /settings, or see `lakecode run --help` for env vars."


class HostError(ConfigError):
    """A value that cannot be a Databricks workspace host."""

    default_hint = (
        "Use the workspace URL from your browser, e.g. https://dbc-a1b2345c-d6e7.cloud.databricks.com"
    )


class ProfileError(ConfigError):
    """The Databricks config file is malformed, or a named profile does not exist."""

    default_hint = "Fix ~/.databrickscfg (or DATABRICKS_CONFIG_FILE) or pick another profile."


class AuthError(LakecodeError):
    """No usable credential: the user has to sign in (again)."""

    default_hint = "Run `lakecode auth login` to sign in again."


class LoginError(AuthError):
    """An interactive sign-in (browser / U2M) failed, timed out or was cancelled."""


class TokenStoreError(AuthError):
    """The token store cannot be used: a corrupt entry (moved aside), a lock held too long by
    another process, or a directory that cannot be written. The hint says how to recover."""


class APIError(LakecodeError):
    """An HTTP exchange with the workspace or the model service failed.

    Attributes:
        url: the URL that was called (no query string, no secrets).
    """

    def __init__(self, message: str, *, hint: str | None = None, url: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url


class WrongHostError(APIError):
    """The host answered with a redirect to a login page or with HTML: not a workspace API host."""

    default_hint = (
        "Check the workspace URL: use the https://<workspace> address you see in the browser "
        "when a notebook is open, not an account console or custom login URL."
    )


class APIStatusError(APIError):
    """The service answered with an error status.

    Attributes:
        status_code: the HTTP status.
        error_code: the Databricks ``error_code`` (or OpenAI ``code``/``type``) when present.
        request_id: the ``x-request-id`` response header, for support tickets.
        endpoint: the serving endpoint or model the request was for, when known.
        retry_after: seconds the server asked us to wait, when it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error_code: str | None = None,
        hint: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
        endpoint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint, url=url)
        self.status_code = status_code
        self.error_code = error_code
        self.request_id = request_id
        self.endpoint = endpoint
        self.retry_after = retry_after


class AuthenticationError(APIStatusError, AuthError):
    """The credential was rejected (401, or 400/403 saying the token is invalid) even after a refresh."""

    default_hint = "Your sign-in has expired or was revoked. Run `lakecode auth login` again."


class PermissionDeniedError(APIStatusError):
    """403 without an invalid-token text: the identity has no access. Refreshing does not help."""

    default_hint = "Ask a workspace admin for CAN_QUERY on this serving endpoint."


class NotFoundError(APIStatusError):
    """404: the endpoint or model does not exist on this workspace. Never retried.

    Attributes:
        suggestions: the closest model ids the workspace does serve.
    """

    default_hint = "Run `lakecode models` to see the models this workspace serves."

    def __init__(self, message: str, *, suggestions: tuple[str, ...] = (), **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.suggestions = suggestions


class RateLimitError(APIStatusError):
    """429: the workspace or the endpoint is rate limited. Retried with backoff."""

    retryable = True
    default_hint = (
        "The endpoint's rate limit was hit. Wait a little, lower concurrency, or use a "
        "provisioned-throughput endpoint."
    )


class BadRequestError(APIStatusError):
    """400/422 that lakecode could not heal by itself."""


class ContextOverflowError(BadRequestError):
    """The conversation plus max_tokens is longer than the model accepts."""

    default_hint = "Start a new conversation (/new) or let lakecode compact this one."


class UnsupportedParameterError(BadRequestError):
    """The model rejects a request parameter (e.g. ``temperature``).

    Attributes:
        parameter: the parameter the service named.
    """

    def __init__(self, message: str, *, parameter: str, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.parameter = parameter


class MaxTokensExceededError(BadRequestError):
    """``max_tokens`` is above the endpoint's cap.

    Attributes:
        cap: the largest value the endpoint accepts.
    """

    def __init__(self, message: str, *, cap: int, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.cap = cap


class ToolsUnsupportedError(BadRequestError):
    """The model cannot do tool calling reliably; the agent needs another model."""

    default_hint = "Pick a model with tool support (`lakecode models` shows a tools column)."


class WrongRouteError(BadRequestError):
    """The model does not speak the route that was used (e.g. it only supports the Responses API)."""


class FeatureDisabledError(APIStatusError):
    """A workspace feature (such as the AI Gateway) is not available on this host."""


class ServerError(APIStatusError):
    """5xx: the service failed. Retried with backoff."""

    retryable = True
    default_hint = "The model service had a problem. Try again in a moment."


class APIConnectionError(APIError):
    """The request did not get an answer: DNS, refused connection, TLS, reset."""

    retryable = True
    default_hint = "Check the host and your network (VPN, proxy)."


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class TLSError(APIConnectionError):
    """The TLS handshake failed (https spoken to a plain-http server, or an untrusted
    certificate): trying again cannot help."""

    retryable = False


class StreamError(APIError):
    """An event stream broke off before it finished, or could not be parsed."""

    retryable = True


class ModelBehaviourError(LakecodeError):
    """The model answered with something unusable (e.g. tool arguments that are not JSON)."""
