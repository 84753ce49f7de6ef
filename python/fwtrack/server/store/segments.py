"""Run logs and history-index snapshots in S3-compatible object storage (docs/server.md, "Run
logs in object storage").

A run log is a chain of immutable segment objects under the run's key:

```
<prefix>runs/<pk>/log/<start:016x>-<end:016x>     bytes [start, end) of the log
<prefix>runs/<pk>/log/cut-<length:016x>-<id>      a truncation to `length` happened (rare)
<prefix>runs/<pk>/index/manifest.json, <n>.col    a snapshot of the history index
```

- An append of bytes `[a, b)` is one PUT of the object `a-b` with `If-None-Match: *`: nothing
  is ever overwritten. The stored log is the chain of segments from 0: at each offset, the
  segment that starts at or before it and reaches furthest. Segments may overlap; where they
  do they hold the same bytes (the client's log is append-only; a truncation removes or
  shortens every segment past its cut before anything is appended again).
- `RunLog.path` is a local cache file, `<cache dir>/runs/<pk>/run.fwlog`, that is always a
  PREFIX of the stored log: only bytes read from the bucket or just written to it go into it.
  A reader brings it up to the chain's end with ranged GETs; a segment that vanished meanwhile
  (merged by another replica's compaction) makes it list again and go on.
- Uploads of one run are serialised by a lock per run in the process and a `flock` on the
  cache file (uvicorn workers share the cache dir); across replicas, by the PostgreSQL row
  lock the ingest takes (`ingest._row_update`, `SELECT ... FOR UPDATE`). `If-None-Match`
  makes a second writer of the same range fail instead of overwriting.
- Compaction is size-tiered: after an append, when at least `MERGE_COUNT` consecutive tail
  segments of the chain have the same tier (`floor(log16(size / 64 KiB))`), they are merged
  into one segment written from the cache, then deleted. A merged segment is at least one
  tier up, so a byte is rewritten at most once per tier; segments of `NO_MERGE` bytes or more
  are never merged.
- A truncation (healing a torn tail) shortens or removes every segment past the cut, from the
  end backwards, then writes a `cut-` marker. A replica whose cache reaches past a marker it
  has not seen yet cuts its cache back (the markers it has applied are listed beside the
  cache), and a cache longer than the chain is cut back to it.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import io
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from fwtrack.server.filemodes import DIR_MODE, FILE_MODE
from fwtrack.server.store.base import RunKey
from fwtrack.server.store.directory import flocked, read_range

__all__ = [
    "LOG_FILE_NAME",
    "MERGE_COUNT",
    "NO_MERGE",
    "Segment",
    "SegmentRunLog",
    "chain",
    "fetch_index",
    "publish_index",
    "tier",
]

log = logging.getLogger("fwtrack.server")

LOG_FILE_NAME = "run.fwlog"
MERGE_COUNT = 16
"""This many consecutive tail segments of one tier are merged into one."""
NO_MERGE = 64 << 20
"""Segments of this size or more are never merged."""
_TIER_BASE_BITS = 16  # 64 KiB
_CHUNK = 1 << 20
_PIECE = 8 << 20
"""A cache catching up downloads the log in pieces of this size (ranged GETs)..."""
_WINDOW = 4
"""... this many at once (so at most `_WINDOW` pieces are held in memory)."""
_RETRIES = 8
"""Listings of a run's segments tried before a reader gives up (each retry follows a segment
that vanished under it, i.e. a concurrent compaction)."""
_THREADS = 16
_ROW_BYTES = 24  # one index row: step, timestamp, value (f64 each)
_SEGMENT = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})$")
_CUT = re.compile(r"^cut-([0-9a-f]{16})-([0-9a-f]{32})$")
_COLUMN = re.compile(r"^[0-9]+\.col$")
# a part file of the index (console lines, system samples, media, histograms)
_PART = re.compile(r"^(console|system|media|hist)(\.[A-Za-z0-9]+)+$")
_INDEX_MANIFEST = "manifest.json"


class S3Like(Protocol):
    """What the segments need of the S3 store (`fwtrack.server.store.s3.S3Store`)."""

    client: Any
    bucket: str
    prefix: str
    cache_dir: Path


@dataclass(frozen=True, order=True)
class Segment:
    """One segment object: bytes `[start, end)` of the log."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start

    @property
    def name(self) -> str:
        return f"{self.start:016x}-{self.end:016x}"


def tier(size: int) -> int:
    """`floor(log16(size / 64 KiB))` (negative below 64 KiB): segments of one tier differ in
    size by less than 16x, so 16 of them merge into one of a higher tier."""
    return (max(size, 1).bit_length() - 1 - _TIER_BASE_BITS) // 4


def chain(segments: Iterable[Segment]) -> list[Segment]:
    """The stored log: from offset 0, at each offset the segment starting at or before it that
    reaches furthest, until no segment covers the offset."""
    ordered = sorted(segments)
    out: list[Segment] = []
    pos = 0
    i = 0
    while True:
        best: Segment | None = None
        while i < len(ordered) and ordered[i].start <= pos:
            if ordered[i].end > pos and (best is None or ordered[i].end > best.end):
                best = ordered[i]
            i += 1
        if best is None:
            return out
        out.append(best)
        pos = best.end


def _merge_run(segments: Sequence[Segment]) -> list[Segment]:
    """The tail segments of `segments` (a chain) to merge now: the longest run of at least
    `MERGE_COUNT` tail segments below `NO_MERGE` that are all of one tier, or (sizes that
    straddle tiers) none of which holds more than half of the run's bytes. Either way the
    merged segment is about twice its largest part or more, so a byte is rewritten a
    logarithmic number of times, and a tail run of small appends always merges."""
    best = 0
    total = biggest = 0
    tiers: set[int] = set()
    for n, seg in enumerate(reversed(segments), 1):
        if seg.size >= NO_MERGE:
            break
        total += seg.size
        biggest = max(biggest, seg.size)
        tiers.add(tier(seg.size))
        if n >= MERGE_COUNT and (len(tiers) == 1 or 2 * biggest <= total):
            best = n
    return list(segments[-best:]) if best else []


def _os_error(what: str, exc: Exception) -> OSError:
    """An OSError for a failed request to the bucket (the ingest answers 503 on OSError)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return OSError(errno.EIO, f"{what}: {err.get('Code', '?')} {err.get('Message', exc)}")
    return OSError(errno.EIO, f"{what}: {exc}")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _missing(exc: ClientError) -> bool:
    return _code(exc) in {"NoSuchKey", "404", "NotFound"} or _status(exc) == 404


class _Vanished(Exception):
    """A listed segment was gone, or cut short, when read (compacted or cut meanwhile):
    list again."""


class _FileRange(io.RawIOBase):
    """Bytes `[start, end)` of an open file, as a seekable stream (an upload body that is
    never held in memory whole)."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        super().__init__()
        self._fd = fd
        self._start = start
        self._len = end - start
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._len}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._len - self._pos)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._start + self._pos)
        if len(data) != want:
            raise OSError(errno.EIO, "the run log's cache file shrank while it was uploaded")
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def __len__(self) -> int:
        return self._len


class _RunLock:
    """The per-process half of a run's lock (the other half is the cache file's flock, which
    serialises processes sharing the cache dir)."""

    _registry: ClassVar[dict[str, tuple[threading.Lock, int]]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def hold(cls, name: str) -> Iterator[None]:
        with cls._guard:
            lock, users = cls._registry.get(name, (threading.Lock(), 0))
            cls._registry[name] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with cls._guard:
                lock, users = cls._registry[name]
                if users == 1:
                    del cls._registry[name]
                else:
                    cls._registry[name] = (lock, users - 1)


def _fsync(fd: int) -> None:
    os.fsync(fd)


def _make_dir(path: Path) -> None:
    """Create `path` and missing parents `0700`."""
    missing: list[Path] = []
    here = path
    while not here.is_dir():
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)


class _Handle:
    """A run log held under its lock (`LogHandle`): the chain as listed when the lock was
    taken (nobody else appends while it is held), the cache file brought up to its end."""

    def __init__(self, runlog: SegmentRunLog, fd: int) -> None:
        self._log = runlog
        self.fd = fd
        self._segments: list[Segment] = []
        self._chain: list[Segment] = []

    def _refresh(self) -> None:
        self._segments, self._chain = self._log._bring_up(self.fd)

    def size(self) -> int:
        return self._chain[-1].end if self._chain else 0

    def read(self, length: int, at: int) -> bytes:
        return os.pread(self.fd, length, at)

    def fileno(self) -> int:
        return self.fd

    def append(self, data: bytes, at: int) -> None:
        """PUT the segment `[at, at + len(data))`, then extend the cache with the same bytes;
        the cache is left at `at` when either fails (the stored log then holds the segment or
        not: the next lock lists it)."""
        size = self.size()
        if at != size:
            raise ValueError(f"append at {at}, but the stored log has {size} bytes")
        if not data:
            return
        stale = [s for s in self._segments if s.start >= at]
        if stale:  # past a gap in the chain (left by an interrupted cut): never part of the log
            self._log._delete(sorted(stale, reverse=True))
        seg = Segment(at, at + len(data))
        self._log._put_new(seg.name, data, verify=bytes(data))
        try:
            self._log._write_cache(self.fd, at, data)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, at)
            raise
        self._segments = [s for s in self._segments if s.start < at] + [seg]
        self._chain.append(seg)
        try:
            self._compact()
        except OSError as exc:  # the append is stored; merging is tried again next time
            log.warning("%s: compacting the run log's segments failed: %s", self._log.path, exc)

    def _compact(self) -> None:
        while True:
            merge = _merge_run(self._chain)
            if not merge:
                return
            merged = Segment(merge[0].start, merge[-1].end)
            body = _FileRange(self.fd, merged.start, merged.end)
            self._log._put_new(merged.name, body, verify=None)
            shadowed = [
                s
                for s in self._segments
                if merged.start <= s.start and s.end <= merged.end and s != merged
            ]
            self._log._delete(shadowed)
            self._segments = [s for s in self._segments if s not in shadowed] + [merged]
            self._chain = chain(self._segments)

    def truncate(self, length: int) -> None:
        """Cut the stored log to `length` bytes: each segment past the cut is replaced by its
        part before the cut (if any) and deleted, from the end backwards (an interruption
        leaves a shorter chain, never a gap); then a `cut-` marker tells other replicas to cut
        their caches; then the cache is cut."""
        size = self.size()
        if length > size:
            raise ValueError(f"cannot truncate a {size}-byte log to {length} bytes")
        if length == size:
            return
        kept: list[Segment] = []
        for seg in sorted(self._segments, key=lambda s: (s.start, s.end), reverse=True):
            if seg.end <= length:
                kept.append(seg)
                continue
            if seg.start < length:
                part = Segment(seg.start, length)
                self._log._put_new(part.name, _FileRange(self.fd, part.start, part.end), None)
                kept.append(part)
            self._log._delete([seg])
        marker = f"cut-{length:016x}-{uuid.uuid4().hex}"
        self._log._put_new(marker, b"", verify=b"")
        self._log._cut_cache(self.fd, length)
        self._log._mark_applied([marker])
        self._segments = sorted(set(kept))
        self._chain = chain(self._segments)


class SegmentRunLog:
    """One run's log in the bucket (`RunLog`; see the module docstring)."""

    def __init__(self, store: S3Like, run: RunKey) -> None:
        self._client = store.client
        self._bucket = store.bucket
        self._prefix = f"{store.prefix}runs/{run.pk}/log/"
        self._dir = store.cache_dir / "runs" / str(run.pk)
        self._path = self._dir / LOG_FILE_NAME
        self._cuts = self._dir / f".{LOG_FILE_NAME}.cuts"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def key_prefix(self) -> str:
        """The object key prefix of the run's segments."""
        return self._prefix

    # -- the bucket -----------------------------------------------------------------------------

    def _list(self) -> tuple[list[Segment], list[tuple[str, int]]]:
        """The run's segments and cut markers (name, length)."""
        segments: list[Segment] = []
        cuts: list[tuple[str, int]] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=self._prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name = str(obj["Key"])[len(self._prefix) :]
                    if m := _SEGMENT.match(name):
                        start, end = int(m[1], 16), int(m[2], 16)
                        if end > start:
                            segments.append(Segment(start, end))
                    elif m := _CUT.match(name):
                        cuts.append((name, int(m[1], 16)))
        except (ClientError, BotoCoreError) as exc:
            raise _os_error(f"listing s3://{self._bucket}/{self._prefix}", exc) from exc
        return sorted(segments), cuts

    def _put_new(self, name: str, body: bytes | _FileRange, verify: bytes | None) -> None:
        """PUT object `name` unless it exists (`If-None-Match: *`). An existing object is
        fine when it holds `verify` (a retry of a PUT whose answer was lost), or has the
        body's length when `verify` is None (a merge: its bytes are the log's by
        construction); otherwise OSError."""
        key = self._prefix + name
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, IfNoneMatch="*")
            return
        except ClientError as exc:
            if _code(exc) != "PreconditionFailed" and _status(exc) != 412:
                raise _os_error(f"writing s3://{self._bucket}/{key}", exc) from exc
        except BotoCoreError as exc:
            raise _os_error(f"writing s3://{self._bucket}/{key}", exc) from exc
        try:
            if verify is not None:
                got = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
                same = got == verify
            else:
                head = self._client.head_object(Bucket=self._bucket, Key=key)
                same = int(head["ContentLength"]) == len(body)
        except (ClientError, BotoCoreError) as exc:
            raise _os_error(f"reading s3://{self._bucket}/{key}", exc) from exc
        if not same:
            raise OSError(
                errno.EEXIST,
                f"s3://{self._bucket}/{key} exists with other bytes: another writer appended "
                "to this run concurrently (are two servers sharing the bucket without sharing "
                "one PostgreSQL database?)",
            )

    def _delete(self, segments: Sequence[Segment]) -> None:
        for seg in segments:
            key = self._prefix + seg.name
            try:
                self._client.delete_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if not _missing(exc):
                    raise _os_error(f"deleting s3://{self._bucket}/{key}", exc) from exc
            except BotoCoreError as exc:
                raise _os_error(f"deleting s3://{self._bucket}/{key}", exc) from exc

    def _fetch(self, seg: Segment, lo: int, hi: int) -> bytes:
        """Bytes `[lo, hi)` of the log from segment `seg` (one ranged GET); `_Vanished` when
        the segment is gone or the answer is cut short (a merged-away segment may end a GET
        early), OSError for any other failure."""
        key = self._prefix + seg.name
        try:
            body = self._client.get_object(
                Bucket=self._bucket,
                Key=key,
                Range=f"bytes={lo - seg.start}-{hi - seg.start - 1}",
            )["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise _Vanished(f"s3://{self._bucket}/{key} is gone") from exc
            raise _os_error(f"reading s3://{self._bucket}/{key}", exc) from exc
        except BotoCoreError as exc:
            raise _os_error(f"reading s3://{self._bucket}/{key}", exc) from exc
        try:
            data = body.read()
        except (ClientError, BotoCoreError) as exc:
            raise _Vanished(f"reading s3://{self._bucket}/{key}: {exc}") from exc
        finally:
            body.close()
        if len(data) != hi - lo:
            raise _Vanished(f"s3://{self._bucket}/{key} answered {len(data)} of {hi - lo} bytes")
        return bytes(data)

    def _fill(self, fd: int, links: Sequence[Segment], have: int) -> None:
        """Download bytes `[have, end of chain)` into the cache: pieces of at most `_PIECE`
        bytes, up to `_WINDOW` GETs at once, written strictly in order, so that the cache is a
        prefix of the log after each write (readers take it without the lock)."""
        pieces: list[tuple[Segment, int, int]] = []
        for seg in links:
            lo = max(have, seg.start)
            while lo < seg.end:
                hi = min(seg.end, lo + _PIECE)
                pieces.append((seg, lo, hi))
                lo = hi
            have = max(have, seg.end)
        if len(pieces) == 1:
            seg, lo, hi = pieces[0]
            _pwrite(fd, self._fetch(seg, lo, hi), lo)
            return
        if not pieces:
            return
        with ThreadPoolExecutor(max_workers=min(_WINDOW, len(pieces))) as pool:
            waiting = collections.deque(pieces)
            running: collections.deque[tuple[int, Future[bytes]]] = collections.deque()
            try:
                while waiting or running:
                    while waiting and len(running) < _WINDOW:
                        seg, lo, hi = waiting.popleft()
                        running.append((lo, pool.submit(self._fetch, seg, lo, hi)))
                    lo, future = running.popleft()
                    _pwrite(fd, future.result(), lo)
            finally:
                for _, future in running:
                    future.cancel()

    # -- the cache --------------------------------------------------------------------------

    def _write_cache(self, fd: int, at: int, data: bytes | memoryview) -> None:
        _pwrite(fd, data, at)
        _fsync(fd)

    def _cut_cache(self, fd: int, length: int) -> None:
        if os.fstat(fd).st_size > length:
            os.ftruncate(fd, length)
            _fsync(fd)

    def _applied(self) -> set[str]:
        try:
            return set(self._cuts.read_text().split())
        except FileNotFoundError:
            return set()

    def _mark_applied(self, names: Iterable[str]) -> None:
        applied = self._applied() | set(names)
        tmp = self._cuts.with_name(f"{self._cuts.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{n}\n" for n in sorted(applied)))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._cuts)

    def _bring_up(self, fd: int) -> tuple[list[Segment], list[Segment]]:
        """List the run's segments, apply cuts this cache has not seen, and download what the
        cache lacks of the chain (under the lock). Returns (all segments, the chain)."""
        why = ""
        for attempt in range(_RETRIES):
            segments, cuts = self._list()
            applied = self._applied()
            fresh = [(name, length) for name, length in cuts if name not in applied]
            if fresh:
                self._cut_cache(fd, min(length for _, length in fresh))
                self._mark_applied(name for name, _ in fresh)
            links = chain(segments)
            end = links[-1].end if links else 0
            self._cut_cache(fd, end)  # the stored log got shorter (a cut in progress)
            try:
                self._fill(fd, links, os.fstat(fd).st_size)
            except _Vanished as exc:
                why = str(exc)
                time.sleep(0.05 * attempt)
                continue
            finally:
                _fsync(fd)
            return segments, links
        raise OSError(
            errno.EAGAIN,
            f"the segments of s3://{self._bucket}/{self._prefix} kept changing while they "
            f"were read (last: {why}); retry",
        )

    @contextlib.contextmanager
    def _locked_fd(self, *, create: bool) -> Iterator[int]:
        """The cache file open and holding the run's lock (process lock, then flock), checked
        once locked to still be the file at its path (a deletion may have removed it)."""
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW  # a cache: made whenever missing
        with (
            _RunLock.hold(str(self._path)),
            flocked(
                self._path, flags, attempts=3 if create else 1, prepare=lambda: _make_dir(self._dir)
            ) as fd,
        ):
            yield fd

    # -- RunLog ------------------------------------------------------------------------------

    def size(self) -> int:
        """The stored length: the chain's end, from a listing (no lock)."""
        links = chain(self._list()[0])
        return links[-1].end if links else 0

    def cached_size(self) -> int:
        """How many bytes of the log the local cache holds (0 without a cache)."""
        try:
            return os.stat(self._path).st_size
        except FileNotFoundError:
            return 0

    @contextlib.contextmanager
    def locked(self, *, create: bool) -> Iterator[_Handle]:
        """Hold the run's lock with the cache brought up to the stored log's end.
        FileNotFoundError when the log has no segment and not `create`."""
        if not create and self.cached_size() == 0 and not self._list()[0]:
            raise FileNotFoundError(2, "the run has no stored log", self._prefix)
        with self._locked_fd(create=create) as fd:
            handle = _Handle(self, fd)
            handle._refresh()
            if not create and handle.size() == 0:
                raise FileNotFoundError(2, "the run has no stored log", self._prefix)
            yield handle

    @contextlib.contextmanager
    def lock_if_present(self) -> Iterator[None]:
        """Hold the run's lock (for removing the run)."""
        with self._locked_fd(create=False):
            yield

    def sync(self, to_size: int) -> int:
        """Bring the cache up to at least `to_size` bytes of the stored log (all the chain
        when it lacks them: a replica reading what another appended); returns the cache's
        size. Without a request when the cache already holds them."""
        have = self.cached_size()
        if have >= to_size:
            return have
        with self._locked_fd(create=True) as fd:
            self._bring_up(fd)
            return os.fstat(fd).st_size

    def read_range(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes `[start, end)` (fewer when the log is shorter), from the cache, brought up
        first when it lacks them."""
        if end > start:
            self.sync(end)
        return read_range(self._path, start, end)

    def remove(self) -> None:
        """Delete the run's segments (from the end backwards), cut markers and caches.
        Callers hold the lock (`lock_if_present`)."""
        segments, cuts = self._list()
        self._delete(sorted(segments, reverse=True))
        for name, _ in cuts:
            with contextlib.suppress(ClientError):
                self._client.delete_object(Bucket=self._bucket, Key=self._prefix + name)
        for path in (self._path, self._cuts):
            path.unlink(missing_ok=True)


def _pwrite(fd: int, data: bytes | memoryview, at: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, at)
        view = view[written:]
        at += written


# -- history index snapshots -----------------------------------------------------------------


def _index_prefix(store: S3Like, run: RunKey) -> str:
    return f"{store.prefix}runs/{run.pk}/index/"


def _columns(manifest: dict[str, Any]) -> list[tuple[str, int]]:
    """(file, bytes readers use) of each column and part file an index manifest names."""
    out: list[tuple[str, int]] = []
    columns = manifest.get("columns") or {}
    if not isinstance(columns, dict):
        raise ValueError("the index manifest's columns are not a map")
    for entry in columns.values():
        name, rows = entry.get("file"), entry.get("rows")
        if not isinstance(name, str) or _COLUMN.match(name) is None or not isinstance(rows, int):
            raise ValueError(f"the index manifest names a bad column: {entry!r:.200}")
        out.append((name, rows * _ROW_BYTES))
    parts = manifest.get("parts") or {}
    files = parts.get("files") or {} if isinstance(parts, dict) else None
    if not isinstance(files, dict):
        raise ValueError("the index manifest's part files are not a map")
    for name, size in files.items():
        if not isinstance(name, str) or _PART.match(name) is None or not isinstance(size, int):
            raise ValueError(f"the index manifest names a bad part file: {name!r:.200}")
        out.append((name, size))
    return out


def _pool_map(work: Any, items: Sequence[Any]) -> None:
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=min(_THREADS, len(items))) as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()


def publish_index(store: S3Like, run: RunKey, index_dir: Path) -> bool:
    """Upload a snapshot of the run's history index to `runs/<pk>/index/`: the first `rows`
    rows of each column (columns only grow, so these are valid whatever an update does
    meanwhile), then the manifest read before them. False when there is no index to publish.
    A reader of the snapshot (`fetch_index`) reads the manifest first and uses only the rows
    it names, so a snapshot being replaced never reads back inconsistent."""
    try:
        manifest_bytes = (index_dir / _INDEX_MANIFEST).read_bytes()
        manifest = json.loads(manifest_bytes)
        columns = _columns(manifest)
    except FileNotFoundError:
        return False
    except (ValueError, AttributeError) as exc:
        log.warning("%s: the index manifest is not readable (%s); no snapshot", index_dir, exc)
        return False
    prefix = _index_prefix(store, run)

    def upload(column: tuple[str, int]) -> None:
        name, length = column
        fd = os.open(index_dir / name, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            if os.fstat(fd).st_size < length:
                raise OSError(errno.EIO, f"{index_dir / name} is shorter than its manifest says")
            body = _FileRange(fd, 0, length)
            store.client.put_object(Bucket=store.bucket, Key=prefix + name, Body=body)
        finally:
            os.close(fd)

    try:
        _pool_map(upload, columns)
        store.client.put_object(
            Bucket=store.bucket, Key=prefix + _INDEX_MANIFEST, Body=manifest_bytes
        )
    except (ClientError, BotoCoreError) as exc:
        raise _os_error(f"publishing the index snapshot s3://{store.bucket}/{prefix}", exc) from exc
    return True


def fetch_index(store: S3Like, run: RunKey, index_dir: Path) -> int | None:
    """Download the run's index snapshot into `index_dir` (which must be missing or empty):
    into a temporary folder beside it, renamed into place once whole. Returns the snapshot's
    `log_offset` (the caller brings the log's cache that far before `index_update`
    continues from it), or None when there is no snapshot, or `index_dir` was filled
    meanwhile."""
    prefix = _index_prefix(store, run)
    try:
        manifest_bytes = store.client.get_object(Bucket=store.bucket, Key=prefix + _INDEX_MANIFEST)[
            "Body"
        ].read()
    except ClientError as exc:
        if _missing(exc):
            return None
        raise _os_error(f"reading s3://{store.bucket}/{prefix}{_INDEX_MANIFEST}", exc) from exc
    except BotoCoreError as exc:
        raise _os_error(f"reading s3://{store.bucket}/{prefix}{_INDEX_MANIFEST}", exc) from exc
    try:
        manifest = json.loads(manifest_bytes)
        columns = _columns(manifest)
        offset = int(manifest.get("log_offset") or 0)
    except (ValueError, AttributeError, TypeError) as exc:
        log.warning("the index snapshot at %s is not readable (%s); ignored", prefix, exc)
        return None
    _make_dir(index_dir.parent)
    tmp = index_dir.parent / f".{index_dir.name}.fetch-{uuid.uuid4().hex}"
    tmp.mkdir(mode=DIR_MODE)
    try:

        def download(column: tuple[str, int]) -> None:
            name, length = column
            fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                if length == 0:
                    return
                body = store.client.get_object(
                    Bucket=store.bucket, Key=prefix + name, Range=f"bytes=0-{length - 1}"
                )["Body"]
                at = 0
                while chunk := body.read(_CHUNK):
                    _pwrite(fd, chunk, at)
                    at += len(chunk)
                if at < length:
                    raise ValueError(f"column {name} of the snapshot is short")
            finally:
                os.close(fd)

        try:
            _pool_map(download, columns)
        except ClientError as exc:
            if _missing(exc) or _code(exc) == "InvalidRange":
                log.warning("the index snapshot at %s is incomplete; ignored", prefix)
                return None
            raise _os_error(
                f"reading the index snapshot s3://{store.bucket}/{prefix}", exc
            ) from exc
        except BotoCoreError as exc:
            raise _os_error(
                f"reading the index snapshot s3://{store.bucket}/{prefix}", exc
            ) from exc
        except ValueError as exc:
            log.warning("the index snapshot at %s is incomplete (%s); ignored", prefix, exc)
            return None
        fd = os.open(tmp / _INDEX_MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(manifest_bytes)
        try:
            os.rename(tmp, index_dir)  # replaces a missing or empty folder only
        except OSError as exc:
            if exc.errno in {errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR}:
                return None  # built or fetched meanwhile: keep that one
            raise
        return offset
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
