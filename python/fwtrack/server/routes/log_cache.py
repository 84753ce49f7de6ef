"""The run's index for the routes that serve what its log holds besides the history: system
samples, console lines, media descriptors and histograms (`fwtrack-core::index` parts).

The index is kept up to date where the log grows (the upload's ingest, `fwtrack ui`'s
scanner), incrementally: a poll of a live run reads only what it asks for, never the log.
An index of an older layout (a server upgraded in place), or a log not indexed yet, is
brought up to date here before it is read.
"""

from __future__ import annotations

from fwtrack import _core
from fwtrack.server import core
from fwtrack.server.blobs import RunPaths
from fwtrack.server.errors import ApiError
from fwtrack.server.routes.deps import error

__all__ = ["UNREADABLE", "index_dir", "unreadable"]

UNREADABLE = error(409, "The run log (or table file) cannot be read")
"""The `responses` entry of a route that reads the run log (or a table file)."""

INDEX_VERSION: int = _core.INDEX_VERSION
"""The index layout the routes read; an older one is rebuilt from the log first."""


def unreadable(exc: Exception) -> ApiError:
    """The 409 of a log (or index) that cannot be read."""
    return ApiError(409, f"the stored log cannot be read: {exc}")


def index_dir(paths: RunPaths) -> str | None:
    """The run's index directory, of the current layout; None while the log holds no record."""
    log = paths.stored_log()  # never a symbolic link
    try:
        st = log.stat()
    except FileNotFoundError:
        return None
    if st.st_size <= core.LOG_HEADER_LEN:
        return None
    index = str(paths.index)
    try:
        version, _ = _core.index_version(index)
    except (ValueError, _core.CorruptLogError):
        version = 0  # unreadable: the update rebuilds it
    if version != INDEX_VERSION:
        try:
            core.index_update(str(log), index)
        except FileNotFoundError:
            return None
        except (ValueError, _core.CorruptLogError) as exc:
            raise unreadable(exc) from exc
    return index
