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
        # The parent's thread is gone and may have held these; the queued handles belong to
        # the parent's writer (dropping them here does nothing, see `PendingMedia`).
        worker._lock = threading.Lock()
        worker._progress = threading.Condition()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Job(NamedTuple):
    key: str
    value: Any  # a Media (what its `_queued` gave), or a list of them for a gallery
    gallery: bool
    handle: _core.PendingMedia
    nbytes: int


def _queued(value: Any) -> tuple[Any, int]:
    queued = getattr(value, "_queued", None)
    return queued() if queued is not None else (value, 0)


class MediaWorker:
    """Stores the media values of one run (its `files/` directory) on a daemon thread.

    The logging side only appends to a deque and, when the thread sleeps, releases the lock it
    sleeps on: no condition variable on the hot path (a Python-level one costs tens of
    microseconds there once the training step has evicted the caches). `_progress` is for
    whoever waits for the thread: `settle`, and `submit` once the budget is spent.
    """

    def __init__(self, files_dir: str) -> None:
        self.files_dir = files_dir
        self._lock = threading.Lock()  # guards _jobs' ends, _bytes, _idle
        self._wake = threading.Lock()  # held while the thread may sleep on it
        self._wake.acquire()
        self._progress = threading.Condition()  # reentrant: `settle` may `_abandon`
        self._jobs: deque[_Job] = deque()
        self._bytes = 0
        self._idle = False
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
        if type(value) is list or type(value) is tuple:
            items = [_queued(v) for v in value]
            job_value: Any = [v for v, _ in items]
            nbytes = sum(n for _, n in items)
            gallery = True
        else:
            job_value, nbytes = _queued(value)
            gallery = False
        handle = _core.PendingMedia()
        if self._generation != _generation or self._closed:
            # A forked child (its run is inert) or a finished run: nothing waits for it.
            handle.cancel()
            return handle
        if self._bytes + nbytes > MAX_PENDING_BYTES and self._jobs:
            self._wait_for_room(nbytes)
        job = _Job(key, job_value, gallery, handle, nbytes)
        with self._lock:
            self._jobs.append(job)
            self._bytes += nbytes
            wake = self._idle
            self._idle = False
            thread = None
            if self._thread is None:
                thread = self._thread = threading.Thread(
                    target=self._run, name="fwtrack-media", daemon=True
                )
        if wake:
            self._wake.release()
        elif thread is not None:
            thread.start()
        return handle

    def _wait_for_room(self, nbytes: int) -> None:
        with self._progress:
            while self._jobs and self._bytes + nbytes > MAX_PENDING_BYTES:
                self._progress.wait(1.0)

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
        with self._progress:
            done, since = self._done, time.monotonic()
            while self._jobs:
                self._progress.wait(timeout=min(1.0, limit))
                if self._done != done:
                    done, since = self._done, time.monotonic()
                elif time.monotonic() - since >= limit:
                    self._abandon(
                        f"fwtrack: storing media stalled for {limit:g} s; the {len(self._jobs)} "
                        "media value(s) still waiting are left out of the run"
                    )
                    return

    def close(self, stall: float | None = None) -> None:
        """`settle`, then refuse new values and let the thread end. A `KeyboardInterrupt`
        (or any exception) while waiting leaves out what is still queued, so that the run
        can still finish, and is raised again."""
        if self._generation != _generation:
            return
        try:
            self.settle(stall)
        except BaseException:
            self._abandon(
                f"fwtrack: finishing was interrupted; the {len(self._jobs)} media value(s) "
                "still waiting to be stored are left out of the run"
            )
            raise
        finally:
            self._closed = True
            with self._lock:
                wake = self._idle
                self._idle = False
            if wake:
                self._wake.release()
            _release_pool()

    def _abandon(self, message: str) -> None:
        """Cancel every queued record. The one being stored may still complete: its record
        is then left out too (cancelled first)."""
        with self._lock:
            jobs = list(self._jobs)
            if jobs:
                # Keep the one the thread works on: the thread pops it when done with it.
                self._jobs.clear()
                self._jobs.append(jobs[0])
                self._bytes = jobs[0].nbytes
        for i, job in enumerate(jobs):
            job.handle.cancel(message if i == 0 and not self._warned else None)
        self._warned = True
        with self._progress:
            self._progress.notify_all()

    # -- the worker's side -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                job = self._jobs[0] if self._jobs else None
                if job is None:
                    if self._closed:
                        self._thread = None
                        return
                    self._idle = True
            if job is None:
                self._wake.acquire()  # until `submit` or `close` releases it
                continue
            try:
                self._store(job)
            finally:
                # Whatever happened, the record is settled now: completed, or left out.
                job.handle.cancel()
                with self._lock:
                    if self._jobs and self._jobs[0] is job:
                        self._jobs.popleft()
                        self._bytes -= job.nbytes
                with self._progress:
                    self._done += 1
                    self._progress.notify_all()

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
