"""DatabricksProvider against the workspace emulator: discovery, routes, recovery, F25–F30, F4."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from provider_helpers import SHELL, ask, provider_for, run, settings_for

from lakecode import __version__
from lakecode.config.store import load_settings, save_settings
from lakecode.emulator import Emulator, RequestRecord
from lakecode.errors import NotFoundError, ToolsUnsupportedError
from lakecode.llm.types import (
    ChatRequest,
    Message,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallComplete,
)
from lakecode.testing.fakes import FakeClock


def _chat_requests(emu: Emulator) -> list[RequestRecord]:
    return [r for r in emu.requests if r.method == "POST" and not r.path.startswith("/oidc")]


# ---- discovery --------------------------------------------------------------------------------


async def test_list_models_classifies_the_emulator_catalogue(emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        listing = await provider.list_models()
        everything = await provider.list_models(include_all=True)
    by_id = {m.id: m for m in listing.models}
    expected = {
        # id: (family, tools, route)
        "databricks-claude-sonnet-4-5": ("claude", True, "ai-gateway"),
        "databricks-claude-opus-4-7": ("claude", True, "ai-gateway"),
        "databricks-gpt-5-2": ("gpt", True, "ai-gateway"),
        "databricks-gpt-5-2-codex": ("gpt", True, "responses"),
        "databricks-gpt-oss-120b": ("gpt-oss", True, "ai-gateway"),
        "databricks-meta-llama-3-3-70b-instruct": ("llama", False, "ai-gateway"),
        "databricks-deepseek-r1": ("other", False, "serving-endpoints"),
        "team-llm-prod": ("gpt", True, "serving-endpoints"),
        "il_model_service.default.il-claude-sonnet-5": ("claude", True, "ai-gateway"),
    }
    for model_id, (family, tools, route) in expected.items():
        info = by_id[model_id]
        assert (info.family, info.supports_tools, info.route) == (family, tools, route), model_id
        assert info.source == "discovered"
    assert "databricks-gte-large-en" not in by_id and "churn-predictor" not in by_id
    assert by_id["team-llm-canary"].ready is False
    all_ids = {m.id for m in everything.models}
    assert {"databricks-gte-large-en", "churn-predictor"} <= all_ids
    # no duplicates although every FMAPI model is also a system.ai model service
    assert len(listing.models) == len({m.id for m in listing.models})
    assert not any(m.id.startswith("system.ai.") for m in everything.models)
    assert listing.status.startswith(f"{len(listing.models)} chat models on {emulator.url} (discovered")


async def test_f29_model_service_outside_system_ai_is_discovered(emulator: Emulator) -> None:
    """F29: il_model_service.default.il-claude-sonnet-5 is found; its id is the UC name and its
    display name is il-claude-sonnet-5; a request to it carries that id verbatim."""
    async with provider_for(emulator) as provider:
        listing = await provider.list_models()
        [info] = [m for m in listing.models if m.display_name == "il-claude-sonnet-5"]
        assert info.id == "il_model_service.default.il-claude-sonnet-5"
        emulator.scripted_model.enqueue(["from the UC service"])
        _, finish = await run(provider, ask(info.id))
    assert finish.message.text == "from the UC service"
    [sent] = _chat_requests(emulator)
    assert sent.path == "/ai-gateway/mlflow/v1/chat/completions"
    assert sent.json["model"] == "il_model_service.default.il-claude-sonnet-5"


async def test_f29_typed_id_unknown_to_discovery_is_accepted_and_saved_unchanged(
        emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        await provider.list_models()  # discovery runs (and is cached) without the new endpoint
        emulator.catalog.add({"name": "hand-typed.Model_v2", "function_calling": True,
                              "endpoint_type": "EXTERNAL_MODEL", "ai_gateway_v2_supported": False})
        assert await provider.model_info("hand-typed.Model_v2") is None
        emulator.scripted_model.enqueue(["typed ok"])
        _, finish = await run(provider, ask("hand-typed.Model_v2"))
    assert finish.message.text == "typed ok"
    assert _chat_requests(emulator)[-1].json["model"] == "hand-typed.Model_v2"
    settings = settings_for(emulator, model="hand-typed.Model_v2")
    save_settings(settings)
    assert load_settings().model == "hand-typed.Model_v2"


@pytest.mark.emulator_config(catalog=[])
async def test_f29_every_source_empty_shows_curated_entries_flagged(emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        listing = await provider.list_models()
    assert listing.models
    assert all(m.source == "curated" for m in listing.models)
    assert "curated" in listing.status and "unverified" in listing.status


async def test_f30_explicit_model_proceeds_when_listings_fail(emulator: Emulator) -> None:
    """F30: every listing answers 404; a headless-style turn with an explicit model proceeds and
    its requests use that model."""
    for path in ("/api/2.0/serving-endpoints*", "/api/2.1/unity-catalog/*", "/api/ai-gateway/*",
                 "/ai-gateway/codex/*"):
        emulator.faults.add(kind="status", status=404, path=path, count=None,
                            body={"error_code": "ENDPOINT_NOT_FOUND",
                                  "message": "codex/v1/models is not enabled for this workspace"})
    async with provider_for(emulator) as provider:
        listing = await provider.list_models()
        assert listing.warnings and all(m.source == "curated" for m in listing.models)
        emulator.scripted_model.enqueue(["proceeding"])
        _, finish = await run(provider, ask("databricks-gpt-5-2"))
    assert finish.message.text == "proceeding"
    chats = _chat_requests(emulator)
    assert chats and all(r.json["model"] == "databricks-gpt-5-2" for r in chats)


async def test_f30_model_services_499_on_page_one_then_success(emulator: Emulator) -> None:
    emulator.catalog.add({"name": "svc-only", "uc_name": "team.models.svc-only",
                          "serving_endpoint": False, "api_types": ["mlflow/v1/chat/completions"]})
    emulator.faults.add(kind="status", status=499, path="/api/2.1/unity-catalog/model-services",
                        count=1, body={"error_code": "CANCELLED", "message": "cancelled"})
    async with provider_for(emulator) as provider:
        listing = await provider.list_models()
    assert "team.models.svc-only" in {m.id for m in listing.models}
    listings = [r for r in emulator.requests if r.path == "/api/2.1/unity-catalog/model-services"]
    assert [r.status for r in listings][:2] == [499, 200]
    assert all(r.query.get("page_size") == "100" for r in listings)
    assert not any("model-services" in w for w in listing.warnings)


@pytest.mark.parametrize("html", [False, True])
async def test_f9_redirect_to_login_is_reported_as_wrong_host(emulator: Emulator, html: bool) -> None:
    emulator.faults.redirect_login(html=html, path="/api/*", count=None)
    emulator.faults.redirect_login(html=html, path="/ai-gateway/*", count=None)
    async with provider_for(emulator) as provider:
        listing = await provider.list_models()
    text = " ".join(listing.warnings)
    assert emulator.url in text and "does not look like a workspace API host" in text
    assert "not enabled" not in text.lower() and "not available" not in text.lower()
    assert not any(r.path.startswith("/login") for r in emulator.requests)


# ---- F25: ids verbatim, 404 once with suggestions --------------------------------------------


async def test_f25_discovered_id_is_sent_byte_identical(emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        listing = await provider.list_models()
        model = next(m.id for m in listing.models if m.id == "databricks-gpt-5-2")
        emulator.scripted_model.enqueue(["hi"])
        await run(provider, ask(model))
    assert _chat_requests(emulator)[-1].json["model"] == "databricks-gpt-5-2"


@pytest.mark.parametrize("route", ["serving-endpoints", "ai-gateway"])
async def test_f25_model_not_found_is_tried_once_with_suggestions(emulator: Emulator, route: str) -> None:
    emulator.catalog.add({"name": "databricks-gpt-6-astra", "api_types": ["mlflow/v1/chat/completions"],
                          "function_calling": True})
    async with provider_for(emulator, route=route) as provider:  # type: ignore[arg-type]
        with pytest.raises(NotFoundError) as caught:
            await run(provider, ask("gpt-6-astra"))
    assert "databricks-gpt-6-astra" in caught.value.suggestions
    assert "databricks-gpt-6-astra" in (caught.value.hint or "")
    tries = [r for r in _chat_requests(emulator) if (r.json or {}).get("model") == "gpt-6-astra"]
    assert len(tries) == 1


# ---- F26: unsupported parameters --------------------------------------------------------------


async def test_f26_curated_table_drops_temperature_on_the_first_request(emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        emulator.scripted_model.enqueue(["cool"])
        await run(provider, ask("databricks-claude-opus-4-7", temperature=0.2))
    [sent] = _chat_requests(emulator)
    assert "temperature" not in sent.json and sent.status == 200


async def test_f26_without_a_table_entry_one_400_then_heals_for_the_session(emulator: Emulator) -> None:
    model = "il_model_service.default.il-claude-sonnet-5"  # rejects temperature; not curated
    async with provider_for(emulator) as provider:
        emulator.scripted_model.enqueue(["one", "two"])
        await run(provider, ask(model, temperature=0.2))
        await run(provider, ask(model, temperature=0.2))
    sent = _chat_requests(emulator)
    assert [r.status for r in sent] == [400, 200, 200]
    assert "temperature" in sent[0].json
    assert "temperature" not in sent[1].json and "temperature" not in sent[2].json


# ---- F27: tools-unsupported and the tool-free credential check ------------------------------


async def test_f27_credential_check_is_tool_free_and_settings_still_save(emulator: Emulator) -> None:
    model = "databricks-meta-llama-3-3-70b-instruct"
    async with provider_for(emulator) as provider:
        check = await provider.check_credentials(model)
        assert check.model_ok is True and check.warning is None
        with pytest.raises(ToolsUnsupportedError) as caught:
            await run(provider, ask(model, tools=(SHELL,)))
    assert model in caught.value.message
    first, second = _chat_requests(emulator)
    assert "tools" not in first.json and "tool_choice" not in first.json
    assert "tools" in second.json and second.status == 400
    save_settings(settings_for(emulator, model=model))
    assert load_settings().model == model


async def test_credential_check_without_a_model_runs_discovery(emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        check = await provider.check_credentials()
    assert check.model is None and emulator.url in check.detail
    assert not any(r.method == "POST" for r in emulator.requests)


async def test_credential_check_warns_but_passes_for_a_missing_model(emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        check = await provider.check_credentials("no-such-model")
    assert check.model_ok is False and check.warning and "no-such-model" in check.warning


# ---- F28: tools from capabilities, full tool loop on the OpenAI-compatible route --------------


@pytest.mark.parametrize("stream", [True, False])
async def test_f28_tool_loop_with_an_uninformative_name(emulator: Emulator, stream: bool) -> None:
    async with provider_for(emulator) as provider:
        info = await provider.model_info("team-llm-prod")
        assert info is not None and info.supports_tools is True
        emulator.scripted_model.enqueue([
            {"tool_calls": [{"name": "shell", "arguments": {"command": "ls"}}]},
            "The directory has two files.",
        ])
        _, first = await run(provider, ask("team-llm-prod", "list files", tools=(SHELL,), stream=stream,
                                           tool_choice="auto"))
        assert first.reason == "tool_calls"
        [call] = first.message.tool_calls
        assert (call.name, dict(call.arguments)) == ("shell", {"command": "ls"})
        follow = replace(ask("team-llm-prod", tools=(SHELL,), stream=stream),
                         messages=(Message.user("list files"), first.message,
                                   Message.tool(call.id, "a.py\nb.py", name="shell")))
        _, final = await run(provider, follow)
    assert final.message.text == "The directory has two files."
    paths = {r.path for r in _chat_requests(emulator)}
    assert paths == {"/serving-endpoints/chat/completions"}


# ---- routes: tool round trip and reasoning on each route --------------------------------------


@pytest.mark.parametrize("route", ["serving-endpoints", "ai-gateway"])
async def test_streamed_tool_round_trip_and_reasoning_on_chat_routes(emulator: Emulator, route: str) -> None:
    path = {"serving-endpoints": "/serving-endpoints/chat/completions",
            "ai-gateway": "/ai-gateway/mlflow/v1/chat/completions"}[route]
    async with provider_for(emulator, route=route) as provider:  # type: ignore[arg-type]
        emulator.scripted_model.enqueue([
            {"tool_calls": [{"name": "shell", "arguments": {"command": "pwd"}}]},
            "You are in /work.",
            {"text": "42", "reasoning": "six times seven"},
        ])
        events, first = await run(provider, ask("databricks-claude-sonnet-4-5", "where am I",
                                                tools=(SHELL,)))
        completes = [e.call for e in events if isinstance(e, ToolCallComplete)]
        assert [(c.name, dict(c.arguments)) for c in completes] == [("shell", {"command": "pwd"})]
        call: ToolCall = first.message.tool_calls[0]
        history = (Message.user("where am I"), first.message, Message.tool(call.id, "/work"))
        _, second = await run(provider, ChatRequest("databricks-claude-sonnet-4-5", history,
                                                    tools=(SHELL,)))
        assert second.message.text == "You are in /work."
        events, third = await run(provider, ask("databricks-gpt-oss-120b", "the answer?"))
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "six times seven"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "42"
    assert third.message.text == "42"
    assert {r.path for r in _chat_requests(emulator)} == {path}


async def test_tool_round_trip_and_reasoning_effort_on_the_responses_route(emulator: Emulator) -> None:
    model = "databricks-gpt-5-2-codex"
    async with provider_for(emulator) as provider:
        emulator.scripted_model.enqueue([
            {"tool_calls": [{"name": "shell", "arguments": {"command": "make test"}}]},
            "All tests pass.",
        ])
        _, first = await run(provider, ask(model, "run tests", tools=(SHELL,), reasoning_effort="high"))
        call = first.message.tool_calls[0]
        assert call.name == "shell" and dict(call.arguments) == {"command": "make test"}
        history = (Message.user("run tests"), first.message, Message.tool(call.id, "ok"))
        _, second = await run(provider, ChatRequest(model, history, tools=(SHELL,),
                                                    reasoning_effort="high"))
    assert second.message.text == "All tests pass."
    sent = _chat_requests(emulator)
    assert {r.path for r in sent} == {"/serving-endpoints/responses"}
    assert sent[0].json["model"] == model and sent[0].json["reasoning"]["effort"] == "high"


async def test_wrong_route_moves_to_responses_once_and_remembers(emulator: Emulator) -> None:
    """A Responses-only model forced onto a chat route is moved to Responses after one 400."""
    async with provider_for(emulator, route="responses") as provider:
        assert (await provider.route_for("databricks-gpt-5-2-codex")).name == "responses"
    emulator.catalog.add({"name": "team-codeonly", "api_types": ["openai/v1/responses"],
                          "responses_only": True, "endpoint_type": "EXTERNAL_MODEL",
                          "ai_gateway_v2_supported": False})
    async with provider_for(emulator) as provider:
        await provider.list_models()
        emulator.scripted_model.enqueue(["first", "second"])
        await run(provider, ask("team-codeonly"))
        await run(provider, ask("team-codeonly"))
    paths = [(r.path, r.status) for r in _chat_requests(emulator)]
    assert paths == [("/serving-endpoints/chat/completions", 400), ("/serving-endpoints/responses", 200),
                     ("/serving-endpoints/responses", 200)]


# ---- gateway fallback ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["404", "501", "feature_disabled"])
async def test_gateway_absent_falls_back_once_and_is_remembered(emulator_factory, mode: str) -> None:  # type: ignore[no-untyped-def]
    emu = emulator_factory(gateway=mode)
    model = "databricks-claude-sonnet-4-5"
    async with provider_for(emu, discovery=None) as provider:
        assert (await provider.route_for(model)).name == "ai-gateway"
        emu.scripted_model.enqueue(["one", "two"])
        await run(provider, ask(model))
        await run(provider, ask(model))
    async with provider_for(emu) as again:  # a new provider in the same process
        assert (await again.route_for(model)).name == "serving-endpoints"
    sent = [(r.path, r.status) for r in _chat_requests(emu)]
    assert sent[0][0] == "/ai-gateway/mlflow/v1/chat/completions" and sent[0][1] >= 400
    assert sent[1:] == [("/serving-endpoints/chat/completions", 200)] * 2


# ---- F4 and the User-Agent ----------------------------------------------------------------------


async def test_f4_every_request_carries_bearer_and_no_api_key(emulator: Emulator) -> None:
    async with provider_for(emulator) as provider:
        await provider.list_models()
        emulator.scripted_model.enqueue(["a", "b", "c"])
        for model in ("databricks-claude-sonnet-4-5", "team-llm-prod", "databricks-gpt-5-2-codex"):
            await run(provider, ask(model))
    records = emulator.requests
    assert {r.path for r in records} >= {
        "/api/2.0/serving-endpoints", "/api/2.1/unity-catalog/model-services",
        "/ai-gateway/mlflow/v1/chat/completions", "/serving-endpoints/chat/completions",
        "/serving-endpoints/responses"}
    for record in records:
        assert record.auth_kind == "bearer", record.path
        assert record.token_id == Emulator.token_id(emulator.pat)
        assert record.header("x-api-key") is None
        ua = record.header("user-agent") or ""
        assert ua.startswith(f"lakecode/{__version__} ") and ua.endswith("auth/pat"), ua


# ---- a slow discovery never holds up a turn for long (F30) ----------------------------------


async def test_slow_listings_do_not_hold_up_a_turn(emulator: Emulator) -> None:
    for path in ("/api/*", "/ai-gateway/codex/*"):
        emulator.faults.add(kind="delay", delay=3.0, path=path, count=None)
    async with provider_for(emulator, discovery_wait=0.2) as provider:
        emulator.scripted_model.enqueue(["quick"])
        start = time.perf_counter()
        _, finish = await run(provider, ask("databricks-claude-opus-4-7", temperature=0.5))
        elapsed = time.perf_counter() - start
    assert finish.message.text == "quick"
    assert elapsed < 2.5
    [sent] = _chat_requests(emulator)
    # curated data still applies while discovery is pending: no temperature for Opus 4.7
    assert sent.json["model"] == "databricks-claude-opus-4-7" and "temperature" not in sent.json
    assert sent.path == "/serving-endpoints/chat/completions"  # name rules: no discovery yet


async def test_a_stale_listing_is_refreshed_in_the_background(emulator: Emulator) -> None:
    clock = FakeClock()
    async with provider_for(emulator, clock=clock) as provider:
        await provider.list_models()
        listings = len([r for r in emulator.requests if r.method == "GET"])
        clock.advance(301)
        emulator.scripted_model.enqueue(["still fine"])
        _, finish = await run(provider, ask("databricks-gpt-5-2"))
        assert finish.message.text == "still fine"
        assert provider._discovery is not None
        await provider._discovery
        assert len([r for r in emulator.requests if r.method == "GET"]) == 2 * listings
