"""The generic OpenAI-compatible provider over httpx.MockTransport."""

from __future__ import annotations

import httpx
from llm_helpers import Recorder, chunk, collect, finish_of, json_response, sse, sse_response, user_request

from lakecode.llm.openai_compat import OpenAICompatibleProvider, build_openai_compatible_provider
from lakecode.llm.provider import Provider
from lakecode.llm.quirks import ModelQuirks
from lakecode.testing.fakes import FakeClock

KEY = "sk-test-0123456789abcdef"


def provider_for(recorder: Recorder, **kw: object) -> tuple[OpenAICompatibleProvider, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    provider = build_openai_compatible_provider("https://llm.example.com/v1/", KEY, clock=FakeClock(),
                                                http=client, **kw)  # type: ignore[arg-type]
    return provider, client


async def test_is_a_provider_and_lists_models() -> None:
    recorder = Recorder([json_response({"object": "list", "data": [
        {"id": "gpt-b", "object": "model"}, {"id": "gpt-a"}, {"id": "gpt-a"}, {"nope": 1}]})])
    provider, client = provider_for(recorder)
    async with client:
        assert isinstance(provider, Provider) and provider.name == "openai-compatible"
        listing = await provider.list_models()
        assert [m.id for m in listing.models] == ["gpt-a", "gpt-b"] and not listing.warnings
        assert all(m.source == "discovered" for m in listing.models)
        assert (await provider.model_info("gpt-b")) is not None and await provider.model_info("x") is None
        await provider.list_models()  # cached
        await provider.list_models(refresh=True)
    assert [str(r.url) for r in recorder.requests] == ["https://llm.example.com/v1/models"] * 2
    request = recorder.requests[0]
    assert request.headers["authorization"] == f"Bearer {KEY}" and "x-api-key" not in request.headers
    assert request.headers["user-agent"].startswith("lakecode/")


async def test_listing_failure_is_a_warning_not_an_error() -> None:
    for answer in (json_response({"error": {"message": "nope"}}, status=500),
                   httpx.ConnectError("refused"),
                   httpx.Response(200, content=b"not json"),
                   httpx.Response(302, headers={"location": "/login"})):
        provider, client = provider_for(Recorder([answer]))
        async with client:
            listing = await provider.list_models()
        assert listing.models == () and len(listing.warnings) == 1
        assert "Could not list models" in listing.warnings[0] and KEY not in listing.warnings[0]


async def test_stream_chat_posts_to_chat_completions_with_model_quirks() -> None:
    recorder = Recorder([sse_response(sse([chunk({"content": "hi"}), chunk(finish="stop")]))])
    provider, client = provider_for(recorder, model_quirks={
        "o-model": ModelQuirks(unsupported_params=frozenset({"temperature"}), stream_usage=False)})
    async with client:
        events = await collect(provider.stream_chat(user_request(model="o-model", temperature=0.3)))
    assert finish_of(events).message.text == "hi"
    (request,) = recorder.requests
    assert str(request.url) == "https://llm.example.com/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = recorder.bodies()[0]
    assert body["model"] == "o-model" and "temperature" not in body and "stream_options" not in body


async def test_no_api_key_sends_no_authorization_and_aclose_closes_owned_client() -> None:
    provider = build_openai_compatible_provider("http://127.0.0.1:11434/v1", None)
    await provider.aclose()
    recorder = Recorder([json_response({"data": []})])
    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    shared = build_openai_compatible_provider("http://127.0.0.1:11434/v1", "", http=client)
    await shared.list_models()
    assert "authorization" not in recorder.requests[0].headers
    await shared.aclose()
    assert not client.is_closed  # not owned: left open
    await client.aclose()
