"""Console capture at the file-descriptor level.

File descriptors 1 and 2 are pointed at pipes (`os.pipe` + `os.dup2`), so output of Python,
C extensions and child processes is caught alike. A small tee process (a second Python
interpreter started with `-S`, no imports beyond the standard library) reads those pipes,
writes every byte on to the original descriptors at once, and copies it into a second pipe
per stream, which a reader thread of the Rust core (`RunWriter.read_console`) splits into
lines for the run log without taking the GIL, each with the time its end was read.

The terminal side lives outside the training process on purpose: output written just before
a `kill -9`, a segfault or the OOM killer (faulthandler's traceback included) still reaches
the terminal, because the tee drains the pipes after the writer is gone. The tee ignores
SIGINT, SIGTERM and SIGHUP (a Ctrl-C to the process group must not cut the output short) and
exits once every writer of its pipes has closed them.

A carriage return without a line feed starts the line over, so a progress bar that redraws
itself with `\\r` is stored as the final text of its line. At `stop()` (the run's finish, or
exit) the original descriptors are restored, the tee drains and exits, and partial lines are
recorded. In a forked child nothing is touched: its output still goes through the inherited
pipes.

In a Jupyter kernel the descriptors are left alone (the kernel reads them itself):
`notebook.StreamCapture` wraps `sys.stdout` and `sys.stderr` instead.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import sys
import threading
import time

from fwtrack import _core

# How long `stop()` waits for the tee to drain after the descriptors are restored. A child
# process that outlives the run keeps the pipes open; its later output still reaches the
# terminal (the tee runs until it exits) but no longer the run log.
_DRAIN_TIMEOUT = 2.0

# Process ids of tees still running after their capture stopped (see `Capture.stop`).
_LINGERING: list[int] = []
# Descriptors at or above this are free for the dance in `_spawn_tee`.
_HIGH_FD = 100

# The tee process. argv: one "source,terminal,copy" triple of descriptor numbers per stream.
# Bytes go to the terminal in pieces of at most PIPE_BUF ending at a line end where possible
# (a write that small is atomic on a pipe), then to the copy pipe. A terminal that is gone
# is dropped and the copy goes on; a copy whose reader is gone is dropped and the terminal
# goes on.
_TEE = r"""
import os, select, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
PIPE_BUF = getattr(select, "PIPE_BUF", 512)
def write_all(fd, data):
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
        except OSError:
            return False
    return True
def tee(fd, data):
    start = 0
    while start < len(data):
        size = len(data) - start
        if size > PIPE_BUF:
            cut = data.rfind(b"\n", start, start + PIPE_BUF)
            size = cut + 1 - start if cut >= 0 else PIPE_BUF
        if not write_all(fd, data[start:start + size]):
            return False
        start += size
    return True
streams = {}
poll = select.poll()
for arg in sys.argv[1:]:
    src, out, copy = (int(x) for x in arg.split(","))
    streams[src] = [out, copy]
    poll.register(src, select.POLLIN | select.POLLHUP | select.POLLERR)
while streams:
    for src, _ in poll.poll():
        if src not in streams:
            continue
        data = os.read(src, 65536)
        out, copy = streams[src]
        if not data:
            poll.unregister(src)
            del streams[src]
            os.close(src)
            if copy is not None:
                os.close(copy)
            continue
        if out is not None and not tee(out, data):
            streams[src][0] = None
        if copy is not None and not write_all(copy, data):
            streams[src][1] = None
"""


class _Stream:
    """One captured descriptor: the pipe its writers now write into, and the copy pipe the
    tee fills, which a reader thread in the Rust core turns into log lines (without the GIL,
    so the training thread is never interrupted for them)."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.saved = os.dup(fd)
        self.source, self.sink = os.pipe()  # writers -> tee
        self.copy_read, self.copy_write = os.pipe()  # tee -> the reader thread
        self.reader: _core.ConsoleReader | None = None

    def redirect(self, writer: _core.RunWriter) -> None:
        """Point the descriptor at the tee's pipe and start recording the copy."""
        self.reader = writer.read_console(self.name, self.copy_read)  # takes copy_read over
        os.dup2(self.sink, self.fd)
        for fd in (self.sink, self.source, self.copy_write):
            os.close(fd)

    def close_all(self) -> None:
        """Undo `__init__` (the tee did not start)."""
        for fd in (self.saved, self.source, self.sink, self.copy_read, self.copy_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def restore(self) -> None:
        os.dup2(self.saved, self.fd)


class Capture:
    """Captures stdout and stderr into `writer`'s run log until `stop()`. Raises OSError when
    the tee process cannot start (nothing is redirected then)."""

    def __init__(self, writer: _core.RunWriter) -> None:
        from fwtrack.sdk import notebook

        self._kernel: notebook.StreamCapture | None = None
        if notebook.in_kernel():
            self._kernel = notebook.StreamCapture(writer)
            return
        _LINGERING[:] = [pid for pid in _LINGERING if not _reaped(pid)]
        self._pid = os.getpid()
        self._lock = threading.Lock()
        _flush_python_streams()
        streams = [_Stream(1, "stdout"), _Stream(2, "stderr")]
        try:
            self._tee = _spawn_tee(streams)
        except OSError as e:
            for s in streams:
                s.close_all()
            raise OSError(f"the console tee process did not start: {e}") from e
        for s in streams:
            s.redirect(writer)
        self._streams = streams
        self._stopped = False
        atexit.register(self.stop)

    def stop(self) -> None:
        """Flush, restore file descriptors 1 and 2 and wait (bounded) for the last lines.
        Idempotent; does nothing in a forked child. A second caller returns at once, also
        when it is a signal handler that interrupted the first in the same thread (a sweep
        trial's SIGTERM finishing the run), which must not wait for itself."""
        if self._kernel is not None:
            self._kernel.stop()
            return
        if not self._lock.acquire(blocking=False):
            return  # another call is claiming the stop right now
        try:
            if self._stopped or os.getpid() != self._pid:
                return
            self._stopped = True
        finally:
            self._lock.release()
        atexit.unregister(self.stop)
        _flush_python_streams()
        for s in self._streams:
            with contextlib.suppress(OSError):
                s.restore()
        deadline = time.monotonic() + _DRAIN_TIMEOUT
        for s in self._streams:
            if s.reader is not None:
                s.reader.join(max(0.0, deadline - time.monotonic()))
        for s in self._streams:
            with contextlib.suppress(OSError):
                os.close(s.saved)
        while not _reaped(self._tee):
            if time.monotonic() >= deadline:
                # Something still holds the pipes (a child process that outlives the run, a
                # duplicated descriptor): the tee goes on teeing its output to the terminal
                # until they are closed; it is reaped later (or by init after our exit).
                _LINGERING.append(self._tee)
                break
            time.sleep(0.005)


def _spawn_tee(streams: list[_Stream]) -> int:
    """Start the tee process; its pid. Its stdout/stderr are the original descriptors, and
    each stream's source and copy pipes are descriptors 3, 4 (stdout) and 5, 6 (stderr).
    `posix_spawn` leaves no `Popen` object behind to warn about a tee that outlives its
    capture."""
    wanted = [streams[0].saved, streams[1].saved]
    for s in streams:
        wanted += [s.source, s.copy_write]
    # Copies above every target first, so that no dup2 below overwrites a source.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD) for fd in wanted]
    try:
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(high, 1)]
        return os.posix_spawn(
            sys.executable,
            [sys.executable, "-S", "-E", "-c", _TEE, "3,1,4", "5,2,6"],
            os.environ,
            file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0), *actions],
        )
    finally:
        for fd in high:
            os.close(fd)


def _reaped(pid: int) -> bool:
    """Whether the process `pid` (a child of ours) has exited; collects its status."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done != 0


def _flush_python_streams() -> None:
    for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if f is not None:
            with contextlib.suppress(Exception):
                f.flush()
