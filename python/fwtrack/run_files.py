"""`RunFile`: one file stored with a run (code snapshot, diff, requirements, metadata, user
files), as `fwtrack.Api` returns it from `run.files()`, locally or from a server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["RunFile", "local_run_files", "merge_metadata"]


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
        """Write the file to `<root>/<name>` (directories made as needed); returns that path."""
        rel = PurePosixPath(self.name)
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"run file name {self.name!r} is not a relative path")
        target = Path(os.fspath(root)).joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.download")
        tmp.write_bytes(self.read())
        os.replace(tmp, target)
        return target

    def __repr__(self) -> str:
        return f"RunFile({self.name!r}, size={self.size})"


def _copying(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def local_run_files(run_dir: Path) -> list[RunFile]:
    """The files under `<run_dir>/files/`, sorted by name."""
    from fwtrack.sdk.snapshot import local_files

    return [
        RunFile(name, path.stat().st_size, _copying(path)) for name, path in local_files(run_dir)
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
