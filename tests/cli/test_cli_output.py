"""The human renderer of lakecode run: a live line while the model streams, on a terminal only."""

from __future__ import annotations

import io

from lakecode.agent.events import AssistantMessage, TextChunk, ToolCallStreaming, TurnStarted
from lakecode.cli.output import Progress
from lakecode.llm.types import Message


def _run(live: bool) -> tuple[str, str]:
    answer, log = io.StringIO(), io.StringIO()
    progress = Progress(answer, log, live=live)
    for event in (TurnStarted(1), TextChunk("Hello"), TextChunk(", world"), ToolCallStreaming(0, "shell"),
                  AssistantMessage(1, Message.assistant("Hello, world"), "stop")):
        progress.event(event)
    return answer.getvalue(), log.getvalue()


def test_a_terminal_sees_the_stream_progress_on_one_line_that_is_cleared() -> None:
    answer, log = _run(live=True)
    assert answer == "Hello, world\n"
    assert log == ("turn 1\n"
                   "\r\x1b[2K  … writing (5 characters)"
                   "\r\x1b[2K  … writing (12 characters)"
                   "\r\x1b[2K  … writing a shell call (12 characters)"
                   "\r\x1b[2K")


def test_a_pipe_sees_no_progress_line() -> None:
    answer, log = _run(live=False)
    assert answer == "Hello, world\n" and log == "turn 1\n"


def test_a_retry_line_keeps_the_services_sentence_with_the_endpoint() -> None:
    from lakecode.agent.events import Retrying

    log = io.StringIO()
    reason = ("Rate limited by https://dbc-a1b2345c-d6e7.cloud.databricks.com (REQUEST_LIMIT_EXCEEDED): "
              "Exceeded workspace QPS rate limit for databricks-claude-sonnet-4-5.")
    Progress(io.StringIO(), log).event(Retrying(2, 2.0, reason))
    assert log.getvalue() == f"  ↻ {reason}; retrying in 2.0 s (attempt 2)\n"
