"""Exit codes of every lakecode command, and the one place errors become exit codes.

======  =====================================================================================
code    meaning
======  =====================================================================================
0       success
1       an unexpected internal error (a bug: please report it)
2       usage or configuration error: a bad flag, a missing setting, a malformed config file;
        or a run whose writes/commands were refused for want of --yes (no terminal to ask on)
3       authentication error: no credential, sign-in failed or expired
4       model or service error: the workspace or the model failed after retries
5       the agent hit its turn limit before finishing
130     interrupted (Ctrl+C)
======  =====================================================================================
"""

from __future__ import annotations

from lakecode.errors import APIError, AuthError, ConfigError, LakecodeError, ModelBehaviourError

__all__ = ["AUTH", "INTERNAL", "INTERRUPTED", "MODEL", "OK", "TURN_LIMIT", "USAGE", "exit_code_for"]

OK = 0
INTERNAL = 1
USAGE = 2
AUTH = 3
MODEL = 4
TURN_LIMIT = 5
INTERRUPTED = 130


def exit_code_for(error: BaseException) -> int:
    """The exit code for an error that reached a command's boundary."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(error, AuthError):  # before APIError: AuthenticationError is both
        return AUTH
    if isinstance(error, ConfigError):
        return USAGE
    if isinstance(error, APIError | ModelBehaviourError):
        return MODEL
    if isinstance(error, LakecodeError):
        return INTERNAL
    return INTERNAL
