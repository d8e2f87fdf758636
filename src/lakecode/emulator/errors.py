"""Error bodies exactly as the Databricks services send them, plus a table of named errors.

Every helper returns a Starlette ``Response`` with ``Content-Type: application/json`` (the
Databricks Python SDK reads that header on token errors without a guard). The named errors are
the ones users hit in the field; fault injection can return any of them on demand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

__all__ = [
    "NAMED_ERRORS",
    "ErrorSpec",
    "databricks_error",
    "json_response",
    "named_error",
    "oauth_error",
    "openai_error",
]

_JSON = "application/json"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response (no whitespace, like the real services)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(data, status_code=status, media_type=_JSON, headers=headers)


def databricks_error(
    status: int, error_code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The Databricks REST envelope ``{error_code, message}``."""
    return json_response({"error_code": error_code, "message": message}, status, headers)


def openai_error(
    status: int, message: str, type_: str = "invalid_request_error", code: str | None = None
) -> Response:
    """The OpenAI-style envelope ``{error: {message, type, code}}`` (AI Gateway OpenAI routes)."""
    return json_response({"error": {"message": message, "type": type_, "code": code}}, status)


def oauth_error(status: int, error: str, description: str) -> Response:
    """An OAuth 2.0 error ``{error, error_description}`` with a JSON content type."""
    return json_response({"error": error, "error_description": description}, status)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """A canned error response: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()

    def response(self) -> Response:
        """Render as a Starlette response."""
        return json_response(self.body, self.status, dict(self.headers) or None)


_CONTEXT_NESTED = json.dumps(
    {
        "external_model_provider": "databricks-model-serving",
        "external_model_error": {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "Input is too long for requested model.",
            },
            "message": "Input is too long for requested model.",
        },
    }
)


def _db(status: int, code: str, message: str) -> ErrorSpec:
    return ErrorSpec(status, {"error_code": code, "message": message})


# name -> canned error; ``{endpoint}`` in a message is replaced by the endpoint of the request.
NAMED_ERRORS: dict[str, ErrorSpec] = {
    "rate_limit": _db(
        429,
        "REQUEST_LIMIT_EXCEEDED",
        "Exceeded workspace QPS rate limit for {endpoint}. Please use a provisioned throughput "
        "Foundation Model APIs endpoint for a higher rate limit.",
    ),
    "rate_limit_tokens": _db(
        429,
        "REQUEST_LIMIT_EXCEEDED",
        "Exceeded workspace output tokens per minute rate limit for {endpoint}. Please use a "
        "provisioned throughput Foundation Model APIs endpoint for a higher rate limit.",
    ),
    "rate_limit_rest": _db(429, "REQUEST_LIMIT_EXCEEDED", "Error: RPC token bucket limit has been exceeded"),
    "internal_error": _db(500, "INTERNAL_ERROR", "Internal error. Please try again later."),
    "bad_gateway": _db(502, "TEMPORARILY_UNAVAILABLE", "Bad gateway."),
    "unavailable": _db(503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable."),
    "deadline_exceeded": _db(504, "DEADLINE_EXCEEDED", "The request timed out upstream."),
    "cancelled": _db(499, "CANCELLED", "The request was cancelled."),
    "permission_denied": _db(
        403,
        "PERMISSION_DENIED",
        "User does not have permission 'CAN_QUERY' on endpoint {endpoint}.",
    ),
    "invalid_token_401": _db(401, "UNAUTHENTICATED", "Invalid Token"),
    "invalid_token_403": _db(403, "PERMISSION_DENIED", "Invalid Token"),
    "invalid_token_400": _db(400, "BAD_REQUEST", "Invalid Token"),
    "invalid_access_token": _db(403, "PERMISSION_DENIED", "Invalid access token."),
    "context_overflow_nested": _db(400, "BAD_REQUEST", _CONTEXT_NESTED),
    "context_overflow_flat": _db(
        400,
        "BAD_REQUEST",
        "input length and max_tokens exceed context limit: 196758 + 8192 > 200000",
    ),
    "max_tokens": _db(400, "BAD_REQUEST", "max_tokens (10000) cannot exceed 8192"),
    "temperature": _db(
        400,
        "BAD_REQUEST",
        "BAD_REQUEST: Model us.anthropic.claude-opus-4-7 does not support the temperature parameter",
    ),
    "tools_unsupported": _db(
        400,
        "BAD_REQUEST",
        "Model response did not respect the required format. Please try again or use a different model.",
    ),
    "responses_only": _db(400, "BAD_REQUEST", "Model {endpoint} only supports the Responses API"),
    "feature_disabled": _db(400, "FEATURE_DISABLED", "AI Gateway is not available for this workspace"),
    "not_implemented": _db(501, "NOT_IMPLEMENTED", "This API is not implemented for this workspace."),
    "endpoint_not_found": _db(404, "ENDPOINT_NOT_FOUND", "Endpoint with name '{endpoint}' does not exist."),
    "resource_does_not_exist": _db(
        404, "RESOURCE_DOES_NOT_EXIST", "Endpoint with name '{endpoint}' does not exist."
    ),
    "model_not_found": _db(404, "NOT_FOUND", "llm model not found"),
    "codex_disabled": _db(404, "ENDPOINT_NOT_FOUND", "codex/v1/models is not enabled for this workspace"),
    "invalid_metastore": _db(400, "INVALID_PARAMETER_VALUE", "Invalid MetastoreId"),
    "grammar_too_large": _db(
        400,
        "BAD_REQUEST",
        "Compiled grammar size (486.7MB) exceeds maximum allowed size (300MB)",
    ),
    "no_continue_after_tool_call": _db(
        400,
        "BAD_REQUEST",
        "Model does not support continuing the chat past the first tool call",
    ),
    "bad_request_unknown_field": _db(400, "BAD_REQUEST", 'Bad request: json: unknown field "inputs"'),
}


def named_error(name: str, endpoint: str | None = None) -> ErrorSpec:
    """The canned error ``name`` with ``{endpoint}`` filled in.

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
    """
    try:
        spec = NAMED_ERRORS[name]
    except KeyError:
        raise KeyError(f"unknown error {name!r}; known: {', '.join(sorted(NAMED_ERRORS))}") from None
    body = spec.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        body = {**body, "message": body["message"].replace("{endpoint}", endpoint or "unknown")}
    return ErrorSpec(spec.status, body, spec.headers)
