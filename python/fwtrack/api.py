"""Reading runs back from disk: `fwtrack.Api`.

Runs lie in `<dir>/<project>/<run_id>/` (the run log `run.fwlog` plus a `.lock` held by a live
writer), where `dir` is the argument to `Api`, else `FWTRACK_DIR`, else `./fwtrack`::

    api = fwtrack.Api()
    for run in api.runs("demo"):              # newest first
        print(run.id, run.state, run.summary.get("train/loss"))
    run = api.run("demo/3kz9w1ab")            # or a bare id, searched across projects
    df = run.history(keys=["train/loss"])     # a pandas DataFrame

Handles read lazily: a run that is still being written shows new rows on the next call.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from fwtrack import _core
from fwtrack._http import (
    AuthenticationError,
    InvalidRequestError,
    MissingApiKeyError,
    NameTakenError,
    NotFoundError,
    PermissionDeniedError,
    ServerConnectionError,
    ServerError,
)
from fwtrack.admin import AdminCalls
from fwtrack.api_filters import FIELDS, check_filters, check_order, matches, sort_runs
from fwtrack.errors import (
    FwTrackError,
    FwTrackWarning,
    RunNotFoundError,
    ServerRequiredError,
    UnsafePathError,
)
from fwtrack.run_files import RunFile, local_run_files, merge_metadata
from fwtrack.sdk.settings import FWTRACK_BASE_URL, FWTRACK_DIR

if TYPE_CHECKING:
    import pandas as pd

    from fwtrack.api_remote import RemoteBackend
    from fwtrack.artifacts.artifact import Artifact
    from fwtrack.artifacts.registry import Registry
    from fwtrack.registry.model_registry import ModelRegistry
    from fwtrack.report import Report
    from fwtrack.report.store import ReportStore
    from fwtrack.sweeps.client import Sweep

__all__ = [
    "RUN_STATES",
    "AmbiguousRunError",
    "Api",
    "AuthenticationError",
    "HistogramEntry",
    "InvalidRequestError",
    "LogLine",
    "MissingApiKeyError",
    "NameTakenError",
    "NotFoundError",
    "PermissionDeniedError",
    "Project",
    "Run",
    "RunFile",
    "RunNotFoundError",
    "RunState",
    "RunSummary",
    "Runs",
    "ServerConnectionError",
    "ServerError",
    "ServerRequiredError",
    "UnsafePathError",
]

RunState = Literal["running", "finished", "failed", "crashed", "stopped"]
"""`stopped`: finish record with the reason `"stopped"` (a sweep, or the user, stopped it early);
`finished`: else a finish record with exit code 0; `failed`: a finish record with a nonzero exit
code; `running`: no finish record and a live writer holds the lock; `crashed`: neither."""
RUN_STATES: tuple[RunState, ...] = ("running", "finished", "failed", "crashed", "stopped")

RUN_FILTERS = FIELDS
"""The fields `Api.runs(filters=...)` accepts (W&B's names; see `fwtrack.api_filters`)."""
run_matches = matches


_META_COLUMNS = ("_step", "_timestamp", "_runtime")


class AmbiguousRunError(FwTrackError, ValueError):
    """A bare run id that exists in more than one project."""


def _default_dir() -> Path:
    return Path(FWTRACK_DIR.get() or FWTRACK_DIR.default or "fwtrack")


def _log_path(run_dir: Path) -> Path:
    return run_dir / _core.LOG_FILE_NAME


def _is_run_dir(path: Path) -> bool:
    return _log_path(path).is_file()


def _open_reader(run_dir: Path) -> _core.RunReader:
    """A reader on `run_dir`, with a corrupt log reported under its path."""
    log = _log_path(run_dir)
    try:
        return _core.RunReader(str(run_dir))
    except _core.CorruptLogError as exc:
        if str(log) in str(exc):
            raise
        err = _core.CorruptLogError(f"{log}: {exc}")
        err.filename = str(log)
        raise err from exc


@dataclass(frozen=True)
class LogLine:
    """One line of console output: its Unix time, `"stdout"` or `"stderr"`, and its text
    (without the line ending; a line redrawn with `\\r` holds its final text)."""

    timestamp: float
    stream: Literal["stdout", "stderr"]
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Project:
    """A project: a folder under the run directory, or a project on a server (`entity` set,
    `dir` the local cache of its runs). `str(project)` is its name (`"entity/name"` on a
    server), as `Api.runs()` accepts it."""

    name: str
    dir: Path
    run_count: int
    entity: str | None = None

    def __str__(self) -> str:
        return self.name if self.entity is None else f"{self.entity}/{self.name}"


@dataclass(frozen=True, eq=False)
class HistogramEntry:
    """One logged histogram: bin `counts` (len n) over `edges` (len n + 1) at `step`.

    NaN and +/-Inf values are not in the bins; they are counted apart.
    """

    step: int
    counts: npt.NDArray[np.uint64]
    edges: npt.NDArray[np.float64]
    nan_count: int
    pos_inf_count: int
    neg_inf_count: int

    @property
    def total(self) -> int:
        """Every value the histogram was built from, NaN and Inf included."""
        return int(self.counts.sum()) + self.nan_count + self.pos_inf_count + self.neg_inf_count

    def __repr__(self) -> str:
        lo, hi = (float(self.edges[0]), float(self.edges[-1])) if len(self.edges) else (0.0, 0.0)
        return (
            f"HistogramEntry(step={self.step}, bins={len(self.counts)}, "
            f"range=[{lo:.4g}, {hi:.4g}], total={self.total})"
        )


class Run:
    """A run on disk, read lazily: every property reflects the log as it is now.

    Get one from `Api.run()` or `Api.runs()`. The log is re-read only when it changed on disk.
    """

    def __init__(self, run_dir: Path, *, project: str | None = None) -> None:
        self._dir = run_dir
        self._project = project if project is not None else run_dir.parent.name
        self._meta: dict[str, Any] = {}
        self._stamp: tuple[int, int] | None = None
        self._rd: _core.RunReader | None = None
        self._load()  # surfaces a missing or corrupt log now, not on first property access

    # -- loading ---------------------------------------------------------------------------

    def _reader(self) -> _core.RunReader:
        """The reader of the log as it is now: decoded once, again only when the log grew."""
        st = _log_path(self._dir).stat()
        stamp = (st.st_size, st.st_mtime_ns)
        if stamp != self._stamp or self._rd is None:
            self._rd = _open_reader(self._dir)
            self._meta = self._rd.meta()
            self._stamp = stamp
        return self._rd

    def _load(self) -> dict[str, Any]:
        self._reader()
        return self._meta

    def _start(self) -> dict[str, Any]:
        starts: list[dict[str, Any]] = self._load().get("starts") or []
        return starts[0] if starts else {}

    # -- identity --------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._dir.name

    @property
    def project(self) -> str:
        return self._project

    @property
    def path(self) -> str:
        """`"<project>/<id>"`, accepted by `Api.run()` and the `fwtrack` CLI."""
        return f"{self._project}/{self.id}"

    @property
    def dir(self) -> Path:
        """The run directory."""
        return self._dir

    @property
    def log_path(self) -> Path:
        return _log_path(self._dir)

    # -- start info --------------------------------------------------------------------------

    @property
    def metadata(self) -> dict[str, Any]:
        """The run-start info written by `fwtrack.init()` (host, pid, program, args, ...),
        with the environment snapshot of `files/metadata.json` (git, entry script, command
        line, Python, OS, CPU, GPUs, allow-listed environment variables) when it was taken."""
        snap = self._dir / "files" / "metadata.json"
        try:
            raw: bytes | None = snap.read_bytes()
        except OSError:
            raw = None
        return merge_metadata(copy.deepcopy(self._start()), raw)

    def files(self) -> list[RunFile]:
        """The run's stored files (`metadata.json`, `requirements.txt`, `diff.patch`,
        `code/<script>`, files added with `run.save()`), sorted by name."""
        return local_run_files(self._dir)

    @property
    def starts(self) -> list[dict[str, Any]]:
        """Start info of the original start, then of each resume."""
        return copy.deepcopy(list(self._load().get("starts") or []))

    def _read_name(self) -> str:
        return str(self._start().get("name") or self.id)

    @property
    def name(self) -> str:
        """The run's display name; set it and call `update()` to save it."""
        pending = self._edit_state().get("name")
        return str(pending) if pending is not None else self._read_name()

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"run name must be a non-empty str, got {value!r}")
        self._edit_state()["name"] = value

    @property
    def display_name(self) -> str:
        """W&B's name for `name`."""
        return self.name

    @display_name.setter
    def display_name(self, value: str) -> None:
        self.name = value

    @property
    def group(self) -> str | None:
        value = self._start().get("group")
        return None if value is None else str(value)

    @property
    def job_type(self) -> str | None:
        value = self._start().get("job_type")
        return None if value is None else str(value)

    def _read_tags(self) -> list[str]:
        return [str(t) for t in self._start().get("tags") or []]

    @property
    def tags(self) -> list[str]:
        """The run's tags: a list you may change in place (or assign); `update()` saves it."""
        tags: list[str] = self._editable("tags", self._read_tags, list)
        return tags

    @tags.setter
    def tags(self, value: list[str]) -> None:
        if isinstance(value, str) or not all(isinstance(t, str) and t for t in value):
            raise TypeError(f"tags must be a list of non-empty str, got {value!r}")
        self._edit_state()["tags"] = (list(value), self._read_tags())

    def _read_notes(self) -> str | None:
        value = self._start().get("notes")
        return None if value is None else str(value)

    @property
    def notes(self) -> str | None:
        """The run's notes; set them and call `update()` to save them."""
        state = self._edit_state()
        if "notes" in state:
            pending: str | None = state["notes"]
            return pending
        return self._read_notes()

    @notes.setter
    def notes(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"notes must be a str (or None), got {value!r}")
        self._edit_state()["notes"] = value

    @property
    def created_at(self) -> datetime:
        """When the run was first started (UTC)."""
        return datetime.fromtimestamp(float(self._start().get("created_at") or 0.0), timezone.utc)

    # -- contents ----------------------------------------------------------------------------

    def _read_config(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._load().get("config") or {}))

    def _read_summary(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._load().get("summary") or {}))

    @property
    def config(self) -> dict[str, Any]:
        """The run's config: a dict you may change in place; `update()` saves the changes."""
        config: dict[str, Any] = self._editable("config", self._read_config, dict)
        return config

    @property
    def summary(self) -> RunSummary:
        """Last value of each metric (or the aggregate set by `define_metric`), plus values set
        explicitly on the run's summary. A dict you may change in place (`summary[k] = v`,
        `del summary[k]`); `summary.update()` (or `run.update()`) saves the changes."""
        summary: RunSummary = self._editable(
            "summary", self._read_summary, lambda d: RunSummary(self, d)
        )
        return summary

    @property
    def summary_metrics(self) -> dict[str, Any]:
        """W&B's name for the summary as a plain dict."""
        return dict(self.summary)

    # -- edits -------------------------------------------------------------------------------

    def _edit_state(self) -> dict[str, Any]:
        state: dict[str, Any] | None = self.__dict__.get("_edits")
        if state is None:
            state = self.__dict__["_edits"] = {}
        return state

    def _editable(self, field: str, read: Callable[[], Any], wrap: Callable[[Any], Any]) -> Any:
        """The object a user edits in place for `field`: the one handed out before while it
        holds unsaved changes, else a fresh one read from the run."""
        state = self._edit_state()
        held = state.get(field)
        if held is not None and _differs(held[0], held[1]):
            return held[0]
        fresh = read()
        obj = wrap(copy.deepcopy(fresh))
        state[field] = (obj, fresh)
        return obj

    def _changes(self, fields: tuple[str, ...]) -> dict[str, Any]:
        """The unsaved edits of `fields` as the body of a run edit."""
        state = self._edit_state()
        out: dict[str, Any] = {}
        for field in fields:
            if field in ("summary", "config"):
                held = state.get(field)
                if held is None:
                    continue
                obj, base = held
                changed = {k: v for k, v in obj.items() if k not in base or _differs(v, base[k])}
                deleted = [k for k in base if k not in obj]
                if changed:
                    out[field] = changed
                if deleted:
                    out[f"{field}_delete"] = deleted
            elif field == "tags":
                held = state.get("tags")
                if held is not None and _differs(list(held[0]), list(held[1])):
                    out["tags"] = list(held[0])
            elif field == "name":
                if state.get("name") is not None and state["name"] != self._read_name():
                    out["name"] = state["name"]
            elif field == "notes" and "notes" in state and state["notes"] != self._read_notes():
                out["notes"] = state["notes"]
        return out

    def update(self) -> None:
        """Save the changes made to this handle's `summary`, `config`, `tags`, `name` and
        `notes` (W&B's `Run.update()`). On a server, through `PATCH` of the run (the key
        needs the rights it needs to upload the run); the server keeps edited fields over
        what the run logs later. Nothing to save: nothing is sent."""
        self._save(("summary", "config", "tags", "name", "notes"))

    def save(self) -> None:
        """W&B's alias of `update()`."""
        self.update()

    # -- more of W&B's names ---------------------------------------------------------------

    @property
    def lastHistoryStep(self) -> int:
        """W&B's name: the highest step in the history, -1 before the first row."""
        step = self.last_step
        return -1 if step is None else step

    @property
    def json_config(self) -> str:
        """The config as a JSON string in W&B's shape (`{"key": {"value": ...}}`)."""
        import json

        return json.dumps({k: {"value": v} for k, v in self.config.items()}, default=str)

    def file(self, name: str) -> RunFile:
        """The run file `name` (as listed by `files()`). Raises KeyError naming the files
        there are."""
        found = [f for f in self.files() if f.name == name]
        if not found:
            known = ", ".join(f.name for f in self.files()[:20]) or "none"
            raise KeyError(f"run {self.path} has no file {name!r} (files: {known})")
        return found[0]

    def wait_until_finished(self, poll: float = 5.0, timeout: float | None = None) -> None:
        """Return once the run is no longer `running` (W&B's polling wait); TimeoutError
        after `timeout` seconds when given."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if hasattr(self, "refresh"):
                self.refresh()
            if self.state != "running":
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"run {self.path} is still running after {timeout} s")
            time.sleep(poll)

    def _save(self, fields: tuple[str, ...]) -> None:
        changes = self._changes(fields)
        if changes:
            self._apply_edits(changes)
        state = self._edit_state()
        for field in fields:
            state.pop(field, None)

    def _apply_edits(self, changes: dict[str, Any]) -> None:
        """Append the edits to the run log (`_core.amend_run`: one frame, under the run's
        lock; no start or finish record), so every reader of the log, `fwtrack ui` and a
        later `fwtrack sync` see them."""
        config = None
        if "config" in changes or "config_delete" in changes:
            config = self._read_config()
            for key in changes.get("config_delete") or []:
                config.pop(key, None)
            config.update(changes.get("config") or {})
        info: dict[str, Any] = {k: changes[k] for k in ("name", "tags", "notes") if k in changes}
        try:
            _core.amend_run(
                str(self._dir),
                summary=changes.get("summary", {})
                if "summary" in changes or "summary_delete" in changes
                else None,
                summary_delete=list(changes.get("summary_delete") or []),
                config=config,
                info=info or None,
            )
        except RuntimeError as e:
            raise FwTrackError(
                f"cannot save the edits of the local run {self.path} while it is running "
                f"({e})\nhint: set them in the running process (run.summary[...] = ..., "
                "run.config.update(...), run.name = ...), or edit it after it finishes"
            ) from None
        self._stamp = None  # read the log again

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """Metric definitions from `define_metric`: `{"name", "step_metric", "summary",
        "goal", "hidden", "step_sync"}`."""
        return copy.deepcopy(list(self._load().get("metrics") or []))

    @property
    def last_step(self) -> int | None:
        """The highest step in the history, None before the first row."""
        value = self._load().get("last_step")
        return None if value is None else int(value)

    @property
    def row_count(self) -> int:
        """Rows in the history (one per step)."""
        return int(self._load().get("rows") or 0)

    @property
    def tail_error(self) -> str | None:
        """Why reading stopped before the end of the log (a torn or damaged tail, as left by a
        crash), or None when the log reads to its end."""
        value = self._load().get("tail_error")
        return None if value is None else str(value)

    @property
    def exit_code(self) -> int | None:
        """The exit code in the finish record, None while running or after a crash."""
        finish = self._finish(self._load())
        return None if finish is None else int(finish["exit_code"])

    @property
    def finish_reason(self) -> str | None:
        """Why the run ended when it did not end by itself (`"stopped"`), from its finish
        record; None otherwise (and while running or after a crash)."""
        finish = self._finish(self._load())
        reason = None if finish is None else finish.get("reason")
        return None if reason is None else str(reason)

    @property
    def state(self) -> RunState:
        """`running`, `finished`, `failed` (finished with a nonzero exit code), `stopped`
        (stopped early: a sweep's agent ended it; its history is kept) or `crashed` (no finish
        record and no live writer)."""
        finish = self._finish(self._load())
        if finish is None:
            if _core.is_locked(str(self._dir)):
                return "running"
            # The writer may have finished between reading the log and checking the lock:
            # its finish record is durable before the lock is released, so look again.
            finish = self._finish(self._load())
            if finish is None:
                return "crashed"
        if finish.get("reason") == "stopped":
            return "stopped"
        return "finished" if int(finish["exit_code"]) == 0 else "failed"

    @property
    def sweep_id(self) -> str | None:
        """The sweep this run is a trial of (its first start record's `sweep_id`), else None."""
        value = self._start().get("sweep_id")
        return None if value is None else str(value)

    @staticmethod
    def _finish(meta: dict[str, Any]) -> dict[str, Any] | None:
        # The reader reports the finish record of the latest start only (a resume clears it).
        finish: dict[str, Any] | None = meta.get("finish")
        return finish

    @property
    def runtime(self) -> float:
        """Seconds of run time: from the finish record, else up to the last logged row."""
        meta = self._load()
        finish = self._finish(meta)
        if finish is not None and finish.get("runtime") is not None:
            return float(finish["runtime"])
        if meta.get("runtime") is not None:
            return float(meta["runtime"])
        if self.row_count == 0:
            return 0.0
        runtimes = self._reader().history([])["_runtime"]
        return float(np.nanmax(runtimes)) if len(runtimes) else 0.0

    # -- history -----------------------------------------------------------------------------

    def history(
        self,
        samples: int | list[str] | None = None,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: Literal["default", "system"] = "default",
    ) -> Any:
        """The history as a DataFrame, one row per step: columns `_step`, `_timestamp`,
        `_runtime`, then one per metric (NaN, or None for non-numeric metrics, where a step
        did not log it). Media keys are object columns holding `fwtrack.Image`, `Audio`,
        `Video`, `Html` or `Table` objects (a list of them for a gallery), whose payloads load
        on first use. `keys` limits the metric columns; a key never logged is a NaN column.

        W&B's arguments: `samples` keeps at most that many rows, evenly spaced with the first
        and last kept (default: every row; W&B samples 500); `x_axis` names the metric to
        plot against (a column; rows without it are left out when it is not `_step`);
        `pandas=False` returns a list of row dicts holding only the keys each row has;
        `stream="system"` returns the system metrics instead. A list as the first argument
        is `keys` (fwtrack's older form).
        """
        if isinstance(samples, list | tuple):
            if keys is not None:
                raise TypeError("history() got keys twice: pass history(keys=[...])")
            keys, samples = list(samples), None
        samples = _check_samples(samples)
        if not isinstance(x_axis, str) or not x_axis:
            raise TypeError(f"x_axis must be a metric name (str), got {x_axis!r}")
        if stream not in ("default", "system"):
            raise ValueError(f"stream must be 'default' or 'system', got {stream!r}")
        if stream == "system":
            if keys:
                raise ValueError("stream='system' takes no keys: it returns every system metric")
            frame = self.system_metrics()
        else:
            wanted = keys
            if keys is not None and x_axis not in keys:
                wanted = [*_require_list(keys), x_axis]
            frame = self._history_frame(wanted)
            if x_axis not in _META_COLUMNS and x_axis in frame.columns:
                frame = frame[frame[x_axis].notna()].reset_index(drop=True)
        keep = _sample(len(frame), samples)
        if keep is not None:
            frame = frame.iloc[keep].reset_index(drop=True)
        if pandas:
            return frame
        return [{k: v for k, v in row.items() if _present(v)} for row in frame.to_dict("records")]

    def _history_frame(self, keys: list[str] | None) -> pd.DataFrame:
        import pandas as pd  # imported on use: it costs a command line seconds to load

        wanted = _check_keys(keys)
        reader = self._reader()
        columns = reader.history(wanted)
        frame: pd.DataFrame = pd.DataFrame(columns)
        media = self._media_by_key(reader, wanted)
        if media:
            steps = frame["_step"].tolist() if "_step" in frame.columns else []
            at = {int(s): i for i, s in enumerate(steps)}
            for key, items in media.items():
                cells: list[Any] = [None] * len(steps)
                for step, value in items:
                    if step in at:
                        cells[at[step]] = value
                frame[key] = pd.Series(cells, index=frame.index, dtype=object)
        for key in wanted or []:
            if key not in frame.columns:
                frame[key] = np.nan
        if wanted is not None:
            order = [*_META_COLUMNS, *(k for k in wanted if k not in _META_COLUMNS)]
            frame = frame[[c for c in order if c in frame.columns]]
        return frame

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The history row by row: dicts with `_step`, `_timestamp`, `_runtime` and the metrics
        logged at that step (absent keys are left out rather than filled with NaN), media
        values as objects as in `history()`. Rows are streamed from the log one block at a
        time, so memory stays flat for long runs.

        As W&B's: with `keys`, only the rows that hold every one of them (and only those
        keys); `min_step` (inclusive) and `max_step` (exclusive) bound the steps.
        `page_size` is accepted for W&B's signature (rows are streamed whatever it is)."""
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive int, got {page_size!r}")
        for name, bound in (("min_step", min_step), ("max_step", max_step)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise TypeError(f"{name} must be an int step (or None), got {bound!r}")
        required = None if keys is None else list(dict.fromkeys(_require_list(keys)))
        return self._scan(required, min_step, max_step)

    def _scan(
        self, required: list[str] | None, min_step: int | None, max_step: int | None
    ) -> Iterator[dict[str, Any]]:
        wanted = _check_keys(required)
        media: dict[int, dict[str, Any]] = {}
        for key, items in self._media_by_key(self._reader(), wanted).items():
            for step, value in items:
                media.setdefault(step, {})[key] = value
        # Steps outside [min_step, max_step) and keys not wanted are skipped undecoded.
        lo = None if min_step is None else max(min_step, 0)
        hi = None if max_step is None else max(max_step, 0)
        try:
            rows = _core.scan_rows(str(self._dir), wanted, lo, hi)
        except _core.CorruptLogError:
            _open_reader(self._dir)  # raises the error under the log's path
            raise
        for row in rows:
            step = int(row["_step"])
            extra = media.get(step) if media else None
            if extra:
                row.update(extra)
            if required and not all(k in row for k in required):
                continue
            yield row

    def media_keys(self) -> list[str]:
        """Keys logged with media values (images, audio, video, html, tables), sorted."""
        return list(self._reader().media_keys())

    def _media_by_key(
        self, reader: _core.RunReader, wanted: list[str] | None
    ) -> dict[str, list[tuple[int, Any]]]:
        """(step, object) of each media value, by key (of `wanted`, or all)."""
        items = reader.media()
        if not items:
            return {}
        from fwtrack.data_types import from_descriptor

        keep = None if wanted is None else set(wanted)
        out: dict[str, list[tuple[int, Any]]] = {}
        for step, _ts, key, desc in items:
            if keep is None or key in keep:
                out.setdefault(key, []).append((step, from_descriptor(desc, self._fetch_file)))
        return out

    def _fetch_file(self, path: str) -> bytes:
        """The bytes of a stored run file (`path` relative to the run's `files/`)."""
        target = (self._dir / "files" / path).resolve()
        root = (self._dir / "files").resolve()
        if root not in target.parents:
            raise ValueError(f"file path {path!r} leaves the run's files directory")
        return target.read_bytes()

    # -- artifacts -------------------------------------------------------------------------------

    def logged_artifacts(self) -> list[Artifact]:
        """The artifact versions this run logged, in log order (from the run log's
        `ArtifactLogged` records, resolved in the local registry by digest)."""
        return self._artifacts("logged")

    def used_artifacts(self) -> list[Artifact]:
        """The artifact versions this run used, in use order (`ArtifactUsed` records)."""
        return self._artifacts("used")

    def _artifacts(self, which: str) -> list[Artifact]:
        from fwtrack.artifacts.artifact import Artifact
        from fwtrack.artifacts.local import LocalRegistry
        from fwtrack.errors import ArtifactNotFoundError

        bodies = (self._load().get("artifacts") or {}).get(which) or []
        registry = LocalRegistry(self._dir.parent.parent)
        out: list[Artifact] = []
        seen: set[tuple[str, str, str]] = set()
        for body in bodies:
            key = (str(body.get("project") or self._project), str(body["name"]), body["digest"])
            if key in seen:
                continue
            seen.add(key)
            try:
                version = registry.resolve(key[0], key[1], key[2])
            except (ArtifactNotFoundError, ValueError):
                continue  # logged online only, or removed
            out.append(Artifact._from_version(version, registry))
        return out

    # -- system metrics and console -----------------------------------------------------------

    def system_metrics(self) -> pd.DataFrame:
        """The system metrics as a DataFrame, one row per sample: `_timestamp`, `_runtime`,
        then one float column per `system/...` key (NaN where a sample lacks it). Samples are
        on their own time axis, not the history's steps."""
        import pandas as pd

        frame: pd.DataFrame = pd.DataFrame(self._reader().system())
        return frame

    def logs(self) -> list[LogLine]:
        """The console output captured by the run (stdout and stderr), line by line in the
        order it was recorded."""
        return [
            LogLine(timestamp=ts, stream="stderr" if stream == "stderr" else "stdout", text=text)
            for ts, stream, text in self._reader().console()
        ]

    def histogram_keys(self) -> list[str]:
        """Keys logged as histograms (explicit histograms and large arrays/tensors)."""
        return list(self._reader().histogram_keys())

    def histograms(self, key: str) -> list[HistogramEntry]:
        """Every histogram logged under `key`, in step order. Raises KeyError naming the
        histogram keys this run has when `key` is not one of them."""
        reader = self._reader()
        entries = reader.histograms(key)
        if not entries and key not in reader.histogram_keys():
            known = ", ".join(reader.histogram_keys()) or "none"
            raise KeyError(f"run {self.path} has no histogram {key!r} (histogram keys: {known})")
        return [
            HistogramEntry(
                step=int(step),
                counts=np.asarray(h.counts, dtype=np.uint64),
                edges=np.asarray(h.edges, dtype=np.float64),
                nan_count=int(h.nan_count),
                pos_inf_count=int(h.pos_inf_count),
                neg_inf_count=int(h.neg_inf_count),
            )
            for step, h in entries
        ]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other._dir.resolve() == self._dir.resolve()

    def __hash__(self) -> int:
        return hash(self._dir.resolve())

    def __repr__(self) -> str:
        try:
            detail = f"state={self.state} rows={self.row_count}"
            if self.sweep_id is not None:
                detail += f" sweep={self.sweep_id}"
        except OSError as exc:  # the log vanished or went bad since the handle was made
            detail = f"unreadable: {exc}"
        return f"<fwtrack Run {self.path} name={self.name!r} {detail}>"


def _differs(a: Any, b: Any) -> bool:
    """Whether two JSON-like values differ (NaN equals NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return False
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() != b.keys() or any(_differs(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) != len(b) or any(_differs(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is not type(b) or bool(a != b)


class RunSummary(dict[str, Any]):
    """A run's summary as W&B's public API hands it out: a dict you change in place, then
    save with `update()` (W&B's `run.summary.update()`), which also takes a dict of values
    to set first."""

    def __init__(self, run: Run, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self._run = run

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set the given values (as `dict.update`), then save every change made to this
        summary."""
        super().update(*args, **kwargs)
        self._run._save(("summary",))


class Runs(list[Run]):
    """The runs `Api.runs()` found (a list), with W&B's `histories()`."""

    def __init__(self, runs: list[Run], *, per_page: int = 50) -> None:
        super().__init__(runs)
        self.per_page = per_page

    def histories(
        self,
        samples: int | None = None,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: Literal["default", "pandas", "polars"] = "default",
        stream: Literal["default", "system"] = "default",
    ) -> Any:
        """The history of every run, as W&B's `Runs.histories()`: `format="default"` a list
        of row dicts, `"pandas"` one DataFrame (columns sorted), `"polars"` a polars
        DataFrame; each row carries its run's id as `run_id`. `samples`, `keys`, `x_axis`
        and `stream` are those of `Run.history()`; a run with no rows adds none."""
        if format not in ("default", "pandas", "polars"):
            raise ValueError(
                f"invalid format {format!r}: use 'default' (a list of dicts), 'pandas' or 'polars'"
            )
        records: list[dict[str, Any]] = []
        for run in self:
            rows = run.history(
                samples=samples, keys=keys, x_axis=x_axis, pandas=False, stream=stream
            )
            for row in rows:
                row["run_id"] = run.id
            records.extend(rows)
        if format == "default":
            return records
        if format == "polars":
            try:
                import polars as pl  # type: ignore[import-not-found]
            except ModuleNotFoundError:
                raise ModuleNotFoundError(
                    "Runs.histories(format='polars') needs polars: pip install polars "
                    "(or use format='pandas')"
                ) from None
            return pl.from_dicts(records) if records else pl.DataFrame()
        import pandas as pd

        frame = pd.DataFrame.from_records(records)
        return frame[sorted(frame.columns)] if len(frame.columns) else frame


def _sample(count: int, samples: int | None) -> list[int] | None:
    """Row positions to keep for at most `samples` rows (evenly spaced, first and last
    kept), or None to keep every row."""
    if samples is None or count <= samples:
        return None
    if samples == 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


def _check_samples(samples: int | None) -> int | None:
    if samples is None:
        return None
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a positive int (or None for every row), got {samples!r}")
    return samples


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _require_list(keys: Any) -> list[str]:
    if isinstance(keys, str):
        raise TypeError(f"keys must be a list of metric names, not a str: use keys=[{keys!r}]")
    if not isinstance(keys, list | tuple):
        raise TypeError(f"keys must be a list of metric names, e.g. ['train/loss'], got {keys!r}")
    return list(keys)


def _check_keys(keys: list[str] | None) -> list[str] | None:
    if keys is None:
        return None
    if isinstance(keys, str):
        raise TypeError(f"keys must be a list of metric names, not a str: use keys=[{keys!r}]")
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        if not isinstance(key, str):
            raise TypeError(f"keys must be metric names (str), got {key!r}")
    return [k for k in wanted if k not in _META_COLUMNS] if wanted else []


class Api(AdminCalls):
    """Reads runs: those under one run directory (`dir`, else `FWTRACK_DIR`, else
    `./fwtrack`), or those of a fwtrack server (`base_url`, or `FWTRACK_BASE_URL` when no `dir`
    is given), through the same objects.

    On a server, `api_key` is the argument, else `FWTRACK_API_KEY`, else the key stored by
    `fwtrack login <url>`; without one the constructor raises, with that hint. Projects are
    `"entity/project"` (or `"project"` in your own entity); run logs are mirrored into a local
    cache (`FWTRACK_CACHE_DIR`) for history and histograms. `timeout` bounds each request.
    """

    def __init__(
        self,
        dir: str | os.PathLike[str] | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._remote: RemoteBackend | None = None
        if base_url is None and dir is None:
            base_url = FWTRACK_BASE_URL.get()
        if base_url is not None:
            if dir is not None:
                raise ValueError(
                    "Api() takes either a run directory (dir=) or a server (base_url=), not both"
                )
            from fwtrack.api_remote import RemoteBackend

            self._remote = RemoteBackend(base_url, api_key, timeout=timeout)
            self._root = self._remote.cache_dir
        else:
            if api_key is not None:
                raise ValueError(
                    "api_key= is for a server: pass base_url= too (or set FWTRACK_BASE_URL)"
                )
            self._root = Path(dir) if dir is not None else _default_dir()

    @property
    def dir(self) -> Path:
        """The run directory; for a server, the local cache its run logs are mirrored into."""
        return self._root

    @property
    def base_url(self) -> str | None:
        """The server's address, or None when reading a local run directory."""
        return None if self._remote is None else self._remote.base_url

    def __repr__(self) -> str:
        if self._remote is not None:
            return f"Api(base_url={self._remote.base_url!r})"
        return f"Api(dir={str(self._root)!r})"

    def _project_dirs(self) -> list[Path]:
        if not self._root.is_dir():
            return []
        return sorted(p for p in self._root.iterdir() if p.is_dir() and not p.name.startswith("."))

    @staticmethod
    def _run_dirs(project_dir: Path) -> list[Path]:
        if not project_dir.is_dir():
            return []
        return sorted(p for p in project_dir.iterdir() if p.is_dir() and _is_run_dir(p))

    def projects(self) -> list[Project]:
        """Projects that hold at least one run, sorted by name (on a server: every project
        the key reaches, sorted by entity and name)."""
        if self._remote is not None:
            return self._remote.projects()
        projects = []
        for project_dir in self._project_dirs():
            count = len(self._run_dirs(project_dir))
            if count:
                projects.append(Project(project_dir.name, project_dir, count))
        return projects

    def runs(
        self,
        project: str | Project | None = None,
        filters: Mapping[str, Any] | None = None,
        order: str | None = None,
        per_page: int = 50,
        *,
        path: str | None = None,
        include_sweeps: bool = True,
        lazy: bool = True,
    ) -> Runs:
        """Runs of `project` (every project when None), newest first unless `order` says.

        `filters` keeps the runs matching it, in W&B's MongoDB style
        (`{"config.lr": {"$gt": 0.01}, "state": "finished", "tags": {"$in": ["best"]}}`;
        fields and operators in `fwtrack.api_filters`); an unknown field or unsupported
        operator raises ValueError naming the supported ones. `order` is W&B's:
        `"+created_at"` (ascending), `"-created_at"`, `"summary_metrics.acc"`,
        `"config.lr"`, ... A run whose log is not a readable run log is left out with a
        `FwTrackWarning`.

        `project` (W&B calls it `path`) is `"project"` or `"entity/project"`: on a server the
        entity is the user or team (a bare project is in your own); a local run directory
        has no entities, so the entity is ignored. `per_page` is how many runs each server
        request asks for; `include_sweeps` and `lazy` are accepted for W&B's signature.
        Returns a list of runs (`Runs`) with W&B's `histories()`.
        """
        del include_sweeps, lazy  # every run handle is lazy, and knows its sweep id
        if path is not None:
            if project is not None:
                raise TypeError("runs() got both project and path: pass one of them")
            project = path
        if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
            raise ValueError(f"per_page must be a positive int, got {per_page!r}")
        wanted = check_filters(filters)
        ordering = check_order(order)
        if self._remote is not None:
            runs = self._remote.runs(project, wanted, per_page=per_page)
        else:
            runs = self._local_runs(project, wanted)
        return Runs(sort_runs(runs, ordering), per_page=per_page)

    def _local_runs(self, project: str | Project | None, wanted: dict[str, Any]) -> list[Run]:
        if project is None:
            project_dirs = self._project_dirs()
        else:
            name = project.name if isinstance(project, Project) else str(project)
            parts = name.strip().strip("/").split("/")
            if len(parts) == 2 and all(parts):
                name = parts[1]  # "entity/project": a local run directory has no entities
            _check_name(name, "project")
            project_dirs = [self._root / name]
        runs = []
        for project_dir in project_dirs:
            for run_dir in self._run_dirs(project_dir):
                try:
                    runs.append(Run(run_dir, project=project_dir.name))
                except FileNotFoundError:
                    continue  # deleted while listing
                except _core.CorruptLogError as exc:
                    if _core.is_locked(str(run_dir)):
                        continue  # a writer that has not written the log header yet
                    warnings.warn(f"skipping {run_dir}: {exc}", FwTrackWarning, stacklevel=3)
        if wanted:
            runs = [r for r in runs if matches(r, wanted)]
        return runs

    def run(self, run_id: str) -> Run:
        """The run `"<project>/<run_id>"`, or a bare `run_id` searched across projects.

        A path to a run directory (or its `run.fwlog`) is accepted too. Raises
        `RunNotFoundError` for an unknown run, `AmbiguousRunError` (a ValueError) when a bare
        id is in several projects, `CorruptLogError` when the log is not a run log.

        On a server: `"entity/project/run_id"`, `"project/run_id"` (in your own entity) or a
        bare run id searched across the projects you reach.
        """
        if self._remote is not None:
            return self._remote.run(run_id)
        if not isinstance(run_id, str):
            raise TypeError(f"run id must be a str like 'project/run_id', got {run_id!r}")
        spec = run_id.strip().rstrip("/")
        parts = spec.split("/")
        if len(parts) == 2 and all(_valid_name(p) for p in parts):
            run_dir = self._root / parts[0] / parts[1]
            if _is_run_dir(run_dir):
                return Run(run_dir, project=parts[0])
        elif len(parts) == 1 and _valid_name(spec):
            matches = [d / spec for d in self._project_dirs() if _is_run_dir(d / spec)]
            if len(matches) == 1:
                return Run(matches[0], project=matches[0].parent.name)
            if len(matches) > 1:
                candidates = ", ".join(f"{m.parent.name}/{spec}" for m in matches)
                raise AmbiguousRunError(
                    f"run id {spec!r} is in {len(matches)} projects: {candidates}; "
                    "name the run as <project>/<run_id>"
                )
        path = Path(spec)
        if path.name == _core.LOG_FILE_NAME and path.is_file():
            path = path.parent
        if spec and _is_run_dir(path):
            return Run(path)
        raise RunNotFoundError(self._not_found_message(spec))

    # -- artifacts -------------------------------------------------------------------------------

    def _artifact_registry(self) -> Registry:
        if self._remote is not None:
            return self._remote.artifact_registry()
        from fwtrack.artifacts.local import LocalRegistry

        return LocalRegistry(self._root)

    def _artifact_project(self, project: str) -> str:
        """`project` as the registry takes it: `entity/project` only on a server."""
        if not isinstance(project, str):
            raise TypeError(f"project must be a str like 'mnist', got {project!r}")
        parts = project.split("/")
        if self._remote is None and len(parts) != 1:
            raise ValueError(
                f"invalid project {project!r}: a local run directory has no entities; "
                "pass the project name alone"
            )
        if len(parts) > 2:
            raise ValueError(f"invalid project {project!r}: use 'project' or 'entity/project'")
        return project

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """The artifact version `"project/name:ref"` (`ref` = `vN`, an alias or `latest`,
        the default; on a server also `"entity/project/name:ref"`). Raises
        `ArtifactNotFoundError` listing what exists."""
        from fwtrack.artifacts.artifact import Artifact
        from fwtrack.artifacts.registry import check_type, parse_ref

        ref = parse_ref(name)
        if ref.project is None:
            raise ValueError(
                f"Api().artifact({name!r}): name the project, e.g. 'mnist/{ref.name}:{ref.ref}'"
            )
        if ref.entity is not None and self._remote is None:
            raise ValueError(
                f"Api().artifact({name!r}): a local run directory has no entities; use "
                f"'{ref.project}/{ref.name}:{ref.ref}'"
            )
        project = f"{ref.entity}/{ref.project}" if ref.entity else ref.project
        registry = self._artifact_registry()
        version = registry.resolve(project, ref.name, ref.ref)
        if type is not None and version.get("type") != check_type(type):
            raise ValueError(
                f"Api().artifact({name!r}, type={type!r}): it is of type {version.get('type')!r}"
            )
        return Artifact._from_version(version, registry)

    def artifacts(
        self, project: str, type: str | None = None, name: str | None = None
    ) -> list[Artifact]:
        """The artifact versions of `project` (of one `type`, of one collection `name`),
        newest first."""
        from fwtrack.artifacts.artifact import Artifact

        registry = self._artifact_registry()
        rows = registry.versions(self._artifact_project(project), name=name, type=type)
        return [Artifact._from_version(row, registry) for row in rows]

    def artifact_collections(self, project: str, type: str | None = None) -> list[dict[str, Any]]:
        """The artifact collections of `project` (CollectionJSON: `name`, `type`, `versions`,
        `latest`, `aliases`, `size`, ...), sorted by name."""
        return self._artifact_registry().collections(self._artifact_project(project), type=type)

    def artifact_types(self, project: str) -> list[dict[str, Any]]:
        """`[{"type", "collections", "versions"}]` of `project`, sorted by type."""
        return self._artifact_registry().types(self._artifact_project(project))

    # -- the model registry ----------------------------------------------------------------------

    @property
    def registry(self) -> ModelRegistry:
        """The model registry (docs/registry.md): of the server (`base_url`), else of the run
        directory (`<dir>/.artifacts/registry`, where the local user may do everything)."""
        from fwtrack.registry.model_registry import ModelRegistry

        if self._remote is not None:
            return ModelRegistry(self._remote.model_registry())
        from fwtrack.registry.local import LocalModels

        return ModelRegistry(LocalModels(self._root))

    # -- sweeps ----------------------------------------------------------------------------------

    def sweep(self, path: str) -> Sweep:
        """The sweep `path`: `"entity/project/id"` or a bare id (docs/sweeps.md), from the
        server (`base_url`), else from the run directory's local store
        (`<dir>/.sweeps/sweeps.db`). Raises SweepNotFoundError for an unknown sweep."""
        from fwtrack.sweeps.client import LocalSweeps, Sweep, SweepClient

        client: SweepClient = (
            self._remote.sweeps()
            if self._remote is not None
            else LocalSweeps(self._root, create=False)
        )
        return Sweep(client, self, path)

    # -- reports ---------------------------------------------------------------------------------

    def _reports(self) -> ReportStore:
        from fwtrack.report.store import LocalReports, RemoteReports

        if self._remote is not None:
            return RemoteReports(self._remote.client)
        return LocalReports(self._root)

    def reports(self, project: str) -> list[Report]:
        """The reports of `project` (`"project"` or `"entity/project"`), most recently updated
        first: from the server, or from the `fwtrack ui` database of the run directory
        (docs/reports.md)."""
        from fwtrack.report import Report

        if not isinstance(project, str) or not project.strip("/ "):
            raise TypeError(f"project must be a str like 'mnist' or 'team/mnist', got {project!r}")
        store = self._reports()
        parts = project.strip("/ ").split("/")
        if len(parts) > 2:
            raise ValueError(f"invalid project {project!r}: use 'project' or 'entity/project'")
        entity = store.entity(parts[0] if len(parts) == 2 else None)
        out = []
        for row in store.list(entity, parts[-1]):
            report = Report(parts[-1], entity=entity)
            report._adopt(store.get(entity, parts[-1], str(row["id"])), store)
            out.append(report)
        return out

    def report(self, path: str) -> Report:
        """One report: `"entity/project/id"`, `"project/id"`, a bare id, or its URL. Raises
        `ReportNotFoundError` when none has it."""
        from fwtrack.report import Report

        if isinstance(path, str) and path.startswith(("http://", "https://")):
            if self._remote is None:
                return Report.from_url(path, dir=self._root)
            return Report.from_url(path, api_key=self._remote.client._api_key)
        return Report._load(self._reports(), path)

    def _not_found_message(self, spec: str) -> str:
        where = str(self._root.absolute())
        if not self._root.is_dir():
            return (
                f"no run {spec!r}: the run directory {where} does not exist "
                f"(set it with --dir or {FWTRACK_DIR.name})"
            )
        projects = [p.name for p in self.projects()]
        known = f"projects: {', '.join(projects)}" if projects else "no runs yet"
        return (
            f"no run {spec!r} in {where} ({known}); list runs with `fwtrack runs` (or Api().runs())"
        )


def _valid_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "\\" not in name and "\0" not in name


def _check_name(name: str, what: str) -> None:
    if not _valid_name(name) or "/" in name:
        raise ValueError(f"invalid {what} name {name!r}: a single path component is expected")
