"""The one error parser: every envelope decodes to its leaf text and the right class."""

from __future__ import annotations

import json

import httpx
import pytest

from lakecode.errors import (
    AuthenticationError,
    BadRequestError,
    ContextOverflowError,
    FeatureDisabledError,
    MaxTokensExceededError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ToolsUnsupportedError,
    UnsupportedParameterError,
    WrongHostError,
    WrongRouteError,
)
from lakecode.llm.errors import error_from_response, extract_error, is_invalid_token, parse_retry_after
from lakecode.redact import REDACTED, redact, register_secret

URL = "https://dbc-a1b2345c-d6e7.cloud.databricks.com/serving-endpoints/chat/completions"


def _resp(status: int, body: object = b"", headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, dict):
        content = json.dumps(body).encode()
        headers = {"content-type": "application/json", **(headers or {})}
    elif isinstance(body, str):
        content = body.encode()
    else:
        content = body  # type: ignore[assignment]
    return httpx.Response(status, content=content, headers=headers, request=httpx.Request("POST", URL))


NESTED_OVERFLOW = {
    "error_code": "BAD_REQUEST",
    "message": json.dumps({
        "external_model_provider": "databricks-model-serving",
        "external_model_error": {"error": {"type": "invalid_request_error",
                                           "message": "Input is too long for requested model."}},
    }),
}


@pytest.mark.parametrize(
    ("status", "body", "cls", "text"),
    [
        (401, {"error_code": "UNAUTHENTICATED", "message": "Credential was not sent"}, AuthenticationError,
         "Credential was not sent"),
        (403, "Invalid Token", AuthenticationError, "Invalid Token"),
        (400, {"message": "Invalid Token"}, AuthenticationError, "Invalid Token"),
        (403, {"error_code": "PERMISSION_DENIED", "message": "Invalid access token."}, AuthenticationError,
         "Invalid access token."),
        (403, {"error_code": "PERMISSION_DENIED", "message": "User does not have CAN_QUERY"},
         PermissionDeniedError, "CAN_QUERY"),
        (429, {"error_code": "REQUEST_LIMIT_EXCEEDED",
               "message": "Exceeded workspace QPS rate limit for databricks-x."}, RateLimitError,
         "REQUEST_LIMIT_EXCEEDED: Exceeded workspace QPS rate limit for databricks-x."),
        (400, NESTED_OVERFLOW, ContextOverflowError, "Input is too long for requested model."),
        (400, {"error_code": "BAD_REQUEST",
               "message": "input length and max_tokens exceed context limit: 196758 + 8192 > 200000"},
         ContextOverflowError, "196758 + 8192 > 200000"),
        (400, {"error_code": "BAD_REQUEST", "message": "max_tokens (10000) cannot exceed 8192"},
         MaxTokensExceededError, "cannot exceed 8192"),
        (400, {"error_code": "BAD_REQUEST",
               "message": "Model us.anthropic.claude-opus-4-7 does not support the temperature parameter"},
         UnsupportedParameterError, "temperature"),
        (400, {"error_code": "BAD_REQUEST", "message": "Model response did not respect the required format"},
         ToolsUnsupportedError, "required format"),
        (400, {"error": {"message": "Model databricks-gpt-5-2-codex only supports the Responses API",
                         "type": "invalid_request_error"}},
         WrongRouteError, "only supports the Responses API"),
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Endpoint with name 'x' does not exist."},
         NotFoundError, "Endpoint with name 'x' does not exist."),
        (404, {"error_code": "FEATURE_DISABLED", "message": "AI Gateway is not available for this workspace"},
         FeatureDisabledError, "AI Gateway is not available"),
        (501, {"error_code": "NOT_IMPLEMENTED", "message": "nope"}, FeatureDisabledError, "nope"),
        (503, "TEMPORARILY_UNAVAILABLE: try later", ServerError, "TEMPORARILY_UNAVAILABLE: try later"),
        (499, {"error_code": "CANCELLED", "message": "cancelled"}, ServerError, "cancelled"),
        (400, {"error": "invalid_grant", "error_description": "Refresh token is invalid"}, BadRequestError,
         "Refresh token is invalid"),
        (422, {"error": {"message": "bad", "code": 42}}, BadRequestError, "bad"),
    ],
)
def test_envelopes_classify(status: int, body: object, cls: type, text: str) -> None:
    error = error_from_response(_resp(status, body), endpoint="databricks-x")
    assert type(error) is cls
    assert text in error.message
    assert getattr(error, "status_code", None) == status


def test_specific_fields() -> None:
    cap = error_from_response(_resp(400, {"message": "max_tokens (10000) cannot exceed 8192"}))
    assert isinstance(cap, MaxTokensExceededError) and cap.cap == 8192
    param = error_from_response(_resp(400, {"message": "Model m does not support the top_p parameter"}))
    assert isinstance(param, UnsupportedParameterError) and param.parameter == "top_p"
    rl = error_from_response(_resp(429, {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow"},
                                   {"retry-after": "2", "x-request-id": "req-1"}), endpoint="databricks-e")
    assert isinstance(rl, RateLimitError)
    assert rl.retry_after == 2.0 and rl.request_id == "req-1" and rl.endpoint == "databricks-e"
    assert "databricks-e" in rl.message and rl.retryable


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (303, b"", {"location": "/login?next=/api"}),
        (303, "<html><title>Sign in</title></html>", {"location": "/login", "content-type": "text/html"}),
        (200, "<!DOCTYPE html><html><head><title>Databricks - Sign In</title></head></html>", {}),
    ],
)
def test_login_redirects_and_html_are_wrong_host(status: int, body: object, headers: dict[str, str]) -> None:
    error = error_from_response(_resp(status, body, headers))
    assert isinstance(error, WrongHostError)
    assert "https://dbc-a1b2345c-d6e7.cloud.databricks.com" in error.message
    assert "does not look like a workspace API host" in error.message
    assert "not enabled" not in error.message and "JSON" in error.message


def test_invalid_token_rule() -> None:
    assert is_invalid_token(401, "")
    assert is_invalid_token(403, "Forbidden: Invalid Token")
    assert is_invalid_token(400, "Invalid Token")
    assert is_invalid_token(403, "Invalid access token.")
    assert not is_invalid_token(403, "PERMISSION_DENIED: no CAN_QUERY")
    assert not is_invalid_token(400, "max_tokens (1) cannot exceed 0")


def test_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None


def test_error_text_is_redacted_and_truncated() -> None:
    token = "dapi" + "ab" * 16
    info = extract_error(400, {}, json.dumps({"message": f"bad token {token} " + "x" * 900}).encode())
    assert token not in info.message and REDACTED in info.message
    assert len(info.message) <= 501


def test_redact_registered_and_shaped_secrets() -> None:
    register_secret("s3cr3t-client-secret-value")
    text = "a s3cr3t-client-secret-value b Bearer abc.def.ghi-jkl eyJhbGciOi.eyJzdWIiOiJ4In0.sig"
    out = redact(text)
    assert "s3cr3t" not in out and "abc.def" not in out and "eyJ" not in out
    assert out.startswith("a [REDACTED] b Bearer [REDACTED]")
