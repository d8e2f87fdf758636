"""Atomic, private file writes.

Every file that holds user data (settings, tokens, conversations) is written the same way: a new
temporary file in the same directory, created with ``O_CREAT | O_EXCL`` and the final mode (0600
for anything that may hold a secret, so there is never a moment when the file is readable by
others), fsynced, then ``os.replace``d over the target. A crash or a full disk leaves either the
old file or the new one, never a torn one.

A file that cannot be read back (corrupt settings, a damaged token entry) is never overwritten or
deleted: ``move_aside`` renames it to ``<name>.corrupt-<epoch>`` - with ``-2``, ``-3`` ... when
that name is taken, so a second corruption within the same second keeps both backups.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

__all__ = ["PRIVATE_DIR_MODE", "PRIVATE_FILE_MODE", "atomic_write_bytes", "atomic_write_text",
           "ensure_private_dir", "move_aside"]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 if it does not exist; return it."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace ``path`` with ``data`` atomically; the file is created with ``mode`` from the start.

    Raises:
        OSError: when the directory is not writable or the disk is full. The old file, if any,
            is left untouched and no temporary file is left behind.
    """
    path = Path(path)
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int = PRIVATE_FILE_MODE) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically (see ``atomic_write_bytes``)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def move_aside(path: Path, epoch: float) -> Path:
    """Rename ``path`` to ``<name>.corrupt-<epoch>`` without replacing an existing backup.

    The backup is made with ``os.link`` (which refuses an existing name) and the original is
    then unlinked, so two processes, or two corruptions in one second, never clobber a backup.

    Returns:
        The backup's path.

    Raises:
        OSError: the file cannot be moved (it is left where it was).
    """
    path = Path(path)
    base = f"{path.name}.corrupt-{int(epoch)}"
    for n in range(1, 1000):
        backup = path.with_name(base if n == 1 else f"{base}-{n}")
        try:
            os.link(path, backup)
        except FileExistsError:
            continue
        os.unlink(path)
        return backup
    raise FileExistsError(errno.EEXIST, "too many backups", str(path.with_name(base)))
