"""Exceptions and warnings raised by fwtrack.

Every exception fwtrack raises on its own account derives from `FwTrackError`; bad arguments
raise the built-in `TypeError`/`ValueError`, and I/O trouble the built-in `OSError` family.
Every warning derives from `FwTrackWarning`, so one filter silences (or escalates) them all::

    warnings.filterwarnings("ignore", category=fwtrack.FwTrackWarning)
"""

from __future__ import annotations

__all__ = [
    "FwTrackError",
    "FwTrackWarning",
    "NoActiveRunError",
    "RunFinishedError",
    "RunLockedError",
    "RunNotFoundError",
    "ServerRequiredError",
    "UnsafePathError",
]


class FwTrackError(Exception):
    """The root of every exception fwtrack raises on its own account."""


class NoActiveRunError(FwTrackError):
    """A module-level call (`fwtrack.log`, `fwtrack.define_metric`) with no active run."""


class RunFinishedError(FwTrackError):
    """Logging to, or changing, a run after `finish()`."""


class RunNotFoundError(FwTrackError):
    """`resume="must"` for a run id that has no run log."""


class RunLockedError(FwTrackError):
    """The run is open for writing in another live process."""


class UnsafePathError(FwTrackError, ValueError):
    """A name from outside that is not safe to use as a local path: an entity, project, run id
    or file path in a server's answer or a run log (`..`, `/`, an absolute path, NUL, too
    long), or a path that would lead out of the cache or the download folder. Nothing was
    written."""


class ServerRequiredError(FwTrackError, ValueError):
    """A call that manages a server's users, keys or teams on an `Api` of a local directory."""


class FwTrackWarning(UserWarning):
    """The root of every warning fwtrack reports."""
