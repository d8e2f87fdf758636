"""Saved conversations: one JSON Lines file per conversation under ``conversations_dir()``.

File format (``<id>.jsonl``, UTF-8, mode 0600, one JSON object per line)::

    {"type": "meta", "version": 1, "id": "...", "created": 1800000000.0, "updated": ...,
     "model": "...", "provider": "...", "cwd": "/abs/project", "title": "first prompt line",
     "usage": {"prompt_tokens": .., "completion_tokens": .., "total_tokens": .., "reasoning_tokens": ..},
     "turns": 3, "message_count": 7}
    {"type": "message", "message": {"role": "user", "parts": [{"type": "text", "text": "..."}]}}
    {"type": "message", "message": {"role": "assistant",
        "parts": [{"type": "reasoning", "text": "...", "signature": "..."},
                  {"type": "text", "text": "..."}],
        "tool_calls": [{"id": "c1", "name": "shell", "arguments": {...}, "arguments_json": "..."}]}}
    {"type": "message", "message": {"role": "tool", "parts": [...], "tool_call_id": "c1",
        "name": "shell", "is_error": false}}
    {"type": "turn", "turn": 1, "at": 1800000001.0, "finish_reason": "tool_calls", "usage": {...}}

The meta line is always first. ``message`` lines, in order, are the conversation exactly as the
agent holds it: every ``Message`` field round-trips, including the model's raw tool-call JSON,
and parts carry every field of ``TextPart``/``ReasoningPart`` that differs from its default
(``signature``, ``replayable``, ...). ``turn`` lines record per-turn usage. Readers ignore
unknown line types and unknown keys, so later versions can add both.

Ids sort by creation time: ``YYYYMMDDTHHMMSSmmmZ-xxxxxx`` (UTC, milliseconds, random suffix).

Writes: the whole file is rewritten after every turn through ``secure_io.atomic_write_bytes``
(temporary file, fsync, rename), so a crash or a full disk leaves the previous save intact. Lines
of messages already saved are cached, so a save does not re-serialise the whole history, and the
agent writes through ``BackgroundSaver`` so the fsync happens in a worker thread.

Reading: a file that cannot be parsed raises ``CorruptConversationError`` from ``load``; ``list``
reports it in ``ConversationListing.problems`` and carries on with the other files.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from lakecode.agent.events import usage_dict
from lakecode.clock import Clock, system_clock
from lakecode.config.paths import conversations_dir
from lakecode.errors import LakecodeError
from lakecode.llm.types import Message, Part, ReasoningPart, Role, TextPart, ToolCall, Usage
from lakecode.secure_io import atomic_write_bytes, ensure_private_dir

__all__ = [
    "BackgroundSaver",
    "Conversation",
    "ConversationError",
    "ConversationListing",
    "ConversationNotFoundError",
    "ConversationStore",
    "ConversationSummary",
    "CorruptConversationError",
    "TurnRecord",
    "message_from_dict",
    "message_to_dict",
    "new_conversation_id",
]

FORMAT_VERSION = 1
_TITLE_CHARS = 80


class ConversationError(LakecodeError):
    """A saved conversation cannot be used."""

    default_hint = "Check the conversation id; saved conversations live in $LAKECODE_HOME/conversations."


class ConversationNotFoundError(ConversationError):
    """No saved conversation has this id."""


class CorruptConversationError(ConversationError):
    """A conversation file exists but cannot be read back."""

    default_hint = "The file may be damaged; start a new conversation or inspect the file by hand."


# ---- messages <-> JSON ----------------------------------------------------------------------


def message_to_dict(message: Message) -> dict[str, Any]:
    """A ``Message`` as JSON data (inverse of ``message_from_dict``); default fields are omitted."""
    out: dict[str, Any] = {"role": message.role, "parts": [_part_to_dict(p) for p in message.parts]}
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": dict(c.arguments),
                              "arguments_json": c.arguments_json} for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    if message.is_error:
        out["is_error"] = True
    return out


def _part_to_dict(part: Part) -> dict[str, Any]:
    # Every dataclass field that differs from its default is written, so fields added to the
    # part types later (e.g. provider item ids) round-trip without a format change.
    out: dict[str, Any] = {"type": "text" if isinstance(part, TextPart) else "reasoning", "text": part.text}
    for f in dataclasses.fields(part):
        value = getattr(part, f.name)
        if f.name != "text" and value != f.default:
            out[f.name] = value
    return out


def _part_from_dict(raw: Mapping[str, Any]) -> Part:
    kinds: dict[str, type[TextPart] | type[ReasoningPart]] = {"text": TextPart, "reasoning": ReasoningPart}
    cls = kinds.get(raw["type"])
    if cls is None:
        raise ValueError(f"unknown part type {raw['type']!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in raw.items() if k in known})


def message_from_dict(data: Mapping[str, Any]) -> Message:
    """Rebuild a ``Message`` from ``message_to_dict`` output.

    Raises:
        ValueError, KeyError, TypeError: when ``data`` is not a valid message.
    """
    role = data["role"]
    if role not in ("system", "user", "assistant", "tool"):
        raise ValueError(f"unknown role {role!r}")
    parts = [_part_from_dict(raw) for raw in data.get("parts", ())]
    calls = tuple(ToolCall(id=str(c["id"]), name=str(c["name"]), arguments=dict(c["arguments"]),
                           arguments_json=str(c.get("arguments_json", "")))
                  for c in data.get("tool_calls", ()))
    return Message(role=cast(Role, role), parts=tuple(parts), tool_calls=calls,
                   tool_call_id=data.get("tool_call_id"), name=data.get("name"),
                   is_error=bool(data.get("is_error", False)))


def _usage_from(data: Mapping[str, Any] | None) -> Usage:
    data = data or {}
    return Usage(int(data.get("prompt_tokens", 0)), int(data.get("completion_tokens", 0)),
                 int(data.get("total_tokens", 0)), int(data.get("reasoning_tokens", 0)))


def _dumps(data: Mapping[str, Any]) -> bytes:
    """One JSON line. Text is written as UTF-8; a line holding a lone surrogate (model output or
    tool arguments can carry ``\\ud800`` escapes) is written with ASCII escapes instead, which
    read back to exactly the same string - a save never fails on what the agent holds."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":")).encode("ascii") + b"\n"


# ---- the conversation ----------------------------------------------------------------------


def new_conversation_id(clock: Clock = system_clock) -> str:
    """A fresh conversation id, sortable by creation time: ``YYYYMMDDTHHMMSSmmmZ-xxxxxx``."""
    now = datetime.fromtimestamp(clock.time(), tz=UTC)
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """One model turn's bookkeeping: when it ended, why, and its usage."""

    turn: int
    at: float
    finish_reason: str
    usage: Usage


@dataclass
class Conversation:
    """A conversation: its messages and metadata. The agent appends; the store saves.

    Attributes:
        id: time-sortable id (also the file name).
        created, updated: epoch seconds.
        model, provider: what produced the answers (the latest used).
        cwd: the project directory.
        title: the first line of the first prompt, shortened.
        messages: the full history, never trimmed (context trimming works on a copy).
        usage: token totals over all turns.
        turns: per-turn records.
    """

    id: str
    created: float
    updated: float
    model: str = ""
    provider: str = ""
    cwd: str = ""
    title: str = ""
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    turns: list[TurnRecord] = field(default_factory=list)
    _lines: list[tuple[Message, bytes]] = field(default_factory=list, repr=False, compare=False)
    _turn_lines: list[bytes] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def new(cls, *, model: str = "", provider: str = "", cwd: str | Path = "",
            clock: Clock = system_clock) -> Conversation:
        """A new, empty conversation with a fresh id."""
        now = clock.time()
        return cls(id=new_conversation_id(clock), created=now, updated=now, model=model, provider=provider,
                   cwd=str(cwd))

    def append(self, message: Message) -> None:
        """Add a message (and take the title from the first user prompt)."""
        if not self.title and message.role == "user" and message.text.strip():
            first = message.text.strip().splitlines()[0].strip()
            self.title = first if len(first) <= _TITLE_CHARS else first[: _TITLE_CHARS - 1] + "…"
        self.messages.append(message)

    def record_turn(self, record: TurnRecord) -> None:
        """Add a turn's record and its usage to the totals."""
        self.turns.append(record)
        self.usage = self.usage + record.usage

    def meta(self) -> dict[str, Any]:
        """The meta line's content."""
        return {"type": "meta", "version": FORMAT_VERSION, "id": self.id, "created": self.created,
                "updated": self.updated, "model": self.model, "provider": self.provider, "cwd": self.cwd,
                "title": self.title, "usage": usage_dict(self.usage), "turns": len(self.turns),
                "message_count": len(self.messages)}

    def to_jsonl(self) -> bytes:
        """The whole file. Message lines already serialised (same object) are reused."""
        lines = self._lines
        for i, message in enumerate(self.messages):
            if i < len(lines) and lines[i][0] is message:
                continue
            del lines[i:]
            lines.append((message, _dumps({"type": "message", "message": message_to_dict(message)})))
        del lines[len(self.messages):]
        turns = self._turn_lines
        del turns[len(self.turns):]
        for t in self.turns[len(turns):]:
            turns.append(_dumps({"type": "turn", "turn": t.turn, "at": t.at, "finish_reason": t.finish_reason,
                                 "usage": usage_dict(t.usage)}))
        return b"".join([_dumps(self.meta()), *(line for _, line in lines), *turns])


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """What ``list`` shows for a conversation (read from its meta line only)."""

    id: str
    title: str
    created: float
    updated: float
    model: str
    provider: str
    cwd: str
    turns: int
    message_count: int
    usage: Usage
    path: Path


@dataclass(frozen=True, slots=True)
class ConversationListing:
    """Saved conversations, newest first, and the files that could not be read."""

    conversations: tuple[ConversationSummary, ...]
    problems: tuple[tuple[Path, str], ...] = ()


class ConversationStore:
    """Saves and loads conversations in ``directory`` (default: ``conversations_dir()``).

    Args:
        directory: where the files live; created (0700) on first save.
        clock: for timestamps and ids.
    """

    def __init__(self, directory: Path | None = None, *, clock: Clock = system_clock) -> None:
        self.directory = directory if directory is not None else conversations_dir()
        self.clock = clock
        self._lock = threading.Lock()

    def new_id(self) -> str:
        """A fresh id that sorts after earlier ones (to the millisecond)."""
        return new_conversation_id(self.clock)

    def new(self, *, model: str = "", provider: str = "", cwd: str | Path = "") -> Conversation:
        """A new, empty conversation (not saved until ``save``)."""
        return Conversation.new(model=model, provider=provider, cwd=cwd, clock=self.clock)

    def path_for(self, conversation_id: str) -> Path:
        """The file of a conversation id.

        Raises:
            ConversationNotFoundError: when the id could not be a file name of ours.
        """
        if not conversation_id or "/" in conversation_id or conversation_id.startswith("."):
            raise ConversationNotFoundError(f"no conversation with id {conversation_id!r}")
        return self.directory / f"{conversation_id}.jsonl"

    def save(self, conversation: Conversation) -> None:
        """Write ``conversation`` atomically (updating ``updated``).

        Raises:
            OSError: the directory is not writable or the disk is full; the previous save of
                this conversation is left intact.
        """
        self.write(conversation.id, self.snapshot(conversation))

    def snapshot(self, conversation: Conversation) -> bytes:
        """Stamp ``updated`` and return the file content to ``write`` (cheap: lines are cached)."""
        conversation.updated = self.clock.time()
        return conversation.to_jsonl()

    def write(self, conversation_id: str, data: bytes) -> None:
        """Atomically replace a conversation's file with ``data`` (thread-safe, in call order).

        Raises:
            OSError: as for ``save``; the previous file is left intact.
        """
        with self._lock:
            ensure_private_dir(self.directory)
            atomic_write_bytes(self.path_for(conversation_id), data)

    def load(self, conversation_id: str) -> Conversation:
        """Read a conversation back exactly as it was saved.

        Raises:
            ConversationNotFoundError: no such conversation.
            CorruptConversationError: the file cannot be parsed; the message says where.
        """
        path = self.path_for(conversation_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ConversationNotFoundError(f"no conversation with id {conversation_id!r}") from None
        except OSError as exc:
            raise ConversationError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return _parse(path, data)

    def list(self) -> ConversationListing:
        """All saved conversations, newest first, reading only each file's first line."""
        found: list[ConversationSummary] = []
        problems: list[tuple[Path, str]] = []
        for path in self._files():
            try:
                found.append(_summary(path))
            except CorruptConversationError as exc:
                problems.append((path, exc.message))
        found.sort(key=lambda s: (s.created, s.id), reverse=True)
        return ConversationListing(tuple(found), tuple(problems))

    def last(self, *, cwd: str | Path | None = None) -> Conversation | None:
        """The most recently updated conversation that can be read (with ``cwd``: the latest
        one whose project directory is ``cwd``), or None."""
        listing = self.list()
        wanted = str(Path(cwd).resolve()) if cwd is not None else None
        for summary in sorted(listing.conversations, key=lambda s: (s.updated, s.id), reverse=True):
            if wanted is not None and (not summary.cwd or str(Path(summary.cwd).resolve()) != wanted):
                continue
            try:
                return self.load(summary.id)
            except ConversationError:
                continue
        return None

    def delete(self, conversation_id: str) -> None:
        """Remove a saved conversation (no error if it does not exist)."""
        self.path_for(conversation_id).unlink(missing_ok=True)

    def _files(self) -> Iterator[Path]:
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.endswith(".jsonl") and not entry.name.startswith(".") and entry.is_file():
                yield Path(entry.path)


def _meta_from(path: Path, line: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptConversationError(f"{path.name}: the first line is not JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("type") != "meta" or not isinstance(meta.get("id"), str):
        raise CorruptConversationError(f"{path.name}: the first line is not a conversation header")
    if int(meta.get("version", 0)) > FORMAT_VERSION:
        raise CorruptConversationError(f"{path.name}: saved by a newer lakecode (format {meta['version']})")
    return meta


def _summary(path: Path) -> ConversationSummary:
    try:
        with path.open("rb") as fh:
            first = fh.readline()
    except OSError as exc:
        raise CorruptConversationError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    meta = _meta_from(path, first)
    try:
        return ConversationSummary(
            id=meta["id"], title=str(meta.get("title", "")), created=float(meta.get("created", 0)),
            updated=float(meta.get("updated", 0)), model=str(meta.get("model", "")),
            provider=str(meta.get("provider", "")), cwd=str(meta.get("cwd", "")),
            turns=int(meta.get("turns", 0)), message_count=int(meta.get("message_count", 0)),
            usage=_usage_from(meta.get("usage")), path=path)
    except (TypeError, ValueError) as exc:
        raise CorruptConversationError(f"{path.name}: bad header field ({exc})") from None


def _parse(path: Path, data: bytes) -> Conversation:
    lines = data.splitlines()
    if not lines:
        raise CorruptConversationError(f"{path.name}: the file is empty")
    meta = _meta_from(path, lines[0])
    conv = Conversation(id=meta["id"], created=float(meta.get("created", 0)),
                        updated=float(meta.get("updated", 0)), model=str(meta.get("model", "")),
                        provider=str(meta.get("provider", "")), cwd=str(meta.get("cwd", "")),
                        title=str(meta.get("title", "")))
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind = record.get("type")
            if kind == "message":
                conv.messages.append(message_from_dict(record["message"]))
            elif kind == "turn":
                conv.record_turn(TurnRecord(int(record["turn"]), float(record.get("at", 0)),
                                            str(record.get("finish_reason", "")),
                                            _usage_from(record.get("usage"))))
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise CorruptConversationError(
                f"{path.name}, line {number}: {type(exc).__name__}: {exc}") from None
    return conv



class BackgroundSaver:
    """Saves one conversation after every turn without holding up the event loop.

    ``request`` takes a snapshot at once (on the caller's thread, so it is consistent) and
    writes it in a worker thread; snapshots requested while a write is in progress coalesce
    (the newest wins) and files are always written in order. ``flush`` waits for the writes;
    ``save_now`` writes synchronously (for teardown, when awaiting is not possible).

    Args:
        store: where to write.
        conversation: what to save.
        on_error: called with the ``OSError`` of a failed write (the previous save is intact).
    """

    def __init__(self, store: ConversationStore, conversation: Conversation,
                 on_error: Callable[[OSError], None]) -> None:
        self.store = store
        self.conversation = conversation
        self.on_error = on_error
        self._pending: tuple[int, bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._generation = 0
        self._written = 0
        self._lock = threading.Lock()

    def request(self) -> None:
        """Snapshot the conversation now and write it soon."""
        self._pending = self._snapshot()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain(), name="lakecode-save")

    def _snapshot(self) -> tuple[int, bytes]:
        self._generation += 1
        return self._generation, self.store.snapshot(self.conversation)

    def _write(self, generation: int, data: bytes) -> None:
        with self._lock:
            if generation <= self._written:
                return  # a newer snapshot is already on disk
            self.store.write(self.conversation.id, data)
            self._written = generation

    async def _drain(self) -> None:
        while self._pending is not None:
            (generation, data), self._pending = self._pending, None
            try:
                await asyncio.to_thread(self._write, generation, data)
            except OSError as exc:
                self.on_error(exc)

    async def flush(self) -> None:
        """Wait until every requested snapshot is on disk (or has failed)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    def save_now(self) -> None:
        """Write the current state synchronously; older snapshots still queued are skipped."""
        self._pending = None
        try:
            self._write(*self._snapshot())
        except OSError as exc:
            self.on_error(exc)
