"""Stream and response parsing (F15, F16, F17, F18) for chat completions and the Responses API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llm_helpers import (
    Recorder,
    chat_completion,
    chunk,
    finish_of,
    json_response,
    responses_sse,
    run,
    sse,
    sse_response,
    user_request,
)

from lakecode.errors import ContextOverflowError, ModelBehaviourError, RateLimitError, StreamError
from lakecode.llm.quirks import Dialect
from lakecode.llm.stream import ChatAssembler, parse_response_body, parse_tool_arguments
from lakecode.llm.types import (
    Finish,
    ReasoningDelta,
    ReasoningPart,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallComplete,
    ToolCallDelta,
    Usage,
    UsageUpdate,
)


async def stream_of(body: bytes, dialect: Dialect = Dialect.CHAT) -> list[StreamEvent]:
    return await run(Recorder([sse_response(body)]), user_request(), dialect=dialect)


def texts(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def reasoning(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


# ---- F15: deltas without content, tool calls split across chunks ----------------------------


F15_CHUNKS = [
    chunk({"role": "assistant"}),
    chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "f", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]}),
    chunk({}, finish="tool_calls"),
]


async def test_f15_tool_call_split_across_chunks() -> None:
    events = await stream_of(sse(F15_CHUNKS))
    completes = [e.call for e in events if isinstance(e, ToolCallComplete)]
    assert completes == [ToolCall(id="call_1", name="f", arguments={"a": 1}, arguments_json='{"a":1}')]
    finish = finish_of(events)
    assert finish.reason == "tool_calls" and finish.message.tool_calls == tuple(completes)
    assert finish.message.parts == ()
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas == [ToolCallDelta(0, "call_1", "f", ""), ToolCallDelta(0, None, None, '{"a":1}')]


async def test_f15_two_interleaved_calls_in_index_order() -> None:
    chunks = [
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "g", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a",
                               "function": {"name": "f", "arguments": "{\"x\""}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{\"y\": 2}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        chunk(finish="tool_calls"),
    ]
    events = await stream_of(sse(chunks))
    calls = finish_of(events).message.tool_calls
    assert [(c.id, c.name, dict(c.arguments)) for c in calls] == [
        ("call_a", "f", {"x": 1}), ("call_b", "g", {"y": 2})]


async def test_f15_leading_empty_object_fragment() -> None:
    chunks = [
        chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"path\":"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": " \"a.py\"}"}}]}, finish="tool_calls"),
    ]
    calls = finish_of(await stream_of(sse(chunks))).message.tool_calls
    assert dict(calls[0].arguments) == {"path": "a.py"}
    assert json.loads(calls[0].arguments_json) == {"path": "a.py"}


def test_tool_argument_repairs_and_failures() -> None:
    assert parse_tool_arguments("f", "") == {}
    assert parse_tool_arguments("f", "{}") == {}
    assert parse_tool_arguments("f", json.dumps(json.dumps({"a": 1}))) == {"a": 1}
    with pytest.raises(ModelBehaviourError, match="'f'"):
        parse_tool_arguments("f", "{\"a\": ")
    with pytest.raises(ModelBehaviourError):
        parse_tool_arguments("f", "[1, 2]")


async def test_unparseable_tool_arguments_raise_model_behaviour_error() -> None:
    bad = {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{oops"}}
    chunks = [chunk({"tool_calls": [bad]},
                    finish="tool_calls")]
    with pytest.raises(ModelBehaviourError, match="not a JSON object"):
        await stream_of(sse(chunks))


# ---- F16: usage-only chunks, cumulative usage, keep-alives, no [DONE] -----------------------


@pytest.mark.parametrize("done", [True, False])
async def test_f16_usage_only_chunk_with_empty_choices(done: bool) -> None:
    chunks: list[Any] = [
        chunk({"role": "assistant", "content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, finish="stop"),
        chunk(usage={"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}),
        {"usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}},  # no choices at all
    ]
    body = sse(chunks, done=done, extra=": keep-alive\n\n\n")
    body = body.replace(b"\n\ndata: ", b"\n\n: ping\n\n\ndata: ", 1)
    events = await stream_of(body)
    finish = finish_of(events)
    assert texts(events) == "Hello" and finish.message.text == "Hello"
    assert finish.usage == Usage(10, 3, 13, 0)
    assert [e.usage.completion_tokens for e in events if isinstance(e, UsageUpdate)] == [2, 3]


async def test_f16_cumulative_usage_keeps_the_last_never_sums() -> None:
    chunks = [
        chunk({"content": "a"}, usage={"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}),
        chunk({"content": "b"}, usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}),
        chunk({"content": "c"}, finish="stop",
              usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
                     "completion_tokens_details": {"reasoning_tokens": 1}}),
    ]
    finish = finish_of(await stream_of(sse(chunks, done=False)))
    assert finish.usage == Usage(5, 3, 8, 1)
    assert finish.message.text == "abc"


async def test_chunk_without_delta_is_tolerated() -> None:
    chunks = [{"choices": [{"index": 0}]}, chunk({"content": "x"}), {"choices": [{"index": 0,
              "finish_reason": "stop"}]}]
    assert finish_of(await stream_of(sse(chunks))).message.text == "x"


# ---- F17: content as a list of typed parts, in both modes -----------------------------------


F17_PARTS = [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}]},
             {"type": "text", "text": "answer"}, {"type": "foo", "bar": 1}]


def test_f17_non_streaming_typed_parts() -> None:
    events = parse_response_body(chat_completion({"role": "assistant", "content": F17_PARTS}), Dialect.CHAT)
    finish = finish_of(events)
    assert finish.message.text == "answer" and finish.message.reasoning == "think"
    assert texts(events) == "answer" and reasoning(events) == "think"
    assert finish.message.parts == (ReasoningPart("think", None, True), TextPart("answer"))


async def test_f17_streaming_one_element_part_lists() -> None:
    chunks = [
        chunk({"role": "assistant", "content": [{"type": "reasoning",
                                                  "summary": [{"type": "summary_text", "text": "thi"}]}]}),
        chunk({"content": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "nk"}]}]}),
        chunk({"content": [{"type": "text", "text": "ans"}]}),
        chunk({"content": [{"type": "foo"}]}),
        chunk({"content": [{"type": "text", "text": "wer"}]}, finish="stop"),
    ]
    events = await stream_of(sse(chunks))
    finish = finish_of(events)
    assert texts(events) == "answer" and reasoning(events) == "think"
    assert finish.message.parts == (ReasoningPart("think", None, True), TextPart("answer"))


@pytest.mark.parametrize("content", ["", None])
def test_f17_string_and_null_content(content: Any) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}
    events = parse_response_body(
        chat_completion({"role": "assistant", "content": content, "tool_calls": [call]}, finish="tool_calls"),
        Dialect.CHAT)
    finish = finish_of(events)
    assert finish.message.parts == () and finish.message.tool_calls[0].arguments == {"a": 1}
    assert not [e for e in events if isinstance(e, TextDelta)]


async def test_reasoning_content_string_is_not_replayable() -> None:
    chunks = [chunk({"reasoning_content": "hmm "}), chunk({"reasoning_content": "ok"}),
              chunk({"content": "done"}, finish="stop")]
    finish = finish_of(await stream_of(sse(chunks)))
    assert finish.message.parts == (ReasoningPart("hmm ok", None, replayable=False), TextPart("done"))


# ---- F18: late signature ---------------------------------------------------------------------


def _reasoning_chunk(text: str, signature: str) -> dict[str, Any]:
    return chunk({"content": [{"type": "reasoning",
                               "summary": [{"type": "summary_text", "text": text, "signature": signature}]}]})


async def test_f18_late_signature_kept_per_block() -> None:
    chunks = [chunk({"role": "assistant"}), _reasoning_chunk("Let me ", ""), _reasoning_chunk("think.", ""),
              _reasoning_chunk("", "sig-123"), chunk({"content": [{"type": "text", "text": "Answer"}]}),
              chunk({}, finish="stop")]
    events = await stream_of(sse(chunks))
    finish = finish_of(events)
    assert finish.message.parts == (ReasoningPart("Let me think.", "sig-123", True), TextPart("Answer"))
    signatures = [e.signature for e in events if isinstance(e, ReasoningDelta)]
    assert signatures == [None, None, "sig-123"]


async def test_f18_two_blocks_keep_their_own_signatures() -> None:
    chunks = [_reasoning_chunk("one", ""), _reasoning_chunk("", "s1"), chunk({"content": "text"}),
              _reasoning_chunk("two", "s2"), _reasoning_chunk("", ""), chunk({}, finish="stop")]
    finish = finish_of(await stream_of(sse(chunks)))
    assert finish.message.parts == (ReasoningPart("one", "s1"), TextPart("text"), ReasoningPart("two", "s2"))


# ---- truncated streams and in-stream errors --------------------------------------------------


async def test_stream_ending_before_finish_raises_stream_error() -> None:
    body = sse([chunk({"content": "partial"})], done=False)
    with pytest.raises(StreamError, match="ended before"):
        await stream_of(body)


async def test_done_without_finish_reason_finishes() -> None:
    finish = finish_of(await stream_of(sse([chunk({"content": "x"})], done=True)))
    assert finish.reason == "stop" and finish.message.text == "x"


async def test_error_event_inside_stream_is_classified() -> None:
    body = sse([chunk({"content": "x"}),
                {"error": {"message": "Input is too long for requested model.", "code": "BAD_REQUEST"}}])
    with pytest.raises(ContextOverflowError):
        await stream_of(body)
    body = sse([{"error": {"message": "Exceeded workspace QPS rate limit", "type": "rate_limit_exceeded"}}])
    with pytest.raises(RateLimitError):
        await run(Recorder([sse_response(body)]), user_request(), retry=_no_retry())


def _no_retry() -> Any:
    from lakecode.llm.retry import RetryPolicy
    return RetryPolicy(max_attempts=1)


async def test_garbage_event_raises_stream_error() -> None:
    with pytest.raises(StreamError, match="not JSON"):
        await run(Recorder([sse_response(b"data: {nope\n\n")]), user_request(), retry=_no_retry())


async def test_streaming_request_answered_with_json_is_parsed() -> None:
    body = chat_completion({"role": "assistant", "content": "plain"},
                           usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
    events = await run(Recorder([json_response(body)]), user_request())
    assert finish_of(events).message.text == "plain" and finish_of(events).usage.total_tokens == 2


def test_same_content_code_for_both_modes() -> None:
    message = {"role": "assistant", "content": F17_PARTS,
               "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
    whole = parse_response_body(chat_completion(message, finish="tool_calls"), Dialect.CHAT)
    streamed = ChatAssembler()
    events: list[StreamEvent] = []
    for part in F17_PARTS:
        events += streamed.feed_chunk(chunk({"content": [part]}))
    events += streamed.feed_chunk(chunk({"tool_calls": [{"index": 0, **message["tool_calls"][0]}]},
                                        finish="tool_calls"))
    events += streamed.finish()
    assert finish_of(whole) == finish_of(events)


# ---- Responses API ---------------------------------------------------------------------------


def _resp(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


RESPONSES_EVENTS = [
    _resp("response.created", response={"id": "resp_1", "status": "in_progress"}),
    _resp("response.output_item.added", output_index=0,
          item={"type": "reasoning", "id": "rs_1", "summary": []}),
    _resp("response.reasoning_summary_part.added", item_id="rs_1", output_index=0, summary_index=0),
    _resp("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, delta="Plan"),
    _resp("response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, delta=" it."),
    _resp("response.output_item.done", output_index=0,
          item={"type": "reasoning", "id": "rs_1", "encrypted_content": "enc-1",
                "summary": [{"type": "summary_text", "text": "Plan it."}]}),
    _resp("response.output_item.added", output_index=1,
          item={"type": "message", "id": "msg_1", "role": "assistant", "content": []}),
    _resp("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Run"),
    _resp("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="ning."),
    _resp("response.output_item.done", output_index=1,
          item={"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "Running."}]}),
    _resp("response.output_item.added", output_index=2,
          item={"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
                "arguments": ""}),
    _resp("response.function_call_arguments.delta", item_id="fc_1", output_index=2, delta="{\"cmd\":"),
    _resp("response.function_call_arguments.delta", item_id="fc_1", output_index=2, delta="\"ls\"}"),
    _resp("response.function_call_arguments.done", item_id="fc_1", output_index=2,
          arguments="{\"cmd\":\"ls\"}"),
    _resp("response.output_item.done", output_index=2,
          item={"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
                "arguments": "{\"cmd\":\"ls\"}"}),
    _resp("response.completed", response={
        "id": "resp_1", "status": "completed", "output": [],
        "usage": {"input_tokens": 20, "output_tokens": 9, "total_tokens": 29,
                  "output_tokens_details": {"reasoning_tokens": 4}}}),
]


def _check_responses_finish(finish: Finish) -> None:
    assert finish.reason == "tool_calls"
    assert finish.message.parts == (ReasoningPart("Plan it.", "enc-1", True, "rs_1"), TextPart("Running."))
    assert finish.message.tool_calls == (ToolCall("call_1", "shell", {"cmd": "ls"}, '{"cmd":"ls"}'),)
    assert finish.usage == Usage(20, 9, 29, 4)


async def test_responses_stream_events() -> None:
    events = await stream_of(responses_sse(RESPONSES_EVENTS), Dialect.RESPONSES)
    _check_responses_finish(finish_of(events))
    assert texts(events) == "Running." and reasoning(events) == "Plan it."
    fragments = [e.arguments_fragment for e in events if isinstance(e, ToolCallDelta)]
    assert fragments == ["", "{\"cmd\":", "\"ls\"}"]


def test_responses_non_streaming_body_same_result() -> None:
    body = {"id": "resp_1", "status": "completed", "output": [
        {"type": "reasoning", "id": "rs_1", "encrypted_content": "enc-1",
         "summary": [{"type": "summary_text", "text": "Plan it."}]},
        {"type": "message", "id": "msg_1", "role": "assistant",
         "content": [{"type": "output_text", "text": "Running."}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
         "arguments": "{\"cmd\":\"ls\"}"},
    ], "usage": RESPONSES_EVENTS[-1]["response"]["usage"]}
    _check_responses_finish(finish_of(parse_response_body(body, Dialect.RESPONSES)))


async def test_responses_incomplete_and_truncated() -> None:
    events = [_resp("response.output_text.delta", item_id="m", delta="cut"),
              _resp("response.incomplete", response={"status": "incomplete",
                                                     "incomplete_details": {"reason": "max_output_tokens"}})]
    finish = finish_of(await stream_of(responses_sse(events), Dialect.RESPONSES))
    assert finish.reason == "length" and finish.message.text == "cut"
    with pytest.raises(StreamError):
        await stream_of(responses_sse(events[:1]), Dialect.RESPONSES)


async def test_responses_failed_event_is_classified() -> None:
    events = [_resp("response.failed", response={"status": "failed", "error": {
        "code": "context_length_exceeded", "message": "Your input exceeds the context window"}})]
    with pytest.raises(ContextOverflowError):
        await stream_of(responses_sse(events), Dialect.RESPONSES)


async def test_mid_stream_disconnect_is_a_stream_error() -> None:
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield sse([chunk({"content": "partial"})], done=False)
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken())

    recorder = Recorder([answer])
    seen: list[StreamEvent] = []
    from llm_helpers import make_transport
    transport, client = make_transport(recorder)
    async with client:
        with pytest.raises(StreamError, match="dropped"):
            async for event in transport.stream("/x", user_request()):
                seen.append(event)
    assert seen == [TextDelta("partial")]
    assert len(recorder.requests) == 1  # never retried once something was yielded
