"""Console capture at the file-descriptor level.

File descriptors 1 and 2 are pointed at pipes (`os.pipe` + `os.dup2`), so output of Python,
C extensions and child processes is caught alike. One reader thread per stream writes every
byte on to the original descriptor at once (the terminal still shows everything) and splits
the bytes into lines for the run log, each with the time its end was read. A carriage return
without a line feed starts the line over, so a progress bar that redraws itself with `\\r` is
stored as the final text of its line. At `stop()` (the run's finish, or exit) partial lines
are flushed and the original descriptors restored. In a forked child nothing is touched: its
output still reaches the parent's reader through the inherited pipes.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import logging
import os
import select
import sys
import threading
import time
from collections.abc import Callable

_log = logging.getLogger("fwtrack")

LogConsole = Callable[[str, list[tuple[float, str]]], None]

# How long `stop()` waits for a reader to drain a pipe after the descriptor is restored. A
# child process that outlives the run keeps the pipe open; its later output still reaches the
# terminal but no longer the run log.
_DRAIN_TIMEOUT = 2.0
_READ_SIZE = 65536
_PIPE_BUF = getattr(select, "PIPE_BUF", 512)


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
    def __init__(self, fd: int, name: str, log: LogConsole) -> None:
        self.fd = fd
        self.name = name
        self._log = log
        self._lines = _Lines()
        self._failed = False
        self.saved = os.dup(fd)
        read, write = os.pipe()
        self._read = read
        os.dup2(write, fd)
        os.close(write)
        self.thread = threading.Thread(
            target=self._run, name=f"fwtrack-console-{name}", daemon=True
        )
        self.thread.start()

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

    def _tee(self, data: bytes) -> None:
        # Pieces of at most PIPE_BUF bytes ending at a line end where possible: a write that
        # small is atomic on a pipe, so a process killed mid-tee never leaves a torn line on
        # the original descriptor (as a direct `print` would not).
        view = memoryview(data)
        while view:
            size = len(view)
            if size > _PIPE_BUF:
                cut = data.rfind(b"\n", len(data) - size, len(data) - size + _PIPE_BUF)
                size = cut + 1 - (len(data) - size) if cut >= 0 else _PIPE_BUF
            piece = view[:size]
            while piece:
                try:
                    n = os.write(self.saved, piece)
                except InterruptedError:
                    continue
                except OSError:
                    return  # the terminal is gone; keep recording
                piece = piece[n:]
            view = view[size:]

    def _run(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self._read, _READ_SIZE)
                except InterruptedError:
                    continue
                if not data:
                    break
                self._tee(data)
                self._send(self._lines.feed(data))
            rest = self._lines.feed(b"", final=True)
            last = self._lines.rest()
            self._send(rest + ([last] if last is not None else []))
        except OSError as e:
            _log.debug("fwtrack: console capture of %s stopped: %s", self.name, e)
        finally:
            with contextlib.suppress(OSError):
                os.close(self._read)

    def restore(self) -> None:
        os.dup2(self.saved, self.fd)


class Capture:
    """Captures stdout and stderr until `stop()`."""

    def __init__(self, log: LogConsole) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        _flush_python_streams()
        self._streams = [_Stream(1, "stdout", log), _Stream(2, "stderr", log)]
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
        for s in self._streams:
            s.thread.join(_DRAIN_TIMEOUT)
            if not s.thread.is_alive():
                with contextlib.suppress(OSError):
                    os.close(s.saved)


def _flush_python_streams() -> None:
    for f in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if f is not None:
            with contextlib.suppress(Exception):
                f.flush()
