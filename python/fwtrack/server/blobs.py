"""Where a run's bytes live: its log, its history index and its files.

Uploaded runs live under `<data>/blobs/<project id>/<run id>/`; in `fwtrack ui` the log is the
client's own `<dir>/<project>/<run id>/run.fwlog`, read in place, and the index lives under
`<dir>/.fwtrack-ui/index/`. Every path is built from validated names, and file paths from the
API are checked part by part, then resolved and checked to stay inside the run's files folder.

Symbolic links are never followed below the store's root (`fwtrack ui`: its `--dir`): a run
file, the run's `files/` folder, its log, its run or project directory that is a link is as
good as missing (a listing leaves it out, a download answers 404), wherever the link leads.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fwtrack.server.errors import ApiError, check_file_path

__all__ = ["BlobStore", "LocalRunsLayout", "RunPaths", "linked", "write_atomic"]

LOG_FILE_NAME = "run.fwlog"


def linked(root: Path, target: Path) -> Path | None:
    """The first path from `root` (excluded) down to `target` that is a symbolic link, or None
    (a missing part ends the walk: nothing below it exists to be a link)."""
    here = root
    for part in target.relative_to(root).parts:
        here = here / part
        try:
            if stat.S_ISLNK(os.lstat(here).st_mode):
                return here
        except (FileNotFoundError, NotADirectoryError):
            return None
    return None


@dataclass(frozen=True)
class RunPaths:
    """The places of one run's bytes; `root` is the store's root, below which no symbolic
    link is followed."""

    run_dir: Path
    log: Path
    index: Path
    files: Path
    root: Path

    def file(self, path: str) -> Path:
        """The stored location of run file `path` (validated; never outside `files`, never
        through a symbolic link: 404 as for a missing file)."""
        check_file_path(path)
        if linked(self.root, self.files / path) is not None:
            raise ApiError(404, f"run file {path!r} is missing (a symbolic link is not followed)")
        target = (self.files / path).resolve()
        root = self.files.resolve()
        if root != target and root not in target.parents:
            raise ApiError(400, f"file path {path[:80]!r} leaves the run's files folder")
        return target

    def stored_log(self) -> Path:
        """The run log, unless it (or its run or project directory) is a symbolic link: then
        404, as for a run without a log."""
        if linked(self.root, self.log) is not None:
            raise ApiError(
                404,
                "the run's log is missing (a symbolic link is not followed); hint: put "
                "the run's own run.fwlog there",
            )
        return self.log

    def list_files(self) -> list[dict[str, object]]:
        """`[{"path", "size"}]` of the run's regular files, sorted by path; symbolic links
        (files or folders, and `files/` itself) and upload temporaries are left out."""
        out: list[dict[str, object]] = []
        if linked(self.root, self.files) is not None or not self.files.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(self.files, followlinks=False):
            dirnames.sort()
            for filename in filenames:
                full = os.path.join(dirpath, filename)
                if filename.startswith(".upload-"):
                    continue
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    rel = os.path.relpath(full, self.files).replace(os.sep, "/")
                    out.append({"path": rel, "size": st.st_size})
        out.sort(key=lambda f: str(f["path"]))
        return out


class BlobStore:
    """Uploaded runs: `<root>/<project id>/<run id>/{run.fwlog,index/,files/}`."""

    in_place = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def paths(self, project_id: int, project_name: str, run_id: str) -> RunPaths:
        del project_name  # blobs are keyed by the project's id, stable across renames
        run_dir = self.root / str(project_id) / run_id
        return RunPaths(
            run_dir, run_dir / LOG_FILE_NAME, run_dir / "index", run_dir / "files", self.root
        )

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
            self.runs_dir,
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
