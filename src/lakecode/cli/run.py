"""``lakecode run``: one task, headless, for scripts and CI.

The command reads the prompt, merges settings (settings.toml + environment + flags, never
saved), opens a session through ``lakecode.runtime`` (provider + agent), drives the agent with a
renderer from ``lakecode.cli.output`` and exits with a documented code
(``lakecode.cli.exit_codes``). ``drive`` is the shared core: ``lakecode demo`` runs its task
through it too.

Only click is imported at module level, so ``lakecode run --help`` stays fast; the agent, the
provider and the SDKs are imported when a run starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from lakecode.agent.approvals import Approvals, Decision
    from lakecode.agent.events import RunFinished
    from lakecode.agent.store import Conversation, ConversationStore
    from lakecode.agent.tools.base import ToolAccess
    from lakecode.cli.output import Renderer
    from lakecode.llm.types import ToolCall
    from lakecode.runtime import Session

__all__ = ["SECRET_VARS", "RunResult", "drive", "run"]

SECRET_VARS = ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_SECRET", "LLM_API_KEY")
"""Read into the run's settings, then removed from the environment the agent's commands get."""

_ENV_HELP = """\b
Environment (applied to this run only, never saved):
  LLM_MODEL                  the model; databricks/<endpoint> picks the Databricks provider
  LLM_BASE_URL, LLM_API_KEY  a generic OpenAI-compatible endpoint and its key
  DATABRICKS_HOST            the workspace URL
  DATABRICKS_TOKEN           a personal access token
  DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET   a service principal (OAuth M2M)
  DATABRICKS_CONFIG_PROFILE  a ~/.databrickscfg profile
  DATABRICKS_AUTH_TYPE       pin the auth type (pat, oauth-m2m, databricks-cli, ...)

\b
Exit codes: 0 done, 1 internal error, 2 usage or configuration, 3 authentication,
4 model or service error, 5 turn limit reached, 130 interrupted (Ctrl+C).
"""


@dataclass(frozen=True)
class RunResult:
    """How a driven run ended.

    Attributes:
        exit_code: the documented exit code.
        conversation_id: the conversation's id (None when no agent was built).
        finished: the ``RunFinished`` event, when the run got that far.
    """

    exit_code: int
    conversation_id: str | None
    finished: RunFinished | None = None


@click.command("run", epilog=_ENV_HELP)
@click.option("-t", "--text", metavar="TEXT", help="The task, as text.")
@click.option("-f", "--file", "prompt_file", metavar="FILE",
              help="Read the task from FILE ('-' reads standard input).")
@click.option("--model", metavar="ID", help="The model id (beats LLM_MODEL and settings).")
@click.option("--json", "as_json", is_flag=True,
              help="Write JSON Lines events to stdout instead of the answer (see docs/headless.md).")
@click.option("-y", "--yes", is_flag=True,
              help="Approve every file write and command inside the project without asking.")
@click.option("--max-turns", type=click.IntRange(1, 1000), metavar="N",
              help="Stop after N model turns (exit code 5).")
@click.option("--resume", "resume", is_flag=False, flag_value="", default=None, metavar="[ID]",
              help="Continue a saved conversation, in its own project directory (without ID: the "
                   "latest one of this directory, like --last).")
@click.option("--last", is_flag=True,
              help="Continue the latest saved conversation of this project directory.")
@click.option("--cwd", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="The project directory (default: the current one, or the resumed conversation's).")
def run(text: str | None, prompt_file: str | None, model: str | None, as_json: bool, yes: bool,
        max_turns: int | None, resume: str | None, last: bool, cwd: Path | None) -> None:
    """Run one task headless: the answer on stdout, progress on stderr.

    Reads settings.toml and the environment below (nothing is saved), works on the task in
    the project directory with the shell, file_editor and task_list tools, and prints the
    final answer. Without --yes, read-only tools run; writes and commands are asked about
    on the terminal, or refused when there is none (CI). Ctrl+C stops the run cleanly: the
    conversation is saved and can be continued with --resume.

    \b
    Examples:
      lakecode run -t "add a --verbose flag to cli.py and test it" --yes
      git diff | lakecode run -f - --model databricks-claude-sonnet-4-5
      lakecode run --last -t "now document it" --json > events.jsonl
    """
    from lakecode.cli.output import JsonEvents, Progress, use_color

    renderer: Renderer = JsonEvents(sys.stdout) if as_json else Progress(
        sys.stdout, sys.stderr, color=use_color(sys.stderr), live=sys.stderr.isatty())
    prompt, problem = _read_prompt(text, prompt_file)
    if problem is None and resume is not None and last:
        problem = "use either --resume or --last, not both"
    if problem is not None:
        from lakecode.cli.exit_codes import USAGE

        renderer.error("UsageError", problem, "See `lakecode run --help`.", USAGE, None)
        sys.exit(USAGE)
    want = resume if resume is not None else ("" if last else None)
    options = _Options(model=model, max_turns=max_turns, yes=yes, resume=want, cwd=cwd,
                       stdin_used=prompt_file == "-")
    sys.exit(_main(prompt, options, renderer))


@dataclass(frozen=True)
class _Options:
    model: str | None
    max_turns: int | None
    yes: bool
    resume: str | None  # None: new conversation; "": the latest; else an id
    cwd: Path | None
    stdin_used: bool


def _read_prompt(text: str | None, prompt_file: str | None) -> tuple[str, str | None]:
    """The prompt, or a usage problem."""
    if (text is None) == (prompt_file is None):
        return "", "give the task with -t TEXT or -f FILE (one of them)"
    if text is not None:
        prompt = text
    elif prompt_file == "-":
        prompt = sys.stdin.read()
    else:
        try:
            prompt = Path(str(prompt_file)).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return "", f"cannot read {prompt_file}: {reason}"
    if not prompt.strip():
        return "", "the task is empty"
    return prompt, None


def _main(prompt: str, options: _Options, renderer: Renderer) -> int:
    """Run the task and return the exit code; errors become messages on the renderer."""
    import asyncio
    import traceback

    from lakecode.cli.exit_codes import INTERNAL, INTERRUPTED, USAGE, exit_code_for
    from lakecode.errors import LakecodeError

    try:
        from lakecode.agent.store import ConversationError, ConversationStore

        store = ConversationStore()
        return asyncio.run(_headless(prompt, options, renderer, store))
    except ConversationError as error:
        renderer.error(type(error).__name__, error.message, error.hint, USAGE, None)
        return USAGE
    except LakecodeError as error:
        code = exit_code_for(error)
        renderer.error(type(error).__name__, error.message, error.hint, code, None)
        return code
    except KeyboardInterrupt:
        renderer.error("Interrupted", "Interrupted.", None, INTERRUPTED, None)
        return INTERRUPTED
    except Exception as error:  # the CLI boundary: a bug must still end with a message and a code
        from lakecode.redact import redact

        sys.stderr.write(redact(traceback.format_exc()))
        renderer.error(type(error).__name__, f"internal error: {error}",
                       "This is a bug in lakecode; please report it with the output above.",
                       INTERNAL, None)
        return INTERNAL


async def _headless(prompt: str, options: _Options, renderer: Renderer, store: ConversationStore) -> int:
    """Open the session for ``lakecode run`` and drive it; the exit code."""
    import asyncio

    from lakecode.cli.output import RunContext
    from lakecode.runtime import RunOptions, effective_settings, load_conversation, open_session

    overrides = effective_settings(RunOptions(model=options.model, max_turns=options.max_turns))
    if overrides.sdk_auth_type is None:  # (the Databricks SDK reads the environment itself)
        for name in SECRET_VARS:  # read above; the commands the agent runs must not see them
            os.environ.pop(name, None)
    conversation = None
    if options.resume is not None:
        here = (options.cwd or Path.cwd()).resolve()
        conversation = await asyncio.to_thread(load_conversation, store, options.resume or None,
                                               cwd=None if options.resume else here)
    cwd = _project_dir(options.cwd, conversation)
    session = await open_session(overrides, cwd=cwd, approvals=_approvals(options), store=store,
                                 conversation=conversation, headless=True)
    try:
        renderer.begin(RunContext(provider=session.provider.name, cwd=str(cwd),
                                  resumed=conversation is not None))
        result = await drive(session, prompt, renderer)
    finally:
        await session.aclose()
    _saved_line(store, result.conversation_id)
    return result.exit_code


def _project_dir(cwd: Path | None, conversation: Conversation | None) -> Path:
    """``--cwd``, else the resumed conversation's directory (if it still exists), else ``.``."""
    if cwd is not None:
        return cwd.resolve()
    if conversation is not None and conversation.cwd and Path(conversation.cwd).is_dir():
        return Path(conversation.cwd).resolve()
    return Path.cwd().resolve()


def _approvals(options: _Options) -> Approvals:
    """``--yes``: everything in the project; a terminal: ask on it; otherwise read-only."""
    from lakecode.agent.approvals import Approvals, terminal_prompt

    if options.yes:
        return Approvals.headless(yes=True)
    if not options.stdin_used and sys.stdin.isatty() and sys.stderr.isatty():
        prompt = terminal_prompt(sys.stdin, sys.stderr)

        async def ask(call: ToolCall, access: ToolAccess) -> Decision:
            import asyncio

            await asyncio.sleep(0)  # let the progress line of this call be written first
            return await prompt(call, access)

        return Approvals.headless(ask=ask)
    return Approvals.headless()


def _saved_line(store: ConversationStore, conversation_id: str | None) -> None:
    """Tell the user (on stderr) how to continue, if the conversation was saved."""
    if conversation_id and store.path_for(conversation_id).is_file():
        click.echo(f"saved as {conversation_id}; continue with "
                   f"`lakecode run --resume {conversation_id} -t ...`", err=True)


async def drive(session: Session, prompt: str, renderer: Renderer) -> RunResult:
    """Run ``prompt`` on the session's agent, rendering every event; the outcome and exit code.

    Ctrl+C (SIGINT) interrupts the agent: the running model stream or command is stopped, every
    open tool call gets a result, the conversation is saved, and the exit code is 130. A second
    Ctrl+C cancels at once (the conversation is still repaired and saved).
    """
    import asyncio

    from lakecode.agent.events import Notice, RunFinished, ToolCallDenied
    from lakecode.cli.exit_codes import INTERRUPTED, OK, TURN_LIMIT, USAGE, exit_code_for
    from lakecode.errors import LakecodeError

    agent = session.agent
    finished: RunFinished | None = None
    unasked = 0  # writes and commands refused for want of a terminal to ask on (no --yes)
    restore = _on_sigint(agent.interrupt, renderer)
    try:
        async for event in agent.run(prompt):
            if isinstance(event, RunFinished) and unasked and event.outcome == "completed":
                renderer.event(Notice("warning", (
                    f"{unasked} tool call{'s' if unasked > 1 else ''} (writes or commands) were refused: "
                    "there was no terminal to ask on. The task may be unfinished; re-run with --yes "
                    "to allow writes and commands inside the project.")))
            renderer.event(event)
            if isinstance(event, ToolCallDenied) and event.how == "no-terminal":
                unasked += 1
            elif isinstance(event, RunFinished):
                finished = event
    except LakecodeError as error:
        code = exit_code_for(error)
        renderer.error(type(error).__name__, error.message, error.hint, code, agent.conversation.id)
        return RunResult(code, agent.conversation.id, finished)
    except asyncio.CancelledError:  # a second Ctrl+C: this task was cancelled; carry on closing
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        renderer.error("Interrupted", "Interrupted.", None, INTERRUPTED, agent.conversation.id)
        return RunResult(INTERRUPTED, agent.conversation.id, finished)
    finally:
        restore()
    assert finished is not None  # the agent always ends a run with RunFinished
    code = {"completed": OK, "turn_limit": TURN_LIMIT, "interrupted": INTERRUPTED}.get(
        finished.outcome, OK)
    if code == OK and unasked:
        code = USAGE  # CI must not report success for a task whose writes never happened
    renderer.finished(finished, code)
    return RunResult(code, agent.conversation.id, finished)


def _on_sigint(interrupt: Callable[[], None], renderer: Renderer) -> Callable[[], None]:
    """Route SIGINT to ``interrupt`` (first press) and to cancelling this task (second press);
    returns the function that puts the default behaviour back."""
    import asyncio
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    presses = 0

    def handler() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            renderer.interrupting()
            interrupt()
        elif task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        return lambda: None

    def restore() -> None:
        loop.remove_signal_handler(signal.SIGINT)

    return restore
