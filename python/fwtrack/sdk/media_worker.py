"""The media worker of a run: encodes, hashes and stores logged media off the training thread.

`log({"img": fwtrack.Image(x)})` hands the value (a `Media` already holds its own copy of the
pixels or samples; a `Table` hands a snapshot of its rows) to `MediaWorker.submit`, which
queues it and returns a `_core.PendingMedia` at once: the run's writer queues that in the
record's place. The worker thread then does the slow part (the pixel-digest lookup, the PNG /
WAV / GIF / MP4 encoding, the BLAKE3 of the payload, the write of
`files/media/<hex>.<ext>` through a fsynced temporary file renamed into place) and only then
completes the pending record, so the record reaches the log after its payload exists, in its
place among the records of its step, and `flush()`/`finish()` wait for it.

A value that cannot be stored (full disk, permissions, a payload the encoder refuses) cancels
its record: it is left out, the first such failure of the run becomes one warning (reported
in the caller's thread by the next `log()`, `flush()` or `finish()`), and the training goes
on.

Memory stays bounded: the queue holds at most `MAX_PENDING_BYTES` of values waiting to be
stored; past that, `log()` waits until the worker catches up. One thread per run, started by
the first media value, so records complete in the order they were queued.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from typing import Any, NamedTuple

from fwtrack import _core
from fwtrack.data_types.media import _release_pool

__all__ = ["MAX_PENDING_BYTES", "STALL_TIMEOUT", "MediaWorker"]

MAX_PENDING_BYTES = 256 << 20
"""Bytes of media values (pixels, samples, frames, text) queued but not yet stored, past which
`log()` waits for the worker."""

STALL_TIMEOUT = 120.0
"""Seconds `flush()`/`finish()` wait while the worker completes nothing; past that the
worker is taken as wedged and what is still queued is left out (with a warning)."""

_generation = 0
"""Bumped in a forked child: workers made before the fork do nothing there."""

_workers: weakref.WeakSet[MediaWorker] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1
    for worker in list(_workers):
        # The parent's thread is gone and may have held the lock; the queued handles belong
        # to the parent's writer (dropping them here does nothing, see `PendingMedia`).
        worker._cond = threading.Condition(threading.Lock())


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Job(NamedTuple):
    key: str
    value: Any  # a Media (snapshot), or a list of them for a gallery
    gallery: bool
    handle: _core.PendingMedia
    nbytes: int


def _source_bytes(value: Any) -> int:
    size = getattr(value, "_source_bytes", None)
    return int(size()) if size is not None else 0


def _snapshot(value: Any) -> Any:
    prepare = getattr(value, "_prepare", None)
    if prepare is not None:
        prepare()
    snap = getattr(value, "_snapshot", None)
    return snap() if snap is not None else value


class MediaWorker:
    """Stores the media values of one run (its `files/` directory) on a daemon thread."""

    def __init__(self, files_dir: str) -> None:
        self.files_dir = files_dir
        self._cond = threading.Condition(threading.Lock())
        self._jobs: deque[_Job] = deque()
        self._bytes = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._warned = False
        self._generation = _generation
        _workers.add(self)

    # -- the caller's side -----------------------------------------------------------------

    def submit(self, key: str, value: Any) -> _core.PendingMedia:
        """Queue one media value (or a list of them, a gallery) logged under `key`; returns
        the pending record for the writer. Waits only while the queue's budget is spent."""
        gallery = isinstance(value, list | tuple)
        if gallery:
            item: Any = [_snapshot(v) for v in value]
            nbytes = sum(_source_bytes(v) for v in item)
        else:
            item = _snapshot(value)
            nbytes = _source_bytes(item)
        handle = _core.PendingMedia()
        if self._generation != _generation or self._closed:
            # A forked child (its run is inert) or a finished run: nothing waits for it.
            handle.cancel()
            return handle
        job = _Job(key, item, gallery, handle, nbytes)
        with self._cond:
            while self._jobs and self._bytes + nbytes > MAX_PENDING_BYTES:
                self._cond.wait()
            self._jobs.append(job)
            self._bytes += nbytes
            if self._thread is None:
                self._start()
            elif len(self._jobs) == 1:
                self._cond.notify_all()
        return handle

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fwtrack-media", daemon=True)
        self._thread.start()

    def pending(self) -> int:
        """Values queued and not yet stored (or left out)."""
        return len(self._jobs)

    def settle(self, stall: float | None = None) -> None:
        """Return when every value queued so far is stored or left out. When the worker
        completes nothing for `stall` seconds (default `STALL_TIMEOUT`), what is still queued
        is left out with a warning, so a wedged worker never holds up `flush()`/`finish()`
        for longer than that."""
        if self._generation != _generation:
            return
        limit = STALL_TIMEOUT if stall is None else stall
        with self._cond:
            done, since = self._done, time.monotonic()
            while self._jobs:
                self._cond.wait(timeout=min(1.0, limit))
                if self._done != done:
                    done, since = self._done, time.monotonic()
                elif time.monotonic() - since >= limit:
                    self._abandon(
                        f"fwtrack: storing media stalled for {limit:g} s; the {len(self._jobs)} "
                        "media value(s) still waiting are left out of the run"
                    )
                    return

    def close(self, stall: float | None = None) -> None:
        """`settle`, then refuse new values. A `KeyboardInterrupt` (or any exception) while
        waiting leaves out what is still queued, so that the run can still finish, and is
        raised again."""
        try:
            self.settle(stall)
        except BaseException:
            with self._cond:
                self._abandon(
                    f"fwtrack: finishing was interrupted; the {len(self._jobs)} media value(s) "
                    "still waiting to be stored are left out of the run"
                )
            raise
        finally:
            self._closed = True
            with self._cond:
                self._cond.notify_all()
            _release_pool()

    def _abandon(self, message: str) -> None:
        """Cancel every queued record (the lock held). The one being stored may still
        complete: its record is then left out too (cancelled first)."""
        first = True
        for job in self._jobs:
            job.handle.cancel(message if first and not self._warned else None)
            first = False
        self._warned = True
        if self._jobs:
            current = self._jobs.popleft()
            self._jobs.clear()
            self._jobs.append(current)  # the thread pops it when it is done with it
            self._bytes = current.nbytes
        self._cond.notify_all()

    # -- the worker's side -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    if self._closed:
                        self._thread = None
                        return
                    self._cond.wait()
                job = self._jobs[0]
            try:
                self._store(job)
            finally:
                # Whatever happened, the record is settled now: completed, or left out.
                job.handle.cancel()
                with self._cond:
                    if self._jobs and self._jobs[0] is job:
                        self._jobs.popleft()
                        self._bytes -= job.nbytes
                    self._done += 1
                    self._cond.notify_all()

    def _store(self, job: _Job) -> None:
        try:
            if job.gallery:
                items = [v._store(self.files_dir) for v in job.value]
                descriptor: dict[str, Any] = {"_type": "gallery", "items": items}
            else:
                descriptor = job.value._store(self.files_dir)
        except Exception as exc:
            job.handle.cancel(self._failure(job.key, exc))
            return
        job.handle.complete(descriptor)

    def _failure(self, key: str, exc: Exception) -> str | None:
        """The warning for a value that could not be stored: the first of the run only."""
        if self._warned:
            return None
        self._warned = True
        if isinstance(exc, OSError):
            fix = f"free space in {self.files_dir}, or log less media"
        else:
            fix = "check the value logged"
        return (
            f"fwtrack: the media logged under {key!r} was not stored ({type(exc).__name__}: "
            f"{exc}); it is left out of the run ({fix}). Further media that cannot be stored "
            "are left out without a warning"
        )
