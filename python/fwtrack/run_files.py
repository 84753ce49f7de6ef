"""`RunFile`: one file stored with a run (code snapshot, diff, requirements, metadata, user
files), as `fwtrack.Api` returns it from `run.files()`, locally or from a server."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fwtrack.errors import UnsafePathError
from fwtrack.path_names import contained

__all__ = [
    "FILES_DIR",
    "RunFile",
    "inside",
    "local_run_files",
    "merge_metadata",
    "walk_files",
    "write_atomic",
]


def inside(root: Path, *parts: str) -> Path:
    """`root/parts...` resolved, when it stays under `root`; else UnsafePathError."""
    try:
        return contained(root, *parts)
    except ValueError as exc:
        raise UnsafePathError(
            f"{exc}; nothing was written\n"
            f"hint: remove the symbolic link under {root} that leads there"
        ) from None


def write_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file in its directory and `os.replace`:
    a reader never sees a partial file, and a link at `target` is replaced, not written
    through."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunFile:
    """A run file: `name` (its path relative to the run's files, with `/`), `size` in bytes,
    `read()` its bytes, `download(root)` a copy at `<root>/<name>`."""

    __slots__ = ("_fetch", "name", "size")

    def __init__(self, name: str, size: int, fetch: Callable[[], bytes]) -> None:
        self.name = name
        self.size = size
        self._fetch = fetch

    def read(self) -> bytes:
        """The file's content."""
        return self._fetch()

    def download(self, root: str | os.PathLike[str] = ".") -> Path:
        """Write the file to `<root>/<name>` (directories made as needed); returns that path.

        Raises `UnsafePathError` (nothing written) when `name` is absolute, has an empty,
        `.` or `..` part, a backslash or a NUL, or leads out of `root` through a symbolic
        link; an existing link at `<root>/<name>` is replaced, never written through."""
        parts = self.name.split("/")
        if not self.name or any(p in {"", ".", ".."} or "\\" in p or "\0" in p for p in parts):
            raise UnsafePathError(
                f"run file name {self.name[:80]!r} is not a relative path inside the download "
                "folder; nothing was written\nhint: a run file name is '/'-separated names "
                "without empty, '.' or '..' parts"
            )
        base = Path(os.fspath(root))
        target = base.joinpath(*parts)
        inside(base, *parts[:-1])  # before making any directory: no link out on the way
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, self.read())
        return target

    def __repr__(self) -> str:
        return f"RunFile({self.name!r}, size={self.size})"


def _copying(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


FILES_DIR = "files"


def walk_files(run_dir: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """The run's files and what was left out of them.

    Returns `(files, skipped)`: `files` is (relative posix name, path) of each regular file
    under `<run_dir>/files/`, sorted by name (names starting with `.` are temporary files and
    left out); `skipped` names (relative to `run_dir`, sorted) each symbolic link found there,
    file or directory, and each entry that is not a regular file (a FIFO, a socket, a device).

    Symbolic links are never followed, wherever they lead: a link in a run's files to
    `~/.fwtrack/credentials` must not put the API key on a server, and a link to a file of
    the run itself is one copy too many. `files/` itself being a link leaves out everything.
    """
    root = run_dir / FILES_DIR
    files: list[tuple[str, Path]] = []
    skipped: list[str] = []
    if root.is_symlink():
        return files, [FILES_DIR]
    if not root.is_dir():
        return files, skipped
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for dirname in list(dirnames):
            if (here / dirname).is_symlink():  # os.walk lists it, never enters it
                dirnames.remove(dirname)
                skipped.append((here / dirname).relative_to(run_dir).as_posix())
        dirnames.sort()
        for filename in filenames:
            if filename.startswith("."):
                continue
            full = here / filename
            try:
                mode = full.lstat().st_mode
            except OSError:  # removed meanwhile
                continue
            if not stat.S_ISREG(mode):
                skipped.append(full.relative_to(run_dir).as_posix())
                continue
            files.append((full.relative_to(root).as_posix(), full))
    files.sort()
    skipped.sort()
    return files, skipped


def local_run_files(run_dir: Path) -> list[RunFile]:
    """The files under `<run_dir>/files/`, sorted by name (symbolic links left out)."""
    return [
        RunFile(name, path.stat().st_size, _copying(path)) for name, path in walk_files(run_dir)[0]
    ]


def merge_metadata(start: dict[str, Any], snapshot_json: bytes | None) -> dict[str, Any]:
    """The run-start info, with the keys of the snapshot's `metadata.json` it does not have."""
    if not snapshot_json:
        return start
    try:
        snap = json.loads(snapshot_json)
    except ValueError:
        return start
    if not isinstance(snap, dict):
        return start
    return {**snap, **start}
