"""Where a run's bytes live: its log, its history index and its files.

Uploaded runs live under `<data>/blobs/<project id>/<run id>/`; in `fwtrack ui` the log is the
client's own `<dir>/<project>/<run id>/run.fwlog`, read in place, and the index lives under
`<dir>/.fwtrack-ui/index/`. Every path is built from validated names, and file paths from the
API are checked part by part, then resolved and checked to stay inside the run's files folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fwtrack.server.errors import ApiError, check_file_path

__all__ = ["BlobStore", "LocalRunsLayout", "RunPaths", "write_atomic"]

LOG_FILE_NAME = "run.fwlog"


@dataclass(frozen=True)
class RunPaths:
    """The places of one run's bytes."""

    run_dir: Path
    log: Path
    index: Path
    files: Path

    def file(self, path: str) -> Path:
        """The stored location of run file `path` (validated; never outside `files`)."""
        check_file_path(path)
        target = (self.files / path).resolve()
        root = self.files.resolve()
        if root != target and root not in target.parents:
            raise ApiError(400, f"file path {path[:80]!r} leaves the run's files folder")
        return target


class BlobStore:
    """Uploaded runs: `<root>/<project id>/<run id>/{run.fwlog,index/,files/}`."""

    in_place = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def paths(self, project_id: int, project_name: str, run_id: str) -> RunPaths:
        del project_name  # blobs are keyed by the project's id, stable across renames
        run_dir = self.root / str(project_id) / run_id
        return RunPaths(run_dir, run_dir / LOG_FILE_NAME, run_dir / "index", run_dir / "files")

    def delete(self, paths: RunPaths) -> None:
        """Remove everything stored for a run."""
        shutil.rmtree(paths.run_dir, ignore_errors=True)


class LocalRunsLayout:
    """`fwtrack ui`: logs read in place from `<dir>/<project>/<run id>/run.fwlog`."""

    in_place = True

    def __init__(self, runs_dir: Path, state_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.index_root = state_dir / "index"

    def paths(self, project_id: int, project_name: str, run_id: str) -> RunPaths:
        del project_id
        run_dir = self.runs_dir / project_name / run_id
        return RunPaths(
            run_dir,
            run_dir / LOG_FILE_NAME,
            self.index_root / project_name / run_id,
            run_dir / "files",
        )

    def delete(self, paths: RunPaths) -> None:
        """Remove the run's index and its directory (the caller checked it is not running)."""
        shutil.rmtree(paths.index, ignore_errors=True)
        shutil.rmtree(paths.run_dir, ignore_errors=True)


def write_atomic(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file, fsync, rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def fsync_dir(path: Path) -> None:
    """fsync a directory, so a new or renamed entry in it is durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
