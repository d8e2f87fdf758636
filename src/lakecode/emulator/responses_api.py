"""Responses API (placeholder)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from lakecode.emulator.errors import databricks_error


async def responses(request: Request) -> Response:
    return databricks_error(501, "NOT_IMPLEMENTED", "not yet")


async def gateway_responses(request: Request) -> Response:
    return databricks_error(501, "NOT_IMPLEMENTED", "not yet")
