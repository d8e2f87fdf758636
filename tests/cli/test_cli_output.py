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
