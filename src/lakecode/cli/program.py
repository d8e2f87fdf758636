"""How to name lakecode in commands we suggest, so that they work when pasted.

After the README's install, ``lakecode`` lives in ``.venv/bin`` and is usually not on ``PATH``:
a suggestion such as ``lakecode run ...`` would then fail with "command not found".
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

__all__ = ["program_name"]


def program_name(argv0: str | None = None, *, path: str | None = None) -> str:
    """``lakecode`` when that resolves (on ``PATH``) to the program running now; otherwise the
    way it was started (e.g. ``.venv/bin/lakecode``, relative when shorter), or
    ``python -m lakecode`` with this interpreter when started as a module.

    Args:
        argv0: the program as started (default ``sys.argv[0]``).
        path: the search path (default ``$PATH``).
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    if not argv0 or argv0.endswith(("__main__.py", "-c")) or os.path.basename(argv0) != "lakecode":
        return f"{shlex.quote(sys.executable)} -m lakecode"
    running = os.path.realpath(shutil.which(argv0) or argv0)
    found = shutil.which("lakecode", path=path)
    if found is not None and os.path.realpath(found) == running:
        return "lakecode"
    absolute = os.path.abspath(shutil.which(argv0) or argv0)
    relative = os.path.relpath(absolute)
    shown = absolute if relative.startswith("..") else relative
    if os.sep not in shown:
        shown = f".{os.sep}{shown}"
    return shlex.quote(shown)
