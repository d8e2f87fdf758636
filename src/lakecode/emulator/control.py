"""Control plane: serving-endpoint listings, Unity Catalog model services, gateway model lists."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lakecode.emulator.auth import credential
from lakecode.emulator.catalog import Endpoint
from lakecode.emulator.chat import gateway_absent
from lakecode.emulator.gate import current_state, error, guard

__all__ = [
    "anthropic_models",
    "codex_models",
    "endpoint_detail",
    "foundation_models",
    "gateway_v2_endpoints",
    "list_endpoints",
    "model_services",
    "scim_me",
]

_JSON = "application/json"


def render_endpoint(ep: Endpoint, *, foundation: bool = False, detail: bool = False) -> dict[str, Any]:
    """The ``Endpoint`` JSON shape of ``GET /api/2.0/serving-endpoints``."""
    index_ms = int(ep.uid[:6], 16) * 1000
    entity: dict[str, Any] = {"name": ep.served_model_name}
    if ep.endpoint_type == "FOUNDATION_MODEL_API":
        entity["entity_name"] = ep.uc_name or f"system.ai.{ep.name.removeprefix('databricks-')}"
        entity["entity_version"] = "1"
        fm: dict[str, Any] = {"name": ep.upstream_model, "display_name": ep.display_name}
        if foundation:
            fm["api_types"] = list(ep.api_types)
            fm["ai_gateway_v2_supported"] = bool(ep.ai_gateway_v2_supported)
        entity["foundation_model"] = fm
    elif ep.endpoint_type == "EXTERNAL_MODEL":
        entity["external_model"] = {
            "provider": ep.provider or "openai",
            "name": ep.upstream_model,
            "task": ep.task,
        }
    else:
        entity["entity_name"] = ep.entity_name or f"main.default.{ep.name.replace('-', '_')}"
        entity["entity_version"] = "3"
    if detail:
        entity["state"] = {
            "deployment": "DEPLOYMENT_READY" if ep.ready else "DEPLOYMENT_CREATING",
            "deployment_state_message": "" if ep.ready else "Served entity creation is pending",
        }
    out: dict[str, Any] = {
        "name": ep.name,
        "id": ep.uid,
        "creator": "emulator-admin@example.com",
        "creation_timestamp": 1_735_689_600_000 + index_ms,
        "last_updated_timestamp": 1_735_689_600_000 + index_ms,
        "state": {"ready": "READY" if ep.ready else "NOT_READY", "config_update": "NOT_UPDATING"},
        "config": {"served_entities": [entity]},
        "tags": [],
        "permission_level": "CAN_QUERY",
        "endpoint_type": ep.endpoint_type,
        "capabilities": {"function_calling": ep.function_calling},
    }
    if ep.task is not None:
        out["task"] = ep.task
    if ep.qps_limit is not None:
        out["ai_gateway"] = {
            "rate_limits": [{"calls": ep.qps_limit * 60, "renewal_period": "minute", "key": "endpoint"}]
        }
    if ep.description:
        out["description"] = ep.description
    if detail:
        out["config"]["config_version"] = 1
        out["config"]["traffic_config"] = {
            "routes": [{"served_model_name": ep.served_model_name, "traffic_percentage": 100}]
        }
        out["route_optimized"] = False
    return out


async def list_endpoints(request: Request) -> Response:
    """``GET /api/2.0/serving-endpoints``: every serving endpoint, not paginated."""
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    data = st.catalog.cached(
        "list",
        lambda: {"endpoints": [render_endpoint(e) for e in st.catalog.endpoints if e.serving_endpoint]},
    )
    return Response(data, media_type=_JSON)


async def foundation_models(request: Request) -> Response:
    """``GET /api/2.0/serving-endpoints:foundation-models``: FMAPI endpoints with ``api_types``."""
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    data = st.catalog.cached(
        "fm",
        lambda: {
            "endpoints": [
                render_endpoint(e, foundation=True)
                for e in st.catalog.endpoints
                if e.serving_endpoint and e.endpoint_type == "FOUNDATION_MODEL_API"
            ]
        },
    )
    return Response(data, media_type=_JSON)


async def endpoint_detail(request: Request) -> Response:
    """``GET /api/2.0/serving-endpoints/{name}``."""
    st = current_state(request)
    name = request.path_params["name"]
    denied = await guard(request, st, name)
    if denied is not None:
        return denied
    ep = st.catalog.serving(name)
    if ep is None:
        return error(st, 404, "RESOURCE_DOES_NOT_EXIST", f"Endpoint with name '{name}' does not exist.")
    return Response(json.dumps(render_endpoint(ep, detail=True), separators=(",", ":")), media_type=_JSON)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(raw.removeprefix("offset:")) if raw.startswith("offset:") else None
    except ValueError:
        return None


def _page(items: list[Any], size: int, token: str | None) -> tuple[list[Any], str | None] | None:
    start = _offset(token)
    if start is None:
        return None
    chunk = items[start : start + size]
    nxt = _token(start + size) if start + size < len(items) else None
    return chunk, nxt


async def model_services(request: Request) -> Response:
    """``GET /api/2.1/unity-catalog/model-services`` (``parent``, ``page_size`` 1..100, paging)."""
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    if (
        st.config.model_services_require_org_id
        and request.headers.get("x-databricks-org-id") != st.workspace_id
    ):
        return error(st, 400, "INVALID_PARAMETER_VALUE", "Invalid MetastoreId")
    q = request.query_params
    size_raw = q.get("page_size")
    # The real listing times out (499) when it is asked for everything at once.
    if size_raw is None or not size_raw.isdigit() or int(size_raw) > 100:
        return error(st, 499, "CANCELLED", "The request was cancelled: page_size must be set (at most 100).")
    size = int(size_raw)
    if size < 1:
        return error(st, 400, "INVALID_PARAMETER_VALUE", "page_size must be between 1 and 100.")
    parent = q.get("parent")
    services = [e for e in st.catalog.endpoints if e.uc_name]
    if parent:
        schema = parent.removeprefix("schemas/")
        services = [e for e in services if (e.uc_name or "").rsplit(".", 1)[0] == schema]
    page = _page(services, size, q.get("page_token"))
    if page is None:
        return error(st, 400, "INVALID_PARAMETER_VALUE", "Invalid page_token.")
    chunk, nxt = page
    body: dict[str, Any] = {"model_services": [_uc_service(e) for e in chunk]}
    if nxt:
        body["next_page_token"] = nxt
    return Response(json.dumps(body, separators=(",", ":")), media_type=_JSON)


def _uc_service(ep: Endpoint) -> dict[str, Any]:
    return {
        "name": f"model-services/{ep.uc_name}",
        "supported_api_types": list(ep.api_types),
        "config": {"routing": {"destinations": [{"name": ep.name, "is_deleted": False}]}},
        "comment": ep.display_name,
        "create_time": "2025-01-01T00:00:00Z",
        "created_by": "emulator-admin@example.com",
        "etag": ep.uid[:16],
    }


async def gateway_v2_endpoints(request: Request) -> Response:
    """``GET /api/ai-gateway/v2/endpoints`` (paged by ``page_size``/``page_token``)."""
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    absent = gateway_absent(st)
    if absent is not None:
        return absent
    size_raw = request.query_params.get("page_size", "100")
    size = int(size_raw) if size_raw.isdigit() else 100
    items = [e for e in st.catalog.endpoints if e.ai_gateway_v2_supported and e.task == "llm/v1/chat"]
    page = _page(items, max(1, min(size, 1000)), request.query_params.get("page_token"))
    if page is None:
        return error(st, 400, "INVALID_PARAMETER_VALUE", "Invalid page_token.")
    chunk, nxt = page
    body: dict[str, Any] = {
        "endpoints": [
            {
                "name": e.name,
                "uc_name": e.uc_name,
                "task": e.task,
                "api_types": list(e.api_types),
                "state": "READY" if e.ready else "NOT_READY",
                "capabilities": {"function_calling": e.function_calling},
            }
            for e in chunk
        ]
    }
    if nxt:
        body["next_page_token"] = nxt
    return Response(json.dumps(body, separators=(",", ":")), media_type=_JSON)


async def anthropic_models(request: Request) -> Response:
    """``GET /ai-gateway/anthropic/v1/models``: ``{data: [{id, ...}]}`` for Claude models."""
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    absent = gateway_absent(st)
    if absent is not None:
        return absent
    ids = [e for e in st.catalog.endpoints if "anthropic/v1/messages" in e.api_types]
    data = [
        {"type": "model", "id": e.name, "display_name": e.display_name, "created_at": "2025-01-01T00:00:00Z"}
        for e in ids
    ]
    body = {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
    return Response(json.dumps(body, separators=(",", ":")), media_type=_JSON)


async def codex_models(request: Request) -> Response:
    """``GET /ai-gateway/codex/v1/models``; 404 ``ENDPOINT_NOT_FOUND`` when switched off."""
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    absent = gateway_absent(st)
    if absent is not None:
        return absent
    if not st.config.codex_models:
        return error(st, 404, "ENDPOINT_NOT_FOUND", "codex/v1/models is not enabled for this workspace")
    data = [
        {"id": e.name, "object": "model", "created": 1_735_689_600, "owned_by": "databricks"}
        for e in st.catalog.endpoints
        if e.codex
    ]
    return Response(json.dumps({"object": "list", "data": data}, separators=(",", ":")), media_type=_JSON)


async def scim_me(request: Request) -> Response:
    """``GET /api/2.0/preview/scim/v2/Me``: the identity behind the credential.

    Users (PATs, browser sign-in) come back with ``userName``; service principals (M2M) with
    their application id as ``userName`` too, as the real workspace does.
    """
    st = current_state(request)
    denied = await guard(request, st)
    if denied is not None:
        return denied
    _, token = credential(request.headers)
    record = st.tokens.record(token) if token else None
    subject = record.subject if record is not None else "unknown"
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": str(int(hashlib.sha256(subject.encode()).hexdigest()[:12], 16)),
        "userName": subject,
        "displayName": subject.split("@")[0],
        "active": True,
        "emails": [{"value": subject, "type": "work", "primary": True}] if "@" in subject else [],
    }
    return Response(json.dumps(body), media_type=_JSON)
