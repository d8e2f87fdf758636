"""The ``file_editor`` tool: view, create and edit files in the project, with undo.

Commands (``command`` argument):
    ``view``        a file with line numbers (``view_range`` [start, end], 1-based, end -1 for the
                    end of the file), or a directory as a one-level listing. Files longer than
                    ``max_view_lines`` show their first lines and say how to see the rest.
    ``create``      write ``file_text`` to ``path`` (parents are created). An existing non-empty
                    file is only overwritten when this editor has viewed or written it in this
                    session and it has not changed on disk since - so the model never clobbers
                    content it has not seen. Otherwise the model is told to view it first or to
                    edit it with ``str_replace``.
    ``str_replace`` replace ``old_str`` (which must occur exactly once) with ``new_str`` (default
                    empty: delete). No match and several matches are errors naming the lines.
    ``insert``      insert ``new_str`` after line ``insert_line`` (0: at the top).
    ``undo_edit``   revert the last create/str_replace/insert on ``path`` (repeatable).

Paths are relative to the project root, or absolute; symlinks are resolved and anything that
ends up outside the project is refused unless the scope allows it. Binary files are refused;
files that are not UTF-8 can be viewed (with replacement characters) but not edited. Files
using CRLF line endings are matched and edited with ``\\n`` in the model's strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakecode.agent.tools.base import (
    AccessKind,
    ProjectScope,
    Tool,
    ToolAccess,
    ToolArgumentError,
    ToolResult,
    validate_arguments,
)
from lakecode.agent.tools.output import clip_line

__all__ = ["FileEditorTool"]

_COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")
_REQUIRED = {"create": ("file_text",), "insert": ("insert_line", "new_str"), "str_replace": ("old_str",)}
_SNIFF_BYTES = 8192
_SNIPPET_CONTEXT = 4


class _EditError(Exception):
    """A failure reported to the model as an error result."""


class FileEditorTool(Tool):
    """Views and edits files inside the project.

    Args:
        scope: the project directory (and whether paths may leave it).
        max_view_lines: lines shown by a ``view`` without ``view_range``.
        max_view_chars: characters a ``view`` returns at most.
        max_edit_bytes: files larger than this are refused for editing.
        max_listing: entries shown for a directory.
    """

    name = "file_editor"
    description = (
        "View, create and edit files. Commands: view (a file with line numbers, optionally "
        "view_range [start, end] with end -1 for the end; or a directory listing), create (write "
        "file_text to a new file; an existing file must be viewed first), str_replace (replace "
        "old_str, which must match exactly once including whitespace, with new_str), insert "
        "(insert new_str after line insert_line; 0 inserts at the top), undo_edit (revert the "
        "last edit of path). Paths are relative to the project root or absolute inside it."
    )
    parameters: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "command": {"type": "string", "enum": list(_COMMANDS)},
            "path": {"type": "string", "description": "File or directory path."},
            "file_text": {"type": "string", "description": "create: the whole file content."},
            "old_str": {"type": "string", "description": "str_replace: the exact text to replace."},
            "new_str": {"type": "string", "description": "str_replace/insert: the new text."},
            "insert_line": {"type": "integer", "description": "insert: the line to insert after."},
            "view_range": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2,
                           "description": "view: [start, end] line numbers, 1-based; end -1 = last line."},
        },
        "required": ["command", "path"],
    }

    def __init__(self, scope: ProjectScope, *, max_view_lines: int = 1000, max_view_chars: int = 60_000,
                 max_edit_bytes: int = 4_000_000, max_listing: int = 400) -> None:
        self.scope = scope
        self.max_view_lines = max_view_lines
        self.max_view_chars = max_view_chars
        self.max_edit_bytes = max_edit_bytes
        self.max_listing = max_listing
        self._history: dict[Path, list[bytes | None]] = {}
        self._seen: dict[Path, str] = {}

    def check(self, args: Mapping[str, Any]) -> ToolAccess:
        """Validate the arguments, resolve the path and refuse it when it leaves the project."""
        validate_arguments(self.name, args, self.parameters)
        command = args["command"]
        for field in _REQUIRED.get(command, ()):
            if args.get(field) is None:
                raise ToolArgumentError(f"file_editor: '{command}' needs the '{field}' argument")
        if not args["path"].strip():
            raise ToolArgumentError("file_editor: 'path' is empty")
        path = self.scope.resolve(args["path"])
        outside = not self.scope.contains(path)
        if outside and not self.scope.allow_outside:
            raise ToolArgumentError(
                f"file_editor: {args['path']} resolves to {path}, which is outside the project "
                f"directory {self.scope.root}; only files inside the project can be used")
        kind: AccessKind = "read" if command == "view" else "write"
        return ToolAccess(kind=kind, summary=f"file_editor {command} {self.scope.display(path)}",
                          paths=(path,), outside_project=outside, scope_key=f"file_editor:{kind}")

    async def run(self, args: Mapping[str, Any]) -> ToolResult:
        """Carry out the command; every failure is an error result with a clear message."""
        path = self.scope.resolve(args["path"])
        command = args["command"]
        try:
            if command == "view":
                return ToolResult(self._view(path, args.get("view_range")))
            if command == "create":
                return ToolResult(self._create(path, args["file_text"]))
            if command == "str_replace":
                return ToolResult(self._str_replace(path, args["old_str"], args.get("new_str") or ""))
            if command == "insert":
                return ToolResult(self._insert(path, int(args["insert_line"]), args["new_str"]))
            return ToolResult(self._undo(path))
        except _EditError as exc:
            return ToolResult(str(exc), is_error=True)
        except OSError as exc:
            return ToolResult(f"{command} {self.scope.display(path)} failed: {exc.strerror or exc}",
                              is_error=True)

    # ---- view --------------------------------------------------------------------------------

    def _view(self, path: Path, view_range: list[int] | None) -> str:
        shown = self.scope.display(path)
        if path.is_dir():
            if view_range is not None:
                raise _EditError(f"{shown} is a directory; view_range only applies to files")
            return self._listing(path)
        if not path.exists():
            raise _EditError(f"no such file or directory: {shown}")
        if not path.is_file():
            raise _EditError(f"{shown} is not a regular file (a device, socket or pipe); it cannot be shown")
        with path.open("rb") as fh:
            if b"\0" in fh.read(_SNIFF_BYTES):
                raise _EditError(f"{shown} looks like a binary file ({path.stat().st_size} bytes); "
                                 "it cannot be shown as text")
            fh.seek(0)
            return self._numbered(fh, shown, path, view_range)

    def _numbered(self, fh: Any, shown: str, path: Path, view_range: list[int] | None) -> str:
        start, end = (int(view_range[0]), int(view_range[1])) if view_range else (1, -1)
        if start < 1 or (end != -1 and end < start):
            raise _EditError(f"invalid view_range [{start}, {end}]: use [start, end] with 1 <= start "
                             "<= end, or end -1 for the end of the file")
        limit = end if end != -1 else (start + self.max_view_lines - 1 if not view_range else -1)
        digest = hashlib.sha256()
        out: list[str] = []
        size, total, invalid, cut_at = 0, 0, False, 0
        for total, raw in enumerate(fh, 1):
            digest.update(raw)
            if total < start or (limit != -1 and total > limit) or cut_at:
                continue
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            invalid = invalid or "\ufffd" in line
            entry = f"{total:6}\t{clip_line(line)}"
            if size + len(entry) > self.max_view_chars:
                cut_at = total
                continue
            out.append(entry)
            size += len(entry) + 1
        self._seen[path] = digest.hexdigest()
        if total == 0:
            return f"{shown} is empty"
        if start > total:
            raise _EditError(f"view_range starts at line {start} but {shown} has {total} lines")
        last = cut_at - 1 if cut_at else (min(limit, total) if limit != -1 else total)
        notes = []
        if invalid:
            notes.append("[the file is not valid UTF-8; undecodable bytes are shown as \ufffd]")
        if last < total or start > 1:
            more = " Use view_range to see other lines." if last < total else ""
            notes.append(f"[showing lines {start}-{last} of {total}.{more}]")
        return "\n".join([*out, *notes])

    def _listing(self, path: Path) -> str:
        entries = sorted(path.iterdir(), key=lambda p: (not p.is_dir(), p.name))
        lines = [f"{p.name}/" if p.is_dir() else p.name for p in entries[: self.max_listing]]
        if len(entries) > self.max_listing:
            lines.append(f"[... {len(entries) - self.max_listing} more entries]")
        header = f"{self.scope.display(path) if path != self.scope.root else '.'}/ ({len(entries)} entries)"
        return "\n".join([header, *lines]) if lines else f"{header}: empty directory"

    # ---- edits ------------------------------------------------------------------------------

    def _read_text(self, path: Path) -> tuple[bytes, str]:
        shown = self.scope.display(path)
        if path.is_dir():
            raise _EditError(f"{shown} is a directory")
        if not path.exists():
            raise _EditError(f"no such file: {shown} (use the create command to make a new file)")
        if not path.is_file():
            raise _EditError(f"{shown} is not a regular file; refusing to edit it")
        if path.stat().st_size > self.max_edit_bytes:
            raise _EditError(f"{shown} is too large to edit here ({path.stat().st_size} bytes); "
                             "use shell tools instead")
        data = path.read_bytes()
        if b"\0" in data[:_SNIFF_BYTES]:
            raise _EditError(f"{shown} looks like a binary file; refusing to edit it")
        try:
            return data, data.decode("utf-8")
        except UnicodeDecodeError:
            raise _EditError(f"{shown} is not valid UTF-8 text; refusing to edit it (editing would "
                             "corrupt it)") from None

    def _write(self, path: Path, before: bytes | None, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode("utf-8")
        path.write_bytes(data)
        self._history.setdefault(path, []).append(before)
        self._seen[path] = hashlib.sha256(data).hexdigest()

    def _create(self, path: Path, file_text: str) -> str:
        shown = self.scope.display(path)
        if path.is_dir():
            raise _EditError(f"{shown} is a directory")
        before: bytes | None = None
        if path.exists() and not path.is_file():
            raise _EditError(f"{shown} is not a regular file; refusing to replace it")
        if path.exists():
            before = path.read_bytes()
            if before and self._seen.get(path) != hashlib.sha256(before).hexdigest():
                lines = before.count(b"\n") + (0 if before.endswith(b"\n") else 1)
                raise _EditError(
                    f"{shown} already exists ({lines} lines) and has not been viewed since it last "
                    "changed. Edit it with str_replace or insert, or view it first if you really "
                    "mean to replace all of it with create.")
        self._write(path, before, file_text)
        n = _line_count(file_text)
        if before is None:
            return f"created {shown} ({n} lines)"
        return f"overwrote {shown} ({n} lines, was {_line_count(before.decode('utf-8', 'replace'))})"

    def _str_replace(self, path: Path, old: str, new: str) -> str:
        shown = self.scope.display(path)
        data, text = self._read_text(path)
        if not old:
            raise _EditError("old_str is empty; give the exact text to replace")
        if "\r\n" in text:
            old, new = _to_crlf(old), _to_crlf(new)
        if old == new:
            raise _EditError("old_str and new_str are the same; nothing would change")
        starts = _find_all(text, old)
        if not starts:
            raise _EditError(f"no match for old_str in {shown}. The text must match exactly, including "
                             f"whitespace and indentation.{_near_miss(text, old)} View the file to copy "
                             "the exact text.")
        if len(starts) > 1:
            lines = ", ".join(str(text.count("\n", 0, i) + 1) for i in starts)
            raise _EditError(f"old_str occurs {len(starts)} times in {shown} (at lines {lines}); include "
                             "more surrounding lines in old_str so that it matches exactly once")
        at = starts[0]
        updated = text[:at] + new + text[at + len(old):]
        self._write(path, data, updated)
        first = text.count("\n", 0, at) + 1
        return f"edited {shown}:\n{_snippet(updated, first, new.count(chr(10)) + 1)}"

    def _insert(self, path: Path, after: int, new: str) -> str:
        shown = self.scope.display(path)
        data, text = self._read_text(path)
        newline = "\r\n" if "\r\n" in text else "\n"
        lines = text.splitlines(keepends=True)
        if not 0 <= after <= len(lines):
            raise _EditError(f"insert_line {after} is out of range: {shown} has {len(lines)} lines "
                             f"(use 0 to insert at the top, {len(lines)} to append)")
        block = new.replace("\r\n", "\n").replace("\n", newline)
        if not block.endswith(newline):
            block += newline
        if after and not lines[after - 1].endswith(("\n", "\r")):
            lines[after - 1] += newline
        updated = "".join([*lines[:after], block, *lines[after:]])
        self._write(path, data, updated)
        return f"inserted {_line_count(block)} lines into {shown} after line {after}:\n" + _snippet(
            updated, after + 1, _line_count(block))

    def _undo(self, path: Path) -> str:
        shown = self.scope.display(path)
        stack = self._history.get(path)
        if not stack:
            raise _EditError(f"no edit to undo for {shown}")
        before = stack.pop()
        if before is None:
            path.unlink(missing_ok=True)
            self._seen.pop(path, None)
            return f"undid the creation of {shown} (the file was removed)"
        path.write_bytes(before)
        self._seen[path] = hashlib.sha256(before).hexdigest()
        return f"reverted the last edit to {shown} ({_line_count(before.decode('utf-8', 'replace'))} lines)"


def _line_count(text: str) -> int:
    return len(text.splitlines())


def _to_crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _find_all(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at != -1:
        found.append(at)
        at = text.find(needle, at + len(needle))
    return found


def _near_miss(text: str, old: str) -> str:
    """A hint when ``old`` matches once whitespace at line ends and starts is ignored."""
    wanted = [line.strip() for line in old.strip("\r\n").splitlines()]
    if not wanted or not wanted[0]:
        return ""
    lines = [line.strip() for line in text.splitlines()]
    for i in range(len(lines) - len(wanted) + 1):
        if lines[i:i + len(wanted)] == wanted:
            return (f" Lines {i + 1}-{i + len(wanted)} match when indentation and surrounding whitespace "
                    "are ignored: check the exact whitespace.")
    return ""


def _snippet(text: str, first: int, count: int) -> str:
    lines = text.splitlines()
    start = max(1, first - _SNIPPET_CONTEXT)
    end = min(len(lines), first + max(count, 1) - 1 + _SNIPPET_CONTEXT)
    return "\n".join(f"{n:6}\t{clip_line(lines[n - 1])}" for n in range(start, end + 1))

