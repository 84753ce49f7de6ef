"""Where a run's bytes live, for the routes: its log, its history index and its files, over
two layouts behind one interface.

- Uploaded runs (`BlobStore`): everything is in the server's store (`fwtrack.server.store`,
  a directory or S3): the log and the index under the run's key, its files as blobs of the
  run's entity, named by the run's manifest in SQL (`fwtrack.server.manifest`). The read
  routes take `BlobStore.current(project, run)`, which first brings the run's local log and
  index up to the size its row names (on the S3 store another replica may have appended).
- `fwtrack ui` (`LocalRunsLayout`): the log is the client's own
  `<dir>/<project>/<run id>/run.fwlog`, read in place; the index lives under
  `<dir>/.fwtrack-ui/index/`; files are read from the run's own `files/` folder (there is no
  manifest). Every path is built from validated names, and file paths from the API are checked
  part by part, then resolved and checked to stay inside the run's files folder.

Routes read files through `RunFiles` (`list`, `get` → `StoredFile`) whatever the layout.

Symbolic links are never followed below the store's root (`fwtrack ui`: its `--dir`): a run
file, the run's `files/` folder, its log, its run or project directory that is a link is as
good as missing (a listing leaves it out, a download answers 404), wherever the link leads.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from fwtrack.server import manifest
from fwtrack.server.db import Database, Project, Run
from fwtrack.server.errors import ApiError, check_file_path
from fwtrack.server.store.base import BlobKey, RunKey, RunLog, Store
from fwtrack.server.store.directory import LOG_FILE_NAME, linked

__all__ = [
    "LOG_FILE_NAME",
    "BlobStore",
    "LocalRunsLayout",
    "RunFiles",
    "RunPaths",
    "StoredFile",
    "linked",
]


@dataclass(frozen=True)
class RunPaths:
    """The places of one run's log and index; `root` is the store's root (`fwtrack ui`: its
    run directory), below which no symbolic link is followed."""

    run_dir: Path
    log: Path
    index: Path
    root: Path

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


@dataclass(frozen=True)
class StoredFile:
    """One run file as the routes serve it: its `size`, its content `address` (None in
    `fwtrack ui`, which reads files in place without hashing them), a `local` file holding
    its bytes when the store has one (zero-copy serving), and `open()`."""

    path: str
    size: int
    address: str | None
    local: Path | None
    opener: Callable[[], BinaryIO]

    def open(self) -> BinaryIO:
        return self.opener()

    def read(self) -> bytes:
        with self.opener() as fh:
            return fh.read()

    @property
    def cache_key(self) -> tuple[str, int, int]:
        """What identifies these bytes for a cache: the address (content never changes under
        it), else the local file's path, size and mtime."""
        if self.address is not None:
            return (self.address, self.size, 0)
        assert self.local is not None
        st = os.stat(self.local)
        return (str(self.local), st.st_size, st.st_mtime_ns)


class RunFiles(Protocol):
    """A run's files, as the routes read them."""

    def list(self) -> list[dict[str, object]]:
        """`[{"path", "size", "address"}]`, sorted by path."""
        ...

    def get(self, path: str) -> StoredFile:
        """Run file `path` (validated; 404 when the run has none)."""
        ...


def _missing(path: str) -> ApiError:
    return ApiError(404, f"the run has no file {path!r}; GET .../files lists them")


class _ManifestFiles:
    """An uploaded run's files: its manifest rows and the entity's blobs."""

    def __init__(self, db: Database, store: Store, run_pk: int) -> None:
        self.db = db
        self.store = store
        self.run_pk = run_pk

    def list(self) -> list[dict[str, object]]:
        return manifest.list_files(self.db, self.run_pk)

    def get(self, path: str) -> StoredFile:
        check_file_path(path)
        found = manifest.find_file(self.db, self.run_pk, path)
        if found is None:
            raise _missing(path)
        entity, address, size = found
        key = BlobKey(entity, address)
        local = self.store.local_path(key)
        if local is None and not self.store.exists(key):
            raise ApiError(404, f"run file {path!r} is recorded but its blob {address} is missing")
        return StoredFile(path, size, address, local, lambda: self.store.open(key))


class _FolderFiles:
    """`fwtrack ui`: the files of a local run's own `files/` folder, read in place."""

    def __init__(self, files: Path, root: Path) -> None:
        self.files = files
        self.root = root

    def _target(self, path: str) -> Path:
        """The file's location (never outside `files`, never through a symbolic link: 404
        as for a missing file)."""
        check_file_path(path)
        if linked(self.root, self.files / path) is not None:
            raise ApiError(404, f"run file {path!r} is missing (a symbolic link is not followed)")
        target = (self.files / path).resolve()
        root = self.files.resolve()
        if root != target and root not in target.parents:
            raise ApiError(400, f"file path {path[:80]!r} leaves the run's files folder")
        return target

    def get(self, path: str) -> StoredFile:
        target = self._target(path)
        try:
            st = os.stat(target)
        except (FileNotFoundError, NotADirectoryError):
            raise _missing(path) from None
        if not stat.S_ISREG(st.st_mode):
            raise _missing(path)

        def opener() -> BinaryIO:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
            return os.fdopen(fd, "rb")

        return StoredFile(path, st.st_size, None, target, opener)

    def list(self) -> list[dict[str, object]]:
        """The run's regular files; symbolic links (files or folders, and `files/` itself)
        and temporaries (names starting with `.`) are left out."""
        out: list[dict[str, object]] = []
        if linked(self.root, self.files) is not None or not self.files.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(self.files, followlinks=False):
            dirnames.sort()
            for filename in filenames:
                if filename.startswith("."):
                    continue
                full = os.path.join(dirpath, filename)
                try:
                    st = os.lstat(full)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    rel = os.path.relpath(full, self.files).replace(os.sep, "/")
                    out.append({"path": rel, "size": st.st_size, "address": None})
        out.sort(key=lambda f: str(f["path"]))
        return out


class BlobStore:
    """Uploaded runs, in the server's store (see the module docstring): the directory store
    or the S3 store, behind the `Store` protocol."""

    in_place = False

    def __init__(self, store: Store, db: Database) -> None:
        self.store = store
        self.db = db
        self.on_release: Callable[[], None] | None = None  # wakes the collector

    @staticmethod
    def key(project: Project, run: Run) -> RunKey:
        """The store's key of `run` (its project's id, its id and its row's primary key)."""
        return RunKey(project.id, run.run_id, run.id)

    def paths(self, project: Project, run: Run) -> RunPaths:
        """Where the run's log and index are on this machine (as they are now: the read
        routes take `current`)."""
        key = self.key(project, run)
        return RunPaths(
            self.store.run_dir(key),
            self.store.run_log(key).path,
            self.store.index_dir(key),
            self.store.root,
        )

    def current(self, project: Project, run: Run) -> RunPaths:
        """`paths`, with the local log holding at least the `log_size` bytes the run's row
        names and the index over them: the S3 store fetches what another replica (or
        another life of this one) appended; the directory store has nothing to do. 503 when
        the object store cannot be read."""
        try:
            self.store.sync_run(self.key(project, run), run.log_size)
        except OSError as exc:
            raise ApiError(
                503,
                f"the server could not read the run's log from its store ({exc}); retry later",
                headers={"Retry-After": "5"},
            ) from exc
        return self.paths(project, run)

    def log(self, project: Project, run: Run) -> RunLog:
        return self.store.run_log(self.key(project, run))

    def files(self, project: Project, run: Run) -> RunFiles:
        del project
        return _ManifestFiles(self.db, self.store, run.id)

    def blob_file(self, entity: str, address: str, size: int, path: str) -> StoredFile:
        """A blob of `entity` served as the file `path` (an artifact's entry)."""
        key = BlobKey(entity, address)
        local = self.store.local_path(key)
        if local is None and not self.store.exists(key):
            raise ApiError(404, f"the blob {address} of {path[:200]!r} is missing from the store")
        return StoredFile(path, size, address, local, lambda: self.store.open(key))

    def delete(self, project: Project, run: Run) -> None:
        """Remove the run's log and index (its blobs go to the collector: `released`)."""
        self.store.delete_run(self.key(project, run))

    def move(self, project: Project, run: Run, to: Project) -> None:
        """Place the run's log and index under project `to` (the caller holds its lock)."""
        self.store.move_run(self.key(project, run), RunKey(to.id, run.run_id, run.id))

    def released(self, blob_ids: list[int]) -> None:
        """Blobs a deleted run referenced: mark them for the collector and wake it."""
        manifest.release(self.db, blob_ids)
        if self.on_release is not None:
            self.on_release()


class LocalRunsLayout:
    """`fwtrack ui`: logs read in place from `<dir>/<project>/<run id>/run.fwlog`."""

    in_place = True

    def __init__(self, runs_dir: Path, state_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.index_root = state_dir / "index"

    def paths(self, project: Project, run: Run) -> RunPaths:
        return self.run_paths(project.name, run.run_id)

    def current(self, project: Project, run: Run) -> RunPaths:
        """`paths`: the local run's log is read in place (the scanner keeps its index)."""
        return self.paths(project, run)

    def run_paths(self, project_name: str, run_id: str) -> RunPaths:
        run_dir = self.runs_dir / project_name / run_id
        return RunPaths(
            run_dir, run_dir / LOG_FILE_NAME, self.index_root / project_name / run_id, self.runs_dir
        )

    @property
    def artifact_blobs(self) -> Path:
        """The local artifact registry's blob dir, `<dir>/.artifacts/blobs/<hh>/<hex>`."""
        return self.runs_dir / ".artifacts" / "blobs"

    def blob_file(self, entity: str, address: str, size: int, path: str) -> StoredFile:
        """An artifact's entry `path` from the local registry's blob dir (never through a
        symbolic link)."""
        del entity
        key = BlobKey("local", address)
        target = self.artifact_blobs / key.hex[:2] / key.hex
        missing = ApiError(
            404, f"the blob {address} of {path[:200]!r} is missing from {self.artifact_blobs}"
        )
        if linked(self.runs_dir, target) is not None:
            raise missing
        try:
            st = os.lstat(target)
        except OSError:
            raise missing from None
        if not stat.S_ISREG(st.st_mode):
            raise missing

        def opener() -> BinaryIO:
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
            return os.fdopen(fd, "rb")

        return StoredFile(path, st.st_size, address, target, opener)

    def files(self, project: Project, run: Run) -> RunFiles:
        return _FolderFiles(self.runs_dir / project.name / run.run_id / "files", self.runs_dir)

    def move(self, source: RunPaths, target: RunPaths) -> None:
        """Rename the run's directory (and its index) to `target`'s place (the caller holds
        its lock and checked that nothing is there)."""
        target.run_dir.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source.run_dir, target.run_dir)
        if source.index.is_dir():
            shutil.rmtree(target.index, ignore_errors=True)
            target.index.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(source.index, target.index)
            except OSError:  # rebuilt from the log by the scanner
                shutil.rmtree(source.index, ignore_errors=True)

    def remove(self, paths: RunPaths) -> None:
        """Remove the run's index and its directory (the caller checked it is not running)."""
        shutil.rmtree(paths.index, ignore_errors=True)
        shutil.rmtree(paths.run_dir, ignore_errors=True)
