"""File helpers of the client, each written once: an exclusive lock file (`locked`) and a
durable atomic write (`write_atomic`), and a file copied into place whole
(`copy_replace`). Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - no flock(2) on this platform
    fcntl = None  # type: ignore[assignment]

__all__ = ["copy_replace", "fsync_dir", "locked", "write_atomic"]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock(2) on `path` (created, with its folder) for the `with` block,
    across processes and threads (each call opens the file anew); a no-op where flock is
    missing. Closing the file releases the lock, also in a process that dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync the folder `path`, so an entry created or renamed in it is durable (best effort:
    a file system that cannot is skipped)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o666, tmp_dir: Path | None = None
) -> None:
    """`data` at `path`, whole or absent even after a crash: written to a new temporary file
    in `tmp_dir` (default: `path`'s folder; it must be on the same file system), fsynced,
    renamed over `path`, and `path`'s folder fsynced. `mode` is the new file's permissions
    (before the umask), e.g. `0o600` for a secret. A failure removes the temporary file."""
    tmp = (path.parent if tmp_dir is None else tmp_dir) / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def copy_replace(src: Path, dst: Path) -> None:
    """Copy `src` over `dst` (its folder created) through a temporary file renamed into place,
    so a reader never sees half a file. A failure removes the temporary file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
