"""The one error parser as the LLM layer relies on it (F22, F23, F24, F26 classification)."""

from __future__ import annotations

import json

import httpx
import pytest

from lakecode.emulator import Emulator
from lakecode.errors import (
    APIConnectionError,
    APITimeoutError,
    ContextOverflowError,
    MaxTokensExceededError,
    RateLimitError,
    TLSError,
    ToolsUnsupportedError,
    UnsupportedParameterError,
    WrongRouteError,
)
from lakecode.llm.errors import error_from_response, error_from_transport
from lakecode.llm.retry import is_retryable

URL = "https://ws.example.com/serving-endpoints/chat/completions"


def response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("POST", URL))


def test_f22_rate_limit_keeps_code_message_endpoint_and_retry_after() -> None:
    body = {"error_code": "REQUEST_LIMIT_EXCEEDED",
            "message": "Exceeded workspace QPS rate limit for databricks-gpt-5-2.\n"}
    error = error_from_response(response(429, body, {"retry-after": "2", "x-request-id": "req-1"}),
                                endpoint="databricks-gpt-5-2")
    assert isinstance(error, RateLimitError) and is_retryable(error)
    assert error.error_code == "REQUEST_LIMIT_EXCEEDED" and error.retry_after == 2.0
    assert error.request_id == "req-1" and error.endpoint == "databricks-gpt-5-2"
    assert "REQUEST_LIMIT_EXCEEDED" in str(error) and "Exceeded workspace QPS rate limit" in str(error)


def test_f22_rate_limit_without_body_still_classified() -> None:
    error = error_from_response(httpx.Response(429, request=httpx.Request("POST", URL)), endpoint="m")
    assert isinstance(error, RateLimitError) and error.retry_after is None and "(endpoint m)" in str(error)


NESTED = {"error_code": "BAD_REQUEST", "message": json.dumps({
    "external_model_provider": "databricks-model-serving",
    "external_model_error": {"message": "Input is too long for requested model."}})}
FLAT = {"error_code": "BAD_REQUEST",
        "message": "input length and max_tokens exceed context limit: 196758 + 8192 > 200000"}
OPENAI = {"error": {"message": "prompt is too long: 210000 tokens > 200000 maximum",
                    "type": "invalid_request_error"}}


@pytest.mark.parametrize("body", [NESTED, FLAT, OPENAI], ids=["nested", "flat", "openai"])
def test_f23_context_overflow_in_every_envelope(body: object) -> None:
    error = error_from_response(response(400, body))
    assert isinstance(error, ContextOverflowError) and not is_retryable(error)


def test_f24_and_f26_healable_errors_carry_what_to_fix() -> None:
    cap = error_from_response(response(400, {"error_code": "BAD_REQUEST",
                                             "message": "max_tokens (10000) cannot exceed 8192"}))
    assert isinstance(cap, MaxTokensExceededError) and cap.cap == 8192
    text = "BAD_REQUEST: Model us.anthropic.claude-opus-4-7 does not support the temperature parameter"
    param = error_from_response(response(400, {"error_code": "BAD_REQUEST", "message": text}))
    assert isinstance(param, UnsupportedParameterError) and param.parameter == "temperature"
    responses = error_from_response(response(400, {"error": {
        "message": "Unsupported parameter: 'top_p' is not supported with this model."}}))
    assert isinstance(responses, UnsupportedParameterError) and responses.parameter == "top_p"


def test_route_and_tool_errors() -> None:
    wrong = error_from_response(response(400, {"error_code": "BAD_REQUEST",
                                               "message": "Model x only supports the Responses API"}))
    assert isinstance(wrong, WrongRouteError)
    tools = error_from_response(response(400, {"error_code": "BAD_REQUEST", "message":
                                               "Model response did not respect the required format."}),
                                endpoint="databricks-meta-llama-3-3-70b-instruct")
    assert isinstance(tools, ToolsUnsupportedError)
    assert "databricks-meta-llama-3-3-70b-instruct" in str(tools)


# ---- requests that got no answer: one classifier for OAuth, discovery and inference ----------


def _refused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


async def _error_of(url: str) -> APIConnectionError:
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.RequestError) as caught:
            await client.get(url)
    return error_from_transport(caught.value, url, what="/api/2.0/serving-endpoints")


async def test_https_spoken_to_a_plain_http_server_is_a_tls_error_with_the_http_url(
        emulator: Emulator) -> None:
    https = emulator.url.replace("http://", "https://")
    error = await _error_of(f"{https}/api/2.0/serving-endpoints")
    assert isinstance(error, TLSError) and not is_retryable(error)
    assert error.message.startswith(f"Could not reach {https} for /api/2.0/serving-endpoints: ")
    assert error.hint == (f"{https} answered in plain HTTP, not HTTPS. A local emulator is reached as "
                          f"{emulator.url}; a real workspace always uses https://.")


async def test_a_port_nobody_listens_on_says_so() -> None:
    origin = f"http://127.0.0.1:{_refused_port()}"
    error = await _error_of(f"{origin}/x")
    assert type(error) is APIConnectionError and is_retryable(error)
    assert error.hint is not None and error.hint.startswith(f"Nothing is listening at {origin}:")


def test_a_host_name_that_does_not_resolve_says_so() -> None:
    import socket

    exc = httpx.ConnectError("[Errno -2] Name or service not known")
    exc.__cause__ = socket.gaierror(-2, "Name or service not known")
    error = error_from_transport(exc, "https://dbc-typo.cloud.databricks.com/serving-endpoints/x", what="m")
    assert type(error) is APIConnectionError
    assert error.message == ("Could not reach https://dbc-typo.cloud.databricks.com for m: "
                             "[Errno -2] Name or service not known")
    assert error.hint == ("The host name in https://dbc-typo.cloud.databricks.com does not resolve: "
                          "check its spelling (and your VPN).")


def test_an_untrusted_certificate_is_a_tls_error_naming_the_ca_bundle() -> None:
    import ssl

    exc = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    exc.__context__ = ssl.SSLCertVerificationError(1, "certificate verify failed")
    error = error_from_transport(exc, "https://ws.example.com/x")
    assert isinstance(error, TLSError) and not is_retryable(error)
    assert "SSL_CERT_FILE" in (error.hint or "")


def test_a_timeout_is_a_retryable_timeout_error() -> None:
    error = error_from_transport(httpx.ReadTimeout("read timed out"), URL, what="m")
    assert isinstance(error, APITimeoutError) and is_retryable(error)
    assert error.message == "https://ws.example.com did not answer in time for m (ReadTimeout)."
