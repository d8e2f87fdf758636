"""Keeping tool output readable and bounded: head and tail of huge streams, long lines cut.

A command can print gigabytes; the model needs the beginning (what started) and the end (how it
finished). ``BoundedCapture`` keeps only the first and last bytes of a stream while counting the
rest, and ``render`` turns it into text with a note saying how many lines were left out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["BoundedCapture", "clip_line", "render"]

MAX_LINE_CHARS = 2000


def clip_line(line: str, limit: int = MAX_LINE_CHARS) -> str:
    """``line`` cut to ``limit`` characters, with a note of how many were cut."""
    if len(line) <= limit:
        return line
    return f"{line[:limit]}… [+{len(line) - limit} chars]"


@dataclass
class BoundedCapture:
    """The first ``head_limit`` and last ``tail_limit`` bytes of a stream, and its totals.

    Memory stays bounded however much is fed.
    """

    head_limit: int = 64_000
    tail_limit: int = 64_000
    head: bytearray = field(default_factory=bytearray)
    total_bytes: int = 0
    total_newlines: int = 0
    _tail: deque[bytes] = field(default_factory=deque)
    _tail_size: int = 0

    def feed(self, data: bytes) -> None:
        """Add a chunk of the stream."""
        self.total_bytes += len(data)
        self.total_newlines += data.count(b"\n")
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail.append(data)
        self._tail_size += len(data)
        while self._tail_size - len(self._tail[0]) >= self.tail_limit:
            self._tail_size -= len(self._tail.popleft())

    @property
    def tail(self) -> bytes:
        """The last bytes kept after the head (at most ``tail_limit``)."""
        data = b"".join(self._tail)
        return data[-self.tail_limit:] if len(data) > self.tail_limit else data

    @property
    def dropped_bytes(self) -> int:
        """Bytes between head and tail that were not kept."""
        return self.total_bytes - len(self.head) - len(self.tail)


def render(capture: BoundedCapture, *, max_lines: int, max_chars: int) -> str:
    """The captured stream as text: decoded (invalid UTF-8 replaced), head and tail kept.

    When lines are left out, a line ``[... N lines omitted ...]`` takes their place, where N
    counts every line not shown (including those never kept in memory). Lines longer than a
    fair share of ``max_chars`` are cut, and the whole text never exceeds ``max_chars`` by more
    than the notes.
    """
    keep = max(2, max_lines)
    n_head, n_tail = keep // 2, keep - keep // 2
    complete = capture.dropped_bytes == 0
    if complete:
        head_lines = (bytes(capture.head) + capture.tail).decode("utf-8", errors="replace").split("\n")
        if head_lines[-1] == "":
            head_lines.pop()  # the text ended with a newline (or was empty)
        tail_lines: list[str] = []
        if len(head_lines) > keep:
            head_lines, tail_lines = head_lines[:n_head], head_lines[-n_tail:]
    else:
        head_lines = bytes(capture.head).decode("utf-8", errors="replace").split("\n")[:n_head]
        tail_lines = capture.tail.decode("utf-8", errors="replace").split("\n")
        if tail_lines[-1] == "":
            tail_lines.pop()
        tail_lines = tail_lines[-n_tail:]
    total_lines = capture.total_newlines + (1 if capture.total_bytes and not _ends_newline(capture) else 0)
    omitted = total_lines - len(head_lines) - len(tail_lines)
    shown = max(1, len(head_lines) + len(tail_lines))
    line_limit = min(MAX_LINE_CHARS, max(80, max_chars // shown - 30))
    out = [clip_line(line, line_limit) for line in head_lines]
    if omitted > 0:
        out.append(f"[... {omitted} line{'s' if omitted != 1 else ''} omitted ...]")
    elif not complete:
        out.append(f"[... {capture.dropped_bytes} bytes omitted ...]")
    out.extend(clip_line(line, line_limit) for line in tail_lines)
    text = "\n".join(out)
    if len(text) > max_chars + 100:  # a last resort: line clipping normally keeps within budget
        half = max_chars // 2
        text = f"{text[:half]}\n[... {len(text) - 2 * half} chars omitted ...]\n{text[-half:]}"
    return text


def _ends_newline(capture: BoundedCapture) -> bool:
    tail = capture.tail
    last = tail[-1:] if tail else bytes(capture.head[-1:])
    return last == b"\n"
