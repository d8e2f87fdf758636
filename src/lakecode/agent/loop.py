"""The agent loop: model turn, tool calls, results, and again - until the model is done.

Driving it (the one API: an async iterator of ``lakecode.agent.events`` values)::

    agent = Agent(provider, "databricks-claude-sonnet-4-5",
                  tools=default_tools(ProjectScope.at(".")),
                  approvals=Approvals.for_terminal(sys.stdin, sys.stderr, yes=args.yes),
                  store=ConversationStore())
    async for event in agent.run("add a --verbose flag to cli.py"):
        print(json.dumps(event.to_dict()))          # a CLI in --json mode
    # agent.run("and document it") continues the same conversation

* A **CLI** writes each event as a JSON line, or prints ``TextChunk`` text and a summary of
  ``RunFinished``; it maps ``RunFinished.outcome`` (and a raised error) to its exit code.
* A **TUI** consumes the iterator in a worker and posts each event as a message; its Esc key
  calls ``agent.interrupt()``. Approvals reach the UI through the ``Approvals`` callback, which
  the loop awaits while the iterator waits with it.
* **Tests** collect ``[e async for e in agent.run(...)]`` and assert on values.

Guarantees:
    * the iterator ends with exactly one ``RunFinished``. When ``outcome == "error"`` the
      ``LakecodeError`` that ended the run is raised right after it (the conversation is saved
      first), so a CLI can turn it into an exit code;
    * tool calls run one after the other, in the order the model gave them, and their results
      are appended in that order directly after the assistant message;
    * ``interrupt()`` (or cancelling the task that iterates) stops the model stream or the
      running tool (a shell command's process group is killed) at once. The partial assistant
      message keeps its text and its complete tool calls (incomplete ones are dropped); every
      call that did not finish gets a "cancelled by user" result, so the history never holds a
      call without a result. ``interrupt()`` ends the run with ``RunFinished(outcome=
      "interrupted")``; cancelling the iterating task repairs and saves the same way, then
      lets the ``CancelledError`` propagate;
    * the conversation is saved after every turn (in a worker thread, so the fsync does not
      hold up the loop) and is on disk before ``RunFinished``; a failed save is reported as a
      ``Notice`` and never corrupts the previous save;
    * the model gets at most ``max_turns`` turns per run (``outcome == "turn_limit"``);
    * on ``ContextOverflowError`` the context is compacted once and the turn retried once;
    * on ``ModelBehaviourError`` (e.g. tool arguments that are not JSON) the model is told what
      was wrong in a ``[lakecode]`` user message and gets one more turn; twice in a row ends
      the run.

The loop runs in its own task and hands events over through a queue, so a slow consumer never
stalls a tool and ``interrupt`` can cancel exactly the loop's work. Per-event cost is one queue
hand-off; per turn, context sizes are summed incrementally and the save serialises only new
messages (``bench/agent_overhead.py``: ~0.15 ms per turn in memory, < 1 ms with saving).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from lakecode.agent.approvals import Approvals
from lakecode.agent.context import ContextManager
from lakecode.agent.events import (
    AgentEvent,
    AssistantMessage,
    Notice,
    Outcome,
    ReasoningChunk,
    Retrying,
    RunFinished,
    RunStarted,
    TextChunk,
    ToolCallApproved,
    ToolCallDenied,
    ToolCallResult,
    ToolCallStarted,
    ToolCallStreaming,
    TurnFinished,
    TurnStarted,
    TurnUsage,
)
from lakecode.agent.store import BackgroundSaver, Conversation, ConversationStore, TurnRecord
from lakecode.agent.tools.base import Tool, ToolArgumentError, ToolResult
from lakecode.agent.tools.task_list import TaskListTool
from lakecode.clock import Clock, system_clock
from lakecode.errors import ContextOverflowError, LakecodeError, ModelBehaviourError
from lakecode.llm.provider import Provider
from lakecode.llm.types import (
    ChatRequest,
    Finish,
    Message,
    Part,
    ReasoningDelta,
    ReasoningPart,
    RetryNotice,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallComplete,
    ToolCallDelta,
    ToolSpec,
    Usage,
    UsageUpdate,
)

__all__ = ["CANCELLED_NOT_RUN", "CANCELLED_RUNNING", "Agent"]

_SURROGATE = re.compile("[\ud800-\udfff]")
CANCELLED_RUNNING = "Cancelled by user: the call was interrupted before it finished."
CANCELLED_NOT_RUN = "Cancelled by user: the call was not run."
_DONE = object()


@dataclass
class _Partial:
    """What has streamed so far in the current model turn."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    signature: str | None = None
    calls: list[ToolCall] = field(default_factory=list)
    announced: set[int] = field(default_factory=set)
    usage: Usage = field(default_factory=Usage)
    finish: Finish | None = None

    def message(self) -> Message | None:
        """The assistant message so far: text and complete calls kept; None if there is neither."""
        text = "".join(self.text)
        if not text.strip() and not self.calls:
            return None
        parts: list[Part] = []
        reasoning = "".join(self.reasoning)
        if reasoning:
            parts.append(ReasoningPart(reasoning, self.signature, replayable=self.signature is not None))
        if text.strip():
            parts.append(TextPart(text))
        return Message(role="assistant", parts=tuple(parts), tool_calls=tuple(self.calls))


@dataclass
class _RunState:
    """Book-keeping of one run, read by the repair code when the run is cut short."""

    turn: int = 0
    usage: Usage = field(default_factory=Usage)
    final_text: str = ""
    partial: _Partial | None = None
    pending: list[ToolCall] = field(default_factory=list)
    running: str | None = None


class Agent:
    """Runs a conversation with a model and tools. See the module docstring for the contract.

    Args:
        provider: any ``Provider``; the agent never closes it.
        model: the model id, sent verbatim.
        tools: the tools offered to the model (e.g. ``default_tools(scope)``).
        approvals: the approval policy (the UI supplies it).
        conversation: a conversation to continue (e.g. ``store.load(id)``); None starts one.
        store: where to save after every turn; None keeps the conversation in memory only.
        system_prompt: added as the first message of a new conversation.
        max_turns: model turns allowed per run.
        max_tokens, temperature, reasoning_effort, thinking_budget: passed in each ``ChatRequest``.
        context: the context manager; None builds one from the model's ``context_window``.
        cwd: the project directory, recorded in the conversation's metadata.
        clock: for timestamps.
    """

    def __init__(self, provider: Provider, model: str, *, tools: Sequence[Tool] = (),
                 approvals: Approvals | None = None, conversation: Conversation | None = None,
                 store: ConversationStore | None = None, system_prompt: str | None = None,
                 max_turns: int = 50, max_tokens: int | None = None, temperature: float | None = None,
                 reasoning_effort: str | None = None, thinking_budget: int | None = None,
                 context: ContextManager | None = None, cwd: str | Path = "",
                 clock: Clock = system_clock) -> None:
        self.provider = provider
        self.model = model
        self.tools = {tool.name: tool for tool in tools}
        self.approvals = approvals if approvals is not None else Approvals.headless()
        self.store = store
        self.system_prompt = system_prompt
        self.max_turns = max_turns
        self.context = context
        self.clock = clock
        self._specs: tuple[ToolSpec, ...] = tuple(tool.spec for tool in tools)
        self._request = ChatRequest(model=model, messages=(), tools=self._specs, max_tokens=max_tokens,
                                    temperature=temperature, reasoning_effort=reasoning_effort,
                                    thinking_budget=thinking_budget)
        self.conversation = conversation if conversation is not None else Conversation.new(
            model=model, provider=provider.name, cwd=cwd, clock=clock)
        if cwd and not self.conversation.cwd:
            self.conversation.cwd = str(cwd)
        self._emit: Callable[[AgentEvent], None] = _discard
        self._saver = BackgroundSaver(store, self.conversation, self._save_failed) if store else None
        self._task: asyncio.Task[None] | None = None
        self._interrupted = False
        self._finishing = False
        self._close_dangling_calls()
        for tool in tools:
            if isinstance(tool, TaskListTool):
                tool.restore(self.conversation.messages)

    @property
    def messages(self) -> list[Message]:
        """The full conversation history (never trimmed)."""
        return self.conversation.messages

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._task is not None and not self._task.done()

    def interrupt(self) -> None:
        """Stop the current run as soon as possible (no-op when idle).

        Call it from the event loop's thread (from another thread, use
        ``loop.call_soon_threadsafe(agent.interrupt)``). The run's iterator then yields the
        results of the cancelled calls and ``RunFinished(outcome="interrupted")``.
        """
        task = self._task
        if task is not None and not task.done() and not self._interrupted and not self._finishing:
            self._interrupted = True
            task.cancel()

    async def run(self, prompt: str) -> AsyncIterator[AgentEvent]:
        """Add ``prompt`` to the conversation and work on it, yielding events as they happen.

        Raises:
            RuntimeError: when a run is already in progress.
            LakecodeError: the error that ended the run, right after ``RunFinished("error")``.
        """
        if self.running:
            raise RuntimeError("the agent is already running; interrupt it or wait for it to finish")
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._emit = queue.put_nowait
        self._interrupted = self._finishing = False
        task = asyncio.create_task(self._run(prompt), name="lakecode-agent-run")
        task.add_done_callback(lambda _: queue.put_nowait(_DONE))
        self._task = task
        try:
            while (item := await queue.get()) is not _DONE:
                yield cast(AgentEvent, item)
            if not task.cancelled() and (error := task.exception()) is not None:
                raise error
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
            if not task.cancelled():
                task.exception()  # retrieved: asyncio must not log it as unhandled
            self._emit = _discard

    # ---- the run -----------------------------------------------------------------------------

    async def _run(self, prompt: str) -> None:
        state = _RunState()
        try:
            outcome = await self._turns(prompt, state)
        except asyncio.CancelledError:
            self._finishing = True
            self._settle(state)
            if not self._interrupted:
                self._save_now()  # being torn down: no more awaiting
                raise
            await self._save()
            self._finish(state, "interrupted")
            return
        except LakecodeError as exc:
            self._finishing = True
            self._settle(state)
            await self._save()
            self._finish(state, "error", exc.message)
            raise
        except BaseException:
            self._settle(state)  # a bug: still leave a valid, saved history behind
            self._save_now()
            raise
        self._finishing = True  # from here on an interrupt could only lose the RunFinished event
        await self._save()
        self._finish(state, outcome)

    def _finish(self, state: _RunState, outcome: Outcome, error: str | None = None) -> None:
        self._emit(RunFinished(outcome=outcome, final_text=state.final_text, turns=state.turn,
                               usage=state.usage, total_usage=self.conversation.usage,
                               conversation_id=self.conversation.id, error=error))

    async def _turns(self, prompt: str, state: _RunState) -> Outcome:
        conv = self.conversation
        if self.system_prompt and not conv.messages:
            conv.append(Message.system(self.system_prompt))
        last = conv.messages[-1] if conv.messages else None
        if last is None or last.role != "user" or last.text != prompt:
            # (The same prompt right after its own unanswered copy is a retry of a turn that
            # failed or was interrupted before any answer: it is not asked twice.)
            conv.append(Message.user(prompt))
        conv.model, conv.provider = self.model, self.provider.name
        self._emit(RunStarted(conversation_id=conv.id, model=self.model, prompt=prompt))
        if self.context is None:
            self.context = await self._context_for_model()
        malformed = False
        for turn in range(1, self.max_turns + 1):
            state.turn = turn
            self._emit(TurnStarted(turn))
            try:
                message, reason, usage = await self._model_turn(state)
            except ModelBehaviourError as exc:
                if malformed:  # twice in a row: this model cannot be helped here
                    raise
                malformed = True
                self._ask_again(state, exc)
                self._emit(TurnFinished(turn, "malformed"))
                continue
            malformed = False
            conv.append(message)
            state.final_text = message.text
            state.usage = state.usage + usage
            conv.record_turn(TurnRecord(len(conv.turns) + 1, self.clock.time(), reason, usage))
            self.context.observe(usage)
            self._emit(AssistantMessage(turn, message, reason))
            self._emit(TurnUsage(turn, usage, conv.usage))
            state.pending = list(message.tool_calls)
            for call in message.tool_calls:
                await self._call_tool(call, state)
            if self._saver is not None:
                self._saver.request()
            self._emit(TurnFinished(turn, reason))
            if not message.tool_calls:
                return "completed"
        return "turn_limit"

    def _ask_again(self, state: _RunState, exc: ModelBehaviourError) -> None:
        """The model's reply was unusable (e.g. tool arguments that are not JSON): keep its
        text, tell it what went wrong in a user message, and let it try once more."""
        partial, state.partial = state.partial, None
        text = "".join(partial.text) if partial is not None else ""
        if text.strip():
            self.conversation.append(Message.assistant(text))
        self.conversation.append(Message.user(
            f"[lakecode] Your last reply could not be used: {exc.message} Please send it again; "
            "the arguments of a tool call must be one JSON object."))
        self._emit(Notice("warning", f"the model sent an unusable reply ({exc.message}); asking it again"))

    async def _context_for_model(self) -> ContextManager:
        try:
            info = await self.provider.model_info(self.model)
        except LakecodeError:
            info = None
        window = info.context_window if info else None
        return ContextManager(window, max_output_tokens=self._request.max_tokens)

    # ---- model turns -------------------------------------------------------------------------

    async def _model_turn(self, state: _RunState) -> tuple[Message, str, Usage]:
        assert self.context is not None
        history = self.conversation.messages
        prepared = self.context.prepare(history, self._specs)
        if prepared.compacted is not None:
            self._emit(prepared.compacted)
        try:
            return await self._stream(prepared.messages, state)
        except ContextOverflowError as exc:
            # F23: compact once, retry once; a second overflow ends the run.
            self.context.learn_from_error(exc.message)
            prepared = self.context.compact(history, self._specs)
            if prepared.compacted is not None:
                self._emit(prepared.compacted)
            return await self._stream(prepared.messages, state)

    async def _stream(self, messages: tuple[Message, ...], state: _RunState) -> tuple[Message, str, Usage]:
        request = ChatRequest(
            model=self.model, messages=messages, tools=self._specs, max_tokens=self._request.max_tokens,
            temperature=self._request.temperature, reasoning_effort=self._request.reasoning_effort,
            thinking_budget=self._request.thinking_budget)
        partial = state.partial = _Partial()
        emit = self._emit
        stream = self.provider.stream_chat(request)
        try:
            async for event in stream:
                if isinstance(event, TextDelta):
                    partial.text.append(event.text)
                    emit(TextChunk(event.text))
                elif isinstance(event, ReasoningDelta):
                    self._on_reasoning(partial, event)
                elif isinstance(event, ToolCallDelta):
                    if event.name and event.index not in partial.announced:
                        partial.announced.add(event.index)
                        emit(ToolCallStreaming(event.index, event.name))
                elif isinstance(event, ToolCallComplete):
                    partial.calls.append(event.call)
                elif isinstance(event, UsageUpdate):
                    partial.usage = event.usage
                elif isinstance(event, RetryNotice):
                    partial = state.partial = _Partial()  # the turn starts over
                    emit(Retrying(event.attempt, event.delay, event.reason))
                elif isinstance(event, Finish):
                    partial.finish = event
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        state.partial = None
        return _completed(partial)

    def _on_reasoning(self, partial: _Partial, event: ReasoningDelta) -> None:
        partial.reasoning.append(event.text)
        if event.signature:
            partial.signature = event.signature
        if event.text:
            self._emit(ReasoningChunk(event.text))

    # ---- tool calls --------------------------------------------------------------------------

    async def _call_tool(self, call: ToolCall, state: _RunState) -> None:
        started = time.monotonic()
        state.running = call.id
        result = await self._tool_result(call)
        state.running = None
        if state.pending and state.pending[0] is call:
            state.pending.pop(0)
        for event in result.events:
            self._emit(event)
        self._add_result(call, result, time.monotonic() - started)

    async def _tool_result(self, call: ToolCall) -> ToolResult:
        tool = self.tools.get(call.name)
        if tool is None:
            self._emit(ToolCallStarted(call, "", call.name))
            known = ", ".join(sorted(self.tools)) or "none"
            return ToolResult(f"unknown tool {call.name!r}; the available tools are: {known}", is_error=True)
        try:
            access = tool.check(call.arguments)
        except ToolArgumentError as exc:
            self._emit(ToolCallStarted(call, "", f"{call.name} (invalid arguments)"))
            return ToolResult(f"{exc.message}. Fix the arguments and call the tool again.", is_error=True)
        self._emit(ToolCallStarted(call, access.kind, access.summary))
        verdict = await self.approvals.decide(call, access)
        if not verdict.approved:
            self._emit(ToolCallDenied(call.id, verdict.reason, verdict.how))
            return ToolResult(verdict.reason, is_error=True)
        self._emit(ToolCallApproved(call.id, verdict.how))
        try:
            return await tool.run(call.arguments)
        except (OSError, LakecodeError) as exc:
            return ToolResult(f"{call.name} failed: {exc}", is_error=True)

    def _add_result(self, call: ToolCall, result: ToolResult, duration: float) -> None:
        content = _valid_text(result.content)
        self.conversation.append(Message.tool(call.id, content, name=call.name, is_error=result.is_error))
        self._emit(ToolCallResult(call.id, call.name, content, result.is_error, duration))

    # ---- repair and persistence --------------------------------------------------------------

    def _settle(self, state: _RunState) -> None:
        """Make the history valid after a run was cut short (see the module docstring)."""
        if state.partial is not None:
            message = state.partial.message()
            state.partial = None
            if message is not None:
                self.conversation.append(message)
                state.final_text = message.text
                state.pending = list(message.tool_calls)
        for call in state.pending:
            text = CANCELLED_RUNNING if call.id == state.running else CANCELLED_NOT_RUN
            self._add_result(call, ToolResult(text, is_error=True), 0.0)
        state.pending = []
        state.running = None

    def _close_dangling_calls(self) -> None:
        """A loaded conversation may end with calls that never got results (the process died)."""
        messages = self.conversation.messages
        last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
        if last < 0 or not messages[last].tool_calls:
            return
        answered = {m.tool_call_id for m in messages[last + 1:] if m.role == "tool"}
        for call in messages[last].tool_calls:
            if call.id not in answered:
                self.conversation.append(
                    Message.tool(call.id, CANCELLED_NOT_RUN, name=call.name, is_error=True))

    async def _save(self) -> None:
        """Save now and wait for it (at the end of a run)."""
        if self._saver is not None:
            self._saver.request()
            await self._saver.flush()

    def _save_now(self) -> None:
        if self._saver is not None:
            self._saver.save_now()

    def _save_failed(self, exc: OSError) -> None:
        self._emit(Notice("warning", f"could not save the conversation: {exc.strerror or exc}"))


def _discard(event: AgentEvent) -> None:
    """The emitter when no run is being iterated."""


def _valid_text(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates (a file name that is not UTF-8 comes back from
    ``os.fsdecode`` as ``\\udcff``) become U+FFFD, as undecodable command output already does,
    so what the model reads back is text every server and encoder accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _completed(partial: _Partial) -> tuple[Message, str, Usage]:
    """The turn's message (F19: no empty text parts), finish reason and usage."""
    finish = partial.finish
    if finish is None:  # the stream ended without Finish: keep what arrived
        message = partial.message() or Message(role="assistant")
        return message, "incomplete", partial.usage
    message = finish.message
    parts = tuple(p for p in message.parts
                  if not isinstance(p, TextPart) or (p.text.strip() if message.tool_calls else p.text))
    if parts != message.parts or message.role != "assistant":
        message = Message(role="assistant", parts=parts, tool_calls=message.tool_calls)
    usage = finish.usage if finish.usage != Usage() else partial.usage
    return message, finish.reason, usage
