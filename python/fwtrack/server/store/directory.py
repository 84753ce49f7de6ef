"""The directory backend of the store: everything under one folder of the server's data dir.

```
<root>/blobs/<entity>/<hex[:2]>/<algorithm>-<hex>   a blob (run file, media payload)
<root>/runs/<project id>/<run id>/run.fwlog          a run log, byte-identical to the client's
<root>/runs/<project id>/<run id>/index/             its history index
<root>/tmp/                                          uploads being received (`stage`)
```

A blob is written to a temporary file in `tmp/`, fsynced, renamed into place and its folder
fsynced: a reader sees the whole blob or none, and a crash leaves at most a temporary file
(removed at the next start). Folders are created `0700` and files `0600`, as for the rest of
the data dir (`fwtrack.server.filemodes`). No symbolic link below the root is followed: a blob
or run log reached through one is as good as missing, and nothing is written through one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

from fwtrack.server.filemodes import DIR_MODE, FILE_MODE, private_dir
from fwtrack.server.store.base import BlobKey, RunKey, Staged

__all__ = ["LOG_FILE_NAME", "DirectoryStore", "clear_stale_stages", "fsync_dir", "linked"]

log = logging.getLogger("fwtrack.server")

_T = TypeVar("_T")

LOG_FILE_NAME = "run.fwlog"
_CHUNK = 1 << 20
_STAGE_PREFIX = ".stage-"
_STALE_STAGE = 3600.0
"""A temporary file unchanged (ctime) for this long and not locked is a crash's leftover."""


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


_SYNC_THREADS = 16


def _parallel(work: Callable[[_T], object], items: Sequence[_T]) -> None:
    """`work(item)` for each item, on several threads when there are several (fsync releases
    the GIL); the first error is raised once all are done."""
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=min(_SYNC_THREADS, len(items))) as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()


def read_range(path: Path | str, start: int, end: int) -> Iterator[bytes]:
    """Bytes `[start, end)` of the file at `path` (never through a symbolic link), in chunks;
    fewer when the file is shorter."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def fsync_dir(path: Path) -> None:
    """fsync a directory, so a new or renamed entry in it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _StagedFile:
    """A temporary file in the store's `tmp/` receiving one blob."""

    def __init__(self, folder: Path) -> None:
        fd, name = tempfile.mkstemp(dir=folder, prefix=_STAGE_PREFIX)  # 0600
        fcntl.flock(fd, fcntl.LOCK_EX)  # in use: `_clear_tmp` of another process leaves it
        self.path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | memoryview) -> None:
        if self._file is None:
            raise ValueError("this staged blob was already stored")
        self._file.write(data)
        self._size += len(data)

    def seal(self) -> None:
        """Flush and fsync the bytes (before the file is renamed into place)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def flocked(
    path: Path, flags: int, *, attempts: int, prepare: Callable[[], None] | None = None
) -> Iterator[int]:
    """`path` opened with `flags` and holding an exclusive flock, checked once locked to still
    be the file at its path (a deletion may have removed it meanwhile); up to `attempts`
    tries, `prepare()` (creating its folder) before each. FileNotFoundError when the file is
    missing and `flags` do not create it, or when it kept being removed."""
    for _ in range(attempts):
        if prepare is not None:
            prepare()
        try:
            fd = os.open(path, flags, FILE_MODE)
        except FileNotFoundError:
            if not flags & os.O_CREAT:
                raise
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield fd
                return
        finally:
            os.close(fd)  # releases the lock
    raise FileNotFoundError(2, "the run log was removed", str(path))


class _LockedLog:
    """An open run log holding its exclusive flock (`LogHandle`)."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def read(self, length: int, at: int) -> bytes:
        return os.pread(self.fd, length, at)

    def append(self, data: bytes, at: int) -> None:
        view = memoryview(data)
        pos = at
        try:
            while view:
                written = os.pwrite(self.fd, view, pos)
                view = view[written:]
                pos += written
            os.fsync(self.fd)
            if at == 0:
                fsync_dir(self.path.parent)  # the new log's entry in its folder
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, at)
            raise

    def truncate(self, length: int) -> None:
        os.ftruncate(self.fd, length)
        os.fsync(self.fd)

    def fileno(self) -> int:
        return self.fd


class _DirectoryRunLog:
    """A run log at `<root>/runs/<project id>/<run id>/run.fwlog` (`RunLog`)."""

    def __init__(self, root: Path, path: Path) -> None:
        self._root = root
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def _check(self) -> None:
        link = linked(self._root, self._path)
        if link is not None:
            raise FileNotFoundError(2, "a symbolic link is not followed", str(link))

    def size(self) -> int:
        try:
            st = os.lstat(self._path)
        except FileNotFoundError:
            return 0
        return st.st_size if stat.S_ISREG(st.st_mode) else 0

    @contextlib.contextmanager
    def locked(self, *, create: bool) -> Iterator[_LockedLog]:
        """The log's fd holding its exclusive flock (`flocked`)."""
        self._check()
        flags = os.O_RDWR | os.O_NOFOLLOW | (os.O_CREAT if create else 0)
        folder = self._path.parent
        with flocked(
            self._path,
            flags,
            attempts=3 if create else 1,
            prepare=(lambda: _make_dirs(self._root, folder)) if create else None,
        ) as fd:
            yield _LockedLog(fd, self._path)

    @contextlib.contextmanager
    def lock_if_present(self) -> Iterator[None]:
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_NOFOLLOW)
        except (FileNotFoundError, OSError):
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def read_range(self, start: int, end: int) -> Iterator[bytes]:
        self._check()
        return read_range(self._path, start, end)


def _make_dirs(root: Path, folder: Path) -> None:
    """Create `folder` (below `root`) and its missing parents `0700`, fsyncing each new
    entry's parent; refuses (OSError) to go through a symbolic link."""
    missing: list[Path] = []
    here = folder
    while here != root and not here.is_dir():
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            if not directory.is_dir() or directory.is_symlink():
                raise
            continue
        fsync_dir(directory.parent)
    link = linked(root, folder)
    if link is not None:
        raise OSError(f"{link} is a symbolic link; the store does not write through links")


def clear_stale_stages(folder: Path, stale_after: float) -> None:
    """Remove uploads a crash left half-received in `folder`: temporary files unchanged for
    `stale_after` seconds (an hour) that no process holds (a receiving upload holds a flock on
    its file)."""
    horizon = time.time() - stale_after
    for entry in folder.iterdir():
        if not entry.name.startswith(_STAGE_PREFIX):
            continue
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if os.fstat(fd).st_ctime > horizon:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # in use
        else:
            entry.unlink(missing_ok=True)
        finally:
            os.close(fd)


class DirectoryStore:
    """The store in a local directory (`Store`); see the module docstring for the layout."""

    def __init__(self, root: Path, *, stale_after: float = _STALE_STAGE) -> None:
        self.root = root
        self._stale_after = stale_after
        private_dir(root)
        for name in ("blobs", "runs", "tmp"):
            private_dir(root / name)
        self._tmp = root / "tmp"
        self._clear_tmp()

    def _clear_tmp(self) -> None:
        clear_stale_stages(self._tmp, self._stale_after)

    # -- blobs -------------------------------------------------------------------------------

    def blob_path(self, key: BlobKey) -> Path:
        """Where `key` lives: `blobs/<entity>/<hex[:2]>/<algorithm>-<hex>`."""
        if not key.entity or key.entity in {".", ".."} or "/" in key.entity or "\0" in key.entity:
            raise ValueError(f"not an entity name: {key.entity[:80]!r}")
        return self.root / "blobs" / key.entity / key.hex[:2] / f"{key.algorithm}-{key.hex}"

    def _readable(self, key: BlobKey) -> Path:
        path = self.blob_path(key)
        link = linked(self.root, path)
        if link is not None:
            raise FileNotFoundError(2, "a symbolic link is not followed", str(link))
        return path

    @contextlib.contextmanager
    def stage(self) -> Iterator[_StagedFile]:
        staged = _StagedFile(self._tmp)
        try:
            yield staged
        finally:
            staged.discard()

    def put(self, key: BlobKey, src: bytes | memoryview | Staged) -> None:
        self.put_many([(key, src)])

    def put_many(self, items: Sequence[tuple[BlobKey, bytes | memoryview | Staged]]) -> None:
        """`put` of several blobs: the bytes are written and fsynced on several threads
        (the disk takes the flushes together), then renamed into place, and each folder
        that got a new entry is fsynced once."""
        for _, src in items:
            if not isinstance(src, bytes | memoryview | _StagedFile):
                raise TypeError(f"put takes bytes or a blob staged by this store, not {type(src)}")
        targets = [self.blob_path(key) for key, _ in items]
        for folder in dict.fromkeys(t.parent for t in targets):
            _make_dirs(self.root, folder)
        with contextlib.ExitStack() as stack:
            staged: list[_StagedFile] = []
            for _, src in items:
                if isinstance(src, bytes | memoryview):
                    fresh = stack.enter_context(self.stage())
                    fresh.write(src)
                    staged.append(fresh)
                else:
                    assert isinstance(src, _StagedFile)
                    staged.append(src)
            _parallel(lambda s: s.seal(), staged)
            for one, target in zip(staged, targets, strict=True):
                os.replace(one.path, target)  # a link at `target` is replaced, not followed
            _parallel(fsync_dir, list(dict.fromkeys(t.parent for t in targets)))

    def open(self, key: BlobKey) -> BinaryIO:
        path = self._readable(key)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the blob itself is a link
                raise FileNotFoundError(2, "a symbolic link is not followed", str(path)) from exc
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileNotFoundError(2, "not a regular file", str(self.blob_path(key)))
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def _stat(self, key: BlobKey) -> os.stat_result | None:
        try:
            st = os.lstat(self._readable(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st if stat.S_ISREG(st.st_mode) else None

    def exists(self, key: BlobKey) -> bool:
        return self._stat(key) is not None

    def size(self, key: BlobKey) -> int | None:
        st = self._stat(key)
        return None if st is None else st.st_size

    def delete(self, key: BlobKey) -> None:
        path = self.blob_path(key)
        if linked(self.root, path.parent) is not None:
            return  # not ours: never delete through a link
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            os.unlink(path)  # removes a link itself, never its target

    def local_path(self, key: BlobKey) -> Path | None:
        return self.blob_path(key) if self.exists(key) else None

    def link_from(self, key: BlobKey, source: Path) -> None:
        """Store the regular file `source` (on the store's volume) under `key` by a hard link,
        falling back to a copy; `source` stays. For importing files stored before blobs were
        content-addressed."""
        target = self.blob_path(key)
        if self.exists(key):
            return
        _make_dirs(self.root, target.parent)
        tmp = self._tmp / f"{_STAGE_PREFIX}link-{os.getpid()}-{key.hex}"
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp, follow_symlinks=False)
            os.chmod(tmp, FILE_MODE)
        except OSError:
            tmp.unlink(missing_ok=True)
            with self.stage() as staged, open(source, "rb") as fh:
                shutil.copyfileobj(fh, staged)
                self.put(key, staged)
            return
        os.replace(tmp, target)
        fsync_dir(target.parent)

    # -- run logs and indexes ----------------------------------------------------------------

    def run_dir(self, run: RunKey) -> Path:
        return self.root / "runs" / str(run.project_id) / run.run_id

    def run_log(self, run: RunKey) -> _DirectoryRunLog:
        return _DirectoryRunLog(self.root, self.run_dir(run) / LOG_FILE_NAME)

    def index_dir(self, run: RunKey) -> Path:
        return self.run_dir(run) / "index"

    def sync_run(self, run: RunKey, size: int) -> None:
        """Nothing: the run's local log is the stored log."""
        del run, size

    def snapshot_index(self, run: RunKey) -> None:
        """Nothing: the index is kept where it is."""
        del run

    def adopt_run(self, run: RunKey, log: Path | None, index: Path | None) -> None:
        """Move a run's log and history index from an older layout (on the store's volume)
        into the store; an index already there wins over `index` (which is removed)."""
        folder = self.run_dir(run)
        _make_dirs(self.root, folder)
        if log is not None:
            os.replace(log, folder / LOG_FILE_NAME)
        if index is not None:
            if self.index_dir(run).exists():
                shutil.rmtree(index)
            else:
                os.replace(index, self.index_dir(run))
        fsync_dir(folder)

    def move_run(self, run: RunKey, to: RunKey) -> None:
        """Rename the run's folder (its log and index) to `to`'s place; what a deleted run
        of that id left there is removed first (no row owns it: the caller holds `to`)."""
        source, target = self.run_dir(run), self.run_dir(to)
        if source == target:
            return
        if linked(self.root, source) is not None:
            raise OSError(f"the run folder {source} is a symbolic link; it is not moved")
        _make_dirs(self.root, target.parent)
        if target.exists() or target.is_symlink():
            self.delete_run(to)
        if source.is_dir():
            os.replace(source, target)
            fsync_dir(target.parent)
            fsync_dir(source.parent)

    def delete_run(self, run: RunKey) -> None:
        path = self.run_dir(run)
        if linked(self.root, path) is not None:
            path.unlink(missing_ok=True)  # the link, never what it leads to
            return
        shutil.rmtree(path, ignore_errors=True)
