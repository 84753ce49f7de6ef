"""Console capture at the file-descriptor level.

File descriptors 1 and 2 are pointed at pipes (`os.pipe` + `os.dup2`), so output of Python,
C extensions and child processes is caught alike. A small tee process (a second Python
interpreter started with `-S`, no imports beyond the standard library) reads those pipes,
writes every byte on to the original descriptors at once, and copies it into a second pipe
per stream, which a reader thread here splits into lines for the run log, each with the time
its end was read. The terminal side lives outside the training process on purpose: output
written just before a `kill -9`, a segfault or the OOM killer (faulthandler's traceback
included) still reaches the terminal, because the tee drains the pipes after the writer is
gone. The tee ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C to the process group must not
cut the output short) and exits once every writer of its pipes has closed them.

A carriage return without a line feed starts the line over, so a progress bar that redraws
itself with `\\r` is stored as the final text of its line. At `stop()` (the run's finish, or
exit) the original descriptors are restored, the tee drains and exits, and partial lines are
recorded. In a forked child nothing is touched: its output still goes through the inherited
pipes.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable

_log = logging.getLogger("fwtrack")

LogConsole = Callable[[str, list[tuple[float, str]]], None]

# How long `stop()` waits for the tee to drain after the descriptors are restored. A child
# process that outlives the run keeps the pipes open; its later output still reaches the
# terminal (the tee runs until it exits) but no longer the run log.
_DRAIN_TIMEOUT = 2.0
_READ_SIZE = 65536

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


class _Lines:
    """Splits decoded text into lines; `\\r` restarts the current line."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._current: list[str] = []
        self._cr = False  # the last character seen was a `\r`

    def feed(self, data: bytes, final: bool = False) -> list[str]:
        text = self._decoder.decode(data, final)
        out: list[str] = []
        start = 0
        for i, ch in enumerate(text):
            if ch == "\n":
                self._current.append(text[start:i])
                out.append("".join(self._current))
                self._current = []
                self._cr = False
                start = i + 1
            elif ch == "\r":
                self._current.append(text[start:i])
                self._cr = True
                start = i + 1
            elif self._cr:
                # Text after a lone `\r` redraws the line from its start.
                self._current = []
                self._cr = False
                start = i
        if start < len(text):
            self._current.append(text[start:])
        return out

    def rest(self) -> str | None:
        """The unfinished line, if it holds any text."""
        text = "".join(self._current)
        self._current = []
        self._cr = False
        return text or None


class _Stream:
    """One captured descriptor: the pipe its writers now write into, the copy pipe the tee
    fills, and the thread turning the copy into log lines."""

    def __init__(self, fd: int, name: str, log: LogConsole) -> None:
        self.fd = fd
        self.name = name
        self._log = log
        self._lines = _Lines()
        self._failed = False
        self.saved = os.dup(fd)
        self.source, self.sink = os.pipe()  # writers -> tee
        self.copy_read, self.copy_write = os.pipe()  # tee -> this process
        self.thread = threading.Thread(
            target=self._run, name=f"fwtrack-console-{name}", daemon=True
        )

    def redirect(self) -> None:
        """Point the descriptor at the tee's pipe and start reading the copy."""
        os.dup2(self.sink, self.fd)
        os.close(self.sink)
        os.close(self.source)
        os.close(self.copy_write)
        self.thread.start()

    def close_all(self) -> None:
        """Undo `__init__` (the tee did not start)."""
        for fd in (self.saved, self.source, self.sink, self.copy_read, self.copy_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _send(self, lines: list[str]) -> None:
        if not lines:
            return
        now = time.time()
        try:
            self._log(self.name, [(now, line) for line in lines])
        except Exception as e:
            if not self._failed:
                self._failed = True
                _log.debug("fwtrack: console lines were not recorded: %s", e)

    def _run(self) -> None:
        try:
            while True:
                data = os.read(self.copy_read, _READ_SIZE)
                if not data:
                    break
                self._send(self._lines.feed(data))
            rest = self._lines.feed(b"", final=True)
            last = self._lines.rest()
            self._send(rest + ([last] if last is not None else []))
        except OSError as e:
            _log.debug("fwtrack: console capture of %s stopped: %s", self.name, e)
        finally:
            with contextlib.suppress(OSError):
                os.close(self.copy_read)

    def restore(self) -> None:
        os.dup2(self.saved, self.fd)


class Capture:
    """Captures stdout and stderr until `stop()`. Raises OSError when the tee process cannot
    start (nothing is redirected then)."""

    def __init__(self, log: LogConsole) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        _flush_python_streams()
        streams = [_Stream(1, "stdout", log), _Stream(2, "stderr", log)]
        out, err = streams
        try:
            self._tee = subprocess.Popen(
                [
                    sys.executable,
                    "-S",
                    "-E",
                    "-c",
                    _TEE,
                    *(f"{s.source},{i + 1},{s.copy_write}" for i, s in enumerate(streams)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out.saved,
                stderr=err.saved,
                pass_fds=[fd for s in streams for fd in (s.source, s.copy_write)],
            )
        except (OSError, subprocess.SubprocessError) as e:
            for s in streams:
                s.close_all()
            raise OSError(f"the console tee process did not start: {e}") from e
        for s in streams:
            s.redirect()
        self._streams = streams
        self._stopped = False
        atexit.register(self.stop)

    def stop(self) -> None:
        """Flush, restore file descriptors 1 and 2 and record the last partial lines.
        Idempotent; does nothing in a forked child."""
        with self._lock:
            if self._stopped or os.getpid() != self._pid:
                return
            self._stopped = True
        atexit.unregister(self.stop)
        _flush_python_streams()
        for s in self._streams:
            with contextlib.suppress(OSError):
                s.restore()
        deadline = time.monotonic() + _DRAIN_TIMEOUT
        for s in self._streams:
            s.thread.join(max(0.0, deadline - time.monotonic()))
        for s in self._streams:
            with contextlib.suppress(OSError):
                os.close(s.saved)
        with contextlib.suppress(subprocess.TimeoutExpired):
            # Gone once drained, unless a child process still holds the pipes: then it
            # keeps teeing that child's output to the terminal until the child exits.
            self._tee.wait(max(0.0, deadline - time.monotonic()))


def _flush_python_streams() -> None:
    for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if f is not None:
            with contextlib.suppress(Exception):
                f.flush()
