"""Strict request checks: what the real service rejects, with the strings it uses.

``check_chat`` returns the first problem as ``(message, error_code)`` or None. The emulator runs
it when ``strict`` is on (the default). Model-specific refusals (caps, unsupported parameters,
tools, wrong route) live in ``lakecode.emulator.chat`` and apply in lenient mode too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["ALTERNATION", "CHAT_KEYS", "check_chat", "check_thinking_replay", "thinking_enabled"]

CHAT_KEYS = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "n",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "response_format",
        "reasoning_effort",
        "thinking",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "parallel_tool_calls",
    }
)
INVOCATION_KEYS = frozenset({"extra_params", "usage_context", "client_request_id"})
_MESSAGE_KEYS = {
    "system": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls"}),
    "tool": frozenset({"role", "content", "name", "tool_call_id"}),
}
_PART_TYPES = frozenset({"text", "image_url", "reasoning"})
ALTERNATION = (
    "Conversation roles must alternate (user -> assistant -> user -> assistant -> ...) "
    "with an optional system at the start"
)
EMPTY_TEXT = "messages: text content blocks must be non-empty"

Problem = tuple[str, str]


def check_chat(body: Mapping[str, Any], *, gateway: bool, invocations: bool, family: str) -> Problem | None:
    """The first reason the real service would refuse this chat body, or None."""
    allowed = CHAT_KEYS | (INVOCATION_KEYS if invocations else frozenset())
    if family != "claude":
        allowed -= {"thinking"}
    for key in body:
        if key not in allowed:
            if gateway:
                return f"{key}: Extra inputs are not permitted", "BAD_REQUEST"
            return f'Bad request: json: unknown field "{key}"', "BAD_REQUEST"
    if family == "gemini" and "stream_options" in body:
        return "INVALID_ARGUMENT: stream_options is not supported for this model", "INVALID_PARAMETER_VALUE"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required (a non-empty list of messages)", "BAD_REQUEST"
    for check in (_check_message_shapes, _check_order):
        problem = check(messages)
        if problem:
            return problem, "BAD_REQUEST"
    problem = _check_tools(body.get("tools"))
    if problem:
        return problem, "BAD_REQUEST"
    if family == "claude":
        return _check_thinking(body)
    return None


def _check_message_shapes(messages: list[Any]) -> str | None:
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            return f"messages.{i}: Input should be a valid dictionary"
        role = m.get("role")
        if role not in _MESSAGE_KEYS:
            return f"messages.{i}.role: Input should be 'system', 'user', 'assistant' or 'tool'"
        for key in m:
            if key not in _MESSAGE_KEYS[role]:
                return f"messages.{i}.{key}: Extra inputs are not permitted"
        problem = _check_content(i, m)
        if problem:
            return problem
    return None


def _check_content(i: int, m: Mapping[str, Any]) -> str | None:
    content = m.get("content")
    role = m["role"]
    if role == "tool":
        if not isinstance(m.get("tool_call_id"), str):
            return f"messages.{i}.tool_call_id: Field required"
        return None
    if content is None:
        if role == "assistant" and m.get("tool_calls"):
            return None
        return EMPTY_TEXT
    if isinstance(content, str):
        return EMPTY_TEXT if content == "" else None
    if not isinstance(content, list) or not content:
        return EMPTY_TEXT
    for j, part in enumerate(content):
        if not isinstance(part, Mapping) or part.get("type") not in _PART_TYPES:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            return (
                f"messages.{i}.content.{j}: Input tag '{kind}' found using 'type' does not match any "
                "of the expected tags: 'text', 'image_url', 'reasoning'"
            )
        if part["type"] == "text" and not part.get("text"):
            return EMPTY_TEXT
        if part["type"] == "reasoning" and role != "assistant":
            return f"messages.{i}.content.{j}: reasoning parts are only allowed in assistant messages"
    return None


def _check_order(messages: list[Any]) -> str | None:
    roles = [m["role"] for m in messages]
    start = 1 if roles[0] == "system" else 0
    if "system" in roles[start:]:
        return ALTERNATION
    if start < len(roles) and roles[start] != "user":
        return ALTERNATION
    i = start
    previous = ""
    while i < len(messages):
        m = messages[i]
        role = m["role"]
        if role == "tool":
            return (
                f"messages.{i}.content.0: unexpected tool_use_id found in tool_result blocks: "
                f"{m.get('tool_call_id')}. Each tool_result block must have a corresponding tool_use "
                "block in the previous message."
            )
        if role == previous:
            return ALTERNATION
        previous = role
        i += 1
        if role == "assistant" and m.get("tool_calls"):
            problem, i = _check_results(messages, i)
            if problem:
                return problem
            previous = "tool"
    return None


def _check_results(messages: list[Any], i: int) -> tuple[str | None, int]:
    """Check the tool results that must follow the assistant message at ``i - 1``."""
    assistant_index = i - 1
    calls = messages[assistant_index]["tool_calls"]
    wanted = [str(c.get("id")) for c in calls if isinstance(c, Mapping)]
    seen: set[str] = set()
    while i < len(messages) and messages[i]["role"] == "tool":
        call_id = messages[i].get("tool_call_id")
        if call_id not in wanted:
            return (
                f"messages.{i}.content.0: unexpected tool_use_id found in tool_result blocks: {call_id}. "
                "Each tool_result block must have a corresponding tool_use block in the previous message."
            ), i
        seen.add(call_id)
        i += 1
    missing = [c for c in wanted if c not in seen]
    if missing:
        return (
            f"messages.{assistant_index}: tool_use ids were found without tool_result blocks "
            f"immediately after: {', '.join(missing)}. Each tool_use block must have a corresponding "
            "tool_result block in the next message."
        ), i
    return None, i


def _check_tools(tools: Any) -> str | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return "tools: Input should be a valid list"
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            return f"tools.{i}.type: Input should be 'function'"
        for key in tool:
            if key not in ("type", "function"):
                return f"tools.{i}.custom.{key}: Extra inputs are not permitted"
        fn = tool.get("function")
        if not isinstance(fn, Mapping) or not fn.get("name"):
            return f"tools.{i}.custom.name: Field required"
        for key in fn:
            if key not in ("name", "description", "parameters"):
                return f"tools.{i}.custom.{key}: Extra inputs are not permitted"
        if "parameters" not in fn:
            return '"parameters" is a required property for "function" object in parameter "tools"'
        params = fn["parameters"]
        if not isinstance(params, Mapping) or params.get("type") != "object":
            return f"tools.{i}.custom.input_schema.type: Input should be 'object'"
    return None


def _check_thinking(body: Mapping[str, Any]) -> Problem | None:
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if not isinstance(thinking, Mapping) or thinking.get("type") not in ("enabled", "adaptive", "disabled"):
        return "thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'", "BAD_REQUEST"
    if thinking["type"] != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024", "BAD_REQUEST"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and budget >= max_tokens:
        return "`max_tokens` must be greater than `thinking.budget_tokens`", "BAD_REQUEST"
    return None


def thinking_enabled(body: Mapping[str, Any]) -> bool:
    """True when a Claude request turns extended thinking on."""
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def check_thinking_replay(messages: list[Any], signatures: Collection[str]) -> str | None:
    """With thinking on, the assistant turn whose tool results end the conversation must start
    with the reasoning part the service returned, signature included (Claude's rule)."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    i = len(messages) - 1
    while i >= 0 and messages[i].get("role") == "tool":
        i -= 1
    if i < 0 or messages[i].get("role") != "assistant":
        return None
    content = messages[i].get("content")
    first = content[0] if isinstance(content, list) and content else None
    if not isinstance(first, Mapping) or first.get("type") != "reasoning":
        found = "text" if (isinstance(content, str) and content) or isinstance(first, Mapping) else "tool_use"
        return (
            f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. "
            "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
            "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
            "include thinking blocks from previous turns. To avoid this requirement, disable `thinking`."
        )
    summary = first.get("summary")
    items = summary if isinstance(summary, list) else []
    signed = [s.get("signature") for s in items if isinstance(s, Mapping) and s.get("signature")]
    if not signed or any(sig not in signatures for sig in signed):
        return f"messages.{i}.content.0: Invalid `signature` in `thinking` block"
    return None
