"""``BearerAuth``: the ``httpx.Auth`` that puts the current token on every request.

Give it to any ``httpx.AsyncClient`` (or ``httpx.Client``) that talks to the workspace::

    client = httpx.AsyncClient(base_url=resolved.host, auth=resolved.auth)  # never follow redirects

Per request it

1. asks the token source for a current token (refreshing early, single flight) and sends
   ``Authorization: Bearer <token>``; an ``x-api-key`` header is removed, because Databricks
   accepts no other credential header on any route (F4);
2. if the answer is a 401, or a 400/403 whose body says the token is invalid or expired
   (``lakecode.llm.errors.is_invalid_token``, F2), refreshes once and retries the request once;
3. if the retried request is rejected again, or a refresh cannot produce a different token (a
   personal access token), raises ``AuthenticationError`` whose hint says how to sign in again,
   naming the host and profile. A 403 ``PERMISSION_DENIED`` is returned untouched: refreshing
   cannot grant a permission.

Only 400/401/403 bodies are read by the flow (``requires_response_body`` stays False), so
streamed responses reach the caller unbuffered.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from lakecode.databricks.auth.token_source import Token, TokenSource
from lakecode.errors import AuthenticationError
from lakecode.llm.errors import error_from_response, extract_error, is_invalid_token

__all__ = ["BearerAuth"]

_MAYBE_AUTH = frozenset({400, 401, 403})


def _rejects_token(response: httpx.Response) -> bool:
    """Whether a (read) response says the credential is invalid or expired."""
    if response.status_code not in _MAYBE_AUTH:
        return False
    info = extract_error(response.status_code, response.headers, response.content)
    return is_invalid_token(response.status_code, info.message)


class BearerAuth(httpx.Auth):
    """Authorize requests with a token source; refresh and retry once on an invalid token.

    Args:
        source: the identity's shared token source.
    """

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"BearerAuth({self.source.identity.describe()})"

    @staticmethod
    def _authorize(request: httpx.Request, token: Token) -> httpx.Request:
        request.headers["Authorization"] = token.authorization
        request.headers.pop("x-api-key", None)
        return request

    def _rejected(self, response: httpx.Response, *, refreshed: bool) -> AuthenticationError:
        error = error_from_response(response)
        message = error.message.rstrip()
        if not refreshed:
            stop = "" if message.endswith((".", "!", "?")) else "."
            message += f"{stop} The credential cannot be refreshed."
        status = response.status_code
        return AuthenticationError(message, hint=self.source.relogin_hint, status_code=status,
                                   error_code=getattr(error, "error_code", None), url=error.url,
                                   request_id=getattr(error, "request_id", None))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()  # the body must be replayable for the one retry
        token = await self.source.token()
        response = yield self._authorize(request, token)
        if response.status_code not in _MAYBE_AUTH:
            return
        await response.aread()
        if not _rejects_token(response):
            return
        fresh = await self.source.refresh(rejected=token)
        if fresh.access_token == token.access_token:
            raise self._rejected(response, refreshed=False)
        response = yield self._authorize(request, fresh)
        if response.status_code in _MAYBE_AUTH:
            await response.aread()
            if _rejects_token(response):
                raise self._rejected(response, refreshed=True)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()
        token = self.source.token_sync()
        response = yield self._authorize(request, token)
        if response.status_code not in _MAYBE_AUTH:
            return
        response.read()
        if not _rejects_token(response):
            return
        fresh = self.source.refresh_sync(rejected=token)
        if fresh.access_token == token.access_token:
            raise self._rejected(response, refreshed=False)
        response = yield self._authorize(request, fresh)
        if response.status_code in _MAYBE_AUTH:
            response.read()
            if _rejects_token(response):
                raise self._rejected(response, refreshed=True)
