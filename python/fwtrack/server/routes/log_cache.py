"""The parts of a stored run log that the system, console and media routes serve, decoded
with `_core.RunReader` and cached.

Decoding a long log takes a while, so each log's decoded parts are kept in a small LRU keyed
by the log's path, size and mtime: repeated requests (paging, polling a finished run) decode
once, and a log that grew (a live run) is decoded again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fwtrack import _core
from fwtrack.server import core
from fwtrack.server.blobs import RunPaths
from fwtrack.server.errors import ApiError
from fwtrack.server.routes.deps import error

__all__ = ["UNREADABLE", "Decoded", "decoded", "part"]

UNREADABLE = error(409, "The run log (or table file) cannot be read")
"""The `responses` entry of a route that reads the run log (or a table file)."""


@dataclass
class Decoded:
    """What the routes read from one log (at one size): its system samples, console lines
    (and their casefolded text, for `q`) and media values, all from one decoding on first use.
    The rows are not kept: they are large, and the history index serves them."""

    path: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    _parts: dict[str, Any] | None = None

    def part(self, name: str) -> Any:
        with self.lock:
            if self._parts is None:
                try:
                    reader = _core.RunReader(self.path)
                except FileNotFoundError:
                    self._parts = _empty_parts()
                else:
                    self._parts = {
                        "system": dict(reader.system()),
                        "console": list(reader.console()),
                        "media": list(reader.media()),
                    }
            if name == "console_text" and name not in self._parts:
                self._parts[name] = [text.casefold() for _, _, text in self._parts["console"]]
            return self._parts[name]


def _empty_parts() -> dict[str, Any]:
    """The parts of a log that holds no record yet."""
    return {"system": {}, "console": [], "console_text": [], "media": []}


class _LogCache:
    """At most `size` decoded logs, least recently used dropped first."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._logs: OrderedDict[tuple[str, int, int], Decoded] = OrderedDict()

    def get(self, path: str, size: int, mtime_ns: int) -> Decoded:
        key = (path, size, mtime_ns)
        with self._lock:
            found = self._logs.get(key)
            if found is None:
                found = self._logs[key] = Decoded(path)
            self._logs.move_to_end(key)
            while len(self._logs) > self.size:
                self._logs.popitem(last=False)
            return found


_LOGS = _LogCache()


def decoded(paths: RunPaths) -> Decoded | None:
    """The run's decoded log, or None while it holds no record yet."""
    log = paths.stored_log()  # never a symbolic link
    try:
        st = log.stat()
    except FileNotFoundError:
        return None
    if st.st_size <= core.LOG_HEADER_LEN:
        return None
    return _LOGS.get(str(log), st.st_size, st.st_mtime_ns)


def part(log: Decoded | None, name: str) -> Any:
    """One part of the run's decoded log ("system", "console", "console_text", "media")."""
    if log is None:
        return _empty_parts()[name]
    try:
        return log.part(name)
    except _core.CorruptLogError as exc:
        raise ApiError(409, f"the stored log cannot be read: {exc}") from exc
