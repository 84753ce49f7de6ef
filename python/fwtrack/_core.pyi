"""Type stubs for the native module `fwtrack._core` (built from rust/fwtrack-py).

This file is the contract between the Rust core and the Python layer. Python code never
imports anything else from the extension.
"""

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str
FORMAT_VERSION: int
LOG_FILE_NAME: str  # "run.fwlog"

class CorruptLogError(OSError):
    """A run log whose header is not a fwtrack run log, or whose version is unknown."""

class RunWriter:
    """Owns one run log: a writer thread appending framed, compressed blocks.

    `path` is the run directory (created if missing); the log is `path/run.fwlog` and a lock
    file `path/.lock` is held (flock) while the writer lives, so readers can tell a running
    run from a crashed one.

    `info` is the run-start metadata (a JSON object as a string: id, name, project, tags, ...).
    With `resume=True` an existing log is opened: a torn tail is truncated, and step, runtime,
    summary and metric definitions continue from what was recovered (see `step`, `runtime`).

    `converter(key, value)` is called for any value that is not a float, int, bool, str or
    dict (a numpy scalar, an array, a tensor, a user Histogram, ...); it returns a
    float/int/bool/str, a `Histogram`, or None (the key is left out of the row), or raises
    TypeError naming the key and the type.
    `warn(message)` is called (with the GIL held) for each warning the writer has to report.
    """

    def __init__(
        self,
        path: str,
        info: str,
        *,
        resume: bool = False,
        flush_interval: float = 1.0,
        queue_capacity: int = 65536,
        converter: Callable[[str, Any], Any],
        warn: Callable[[str], None],
    ) -> None: ...
    def log(self, data: dict[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Flatten nested dicts with "/", validate keys (non-empty str, <= 256 chars) and
        values, then enqueue. Raises ValueError/TypeError naming the key before anything of
        this call is enqueued. Step rules: see docs/api.md ("Steps")."""
    def log_config(self, config_json: str) -> None:
        """Append a full config snapshot (a JSON object)."""
    def define_metric(self, name: str, step_metric: str | None, summary: list[str]) -> None: ...
    def update_summary(self, values_json: str, delete: list[str]) -> None:
        """Explicit summary values (override computed ones for those keys)."""
    def summary(self) -> dict[str, Any]:
        """The current summary, including everything logged so far (after `finish`, the
        final summary)."""
    def flush(self) -> None:
        """Return when everything logged so far is written and fsynced. GIL released."""
    def finish(self, exit_code: int) -> None:
        """Commit a pending row, write the finish record, fsync, stop the writer thread."""
    @property
    def step(self) -> int:
        """The step the next implicit commit will get."""
    @property
    def runtime(self) -> float:
        """Seconds of run time so far (continues across resumes)."""
    @property
    def finished(self) -> bool: ...
    @property
    def dropped_steps(self) -> int:
        """How many log calls were dropped for a step below the current one."""

class Histogram:
    """Bins computed in Rust. Build with `histogram(...)` or `Histogram.from_counts(...)`."""

    @staticmethod
    def from_counts(
        counts: npt.ArrayLike,
        edges: npt.ArrayLike,
        *,
        nan_count: int = 0,
        pos_inf_count: int = 0,
        neg_inf_count: int = 0,
    ) -> Histogram: ...
    @property
    def counts(self) -> npt.NDArray[np.uint64]: ...
    @property
    def edges(self) -> npt.NDArray[np.float64]: ...
    @property
    def nan_count(self) -> int: ...
    @property
    def pos_inf_count(self) -> int: ...
    @property
    def neg_inf_count(self) -> int: ...

def histogram(values: npt.NDArray[Any], num_bins: int) -> Histogram:
    """Histogram of a numpy array (float16/32/64, any int) with the GIL released.
    NaN and +/-Inf are excluded from the bins and counted."""

def scan_rows(path: str, keys: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a run log (directory or file) as dicts, merged by step, streamed one frame at
    a time without reading the whole log first."""

def is_locked(path: str) -> bool:
    """True when a live writer holds the run directory's lock."""

def after_fork_child() -> None:
    """Called in a forked child: every RunWriter becomes inert (calls are ignored)."""

def is_forked_child() -> bool: ...

class RunReader:
    """Reads a run log, including one still being written. Stops cleanly at a torn or
    corrupt tail and reports it in `meta()["tail_error"]`."""

    def __init__(self, path: str) -> None:
        """`path` is the run directory or the log file itself. Raises FileNotFoundError,
        CorruptLogError."""
    def meta(self) -> dict[str, Any]:
        """{"starts": [info dicts], "config": dict, "summary": dict,
        "metrics": [{"name", "step_metric", "summary"}], "finish": {"exit_code", "timestamp",
        "runtime"} | None, "last_step": int | None, "rows": int, "records": int,
        "tail_error": str | None}"""
    def history(self, keys: list[str] | None = None) -> dict[str, Any]:
        """Columns: "_step" (int64 array), "_timestamp", "_runtime" (float64 arrays) and one
        column per metric: a float64 array (NaN where absent) when every value is numeric,
        else a list of values (None where absent). Rows with the same step are merged."""
    def scan(self, keys: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Rows as dicts (merged by step), streamed from the log file one frame at a time."""
    def histograms(self, key: str) -> list[tuple[int, Histogram]]:
        """(step, histogram) for each step at which `key` was logged as a histogram."""
    def histogram_keys(self) -> list[str]: ...
