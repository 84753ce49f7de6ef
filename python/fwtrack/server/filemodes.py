"""Private files on disk: the server's data directory is `0700`, its SQLite database (with its
`-wal`, `-shm` and `.lock` files) `0600`, whatever the umask.

They hold API-key and password hashes and every stored run. Modes are set explicitly at
creation (a umask only takes bits away). A directory or database left with looser modes by an
older version is tightened at start, with a warning naming the old mode; when that is not
allowed (another owner), the server warns and goes on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "tighten"]

log = logging.getLogger("fwtrack.server")

DIR_MODE = 0o700
FILE_MODE = 0o600


def tighten(path: Path, mode: int) -> None:
    """Set `path` to `mode` when it grants more (group or others bits); warn when it did."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & ~mode == 0:
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        log.warning(
            "%s is mode %o (readable by others) and could not be set to %o: %s; hint: chmod %o %s",
            path, current, mode, exc, mode, path,
        )  # fmt: skip
        return
    log.warning(
        "%s was mode %o; set it to %o (the server's files are private)", path, current, mode
    )


def private_dir(path: Path) -> None:
    """Create directory `path` (and missing parents) `0700`, or tighten an existing one."""
    if path.is_dir():
        tighten(path, DIR_MODE)
        return
    missing = []
    parent = path
    while not parent.exists():
        missing.append(parent)
        if parent.parent == parent:
            break
        parent = parent.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
        os.chmod(directory, DIR_MODE)
    tighten(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create an empty file `path` `0600` when it does not exist, or tighten an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path, FILE_MODE)
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
