"""The Starlette application: every emulated route, the request log, and the admin routes."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lakecode.emulator import admin, anthropic_api, chat, control, oauth, responses_api
from lakecode.emulator.errors import databricks_error
from lakecode.emulator.gate import current_state, guard
from lakecode.emulator.requestlog import RequestLog, RequestLogMiddleware
from lakecode.emulator.state import EmulatorState

__all__ = ["StateRef", "build_app"]


@dataclass
class StateRef:
    """Points at the state currently served; ``Emulator.reset`` swaps it."""

    current: EmulatorState


async def _not_found(request: Request) -> Response:
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    return databricks_error(
        404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.url.path}'"
    )


def _routes() -> list[BaseRoute]:
    return [
        Route("/.well-known/databricks-config", oauth.host_metadata),
        Route("/oidc/.well-known/oauth-authorization-server", oauth.oidc_discovery),
        Route("/oidc/v1/authorize", oauth.authorize, methods=["GET"]),
        Route("/oidc/v1/authorize", oauth.authorize_consent, methods=["POST"]),
        Route("/oidc/v1/token", oauth.token, methods=["POST"]),
        Route("/api/2.0/serving-endpoints", control.list_endpoints),
        Route("/api/2.0/serving-endpoints:foundation-models", control.foundation_models),
        Route("/api/2.0/serving-endpoints/{name}", control.endpoint_detail),
        Route("/api/2.1/unity-catalog/model-services", control.model_services),
        Route("/api/2.0/preview/scim/v2/Me", control.scim_me),
        Route("/api/ai-gateway/v2/endpoints", control.gateway_v2_endpoints),
        Route("/ai-gateway/anthropic/v1/models", control.anthropic_models),
        Route("/ai-gateway/codex/v1/models", control.codex_models),
        Route("/serving-endpoints/chat/completions", chat.chat_completions, methods=["POST"]),
        Route("/serving-endpoints/embeddings", chat.embeddings, methods=["POST"]),
        Route("/serving-endpoints/responses", responses_api.responses, methods=["POST"]),
        Route("/serving-endpoints/anthropic/v1/messages", anthropic_api.messages, methods=["POST"]),
        Route("/serving-endpoints/{name}/invocations", chat.invocations, methods=["POST"]),
        Route("/serving-endpoints/{rest:path}", chat.serving_subpath, methods=["GET", "POST"]),
        Route("/ai-gateway/mlflow/v1/chat/completions", chat.gateway_chat, methods=["POST"]),
        Route("/ai-gateway/mlflow/v1/responses", responses_api.gateway_responses, methods=["POST"]),
        Route("/ai-gateway/anthropic/v1/messages", anthropic_api.gateway_messages, methods=["POST"]),
        *admin.routes(),
        Route("/{rest:path}", _not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]


def build_app(ref: StateRef) -> Starlette:
    """The ASGI app serving whatever state ``ref`` points at."""
    app = Starlette(routes=_routes())
    app.state.ref = ref

    def sink() -> tuple[RequestLog, str]:
        return ref.current.log, ref.current.workspace_id

    app.add_middleware(RequestLogMiddleware, sink=sink)
    return app
