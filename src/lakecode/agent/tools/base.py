"""What every tool is made of: a spec, argument checking, an access class, and a result.

A tool call goes through three steps in the agent loop:

1. ``Tool.check(args)`` validates the arguments against the tool's JSON schema (clear messages
   for missing fields and wrong types - models invent them) and classifies the call: does it
   read, write or execute, which paths does it touch, are any outside the project. Invalid
   arguments raise ``ToolArgumentError``; the loop turns that into an error result without
   asking for approval, since nothing would run.
2. The approval policy (``lakecode.agent.approvals``) decides from the returned ``ToolAccess``.
3. ``Tool.run(args)`` does the work and returns a ``ToolResult``. Failures the model can act on
   (no such file, non-zero exit, timeout) are results with ``is_error=True``; tools never raise
   them through the loop.
"""

from __future__ import annotations

import abc
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from lakecode.errors import LakecodeError
from lakecode.llm.types import ToolSpec

if TYPE_CHECKING:
    from lakecode.agent.events import AgentEvent

__all__ = [
    "AccessKind",
    "ProjectScope",
    "Tool",
    "ToolAccess",
    "ToolArgumentError",
    "ToolResult",
    "validate_arguments",
]

AccessKind: TypeAlias = Literal["read", "write", "execute"]


class ToolArgumentError(LakecodeError):
    """The model's arguments do not fit the tool's schema (the message is shown to the model)."""


@dataclass(frozen=True, slots=True)
class ToolAccess:
    """What one call would do, for the approval policy and the UI.

    Attributes:
        kind: "read", "write" or "execute".
        summary: one human line, e.g. "shell: pytest -q".
        paths: the resolved paths the call touches (empty when unknown, e.g. a shell command).
        outside_project: whether any of ``paths`` (or the working directory) is outside the project.
        scope_key: what "approve for this session" remembers, e.g. "file_editor:write" or
            "shell:pytest" (a shell approval covers later commands starting with the same program).
    """

    kind: AccessKind
    summary: str
    paths: tuple[Path, ...] = ()
    outside_project: bool = False
    scope_key: str = ""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What the model reads back.

    Attributes:
        content: the text fed to the model.
        is_error: the call failed (shown in red; also tells the model to adapt).
        events: agent events the tool wants shown (e.g. a task list update).
    """

    content: str
    is_error: bool = False
    events: tuple[AgentEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class ProjectScope:
    """The project directory tools work in, and whether they may leave it.

    Attributes:
        root: the project directory (resolved: symlinks followed).
        allow_outside: tools may touch paths outside ``root`` (the approval policy still
            has the last word).
    """

    root: Path
    allow_outside: bool = False

    @classmethod
    def at(cls, root: str | Path, *, allow_outside: bool = False) -> ProjectScope:
        """A scope rooted at ``root``, resolved."""
        return cls(Path(root).expanduser().resolve(), allow_outside)

    def resolve(self, path: str | Path) -> Path:
        """``path`` made absolute (relative paths are relative to ``root``), symlinks resolved."""
        candidate = Path(path).expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        return candidate.resolve()

    def contains(self, path: Path) -> bool:
        """Whether the resolved ``path`` is ``root`` or inside it."""
        return path == self.root or path.is_relative_to(self.root)

    def display(self, path: Path) -> str:
        """``path`` relative to the root when inside it, else absolute."""
        if self.contains(path) and path != self.root:
            return str(path.relative_to(self.root))
        return str(path)


class Tool(abc.ABC):
    """A tool the model can call. Subclasses set ``name``, ``description`` and ``parameters``."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    @property
    def spec(self) -> ToolSpec:
        """The spec offered to the model."""
        return ToolSpec(self.name, self.description, self.parameters)

    @abc.abstractmethod
    def check(self, args: Mapping[str, Any]) -> ToolAccess:
        """Validate ``args`` and say what the call would do.

        Raises:
            ToolArgumentError: the arguments are invalid; the message tells the model why.
        """

    @abc.abstractmethod
    async def run(self, args: Mapping[str, Any]) -> ToolResult:
        """Do the work. ``args`` have passed ``check``. Expected failures are error results."""


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict, Mapping),
}


def _type_name(value: object) -> str:
    for name, types in (("null", (type(None),)), ("boolean", (bool,)), ("integer", (int,)),
                        ("number", (float,)), ("string", (str,)), ("array", (list, tuple))):
        if isinstance(value, types):
            return name
    return "object" if isinstance(value, Mapping) else type(value).__name__


def _check_value(where: str, value: object, schema: Mapping[str, Any]) -> None:
    expected = schema.get("type")
    if expected is not None:
        ok = isinstance(value, _JSON_TYPES[expected])
        if expected in ("integer", "number") and isinstance(value, bool):
            ok = False
        if expected == "integer" and isinstance(value, float) and value.is_integer():
            ok = True
        if not ok:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            raise ToolArgumentError(
                f"'{where}' must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, "
                f"got {_type_name(value)} {shown}")
    if "enum" in schema and value not in schema["enum"]:
        options = ", ".join(repr(v) for v in schema["enum"])
        raise ToolArgumentError(f"'{where}' must be one of {options}, got {value!r}")
    if isinstance(value, (list, tuple)):
        _check_array(where, value, schema)
    elif isinstance(value, Mapping) and "properties" in schema:
        _check_object(where, value, schema)


def _check_array(where: str, value: Sequence[object], schema: Mapping[str, Any]) -> None:
    low, high = schema.get("minItems"), schema.get("maxItems")
    if (low is not None and len(value) < low) or (high is not None and len(value) > high):
        size = f"exactly {low}" if low == high else f"{low or 0} to {high if high is not None else 'any'}"
        raise ToolArgumentError(f"'{where}' must have {size} items, got {len(value)}")
    items = schema.get("items")
    if items:
        for i, item in enumerate(value):
            _check_value(f"{where}[{i}]", item, items)


def _check_object(where: str, value: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    props: Mapping[str, Any] = schema.get("properties", {})
    prefix = f"{where}." if where else ""
    for name in schema.get("required", ()):
        if value.get(name) is None:
            hint = ""
            unknown = [k for k in value if k not in props]
            close = difflib.get_close_matches(name, unknown, n=1) if unknown else []
            if close:
                hint = f" (you passed '{prefix}{close[0]}'; the argument is called '{prefix}{name}')"
            raise ToolArgumentError(f"missing required argument '{prefix}{name}'{hint}")
    for name, sub in props.items():
        if value.get(name) is not None:
            _check_value(f"{prefix}{name}", value[name], sub)


def _check_text(where: str, value: object) -> None:
    """Refuse strings no file system, process or encoder accepts, anywhere in the arguments.

    JSON can carry a NUL character (``\\u0000``) and lone UTF-16 surrogates (``\\ud800``); a
    path or command holding one fails deep inside ``open``/``exec`` and text holding one cannot
    be written as UTF-8, so they are argument errors the model can fix.
    """
    if isinstance(value, str):
        if "\0" in value:
            raise ToolArgumentError(f"'{where}' contains a NUL character (\\u0000), which no path, "
                                    "command or text file can hold")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ToolArgumentError(f"'{where}' is not valid Unicode text (it holds a lone UTF-16 "
                                    "surrogate such as \\ud800)") from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_text(f"{where}.{key}" if where else str(key), item)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_text(f"{where}[{i}]", item)


def validate_arguments(tool_name: str, args: object, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """Check ``args`` against the subset of JSON Schema our tool specs use.

    Supported: ``type``, ``enum``, ``required``, ``properties``, ``items``, ``minItems`` and
    ``maxItems``. A ``null`` value counts as absent. Unknown arguments are ignored (models
    add them), but are named when a required argument is missing and one looks like it.
    No string anywhere in ``args`` may hold a NUL character or a lone surrogate.

    Returns:
        ``args`` as a mapping.

    Raises:
        ToolArgumentError: with a message naming the argument, the expected and the actual type.
    """
    if not isinstance(args, Mapping):
        raise ToolArgumentError(f"{tool_name}: arguments must be a JSON object, got {_type_name(args)}")
    try:
        _check_object("", args, schema)
        _check_text("", args)
    except ToolArgumentError as exc:
        raise ToolArgumentError(f"{tool_name}: {exc.message}") from None
    return args
