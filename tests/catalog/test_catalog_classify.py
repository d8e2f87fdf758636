"""Classification (pure): chat, tools, family, route, readiness, curated joins, quirks; merging."""

from __future__ import annotations

import json

import pytest

from lakecode.databricks.catalog.classify import (
    classify_record,
    family_of,
    is_chat,
    route_of,
    traits_for,
)
from lakecode.databricks.catalog.curated import CuratedList, load_curated, parse_curated
from lakecode.databricks.catalog.records import (
    EndpointRecord,
    merge_records,
    record_from_dict,
    record_from_row,
    record_to_dict,
    record_to_row,
)

CURATED = load_curated()
EMPTY = CuratedList(())


def rec(id: str, **kw: object) -> EndpointRecord:
    kw.setdefault("sources", ("serving-endpoints",))
    return EndpointRecord(id=id, **kw)  # type: ignore[arg-type]


# ---- tools: discovery or curated data, never the name (F28) ---------------------------------


def test_tools_from_function_calling_capability_for_an_uninformative_name() -> None:
    """F28: team-llm-prod with capabilities.function_calling true gets tools."""
    info = classify_record(rec("team-llm-prod", task="llm/v1/chat", endpoint_type="EXTERNAL_MODEL",
                               function_calling=True), CURATED)
    assert info.supports_tools is True
    assert info.chat is True
    assert info.id == "team-llm-prod"


def test_tools_are_never_guessed_from_a_name() -> None:
    """F28: names that look tool-capable give 'unknown' without discovery or curated data."""
    for name in ("my-claude-sonnet-4-5-tools", "databricks-claude-sonnet-9", "gpt-5-function-calling"):
        info = classify_record(rec(name, task="llm/v1/chat"), CURATED)
        assert info.supports_tools is None, name


def test_discovery_beats_curated_tool_flag() -> None:
    info = classify_record(rec("databricks-claude-sonnet-4-5", task="llm/v1/chat",
                               function_calling=False), CURATED)
    assert info.supports_tools is False


def test_curated_tool_flag_fills_a_gap() -> None:
    info = classify_record(rec("databricks-meta-llama-3-3-70b-instruct", task="llm/v1/chat"), CURATED)
    assert info.supports_tools is False
    info = classify_record(rec("databricks-claude-sonnet-4-5", task="llm/v1/chat"), CURATED)
    assert info.supports_tools is True


# ---- chat or not ---------------------------------------------------------------------------


@pytest.mark.parametrize(("record", "chat"), [
    (rec("a", task="llm/v1/chat"), True),
    (rec("a", task="llm/v1/embeddings"), False),
    (rec("a", task="llm/v1/completions"), False),
    (rec("a", task=None, endpoint_type="CUSTOM_MODEL"), False),
    (rec("a", task="llm/v1/chat", endpoint_type="CUSTOM_MODEL"), False),
    (rec("a"), False),  # a serving endpoint with no task: a custom model
    (rec("a", api_types=("openai/v1/embeddings",)), False),
    (rec("a", api_types=("mlflow/v1/responses",)), True),
    (rec("a", api_types=("anthropic/v1/messages",)), True),
    (rec("a", sources=("model-services",)), True),
    (rec("a", sources=("codex",), responses_only=True), True),
])
def test_is_chat(record: EndpointRecord, chat: bool) -> None:
    assert is_chat(record) is chat


def test_embeddings_are_listable_but_not_chat() -> None:
    info = classify_record(rec("databricks-gte-large-en", task="llm/v1/embeddings"), CURATED)
    assert info.chat is False and info.route is None and info.supports_tools is False


def test_not_ready_is_flagged() -> None:
    assert classify_record(rec("x", task="llm/v1/chat", ready=False), EMPTY).ready is False
    assert classify_record(rec("x", task="llm/v1/chat"), EMPTY).ready is True


# ---- route ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("record", "route"), [
    # discovered API types first
    (rec("m", api_types=("mlflow/v1/chat/completions",), gateway=True), "ai-gateway"),
    (rec("m", api_types=("mlflow/v1/chat/completions",), gateway=False), "serving-endpoints"),
    (rec("m", api_types=("mlflow/v1/chat/completions", "mlflow/v1/responses")), "serving-endpoints"),
    (rec("m", api_types=("mlflow/v1/responses", "openai/v1/responses")), "responses"),
    # a chat-looking name with Responses-only api types: discovery wins over the name
    (rec("plain-chat-name", api_types=("openai/v1/responses",)), "responses"),
    # a codex name that discovery says speaks chat completions: discovery wins
    (rec("team-codex-proxy", task="llm/v1/chat"), "serving-endpoints"),
    (rec("m", sources=("codex",), responses_only=True), "responses"),
    (rec("m", task="llm/v1/chat"), "serving-endpoints"),
    (rec("cat.schema.svc", sources=("model-services",)), "ai-gateway"),
    # name rules only as the fallback
    (rec("my-codex-thing", sources=("model-services",)), "responses"),
])
def test_route(record: EndpointRecord, route: str) -> None:
    assert route_of(record) == route


def test_curated_route_applies_only_without_discovered_signal() -> None:
    entry = CURATED.get("databricks-gpt-5-3-codex")
    assert entry is not None and entry.route == "responses"
    assert route_of(rec("databricks-gpt-5-3-codex", sources=("model-services",)), entry) == "responses"


# ---- family (display only) -----------------------------------------------------------------


@pytest.mark.parametrize(("names", "family"), [
    (("databricks-claude-sonnet-4-5",), "claude"),
    (("databricks-gpt-oss-120b",), "gpt-oss"),
    (("databricks-gpt-5-2",), "gpt"),
    (("databricks-gpt-5-2-codex",), "gpt"),
    (("databricks-gemini-2-5-pro",), "gemini"),
    (("databricks-gemma-3-12b",), "other"),
    (("databricks-meta-llama-3-3-70b-instruct",), "llama"),
    (("team-llm-prod", "gpt-4.1-2025-04-14", None, "openai"), "gpt"),
    (("team-llm-canary", None, None, "anthropic"), "claude"),
    (("databricks-qwen3-next-80b-a3b-instruct",), "other"),
])
def test_family(names: tuple[str | None, ...], family: str) -> None:
    assert family_of(*names) == family


# ---- curated joins and quirks --------------------------------------------------------------


def test_curated_facts_join_a_discovered_model() -> None:
    info = classify_record(rec("databricks-claude-opus-4-7", task="llm/v1/chat"), CURATED)
    assert info.unsupported_params == {"temperature", "top_p", "top_k"}
    assert info.display_name == "Claude Opus 4.7"
    assert info.source == "discovered"
    maverick = classify_record(rec("databricks-llama-4-maverick", task="llm/v1/chat"), CURATED)
    assert maverick.max_output_tokens == 8192 and maverick.recommended
    oss = classify_record(rec("databricks-gpt-oss-120b", task="llm/v1/chat"), CURATED)
    assert oss.max_output_tokens == 25000


def test_traits_for_the_transport() -> None:
    llama = traits_for("databricks-meta-llama-3-3-70b-instruct", None, CURATED)
    assert llama.list_content is False and llama.supports_tools is False
    opus = traits_for("databricks-claude-opus-4-7", None, CURATED)
    assert opus.unsupported_params >= {"temperature"} and opus.reasoning == "adaptive"
    unknown = traits_for("team-llm-prod", None, CURATED)
    assert unknown.supports_tools is None and unknown.list_content and unknown.reasoning is None
    gemini = traits_for("databricks-gemini-2-5-pro", None, CURATED)
    assert "stream_options" in gemini.unsupported_params


def test_display_name_is_kept_apart_from_the_id() -> None:
    """F25: the id stays verbatim; a human name lives in display_name."""
    info = classify_record(rec("databricks-gpt-5-2", task="llm/v1/chat", display_name="GPT-5.2"), EMPTY)
    assert info.id == "databricks-gpt-5-2" and info.display_name == "GPT-5.2"
    uc = classify_record(rec("il_model_service.default.il-claude-sonnet-5",
                             sources=("model-services",)), EMPTY)
    assert uc.id == "il_model_service.default.il-claude-sonnet-5"
    assert uc.display_name == "il-claude-sonnet-5"
    assert uc.family == "claude" and uc.route == "ai-gateway"


# ---- merging -------------------------------------------------------------------------------


def test_merge_unions_sources_without_duplicates() -> None:
    a = [rec("m1", task="llm/v1/chat"), rec("m2", task="llm/v1/chat")]
    b = [rec("m1", sources=("foundation-models",), api_types=("mlflow/v1/chat/completions",),
             gateway=True, function_calling=True)]
    merged = merge_records([a, b])
    assert [r.id for r in merged] == ["m1", "m2"]
    assert merged[0].sources == ("serving-endpoints", "foundation-models")
    assert merged[0].api_types == ("mlflow/v1/chat/completions",)
    assert merged[0].function_calling is True and merged[0].gateway is True


def test_merge_folds_system_ai_alias_into_the_endpoint() -> None:
    merged = merge_records([
        [rec("databricks-gpt-5-2", task="llm/v1/chat")],
        [rec("system.ai.gpt-5-2", sources=("model-services",), api_types=("mlflow/v1/responses",),
             aliases=("databricks-gpt-5-2",)),
         rec("il_model_service.default.il-claude-sonnet-5", sources=("model-services",))],
    ])
    ids = [r.id for r in merged]
    assert ids == ["databricks-gpt-5-2", "il_model_service.default.il-claude-sonnet-5"]
    assert merged[0].sources == ("serving-endpoints", "model-services")
    assert merged[0].aliases == ("system.ai.gpt-5-2",)


def test_merge_folds_gateway_entries_into_the_listed_id() -> None:
    """A v2 gateway entry names its UC name: one model, kept under the model-service id
    (no serving endpoint) or the serving endpoint's name (when one is listed)."""
    merged = merge_records([
        [rec("synthetic-00001", task="llm/v1/chat")],
        [rec("il_model_service.default.il-claude-sonnet-5", sources=("model-services",)),
         rec("synthetic.models.synthetic-00001", sources=("model-services",))],
        [rec("il-claude-sonnet-5", sources=("ai-gateway-v2",), function_calling=True,
             aliases=("il_model_service.default.il-claude-sonnet-5",)),
         rec("synthetic-00001", sources=("ai-gateway-v2",),
             aliases=("synthetic.models.synthetic-00001",))],
    ])
    by_id = {r.id: r for r in merged}
    assert set(by_id) == {"synthetic-00001", "il_model_service.default.il-claude-sonnet-5"}
    il = by_id["il_model_service.default.il-claude-sonnet-5"]
    assert il.function_calling is True and il.aliases == ("il-claude-sonnet-5",)
    assert by_id["synthetic-00001"].aliases == ("synthetic.models.synthetic-00001",)


def test_merge_keeps_a_lone_system_ai_id_verbatim() -> None:
    merged = merge_records([[rec("system.ai.claude-sonnet-4-5", sources=("model-services",))]])
    assert [r.id for r in merged] == ["system.ai.claude-sonnet-4-5"]
    info = classify_record(merged[0], CURATED)
    assert info.id == "system.ai.claude-sonnet-4-5"
    assert info.display_name == "Claude Sonnet 4.5"  # curated found through the alias


def test_record_round_trips_through_json_dict() -> None:
    record = rec("x", task="llm/v1/chat", api_types=("a", "b"), function_calling=False,
                 responses_only=True, gateway=True)
    assert record_from_dict(record_to_dict(record)) == record
    assert record_from_row(json.loads(json.dumps(record_to_row(record)))) == record
    with pytest.raises(ValueError):
        record_from_dict({"task": "x"})
    with pytest.raises(ValueError):
        record_from_row(["x", ["a"]])


# ---- the curated file ----------------------------------------------------------------------


def test_curated_list_has_well_attested_names_and_one_recommended_per_family() -> None:
    ids = {e.id for e in CURATED.entries}
    for name in ("databricks-claude-sonnet-4-5", "databricks-gpt-5-2", "databricks-gpt-oss-120b",
                 "databricks-gemini-2-5-pro", "databricks-meta-llama-3-3-70b-instruct",
                 "databricks-llama-4-maverick", "databricks-gpt-5-2-codex", "databricks-gte-large-en"):
        assert name in ids
    recommended = {e.family for e in CURATED.entries if e.recommended}
    assert recommended >= {"claude", "gpt", "gemini", "gpt-oss", "llama"}


@pytest.mark.parametrize("text", [
    '[[model]]\nid = "a"\nbogus = 1\n',
    '[[model]]\nfamily = "claude"\n',
    '[[model]]\nid = "a"\nfamily = "martian"\n',
    '[[model]]\nid = "a"\nreasoning = "loud"\n',
    '[[model]]\nid = "a"\nroute = "ai-gateway"\n',
    '[[model]]\nid = "a"\nmax_tokens = 0\n',
    '[[model]]\nid = "a"\n[[model]]\nid = "a"\n',
])
def test_curated_validation(text: str) -> None:
    with pytest.raises(ValueError):
        parse_curated(text)
