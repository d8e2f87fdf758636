"""The scripted model: deterministic answers from a queue, scenario rules, or a default.

Order of precedence for each model turn:

1. the programmatic queue (``enqueue([...])``), consumed in order;
2. scenario rules (TOML files), first match wins;
3. a deterministic default: ``Echo: <latest user message>``, or a one-line note about the last
   tool result.

Scenario file format (read with ``tomllib``)::

    name = "demo"                      # informational
    [defaults]                         # conditions every rule in the file inherits
    user = "(?i)fizz\\s*buzz"

    [[rules]]
    name = "plan"
    step = 1                           # assistant turn since the latest user message (1 = first)
    text = "I'll write the code."      # optional visible text
    reasoning = "..."                  # optional reasoning (reasoning models only)
    [[rules.tool_calls]]
    name = "file_editor"
    arguments = { command = "create", path = "fizzbuzz.py", file_text = "..." }

Conditions (all optional, all must hold): ``user`` (regex searched in the latest user message),
``tool_result`` (regex searched in the last tool result; the conversation must end with tool
results), ``tool`` (name of the tool whose result is last), ``last`` (role of the last message:
``user`` or ``tool``), ``step`` and ``turn`` (an int, or ``[min, max]``; ``turn`` counts every
assistant turn in the conversation), ``model`` (regex on the requested model). A rule that calls
tools matches only when the request offers all of them. Strings in ``text`` and tool arguments may
use placeholders ``{user}``, ``{tool_result}``, ``{tool}``, ``{step}``, ``{turn}``, ``{model}``
and named groups of the ``user`` / ``tool_result`` regexes; other braces are left alone.
"""

from __future__ import annotations

import json
import re
import threading
import tomllib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lakecode.emulator.errors import ErrorSpec, named_error

__all__ = [
    "DEMO_PROMPT",
    "Conversation",
    "Reply",
    "Rule",
    "ScriptedModel",
    "ToolCallSpec",
    "parse_scenario",
]

# A prompt that triggers the bundled demo scenario (data/scenarios/demo.toml).
DEMO_PROMPT = (
    "Create fizzbuzz.py with a fizzbuzz(n) function, write a test for it, run the test and tell me "
    "the result."
)


@dataclass(frozen=True)
class ToolCallSpec:
    """A tool call the scripted model will make. ``arguments`` may be a dict or raw JSON text."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the JSON string that goes on the wire."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True)
class Reply:
    """One scripted model turn.

    Attributes:
        text: visible text ("" for a tool-only turn).
        tool_calls: tool calls to make.
        reasoning: reasoning text; emitted only by reasoning models (see ``Endpoint.reasoning``).
        finish_reason: overrides the computed one (``stop`` / ``tool_calls``), e.g. ``length``.
        usage: overrides the computed usage (``prompt_tokens``, ``completion_tokens``, ...).
        error: answer with this error instead of a completion.
        signature: the reasoning signature for Claude-style models.
    """

    text: str = ""
    tool_calls: tuple[ToolCallSpec, ...] = ()
    reasoning: str | None = None
    finish_reason: str | None = None
    usage: Mapping[str, int] | None = None
    error: ErrorSpec | None = None
    signature: str | None = None

    @classmethod
    def coerce(cls, item: Reply | str | Mapping[str, Any]) -> Reply:
        """Build from a ``Reply``, a plain string, or a dict with the attribute names.

        In a dict, ``tool_calls`` items are ``{"name", "arguments", "id"?}`` dicts and ``error``
        is a named error (``"rate_limit"``) or ``{"status", "body"}``.
        """
        if isinstance(item, Reply):
            return item
        if isinstance(item, str):
            return cls(text=item)
        data = dict(item)
        calls = tuple(
            c if isinstance(c, ToolCallSpec) else ToolCallSpec(c["name"], c.get("arguments", {}), c.get("id"))
            for c in data.pop("tool_calls", ()) or ()
        )
        error = data.pop("error", None)
        if isinstance(error, str):
            error = named_error(error)
        elif isinstance(error, Mapping):
            error = ErrorSpec(int(error["status"]), error.get("body"))
        return cls(tool_calls=calls, error=error, **data)

    @property
    def finish(self) -> str:
        """The finish reason to report."""
        return self.finish_reason or ("tool_calls" if self.tool_calls else "stop")


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, reduced to what rules look at."""

    role: str
    text: str
    tool_calls: tuple[tuple[str, str], ...] = ()  # (id, name)
    tool_call_id: str | None = None


@dataclass(frozen=True)
class Conversation:
    """The conversation a request carries, in a dialect-neutral form."""

    turns: tuple[Turn, ...]
    model: str = ""
    tools: tuple[str, ...] = ()

    @classmethod
    def from_chat(
        cls, messages: Iterable[Mapping[str, Any]], model: str, tools: Iterable[str]
    ) -> Conversation:
        """From chat-completions ``messages``."""
        turns = []
        for m in messages:
            calls = tuple(
                (str(c.get("id", "")), str((c.get("function") or {}).get("name", "")))
                for c in m.get("tool_calls") or ()
                if isinstance(c, Mapping)
            )
            turns.append(
                Turn(str(m.get("role")), content_text(m.get("content")), calls, m.get("tool_call_id"))
            )
        return cls(tuple(turns), model, tuple(tools))

    def _last_user_index(self) -> int:
        for i in range(len(self.turns) - 1, -1, -1):
            if self.turns[i].role == "user":
                return i
        return -1

    @property
    def user(self) -> str:
        """The latest user message text."""
        i = self._last_user_index()
        return self.turns[i].text if i >= 0 else ""

    @property
    def step(self) -> int:
        """The assistant turn being produced, counted from the latest user message (1-based)."""
        start = self._last_user_index()
        return 1 + sum(1 for t in self.turns[start + 1 :] if t.role == "assistant")

    @property
    def turn(self) -> int:
        """The assistant turn being produced, counted over the whole conversation (1-based)."""
        return 1 + sum(1 for t in self.turns if t.role == "assistant")

    @property
    def last_role(self) -> str:
        return self.turns[-1].role if self.turns else ""

    @property
    def tool_result(self) -> tuple[str, str] | None:
        """``(tool name, result text)`` of the last tool result, when the conversation ends with one."""
        if not self.turns or self.turns[-1].role != "tool":
            return None
        last = self.turns[-1]
        names = {cid: name for t in self.turns for cid, name in t.tool_calls}
        return names.get(last.tool_call_id or "", ""), last.text


def content_text(content: Any) -> str:
    """The visible text of a message ``content``: a string, None, or a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") in ("text", "input_text", "output_text"):
                out.append(str(part.get("text", "")))
            elif isinstance(part, str):
                out.append(part)
        return "".join(out)
    return str(content)


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _fill(value: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, variables) for k, v in value.items()}
    return value


def _in_range(value: int, spec: int | list[int] | None) -> bool:
    if spec is None:
        return True
    if isinstance(spec, int):
        return value == spec
    low, high = spec
    return low <= value <= high


@dataclass(frozen=True)
class Rule:
    """A scenario rule: conditions plus a reply template. See the module docstring."""

    name: str = ""
    user: str | None = None
    tool_result: str | None = None
    tool: str | None = None
    last: str | None = None
    step: int | list[int] | None = None
    turn: int | list[int] | None = None
    model: str | None = None
    text: str = ""
    reasoning: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    finish_reason: str | None = None
    error: str | None = None
    source: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> Rule:
        """Build from a TOML table; unknown keys raise ``ValueError``."""
        known = set(cls.__dataclass_fields__) - {"source"}
        extra = set(data) - known
        if extra:
            raise ValueError(f"{source}: rule {data.get('name', '?')!r} has unknown key(s) {sorted(extra)}")
        fields_ = dict(data)
        fields_["tool_calls"] = tuple(fields_.get("tool_calls", ()))
        for call in fields_["tool_calls"]:
            if "name" not in call:
                raise ValueError(f"{source}: a tool call in rule {data.get('name', '?')!r} has no name")
        return cls(source=source, **fields_)

    def match(self, conv: Conversation) -> Reply | None:
        """The reply when every condition holds for ``conv``, else None."""
        variables: dict[str, str] = {
            "user": conv.user,
            "step": str(conv.step),
            "turn": str(conv.turn),
            "model": conv.model,
        }
        if self.user is not None:
            m = re.search(self.user, conv.user)
            if m is None:
                return None
            variables.update({k: v for k, v in m.groupdict().items() if v is not None})
        result = conv.tool_result
        if result is not None:
            variables["tool"], variables["tool_result"] = result[0], result[1][:2000]
        if self.tool_result is not None or self.tool is not None:
            if result is None:
                return None
            if self.tool is not None and result[0] != self.tool:
                return None
            if self.tool_result is not None:
                m = re.search(self.tool_result, result[1])
                if m is None:
                    return None
                variables.update({k: v for k, v in m.groupdict().items() if v is not None})
        if self.last is not None and conv.last_role != self.last:
            return None
        if not (_in_range(conv.step, self.step) and _in_range(conv.turn, self.turn)):
            return None
        if self.model is not None and not re.search(self.model, conv.model):
            return None
        if any(call["name"] not in conv.tools for call in self.tool_calls):
            return None
        return Reply(
            text=_fill(self.text, variables),
            reasoning=_fill(self.reasoning, variables) if self.reasoning else None,
            tool_calls=tuple(
                ToolCallSpec(c["name"], _fill(c.get("arguments", {}), variables)) for c in self.tool_calls
            ),
            finish_reason=self.finish_reason,
            error=named_error(self.error, conv.model) if self.error else None,
        )


def parse_scenario(text: str, source: str = "") -> list[Rule]:
    """The rules of one scenario document, with its file-level ``[defaults]`` applied."""
    doc = tomllib.loads(text)
    defaults = doc.get("defaults", {})
    return [Rule.from_dict({**defaults, **rule}, source=source) for rule in doc.get("rules", [])]


class ScriptedModel:
    """Deterministic model answers for the emulator. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._rules: list[Rule] = []
        self.turns_served = 0

    def enqueue(self, replies: Iterable[Reply | str | Mapping[str, Any]] | Reply | str) -> None:
        """Queue replies, consumed in order before any scenario rule applies."""
        items = [replies] if isinstance(replies, Reply | str) else list(replies)
        coerced = [Reply.coerce(r) for r in items]
        with self._lock:
            self._queue.extend(coerced)

    @property
    def pending(self) -> int:
        """How many queued replies are left."""
        with self._lock:
            return len(self._queue)

    @property
    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def add_rules(self, rules: Iterable[Rule | Mapping[str, Any]]) -> None:
        """Append rules (after those already loaded)."""
        new = [r if isinstance(r, Rule) else Rule.from_dict(r) for r in rules]
        with self._lock:
            self._rules.extend(new)

    def load_file(self, path: str | Path) -> None:
        """Load one scenario TOML file."""
        path = Path(path)
        self.add_rules(parse_scenario(path.read_text("utf-8"), path.name))

    def load_dir(self, directory: str | Path) -> None:
        """Load every ``*.toml`` in a directory, in name order."""
        for path in sorted(Path(directory).glob("*.toml")):
            self.load_file(path)

    def load_bundled(self) -> None:
        """Load the scenarios shipped with the package (the demo and the generic tool rules)."""
        root = resources.files("lakecode.emulator").joinpath("data/scenarios")
        if not root.is_dir():
            return
        for entry in sorted(root.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                self.add_rules(parse_scenario(entry.read_text("utf-8"), entry.name))

    def clear(self) -> None:
        """Drop the queue and every rule."""
        with self._lock:
            self._queue.clear()
            self._rules.clear()

    def respond(self, conv: Conversation) -> Reply:
        """The reply for one model turn."""
        with self._lock:
            self.turns_served += 1
            if self._queue:
                return self._queue.popleft()
            rules = list(self._rules)
        for rule in rules:
            reply = rule.match(conv)
            if reply is not None:
                return reply
        return default_reply(conv)


def default_reply(conv: Conversation) -> Reply:
    """The deterministic answer when nothing else applies."""
    result = conv.tool_result
    if result is not None:
        first = result[1].strip().splitlines()[0][:200] if result[1].strip() else "(empty)"
        return Reply(text=f"The {result[0] or 'tool'} tool returned: {first}")
    if conv.user:
        return Reply(text=f"Echo: {conv.user}")
    return Reply(text="Hello from the lakecode emulator.")
