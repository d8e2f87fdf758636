"""The identity check (`verify`): a web server that is not a workspace is named as such."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from lakecode.cli.app import cli
from lakecode.config.paths import settings_path
from lakecode.config.settings import DatabricksSettings
from lakecode.databricks.auth.login import SCIM_ME, SERVING_ENDPOINTS, verify
from lakecode.databricks.auth.resolve import ResolvedAuth, resolve_auth
from lakecode.databricks.auth.token_source import TokenSourceRegistry
from lakecode.errors import NotFoundError, WrongHostError

HOST = "https://some-site.example.com"
PAT = "dapi" + "4" * 32


def resolved(host: str = HOST) -> ResolvedAuth:
    return resolve_auth(DatabricksSettings(host=host, auth_type="pat"), secrets={"pat": SecretStr(PAT)},
                        token_registry=TokenSourceRegistry())


def answering(*responses: httpx.Response) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return queue.pop(0)

    return httpx.MockTransport(handler), seen


@pytest.mark.parametrize("body, content_type", [
    (b"", None),
    (b"404 page not found", "text/plain"),
    (b'{"detail": "Not Found"}', "application/json"),
])
async def test_bare_404s_mean_the_host_is_not_a_workspace(body: bytes, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    transport, seen = answering(httpx.Response(404, content=body, headers=headers),
                                httpx.Response(404, content=body, headers=headers))
    with pytest.raises(WrongHostError) as info:
        await verify(resolved(), transport=transport)
    assert seen == [SCIM_ME, SERVING_ENDPOINTS]
    assert info.value.message == (
        f"{HOST} does not look like a Databricks workspace API host: {SCIM_ME} and "
        f"{SERVING_ENDPOINTS} both answered HTTP 404 without a Databricks error "
        f"(content type {content_type or 'none'}).")
    assert info.value.hint == WrongHostError.default_hint
    assert info.value.url == f"{HOST}{SERVING_ENDPOINTS}"


async def test_a_databricks_404_is_still_a_not_found_error() -> None:
    error = json.dumps({"error_code": "ENDPOINT_NOT_FOUND", "message": "No API found"}).encode()
    transport, _ = answering(httpx.Response(404, content=error), httpx.Response(404, content=error))
    with pytest.raises(NotFoundError) as info:
        await verify(resolved(), transport=transport)
    assert info.value.error_code == "ENDPOINT_NOT_FOUND"


async def test_a_workspace_without_scim_is_verified_by_the_fallback() -> None:
    scim = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                       "detail": "not enabled", "status": "404"}).encode()
    transport, seen = answering(httpx.Response(404, content=scim),
                                httpx.Response(200, json={"endpoints": []}))
    who = await verify(resolved(), transport=transport)
    assert (who.checked_with, seen) == (SERVING_ENDPOINTS, [SCIM_ME, SERVING_ENDPOINTS])


class _Bare404(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_a_workspace() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bare404)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_login_to_a_site_that_is_not_a_workspace_says_so(not_a_workspace: str) -> None:
    result = CliRunner().invoke(cli, ["auth", "login", "--host", not_a_workspace, "--auth-type", "pat"],
                                input=PAT + "\n", catch_exceptions=False)
    assert result.exit_code == 4
    assert result.stderr.splitlines()[-2:] == [
        f"{not_a_workspace} does not look like a Databricks workspace API host: {SCIM_ME} and "
        f"{SERVING_ENDPOINTS} both answered HTTP 404 without a Databricks error (content type none).",
        f"  hint: {WrongHostError.default_hint}"]
    assert "lakecode models" not in result.stderr
    assert not settings_path().exists()
