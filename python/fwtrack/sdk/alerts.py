"""Alerts: `fwtrack.alert(title, text, level, wait_duration)` and `Run.alert`, as wandb's
(docs/alerts.md).

An alert is an `Alert` record in the run log (`RunWriter.log_alert`), so it is kept with the
run offline and, online, reaches the server with the rest of the log; the server lists it on
the run page and sends a `run.alert` event to the team's webhooks.

Rate limit (W&B's rule): an alert whose title matches one this run recorded less than
`wait_duration` ago is suppressed — neither recorded nor sent. `wait_duration` is seconds (an
int or float) or a `datetime.timedelta`; a falsy value (None, 0) means the default, one
minute, as in wandb.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from enum import Enum
from typing import Protocol

__all__ = ["DEFAULT_WAIT", "AlertLevel", "Alerts", "alert"]


class AlertLevel(Enum):
    """The level of an alert (wandb's `AlertLevel`)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


DEFAULT_WAIT = 60.0
"""Seconds during which a second alert with the same title is suppressed by default."""

_LEVELS = tuple(level.value for level in AlertLevel)


class _Recorder(Protocol):
    def log_alert(self, title: str, text: str, level: str) -> None: ...


def level_name(level: str | AlertLevel | None) -> str:
    """The level as written in the log ("INFO", "WARN" or "ERROR"; None means "INFO")."""
    if level is None:
        return "INFO"
    name = level.value if isinstance(level, AlertLevel) else level
    if name not in _LEVELS:
        raise ValueError(
            f"alert level must be one of 'INFO', 'WARN' or 'ERROR' (or fwtrack.AlertLevel), "
            f"got {level!r}"
        )
    return str(name)


def wait_seconds(wait_duration: float | timedelta | None) -> float:
    """`wait_duration` in seconds; falsy (None, 0) means `DEFAULT_WAIT`, as in wandb."""
    if not wait_duration:
        return DEFAULT_WAIT
    if isinstance(wait_duration, bool):
        raise TypeError("wait_duration must be an int, float, or datetime.timedelta, got a bool")
    if isinstance(wait_duration, int | float):
        seconds = float(wait_duration)
    elif callable(getattr(wait_duration, "total_seconds", None)):
        seconds = float(wait_duration.total_seconds())
    else:
        raise TypeError(
            "wait_duration must be an int, float, or datetime.timedelta, got "
            f"{type(wait_duration).__name__}"
        )
    if seconds != seconds or seconds < 0:
        raise ValueError(f"wait_duration must be >= 0 seconds, got {wait_duration!r}")
    return seconds


class Alerts:
    """The alerts of one run: checks the arguments, applies the rate limit and records."""

    def __init__(self, writer: _Recorder | None) -> None:
        self._writer = writer  # None: a disabled run (arguments checked, nothing recorded)
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}  # title -> monotonic time it was last recorded

    def alert(
        self,
        title: str,
        text: str,
        level: str | AlertLevel | None = None,
        wait_duration: float | timedelta | None = None,
    ) -> bool:
        """Record the alert unless the rate limit suppresses it; True when recorded."""
        if not isinstance(title, str) or not title:
            raise TypeError(f"alert title must be a non-empty str, got {title!r}")
        if not isinstance(text, str):
            raise TypeError(f"alert text must be a str, got {type(text).__name__}")
        name = level_name(level)
        wait = wait_seconds(wait_duration)
        with self._lock:
            at = time.monotonic()
            last = self._last.get(title)
            if last is not None and at - last < wait:
                return False
            if self._writer is not None:
                self._writer.log_alert(title, text, name)
            self._last[title] = at
        return True


def alert(
    title: str,
    text: str,
    level: str | AlertLevel | None = None,
    wait_duration: float | timedelta | None = None,
) -> None:
    """`Run.alert` on the active run (`fwtrack.init()` first)."""
    from fwtrack.sdk.run import current_run

    run = current_run()
    if run is None:
        from fwtrack.errors import NoActiveRunError

        raise NoActiveRunError(
            "fwtrack.alert() needs an active run; call fwtrack.init() first (or run.alert())"
        )
    run.alert(title, text, level=level, wait_duration=wait_duration)
