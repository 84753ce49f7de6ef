"""`Run`, `init`, `log`, `finish`, `define_metric`, and the process-wide lifecycle hooks.

A `Run` holds a private `_core.RunWriter` (`self._inner`) and adds argument normalization.
Process-wide: an `atexit` hook finishes the open run (exit code 1 after an uncaught exception
in the main thread, `n` after `sys.exit(n)` there, remembered by wrappers around
`sys.excepthook` and `sys.exit`), and after `fork()` the child's
writers become inert (`_core.after_fork_child`) so that a DataLoader worker calling
`fwtrack.log` neither writes nor deadlocks.

In a sweep trial (`FWTRACK_SWEEP_ID` set by the agent) `init` takes the run id and project
from the environment, merges the trial's parameters into the config, and a SIGTERM (the
agent stopping the trial) finishes the run with the reason `"stopped"` before the process
ends as SIGTERM ends it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import re
import shlex
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Protocol
from urllib.parse import quote

from fwtrack import _core, credentials
from fwtrack.errors import (
    FwTrackWarning,
    NoActiveRunError,
    RunFinishedError,
    RunLockedError,
    RunNotFoundError,
)
from fwtrack.sdk import console, names, notebook, snapshot, system
from fwtrack.sdk.config import Config, config_items
from fwtrack.sdk.media_worker import MediaWorker
from fwtrack.sdk.settings import (
    FWTRACK_DIR,
    FWTRACK_GROUP,
    FWTRACK_JOB_TYPE,
    FWTRACK_MODE,
    FWTRACK_NAME,
    FWTRACK_NOTES,
    FWTRACK_PROJECT,
    FWTRACK_RESUME,
    FWTRACK_RUN_ID,
    FWTRACK_SWEEP_ID,
    FWTRACK_SWEEP_PARAMS,
    FWTRACK_TAGS,
    MODES,
    Settings,
)
from fwtrack.sdk.summary import Summary
from fwtrack.sdk.values import media_converter, user_stacklevel, warn

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import timedelta

    from fwtrack.artifacts.artifact import Artifact
    from fwtrack.artifacts.worker import ArtifactWorker
    from fwtrack.registry.run_calls import LinkWorker, ModelVersionHandle
    from fwtrack.sdk.alerts import AlertLevel, Alerts
    from fwtrack.sdk.files import FileSaver

__all__ = [
    "Run",
    "current_run",
    "define_metric",
    "finish",
    "init",
    "link_artifact",
    "link_model",
    "log",
    "log_artifact",
    "use_artifact",
    "use_model",
]

Mode = Literal["online", "offline", "disabled"]
Resume = Literal["allow", "must", "never", "auto"]
RESUME_VALUES = ("allow", "must", "never", "auto")
Reinit = Literal["return_previous", "finish_previous", "create_new"]

STOPPED = "stopped"
"""The finish reason of a run stopped from outside (a sweep's agent, `stop_active_run`)."""
STOPPED_EXIT_CODE = 128 + signal.SIGTERM
"""The exit code recorded for a run stopped by SIGTERM (143, as a shell reports it)."""

SUMMARY_AGGREGATIONS = ("min", "max", "mean", "last", "first")
GOALS = ("minimize", "maximize")
UI_PORT = 8080
"""The port `fwtrack ui` listens on by default (what `run.url` of a local run points at)."""
LOCAL_ENTITY = "local"
"""The entity `fwtrack ui` shows local runs under."""
AUTO_RESUME_FILE = "fwtrack-resume.json"
"""`resume="auto"` remembers the run id here, in the root directory, until it finishes."""

WANDB_RUN_ALTERNATIVES: dict[str, str] = {
    "config_static": "use run.config (reading it does not change it)",
    "display": "show the run in a notebook with IPython's display(run), or open run.url",
    "to_html": "open run.url, or display(run) in a notebook",
    "finish_artifact": (
        "use run.log_artifact(artifact); artifacts built by several runs at once are not supported"
    ),
    "upsert_artifact": (
        "use run.log_artifact(artifact); artifacts built by several runs at once are not supported"
    ),
    "mark_preempting": (
        "use run.finish(exit_code=...) and continue later with "
        "fwtrack.init(id=run.id, resume='allow')"
    ),
    "pin_config_keys": "use run.config; the dashboard's run table chooses its columns",
    "restore": (
        "use fwtrack.Api().run(run.path).files() and download the file you need; "
        "run.save(path) stores a file with the run"
    ),
    "write_logs": "console output is captured by itself (Settings.console / FWTRACK_CONSOLE)",
    "status": "use run.finished, or fwtrack.Api().run(run.path).state",
}
"""W&B `Run` attributes fwtrack does not have, and what to use instead."""


class Metric:
    """A metric's definition, as `define_metric` leaves it (wandb's `Metric`): pass it as
    another metric's `step_metric`."""

    __slots__ = ("goal", "hidden", "name", "step_metric", "step_sync", "summary")

    def __init__(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        summary: list[str] | None = None,
        hidden: bool | None = None,
        goal: str | None = None,
    ) -> None:
        self.name = name
        self.step_metric = step_metric
        self.step_sync = step_sync
        self.summary: list[str] = list(summary or [])
        self.hidden = hidden
        self.goal = goal

    @classmethod
    def _from_meta(cls, definition: Mapping[str, Any]) -> Metric:
        """A definition read back from the run log (`RunReader.meta()["metrics"]`)."""
        return cls(
            str(definition["name"]),
            definition.get("step_metric"),
            definition.get("step_sync"),
            [str(a) for a in definition.get("summary") or []],
            definition.get("hidden"),
            definition.get("goal"),
        )

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in ("step_metric", "step_sync", "summary", "hidden", "goal")
            if getattr(self, k)
        )
        return f"Metric({self.name!r}{', ' if fields else ''}{fields})"


MAX_TAG_LEN = 64
READY_WAIT = 3.0
"""Seconds `init` of an online run waits for the server's first answer, so that a refused
key or an unreachable server is reported at once; training starts after it either way."""


class _Writer(Protocol):
    """What a `Run` needs of its writer: `_core.RunWriter`, or `_NullWriter` when disabled."""

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool = True) -> None: ...
    def log_config(self, config: dict[str, Any]) -> None: ...
    def log_run_edit(self, info: dict[str, Any]) -> None: ...
    def log_artifact_record(self, kind: Literal["logged", "used"], body_json: str) -> None: ...
    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: list[str] = ...,
        *,
        goal: Literal["minimize", "maximize"] | None = None,
        hidden: bool = False,
        step_sync: bool | None = None,
    ) -> None: ...
    def update_summary(self, values: dict[str, Any], delete: list[str]) -> None: ...
    def summary(self) -> dict[str, Any]: ...
    def flush(self) -> None: ...
    def finish(self, exit_code: int = 0, reason: str | None = None) -> None: ...
    @property
    def step(self) -> int: ...
    @property
    def runtime(self) -> float: ...


class _NullWriter:
    """The writer of a disabled run: every call returns at once, nothing is written."""

    __slots__ = ("_started", "_summary")

    def __init__(self) -> None:
        self._summary: dict[str, Any] = {}
        self._started = time.monotonic()

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool = True) -> None:
        pass

    def log_config(self, config: dict[str, Any]) -> None:
        pass

    def log_run_edit(self, info: dict[str, Any]) -> None:
        pass

    def log_artifact_record(self, kind: Literal["logged", "used"], body_json: str) -> None:
        pass

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: list[str] | None = None,
        *,
        goal: Literal["minimize", "maximize"] | None = None,
        hidden: bool = False,
        step_sync: bool | None = None,
    ) -> None:
        pass

    def update_summary(self, values: dict[str, Any], delete: list[str]) -> None:
        self._summary.update(values)
        for key in delete:
            self._summary.pop(key, None)

    def summary(self) -> dict[str, Any]:
        return dict(self._summary)

    def flush(self) -> None:
        pass

    def finish(self, exit_code: int = 0, reason: str | None = None) -> None:
        pass

    @property
    def step(self) -> int:
        return 0

    @property
    def runtime(self) -> float:
        return time.monotonic() - self._started


class _State:
    """Process-wide state. `lock` serializes init/finish; it is never taken by `log`."""

    def __init__(self) -> None:
        self.run: Run | None = None
        # Every run of this process not finished yet: the active one and those started with
        # `reinit="create_new"` (the atexit hook finishes them all).
        self.open_runs: list[Run] = []
        # `fwtrack.config` before `init`: merged into the next run's config (wandb's preinit
        # config), then emptied.
        self.preinit_config: dict[str, Any] = {}
        # The active run a forked child inherited from its parent (inert in the child).
        self.inherited: Run | None = None
        # The exit code the atexit hook finishes with, when known: 1 after an uncaught
        # exception in the main thread, `n` after `sys.exit(n)` there.
        self.exit_code: int | None = None
        self.hooks_installed = False
        self.lock = threading.RLock()
        # Depth of `init`/`finish` calls under way in the main thread: a SIGTERM arriving
        # then only sets `sigterm_pending`, and the outermost call acts on it when done (the
        # handler runs in the main thread, which may hold locks a finish needs).
        self.main_busy = 0
        self.sigterm_pending = False
        self.sigterm_installed = False
        self.sigterm_pid = 0  # the process the handler was installed in (not a forked child)
        # Set to have the SIGTERM sent again shortly (see `_on_sigterm`).
        self.sigterm_retry: threading.Event | None = None


_state = _State()


def _after_fork_in_child() -> None:
    # A parent thread may have held the lock at fork time; the child gets a fresh one.
    _state.lock = threading.RLock()
    _state.main_busy = 0
    _state.sigterm_pending = False
    # The parent's run is not this process's: `init` here starts a run of its own.
    _state.inherited = _state.run


os.register_at_fork(after_in_child=_core.after_fork_child)
os.register_at_fork(after_in_child=_after_fork_in_child)


def current_run() -> Run | None:
    """The active run of this process, or None."""
    return _state.run


class Run:
    """One run: created by `fwtrack.init()`, finished by `finish()` (or at exit).

    Use it as a context manager to finish it with the status of the block::

        with fwtrack.init(project="mnist", config={"lr": 1e-3}) as run:
            for step in range(100):
                run.log({"loss": 1 / (step + 1)})
        # an exception in the block finishes the run as failed (exit code 1)
    """

    __slots__ = (
        "_alerts",
        "_artifacts",
        "_config",
        "_console",
        "_entity",
        "_files",
        "_final_summary",
        "_finished",
        "_inner",
        "_links",
        "_media",
        "_metrics",
        "_name",
        "_notebook",
        "_notes",
        "_resume_file",
        "_run_dir",
        "_snapshot",
        "_started_at",
        "_starting_step",
        "_summary",
        "_system",
        "_tags",
        "_uploader",
        "dir",
        "group",
        "id",
        "job_type",
        "mode",
        "project",
        "resumed",
        "settings",
        "sweep_id",
    )

    def __init__(
        self,
        inner: _Writer,
        *,
        info: Mapping[str, Any],
        dir: str,
        mode: Mode,
        settings: Settings,
        config: dict[str, Any],
    ) -> None:
        self._inner = inner
        self._artifacts: ArtifactWorker | None = None
        self._links: LinkWorker | None = None
        self._media: MediaWorker | None = None
        self._uploader: _core.Uploader | None = None
        self._snapshot: snapshot.Snapshot | None = None
        self._system: system.Sampler | None = None
        self._console: console.Capture | None = None
        self._notebook: notebook.Panel | None = None
        self._alerts: Alerts | None = None
        self._files: FileSaver | None = None
        self._finished = False
        self.id: str = info["id"]
        """The run id (unique within its project)."""
        self._name: str = info["name"]
        self.project: str = info["project"]
        self.group: str | None = info["group"]
        self.job_type: str | None = info["job_type"]
        self._tags: tuple[str, ...] = tuple(info["tags"])
        self._notes: str | None = info["notes"]
        self.resumed: bool = info["resumed"]
        self.sweep_id: str | None = info.get("sweep_id")
        """The sweep this run is a trial of (`FWTRACK_SWEEP_ID` at `init`), else None."""
        self._entity: str | None = info.get("entity")
        self._metrics: dict[str, Metric] = {}
        self._resume_file: str | None = None
        self._run_dir = dir
        started = info.get("started_at")
        self._started_at = float(started) if isinstance(started, int | float) else time.time()
        self._starting_step = inner.step
        self.dir = dir
        """The run directory (absolute); the run log is `run.fwlog` inside it."""
        self.mode = mode
        self.settings = settings
        write = None if mode == "disabled" else inner.log_config
        self._config = Config._create(config, write, self._check_open)
        self._summary = Summary(self._read_summary, inner.update_summary, self._check_open)

    def _check_open(self) -> None:
        if self._finished:
            raise RunFinishedError(
                f"run {self.id!r} is finished; start a new one with fwtrack.init() "
                f"(or continue it with fwtrack.init(id={self.id!r}, resume='allow'))"
            )

    def _read_summary(self) -> dict[str, Any]:
        # After finish the writer answers with the final summary.
        return self._inner.summary()

    # -- logging -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The run's display name; setting it records the new name in the run log (readers
        and the dashboard show it), as W&B's `run.name = ...`."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"run name must be a non-empty str, got {value!r}")
        self._edit_info("name", value)
        self._name = value

    @property
    def tags(self) -> tuple[str, ...]:
        """The run's tags; assigning a list or tuple of str records them in the run log."""
        return self._tags

    @tags.setter
    def tags(self, value: Sequence[str]) -> None:
        tags = tuple(_check_tags(value, "run.tags"))
        self._edit_info("tags", list(tags))
        self._tags = tags

    @property
    def notes(self) -> str | None:
        """The run's notes; setting them records them in the run log."""
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError(f"run.notes must be a str or None, got {type(value).__name__}")
        self._edit_info("notes", value)
        self._notes = value

    def _edit_info(self, key: str, value: object) -> None:
        # A finished or disabled run keeps the value on the object only.
        if self.mode != "disabled" and not self._finished:
            self._inner.log_run_edit({key: value})

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Log a dict of metrics as one row (see docs/api.md, "Steps" and "Values").

        Nested dicts flatten with "/"; numpy/torch scalars become numbers; arrays and tensors
        with more than one element become histograms; None values are left out.
        `step=k` logs at step k; `commit=False` adds to the pending row without committing.
        """
        if self._finished:
            self._check_open()
        try:
            self._inner.log(data, step, commit)
        except Exception:
            if self._finished:  # finished by another thread meanwhile
                self._check_open()
            raise
        if self._notebook is not None:
            self._notebook.observe(data)

    def define_metric(
        self,
        name: str,
        step_metric: str | Metric | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | Sequence[str] | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        """Say how metric `name` (or every metric starting with a prefix, `"train/*"`) is
        summarized, plotted and which metric is its x-axis (wandb's `define_metric`).

        `summary`: "min", "max", "mean", "last", "first" or a comma list like "min,max";
        the run summary of the metric is then a dict like `{"min": 0.1, "max": 2.0}`.
        `step_metric`: the key (or `Metric`) to plot the metric against (e.g. "epoch");
        `step_sync`: put the last value of `step_metric` into rows that lack it (the
        default when `step_metric` is set); `hidden`: keep the metric out of the dashboard's
        default panels; `goal`: "minimize" or "maximize" (which way is better).

        A second call for the same name is merged with the earlier ones: summaries add up
        (`summary="min"` then `summary="max"` keeps both) and the arguments left out keep their
        earlier values; `overwrite=True` replaces the earlier definition instead. Returns the
        definition after the call.
        """
        self._check_open()
        metric = _check_metric_name(name)
        if isinstance(step_metric, Metric):
            step_metric = step_metric.name
        if step_metric is not None and (
            not isinstance(step_metric, str) or not step_metric or "*" in step_metric
        ):
            raise ValueError(
                f"invalid step_metric {step_metric!r} for define_metric({metric!r}): "
                "use the name of a logged metric, e.g. 'epoch'"
            )
        for arg, value in (("step_sync", step_sync), ("hidden", hidden), ("overwrite", overwrite)):
            if value is not None and not isinstance(value, bool):
                raise TypeError(
                    f"define_metric({metric!r}): {arg} must be True, False or None, got {value!r}"
                )
        aggs = _parse_summary(metric, summary)
        goal_ = _parse_goal(metric, goal)
        previous = None if overwrite else self._metrics.get(metric)
        if previous is not None:
            aggs = previous.summary + [a for a in aggs if a not in previous.summary]
            step_metric = step_metric if step_metric is not None else previous.step_metric
            step_sync = step_sync if step_sync is not None else previous.step_sync
            hidden = hidden if hidden is not None else previous.hidden
            goal_ = goal_ if goal_ is not None else _parse_goal(metric, previous.goal)
        self._inner.define_metric(
            metric, step_metric, aggs, goal=goal_, hidden=bool(hidden), step_sync=step_sync
        )
        definition = Metric(metric, step_metric, step_sync, aggs, hidden, goal_)
        self._metrics[metric] = definition
        return definition

    def flush(self) -> None:
        """Return when everything logged so far is durably on disk (fsynced). An online run
        then also looks for new data to upload at once (without waiting for it)."""
        if not self._finished:
            if self._media is not None:
                self._media.settle()  # the writer waits for pending media; bounded here
            self._inner.flush()
            if self._uploader is not None:
                self._uploader.notify()
                _report(self._uploader.take_warnings())

    # -- artifacts -------------------------------------------------------------------------

    def _artifact_worker(self) -> ArtifactWorker | None:
        if self.mode == "disabled":
            return None
        if self._artifacts is None:
            from fwtrack.artifacts.worker import ArtifactWorker

            self._artifacts = ArtifactWorker(self)
        return self._artifacts

    def log_artifact(
        self,
        artifact_or_path: Artifact | str | os.PathLike[str],
        name: str | None = None,
        type: str | None = None,
        aliases: Sequence[str] | None = None,
    ) -> Artifact:
        """Log an `Artifact` (or the file or directory at a path, as artifact `name` of
        `type`) as an output of this run, with `aliases` (`latest` is given by fwtrack).

        Returns at once: the files are hashed, stored and committed by the run's artifact
        thread; `artifact.wait()` returns when the version is committed (and raises if the log
        failed, which is also reported once as a warning). `finish()` waits for it. Content
        identical to an existing version gives that version (with the new aliases).
        """
        self._check_open()
        from fwtrack.artifacts import run_calls

        return run_calls.log_artifact(
            self,
            self._artifact_worker(),
            artifact_or_path,
            name,
            type,
            aliases,
        )

    def use_artifact(self, ref_or_artifact: Artifact | str, type: str | None = None) -> Artifact:
        """Use an artifact version as an input of this run: `"name"` (= `"name:latest"`),
        `"name:vN"`, `"name:alias"`, `"project/name:alias"` or `"entity/project/name:alias"`
        (offline: the local registry; online: the server). The use is recorded in the run log
        (lineage). `ArtifactNotFoundError` lists what exists when the name or alias does not.
        """
        self._check_open()
        from fwtrack.artifacts import run_calls

        return run_calls.use_artifact(self, ref_or_artifact, type)

    # -- the model registry ----------------------------------------------------------------

    def _link_worker(self) -> LinkWorker | None:
        if self.mode == "disabled":
            return None
        if self._links is None:
            from fwtrack.registry.run_calls import LinkWorker

            self._links = LinkWorker(self)
        return self._links

    def link_artifact(
        self,
        artifact: Artifact,
        target: str,
        aliases: Sequence[str] | None = None,
    ) -> ModelVersionHandle:
        """Link a `model` artifact (logged by this run, or a committed version) to the model
        registry as a new version of `target` (`"registry/<model>"`, `"<entity>/registry/
        <model>"` or `"<model>"`; the model is created when missing), pointing `aliases` at
        it (`latest` is given by fwtrack).

        Returns a handle at once: the link is made after the version is committed (offline:
        in the local registry, and on the server by `fwtrack sync`); `handle.wait()` returns
        the `ModelVersion` (and raises if the link failed, which is also reported once as a
        warning). `finish()` makes the links still pending (bounded by the upload timeout).
        """
        self._check_open()
        from fwtrack.registry import run_calls

        return run_calls.link_artifact(self, self._link_worker(), artifact, target, aliases)

    def link_model(
        self,
        path: str | os.PathLike[str],
        registered_model_name: str,
        name: str | None = None,
        aliases: Sequence[str] | None = None,
    ) -> ModelVersionHandle:
        """Log the file or directory at `path` as a `model` artifact (named `name`, default
        `model-<run id>`) and link it to `registered_model_name` with `aliases`; see
        `link_artifact`."""
        self._check_open()
        from fwtrack.registry import run_calls

        return run_calls.link_model(
            self, self._link_worker(), path, registered_model_name, name, aliases
        )

    def use_model(self, ref: str) -> str:
        """Use a registered model version (`"registry/<model>:production"`, `"<model>:v3"`,
        `"<model>@staging"`, `"<model>"` = latest): the artifact version it links is used by
        this run (lineage), downloaded (every file verified) and its directory returned.
        `ModelNotFoundError` lists what exists."""
        self._check_open()
        from fwtrack.registry import run_calls

        return run_calls.use_model(self, ref)

    def _finish_links(self) -> None:
        """Make the links the link thread holds or that wait for the server (bounded)."""
        worker = self._links
        if worker is None:
            return
        try:
            worker.finish(self.settings.upload_timeout)
        except Exception as e:  # never in the way of finishing the run
            warn(f"fwtrack: making the registry links of run {self.id!r} failed: {e}")

    def _wait_artifacts(self) -> None:
        """Wait for pending `log_artifact` calls (their records must precede the finish)."""
        worker = self._artifacts
        if worker is None:
            return
        try:
            worker.wait()
        finally:
            worker.close()

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit the pending row, record the exit code (0 or None: finished, else failed),
        make everything durable and stop the writer. A second call does nothing. Pending
        `log_artifact` calls are waited for first.

        An online run then waits for the upload, at most `settings.upload_timeout` seconds
        (`FWTRACK_UPLOAD_TIMEOUT`, default 30); past it, the run is complete on disk and a
        warning prints the `fwtrack sync` command that finishes the upload.

        `quiet` is accepted as wandb takes it; fwtrack prints nothing at finish but warnings,
        which are never silenced.
        """
        if exit_code is None:
            exit_code = 0
        if isinstance(exit_code, bool) or not isinstance(exit_code, int):
            raise TypeError(f"exit_code must be an int, got {type(exit_code).__name__}")
        if quiet is not None and not isinstance(quiet, bool):
            raise TypeError(f"quiet must be True, False or None, got {quiet!r}")
        self._finish(exit_code, None)
        if exit_code == 0 and self._resume_file is not None:
            _forget_auto_resume(self._resume_file, self.id)

    def _finish(self, exit_code: int, reason: str | None) -> None:
        """`finish` with the finish record's `reason` (`"stopped"`, or None)."""
        with _lifecycle(), _state.lock:
            if self._finished:
                return
            self._stop_capture()
            self._finished = True
            try:
                self._wait_artifacts()
                if self._media is not None:
                    # Pending media are stored first (bounded; Ctrl-C leaves them out).
                    self._media.close()
            finally:
                try:
                    if reason is None and _state.sigterm_pending and self.sweep_id is not None:
                        reason = STOPPED  # the agent stopped the trial while it was finishing
                    self._inner.finish(exit_code, reason)
                finally:
                    if _state.run is self:
                        _state.run = None
                    if self in _state.open_runs:
                        _state.open_runs.remove(self)
            # Still inside `_lifecycle`: a SIGTERM now waits for the rest of the finish.
            if self._snapshot is not None:
                self._snapshot.wait()
            notebook.finished(self, self._notebook, exit_code)
            if self._uploader is not None:
                self._finish_upload(self._uploader)
                self._settle_artifacts()
            self._finish_links()

    def _settle_artifacts(self) -> None:
        """Staged artifact blobs of committed versions move into the download cache."""
        if not os.path.isdir(os.path.join(self.dir, "artifacts")):
            return
        try:
            from fwtrack.artifacts import staging

            staging.settle(self.dir)
        except Exception as e:  # only a clean-up
            warn(f"fwtrack: cleaning up the artifact staging of run {self.id!r} failed: {e}")

    def _start_capture(self) -> None:
        """Start the system-metrics sampler and the console capture the settings ask for.
        Trouble here never stops the run: it warns once and goes on without."""
        from fwtrack.sdk.files import FileSaver

        self._files = FileSaver(self.dir, notify=self._notify_files)
        writer = self._inner
        if self.settings.system_interval > 0 and isinstance(writer, _core.RunWriter):
            try:
                self._system = system.Sampler(
                    writer.log_system, interval=self.settings.system_interval, run_dir=self.dir
                )
                self._system.start()
            except Exception as e:
                self._system = None
                warn(f"fwtrack: system metrics are off for this run: {e}")
        if self.settings.console and isinstance(writer, _core.RunWriter):
            try:
                self._console = console.Capture(writer)
            except OSError as e:
                warn(f"fwtrack: console output is not captured for this run: {e}")

    def _stop_capture(self) -> None:
        """The last system sample and console lines, before the finish record; the saved
        files' last copies (`policy="live"`/`"end"`, what was written into `run.dir`)."""
        if self._files is not None:
            try:
                self._files.close()
            except Exception as e:  # never in the way of finishing the run
                warn(f"fwtrack: saving the run's files failed: {e}")
        for part in (self._system, self._console):
            if part is not None:
                try:
                    part.stop()
                except Exception as e:  # never in the way of finishing the run
                    warn(f"fwtrack: stopping {type(part).__name__.lower()} failed: {e}")

    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: Literal["gradients", "parameters", "all"] | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> list[Any]:
        """Histograms of a PyTorch model's gradients and/or parameters every `log_freq`
        batches, as `wandb.watch` (see `fwtrack.sdk.watch.watch`, docs/api.md "watch")."""
        from fwtrack.sdk import watch

        return watch.watch_run(self, models, criterion, log, log_freq, idx, log_graph)

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks `watch` put on `models` (every watched model when None)."""
        from fwtrack.sdk import watch

        watch.unwatch_run(self, models)

    def _ipython_display_(self) -> None:
        """In a notebook: a live panel of the run's metrics (see docs/notebooks.md)."""
        if self._notebook is None:
            self._notebook = notebook.Panel(self)
        self._notebook.show()

    def _repr_html_(self) -> str:
        return notebook.run_html(self, self._notebook)

    def save(
        self,
        glob_str: str | os.PathLike[str],
        base_path: str | os.PathLike[str] | None = None,
        policy: Literal["live", "now", "end"] = "live",
        glob: bool = True,
        *,
        name: str | None = None,
    ) -> list[str]:
        """Keep files with the run (into `<run dir>/files/`), as `wandb.save`: `glob_str` is
        a path or a glob (relative to the working directory), `base_path` the folder the saved
        names are relative to, `policy` when they are copied: "live" (now and whenever they
        change), "now" (once) or "end" (at finish). An online run uploads them in the
        background and at finish. Returns the paths of the copies (docs/api.md, "Saving
        files"). `name=` saves one file under that name instead. A disabled run copies
        nothing."""
        self._check_open()
        if self.mode == "disabled" or self._files is None:
            return []
        if name is not None:
            return self._files.save_as(glob_str, name, policy)
        return self._files.save(glob_str, base_path, policy, glob)

    def _notify_files(self) -> None:
        if self._uploader is not None:
            self._uploader.notify_files()

    def log_code(
        self,
        root: str | os.PathLike[str] | None = ".",
        name: str | None = None,
        include_fn: Callable[..., bool] | None = None,
        exclude_fn: Callable[..., bool] | None = None,
    ) -> Artifact | None:
        """Log the code under `root` as an artifact of type "code", as `wandb.run.log_code`:
        by default the `.py` files, `requirements.txt` and `Dockerfile*` (`include_fn(path)`
        or `include_fn(path, root)` chooses others; `exclude_fn` leaves files out, by default
        those inside `fwtrack/` and `wandb/` run folders), named `source-<project>-<script>`
        unless `name` is given. Returns the artifact, or None when no file matched (or the run
        is disabled)."""
        from fwtrack.sdk import files

        self._check_open()
        if self.mode == "disabled":
            return None
        return files.log_code_for(
            self,
            root,
            name,
            include_fn or files.default_include,
            exclude_fn or files.default_exclude,
        )

    def alert(
        self,
        title: str,
        text: str,
        level: str | AlertLevel | None = None,
        wait_duration: float | timedelta | None = None,
    ) -> None:
        """Raise an alert, as `wandb.run.alert`: recorded in the run, shown on its page and
        sent to the team's webhooks (online). `level` is "INFO" (default), "WARN" or "ERROR";
        an alert with the same title as one raised less than `wait_duration` ago (seconds or
        a timedelta; default one minute) is dropped (docs/alerts.md)."""
        from fwtrack.sdk.alerts import Alerts

        self._check_open()
        writer = self._inner
        if self._alerts is None:
            self._alerts = Alerts(writer if isinstance(writer, _core.RunWriter) else None)
        self._alerts.alert(title, text, level, wait_duration)

    def _finish_upload(self, uploader: _core.Uploader) -> None:
        timeout = self.settings.upload_timeout
        sync = f"fwtrack sync {shlex.quote(self.dir)}"
        try:
            outcome = uploader.finish(timeout)
        except KeyboardInterrupt:
            warn(
                f"fwtrack: the upload of run {self.id!r} was interrupted; the run is complete "
                f"locally in {self.dir}. Finish the upload with:\n    {sync}"
            )
            raise
        _report(uploader.take_warnings())
        if outcome["done"] or not outcome["timed_out"]:
            # Done, or stopped by a refusal whose warning already says what to do.
            return
        error = outcome["error"]
        reason = f" (last error: {error})" if error else ""
        missing = [f"{outcome['remaining']} bytes of its log"] if outcome["remaining"] else []
        if files := outcome["files_pending"]:
            plural = "s" if files != 1 else ""
            missing.append(f"{files} file{plural} ({outcome['files_pending_bytes']} bytes)")
        warn(
            f"fwtrack: the upload of run {self.id!r} did not complete within {timeout:g} s: "
            f"{' and '.join(missing) or 'some of it'} are not on the server yet{reason}. The "
            f"run is complete locally in {self.dir}; finish the upload with:\n    {sync}"
        )

    # -- state ---------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The run config: a nested dict with attribute access; each change is recorded."""
        return self._config

    @property
    def summary(self) -> Summary:
        """The run summary (see docs/api.md, "Summary")."""
        return self._summary

    @property
    def step(self) -> int:
        """The step the next implicit `log()` commit gets."""
        return self._inner.step

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def disabled(self) -> bool:
        return self.mode == "disabled"

    @property
    def offline(self) -> bool:
        """Whether the run is logged locally only (mode "offline")."""
        return self.mode == "offline"

    @property
    def entity(self) -> str:
        """The user or team the run belongs to: `init(entity=...)` (or `Settings.entity`,
        `FWTRACK_ENTITY`); online without one, the API key's user once the server answered;
        else "" (a local run has no entity; `fwtrack ui` shows it under `local`)."""
        if self._entity:
            return self._entity
        if self._uploader is not None:
            entity = self._uploader.status().get("entity")
            if isinstance(entity, str) and entity:
                return entity
        return ""

    @property
    def path(self) -> str:
        """`"<entity>/<project>/<id>"` (`"<project>/<id>"` without an entity), as
        `fwtrack.Api().run()` takes it."""
        entity = self.entity
        return f"{entity}/{self.project}/{self.id}" if entity else f"{self.project}/{self.id}"

    def _dashboard(self) -> tuple[str, str] | None:
        """(dashboard base URL, entity) the run is shown under; None when disabled."""
        if self.mode == "disabled":
            return None
        if self.mode == "online":
            base = self.settings.base_url or credentials.default_url()
            if base is not None:
                return base.rstrip("/"), self.entity or LOCAL_ENTITY
        return f"http://127.0.0.1:{UI_PORT}", LOCAL_ENTITY

    @property
    def url(self) -> str | None:
        """The run's page in the dashboard: on the server for an online run
        (`<base_url>/#/p/<entity>/<project>/r/<id>`), else where `fwtrack ui` shows it
        (`http://127.0.0.1:8080/#/p/local/<project>/r/<id>`); None for a disabled run."""
        where = self._dashboard()
        if where is None:
            return None
        base, entity = where
        return f"{base}/#/p/{_quote(entity)}/{_quote(self.project)}/r/{_quote(self.id)}"

    @property
    def project_url(self) -> str | None:
        """The project's workspace in the dashboard (see `url`)."""
        where = self._dashboard()
        if where is None:
            return None
        base, entity = where
        return f"{base}/#/p/{_quote(entity)}/{_quote(self.project)}"

    @property
    def sweep_url(self) -> str | None:
        """The page of the sweep this run is a trial of (see `url`), else None."""
        where = self._dashboard()
        if where is None or self.sweep_id is None:
            return None
        base, entity = where
        return f"{base}/#/p/{_quote(entity)}/{_quote(self.project)}/sweeps/{_quote(self.sweep_id)}"

    @property
    def start_time(self) -> float:
        """When this start (or resume) of the run began, in Unix seconds."""
        return self._started_at

    @property
    def starting_step(self) -> int:
        """The step the run started (or resumed) at."""
        return self._starting_step

    @property
    def sync_dir(self) -> str:
        """The directory holding the run log (what `fwtrack sync` takes)."""
        return self._run_dir

    def log_model(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        aliases: Sequence[str] | None = None,
    ) -> Artifact:
        """Log the file or directory at `path` as a `model` artifact named `name` (default
        `run-<id>-<base name of path>`, as wandb), with `aliases`; see `log_artifact`."""
        self._check_open()
        if name is None:
            base = os.path.basename(os.path.normpath(os.fspath(path)))
            name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"run-{self.id}-{base}")[:128]
        return self.log_artifact(path, name=name, type="model", aliases=aliases)

    def __getattr__(self, name: str) -> Any:
        # Only for names the class does not have: W&B's Run attributes fwtrack has no
        # counterpart for fail with the fwtrack way to do it.
        alternative = WANDB_RUN_ALTERNATIVES.get(name)
        if alternative is not None:
            raise AttributeError(
                f"fwtrack.Run has no attribute {name!r} (wandb's run.{name}): {alternative}"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            code = 0
        elif isinstance(exc, SystemExit):
            code = _system_exit_code(exc)
        elif _is_trial_stop(exc):
            # The in-process sweep agent stopped this trial (an exception raised in its thread).
            self._finish(STOPPED_EXIT_CODE, STOPPED)
            return
        else:
            code = 1
        self.finish(exit_code=code)

    def __repr__(self) -> str:
        state = "finished" if self._finished else self.mode
        return (
            f"<fwtrack.Run id={self.id!r} name={self.name!r} project={self.project!r} "
            f"dir={self.dir!r} ({state})>"
        )


def _is_trial_stop(exc: BaseException) -> bool:
    """Whether `exc` is the in-process sweep agent's `TrialStopped` (looked up only when its
    module is loaded: nothing of the sweeps package is imported here)."""
    agent = sys.modules.get("fwtrack.sweeps.agent")
    trial_stopped = getattr(agent, "TrialStopped", None)
    return isinstance(trial_stopped, type) and isinstance(exc, trial_stopped)


def _system_exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    return 1


def _check_metric_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"define_metric name must be a str, got {type(name).__name__}")
    if not name or "*" in name[:-1] or len(name) > 256:
        raise ValueError(
            f"invalid metric name {name!r}: use a logged key (1-256 characters), optionally "
            "ending in '*' to match every key with that prefix, e.g. 'train/*'"
        )
    return name


def _parse_summary(name: str, summary: str | Sequence[str] | None) -> list[str]:
    if summary is None:
        return []
    if isinstance(summary, str):
        parts = [p.strip() for p in summary.split(",")]
    elif isinstance(summary, Sequence) and all(isinstance(p, str) for p in summary):
        parts = [p.strip() for p in summary]
    else:
        raise TypeError(
            f"define_metric summary must be a str like 'min,max', got {type(summary).__name__}"
        )
    out: list[str] = []
    for part in parts:
        part = part.lower()
        if part in ("none", "copy"):
            raise ValueError(
                f"summary {part!r} for define_metric({name!r}) has no equivalent in fwtrack: a "
                "metric without aggregations keeps its last value in the summary; use "
                "hidden=True to keep it out of the default panels, or del run.summary[key]"
            )
        if part not in SUMMARY_AGGREGATIONS:
            allowed = ", ".join(repr(a) for a in SUMMARY_AGGREGATIONS)
            raise ValueError(
                f"invalid summary {part!r} for define_metric({name!r}): allowed values are "
                f"{allowed}, or a comma list like 'min,max'"
            )
        if part not in out:
            out.append(part)
    return out


def _quote(part: str) -> str:
    """One path segment of a dashboard URL (as the dashboard's router encodes it)."""
    return quote(part, safe="")


def _parse_goal(name: str, goal: object) -> Literal["minimize", "maximize"] | None:
    """`goal` as "minimize" or "maximize" ("min"/"max" too, as older wandb took them)."""
    if goal is None:
        return None
    if isinstance(goal, str):
        short = goal.strip().lower()[:3]
        if short == "min" and "minimize".startswith(goal.strip().lower()):
            return "minimize"
        if short == "max" and "maximize".startswith(goal.strip().lower()):
            return "maximize"
    allowed = ", ".join(repr(g) for g in GOALS)
    raise ValueError(
        f"invalid goal {goal!r} for define_metric({name!r}): allowed values are {allowed}"
    )


# -- module-level API ------------------------------------------------------------------------


def log(data: dict[str, Any], step: int | None = None, commit: bool = True) -> None:
    """Log to the active run; see `Run.log`."""
    run = _state.run
    if run is None:
        raise NoActiveRunError(
            "fwtrack.log() called with no active run\nhint: call fwtrack.init() first"
        )
    run.log(data, step, commit)


def define_metric(
    name: str,
    step_metric: str | Metric | None = None,
    step_sync: bool | None = None,
    hidden: bool | None = None,
    summary: str | Sequence[str] | None = None,
    goal: str | None = None,
    overwrite: bool | None = None,
) -> Metric:
    """`define_metric` on the active run; see `Run.define_metric`."""
    run = _active("define_metric")
    return run.define_metric(
        name,
        step_metric=step_metric,
        step_sync=step_sync,
        hidden=hidden,
        summary=summary,
        goal=goal,
        overwrite=overwrite,
    )


def _active(what: str) -> Run:
    run = _state.run
    if run is None:
        raise NoActiveRunError(
            f"fwtrack.{what}() called with no active run\nhint: call fwtrack.init() first"
        )
    return run


def save(*args: Any, **kwargs: Any) -> Any:
    """`save` on the active run; see `Run.save`."""
    return _active("save").save(*args, **kwargs)


def log_code(*args: Any, **kwargs: Any) -> Any:
    """`log_code` on the active run; see `Run.log_code`."""
    return _active("log_code").log_code(*args, **kwargs)


def log_model(
    path: str | os.PathLike[str],
    name: str | None = None,
    aliases: Sequence[str] | None = None,
) -> Artifact:
    """`log_model` on the active run; see `Run.log_model`."""
    return _active("log_model").log_model(path, name=name, aliases=aliases)


def log_artifact(
    artifact_or_path: Artifact | str | os.PathLike[str],
    name: str | None = None,
    type: str | None = None,
    aliases: Sequence[str] | None = None,
) -> Artifact:
    """`log_artifact` on the active run; see `Run.log_artifact`."""
    run = _state.run
    if run is None:
        raise NoActiveRunError(
            "fwtrack.log_artifact() called with no active run\nhint: call fwtrack.init() first"
        )
    return run.log_artifact(artifact_or_path, name=name, type=type, aliases=aliases)


def use_artifact(ref_or_artifact: Artifact | str, type: str | None = None) -> Artifact:
    """`use_artifact` on the active run; see `Run.use_artifact`."""
    run = _state.run
    if run is None:
        raise NoActiveRunError(
            "fwtrack.use_artifact() called with no active run\nhint: call fwtrack.init() first"
        )
    return run.use_artifact(ref_or_artifact, type=type)


def link_artifact(
    artifact: Artifact, target: str, aliases: Sequence[str] | None = None
) -> ModelVersionHandle:
    """`link_artifact` on the active run; see `Run.link_artifact`."""
    run = _state.run
    if run is None:
        raise NoActiveRunError(
            "fwtrack.link_artifact() called with no active run\nhint: call fwtrack.init() first"
        )
    return run.link_artifact(artifact, target, aliases=aliases)


def link_model(
    path: str | os.PathLike[str],
    registered_model_name: str,
    name: str | None = None,
    aliases: Sequence[str] | None = None,
) -> ModelVersionHandle:
    """`link_model` on the active run; see `Run.link_model`."""
    run = _state.run
    if run is None:
        raise NoActiveRunError(
            "fwtrack.link_model() called with no active run\nhint: call fwtrack.init() first"
        )
    return run.link_model(path, registered_model_name, name=name, aliases=aliases)


def use_model(ref: str) -> str:
    """`use_model` on the active run; see `Run.use_model`."""
    run = _state.run
    if run is None:
        raise NoActiveRunError(
            "fwtrack.use_model() called with no active run\nhint: call fwtrack.init() first"
        )
    return run.use_model(ref)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run, if any; see `Run.finish`."""
    run = _state.run
    if run is not None:
        run.finish(exit_code, quiet)


def module_config() -> Config:
    """`fwtrack.config`: the active run's config; before `init`, a config the next `init`
    merges into its own (its `config=` argument wins)."""
    run = _state.run
    if run is not None:
        return run.config
    return Config._create(_state.preinit_config, None, _no_check)


def module_summary() -> Summary:
    """`fwtrack.summary`: the active run's summary; before `init`, an empty summary that
    refuses changes (there is no run to keep them)."""
    run = _state.run
    if run is not None:
        return run.summary
    return Summary(dict, _refuse_preinit_summary, _no_check)


def _no_check() -> None:
    pass


def _refuse_preinit_summary(values: dict[str, Any], delete: list[str]) -> None:
    raise NoActiveRunError(
        "fwtrack.summary changed with no active run\nhint: call fwtrack.init() first; a "
        "summary belongs to a run"
    )


def stop_active_run(exit_code: int = STOPPED_EXIT_CODE) -> bool:
    """Finish the active run, if any, as stopped (the finish record's reason `"stopped"`, so
    readers show the state `stopped`); whether there was one to stop. Internal: the in-process
    sweep agent calls it after stopping a trial's thread. Safe from any thread."""
    run = _state.run
    if run is None or run.finished:
        return False
    run._finish(exit_code, STOPPED)
    return True


# -- sweep trials -------------------------------------------------------------------------


@contextlib.contextmanager
def _lifecycle() -> Iterator[None]:
    """Marks an `init` or `finish` under way in the main thread; when the outermost one ends
    and a SIGTERM came meanwhile, the run is stopped and the process ends (see
    `_on_sigterm`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.main_busy += 1
    try:
        yield
    finally:
        _state.main_busy -= 1
    if _state.main_busy == 0 and _state.sigterm_pending:
        _stop_and_die()


def _install_sigterm_handler() -> None:
    """In a sweep trial: SIGTERM (the agent stopping the trial) finishes the active run as
    stopped, then ends the process as SIGTERM would. Only from the main thread, and only when
    nobody else handles SIGTERM (a handler of the program or a framework stays in charge)."""
    if _state.sigterm_installed and _state.sigterm_pid == os.getpid():
        return
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    _state.sigterm_retry = _start_sigterm_retry()
    signal.signal(signal.SIGTERM, _on_sigterm)
    _state.sigterm_installed = True
    _state.sigterm_pid = os.getpid()


def _start_sigterm_retry() -> threading.Event:
    """A thread that, once woken, sends SIGTERM to this process again every 10 ms while a stop
    is pending, so that the handler gets another chance once the main thread has left the code
    that held it off. Started with the handler: the handler itself must not start threads."""
    wake = threading.Event()

    def retry() -> None:
        while True:
            wake.wait()
            wake.clear()
            while _state.sigterm_pending:
                time.sleep(0.01)
                os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=retry, name="fwtrack-sigterm", daemon=True).start()
    return wake


_PACKAGE_DIRS = tuple(
    {os.path.dirname(os.path.dirname(p)) + os.sep for p in (__file__, os.path.realpath(__file__))}
)
_THREADING_FILES = frozenset({threading.__file__, os.path.realpath(threading.__file__)})


def _interrupted_inside_locks(frame: FrameType | None) -> bool:
    """Whether the main thread was interrupted inside fwtrack's own code or `threading`'s,
    which may hold a lock that finishing the run takes (a handler that waited for it would
    wait for itself)."""
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(_PACKAGE_DIRS) or name in _THREADING_FILES:
            return True
        frame = frame.f_back
    return False


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """The SIGTERM handler of a sweep trial (it runs in the main thread, between two bytecodes
    of whatever the main thread was doing): stop the run and end the process, at once when the
    main thread was in the program's own code, else as soon as it is back there."""
    if os.getpid() != _state.sigterm_pid:
        _die_by_sigterm()  # a forked child (a DataLoader worker): as if never installed
    _state.sigterm_pending = True
    if _state.main_busy:
        return  # an init or finish is under way in this thread; it stops the run when done
    if _interrupted_inside_locks(frame):
        if _state.sigterm_retry is not None:
            _state.sigterm_retry.set()  # SIGTERM again in a moment
        return
    _stop_and_die()


def _stop_and_die() -> NoReturn:
    _state.sigterm_pending = False
    try:
        stop_active_run()
    finally:
        _die_by_sigterm()


def _die_by_sigterm() -> NoReturn:
    """End this process the way an unhandled SIGTERM does (no atexit hooks, status -15)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    os.kill(os.getpid(), signal.SIGTERM)
    while True:  # the signal is delivered at once; this is never reached in practice
        signal.pause()


def _sweep_params(sweep_id: str) -> dict[str, Any]:
    """The trial's parameters from the JSON file at `FWTRACK_SWEEP_PARAMS` (empty when unset)."""
    path = FWTRACK_SWEEP_PARAMS.get()
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            params = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(
            f"FWTRACK_SWEEP_PARAMS={path!r}: cannot read the parameters of this trial of sweep "
            f"{sweep_id!r} ({e})\nhint: start trials with `fwtrack agent`, which writes that "
            "file, or unset FWTRACK_SWEEP_ID outside a sweep"
        ) from e
    if not isinstance(params, dict):
        raise ValueError(
            f"FWTRACK_SWEEP_PARAMS={path!r}: the parameters must be a JSON object, got "
            f"{type(params).__name__}"
        )
    return params


def _merge_config(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated by `update`, nested dicts merged key by key (W&B's `merge_dicts`)."""
    out = dict(base)
    for key, value in update.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            out[key] = _merge_config(dict(old), value)
        else:
            out[key] = value
    return out


def _opt_str(what: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _check_tags(tags: object, source: str) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Sequence | set | frozenset):
        hint = f" (did you mean [{tags!r}]?)" if isinstance(tags, str) else ""
        raise TypeError(f"{source} must be a list of str, got {type(tags).__name__}{hint}")
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"{source}: tags must be str, got {type(tag).__name__} {tag!r}")
        t = tag.strip()
        if not 1 <= len(t) <= MAX_TAG_LEN:
            raise ValueError(f"{source}: invalid tag {tag!r}: tags are 1-{MAX_TAG_LEN} characters")
        if t not in out:
            out.append(t)
    return out


def _report(messages: Sequence[str]) -> None:
    for message in messages:
        warn(message)


def _resolve_mode(mode: object, settings: Settings | None = None) -> Mode:
    """`mode`, else `FWTRACK_MODE`, else online when a server is set (`settings.base_url`,
    from `FWTRACK_BASE_URL` by default), else offline."""
    if mode is None:
        online = settings is not None and settings.base_url is not None
        mode = FWTRACK_MODE.get() or ("online" if online else "offline")
    if mode not in MODES:
        allowed = ", ".join(repr(m) for m in MODES)
        raise ValueError(f"invalid mode {mode!r}: allowed values are {allowed}")
    m: Mode = mode  # type: ignore[assignment]
    return m


def _resolve_resume(resume: object) -> Resume | None:
    """`resume` as wandb defines it: True means "auto", False and None leave it unset."""
    if resume is None or resume is False:
        return None
    if resume is True:
        return "auto"
    if resume in RESUME_VALUES:
        r: Resume = resume  # type: ignore[assignment]
        return r
    raise ValueError(
        f"invalid resume {resume!r}: allowed values are 'allow', 'must', 'never', 'auto', "
        "True (= 'auto'), False or None"
    )


def _resolve_reinit(reinit: object) -> Reinit:
    """`reinit` as wandb 0.31 defines it: "default" is "finish_previous" in a notebook and
    "return_previous" elsewhere; True is "finish_previous", False "return_previous"."""
    if reinit is None or reinit == "default":
        return "finish_previous" if _in_notebook() else "return_previous"
    if reinit is True:
        return "finish_previous"
    if reinit is False:
        return "return_previous"
    if reinit in ("return_previous", "finish_previous", "create_new"):
        return reinit
    raise ValueError(
        f"invalid reinit {reinit!r}: allowed values are 'default', 'return_previous', "
        "'finish_previous', 'create_new', True or False"
    )


def _in_notebook() -> bool:
    """Whether this process is an IPython shell or a Jupyter kernel (wandb's `in_notebook`)."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return False
    try:
        shell = ipython_module.get_ipython()
    except Exception:
        return False
    return shell is not None


def _load_auto_resume(path: str, project: str) -> str | None:
    """The run id `resume="auto"` remembered for `project`, if any."""
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        warn(f"fwtrack: ignoring {path} ({e}); resume='auto' starts a new run")
        return None
    if not isinstance(saved, dict) or saved.get("project") != project:
        return None
    run_id = saved.get("run_id")
    return run_id if isinstance(run_id, str) else None


def _save_auto_resume(path: str, project: str, run_id: str) -> None:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"project": project, "run_id": run_id}, f)
    except OSError as e:
        warn(f"fwtrack: cannot write {path} ({e}); resume='auto' cannot find this run again")


def _forget_auto_resume(path: str, run_id: str) -> None:
    """A run that finished cleanly is not resumed automatically any more."""
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        if isinstance(saved, dict) and saved.get("run_id") == run_id:
            os.remove(path)
    except (OSError, ValueError):
        pass


INIT_REFUSED: dict[str, str] = {
    "anonymous": (
        "fwtrack has no anonymous mode: log locally (mode='offline') and browse with `fwtrack "
        "ui`, or log in to your server with fwtrack.login()"
    ),
    "sync_tensorboard": (
        "log the metrics with fwtrack.log(), or import the event files afterwards with "
        "`fwtrack import tensorboard LOGDIR`"
    ),
    "tensorboard": (
        "log the metrics with fwtrack.log(), or import the event files afterwards with "
        "`fwtrack import tensorboard LOGDIR`"
    ),
    "monitor_gym": (
        "log the environment's frames with fwtrack.log({'video': fwtrack.Video(frames)})"
    ),
    "magic": "use an integration (fwtrack.integrations.*) or fwtrack.log()",
    "fork_from": (
        "forking a run is not supported: start a new run (its config can copy the other's), "
        "or continue a run with id=... and resume='allow'"
    ),
    "resume_from": (
        "rewinding a run is not supported: continue it with id=... and resume='allow', or "
        "start a new run"
    ),
    "force": (
        "fwtrack never requires a login: mode='online' logs locally and warns when no server "
        "or key is set (see fwtrack.login())"
    ),
}
"""Keyword arguments of `wandb.init` that fwtrack does not take, and what to use instead."""


def _install_hooks() -> None:
    """Once per process: the atexit hook, and wrappers around `sys.excepthook` and `sys.exit`
    that remember how the main thread ended (both call what they wrap)."""
    if _state.hooks_installed:
        return
    _state.hooks_installed = True
    atexit.register(_finish_at_exit)
    previous_hook = sys.excepthook
    previous_exit = sys.exit

    def excepthook(
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        _state.exit_code = 1
        previous_hook(exc_type, exc, tb)

    def exit_and_remember(status: str | int | None = None, /) -> NoReturn:
        if threading.current_thread() is threading.main_thread():
            _state.exit_code = _system_exit_code(SystemExit(status))
        previous_exit(status)

    sys.excepthook = excepthook
    sys.exit = exit_and_remember


def _finish_at_exit() -> None:
    runs = list(_state.open_runs)
    if _state.run is not None and _state.run not in runs:
        runs.append(_state.run)
    for run in reversed(runs):
        if not run.finished:
            run.finish(exit_code=_state.exit_code or 0)


def init(
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | Any | None = None,
    tags: Sequence[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    mode: Mode | None = None,
    id: str | None = None,
    resume: Resume | bool | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    *,
    entity: str | None = None,
    reinit: Reinit | Literal["default"] | bool | None = None,
    save_code: bool | None = None,
    config_exclude_keys: Sequence[str] | None = None,
    config_include_keys: Sequence[str] | None = None,
    allow_val_change: bool | None = None,
    **wandb_only: Any,
) -> Run:
    """Start a run (or continue one with `id=` and `resume=`) and make it the active run.

    Arguments beat the `FWTRACK_*` environment variables (see docs/env.md), which beat the
    defaults. `reinit` says what happens when a run is already active in this process (as
    wandb 0.31: by default the active run is returned, or finished first in a notebook).
    See docs/api.md for every argument.
    """
    if wandb_only:
        raise _refused_init_kwarg(sorted(wandb_only)[0])
    settings_ = Settings.coerce(settings)
    overrides: dict[str, Any] = {}
    if entity is not None:
        overrides["entity"] = entity
    if save_code is not None:
        if not isinstance(save_code, bool):
            raise TypeError(f"save_code must be True or False, got {save_code!r}")
        overrides["save_code"] = save_code
    if overrides:
        settings_ = _replace_settings(settings_, overrides)
    if allow_val_change is not None and not isinstance(allow_val_change, bool):
        raise TypeError(f"allow_val_change must be True or False, got {allow_val_change!r}")
    mode_ = _resolve_mode(mode, settings_)
    env_resume = FWTRACK_RESUME.get() if resume is None else None
    if env_resume is not None:
        resume_ = _resolve_resume({"true": True, "false": False}.get(env_resume, env_resume))
    else:
        resume_ = _resolve_resume(resume)
    reinit_ = _resolve_reinit(reinit)
    sweep_id = FWTRACK_SWEEP_ID.get()
    if sweep_id is not None:
        # A sweep trial: the agent chose the run id and the project (as W&B does).
        ignored = [
            f"{arg}={value!r}"
            for arg, value in (("project", project), ("id", id))
            if value is not None
        ]
        if ignored:
            warnings.warn(
                f"fwtrack: ignoring init's {' and '.join(ignored)}: this process runs a trial "
                f"of sweep {sweep_id!r}, whose run id and project come from the agent "
                "(FWTRACK_RUN_ID, FWTRACK_PROJECT)",
                FwTrackWarning,
                stacklevel=user_stacklevel(),
            )
        project = id = None
    if project is None:
        project = FWTRACK_PROJECT.get() or "uncategorized"
    project_ = names.check_project(project)
    run_id = id if id is not None else FWTRACK_RUN_ID.get()
    if run_id is not None:
        run_id = names.check_run_id(run_id)
    elif resume_ == "must":
        raise ValueError(
            "resume='must' needs the id of the run to continue\n"
            "hint: pass id=... (or set FWTRACK_RUN_ID)"
        )
    name_ = _opt_str("name", name)
    if name_ is None:
        name_ = FWTRACK_NAME.get()
    elif not name_.strip():
        raise ValueError("name must not be blank")
    tags_: list[str] | None = None
    if tags is not None:
        tags_ = _check_tags(tags, "tags")
    else:
        env_tags = FWTRACK_TAGS.get()
        if env_tags is not None:
            tags_ = _check_tags([t for t in env_tags.split(",") if t.strip()], "FWTRACK_TAGS")
    notes_ = _opt_str("notes", notes) if notes is not None else FWTRACK_NOTES.get()
    group_ = _opt_str("group", group) if group is not None else FWTRACK_GROUP.get()
    job_type_ = _opt_str("job_type", job_type) if job_type is not None else FWTRACK_JOB_TYPE.get()
    if isinstance(config, str):
        raise TypeError(
            f"config={config!r}: fwtrack takes the config as a dict (or argparse.Namespace, "
            "dataclass), not a file name\nhint: config=yaml.safe_load(open(path))"
        )
    config_ = _filter_config(config_items(config), config_include_keys, config_exclude_keys)
    for key in config_:
        if not isinstance(key, str) or not key:
            raise TypeError(f"config keys must be non-empty str, got {key!r}")
    if sweep_id is not None:
        config_ = _merge_config(config_, _sweep_params(sweep_id))  # the sweep's values win
    if dir is not None:
        root = os.fspath(dir)
        if not isinstance(root, str):
            raise TypeError("dir must be a str or a path")
    else:
        root = FWTRACK_DIR.get() or FWTRACK_DIR.default or "fwtrack"
    root = os.path.abspath(os.path.expanduser(root))
    resume_file: str | None = None
    if resume_ == "auto":
        resume_file = os.path.join(root, AUTO_RESUME_FILE)
        remembered = _load_auto_resume(resume_file, project_)
        if run_id is None:
            run_id = remembered
        elif remembered is not None and remembered != run_id:
            warn(
                f"fwtrack: ignoring run id {remembered!r} remembered by resume='auto' in "
                f"{resume_file}: id={run_id!r} was given"
            )

    with _lifecycle(), _state.lock:
        if sweep_id is not None and mode_ != "disabled":
            _install_sigterm_handler()
        previous = _state.run
        if previous is not None and previous is _state.inherited:
            # A forked child's inherited run: never returned; finishing it is a no-op here.
            previous.finish()
        elif previous is not None and not previous.finished:
            if reinit_ == "finish_previous":
                for open_run in reversed(list(_state.open_runs)):
                    open_run.finish()
                previous.finish()
            elif reinit_ == "create_new":
                pass
            elif resume_ == "must":
                raise ValueError(
                    f"cannot resume a run while run {previous.id!r} is active in this process"
                    "\nhint: finish it first (run.finish()), or pass reinit='create_new'"
                )
            else:
                return previous
        if _state.preinit_config:
            # `fwtrack.config` set before init; the arguments win.
            config_ = _merge_config(_state.preinit_config, config_)
            _state.preinit_config = {}
        if mode_ == "disabled":
            run = _disabled_run(
                run_id or names.generate_run_id(),
                name_,
                project_,
                tags_,
                notes_,
                group_,
                job_type_,
                root,
                settings_,
                config_,
                sweep_id,
            )
        else:
            if resume_file is not None and run_id is None:
                run_id = _new_run_id(os.path.join(root, project_))
            run = _start_run(
                run_id,
                name_,
                project_,
                tags_,
                notes_,
                group_,
                job_type_,
                root,
                mode_,
                resume_,
                settings_,
                config_,
                sweep_id,
            )
            if resume_file is not None:
                _save_auto_resume(resume_file, project_, run.id)
                run._resume_file = resume_file
        _state.open_runs.append(run)
        if reinit_ != "create_new":  # a new run of its own is not the active one (as wandb)
            _state.run = run
            _state.exit_code = None
        if mode_ != "disabled":
            _install_hooks()
        problem = _start_upload(run, settings_) if mode_ == "online" else None
    if problem is not None:
        warnings.warn(problem, FwTrackWarning, stacklevel=user_stacklevel())
    elif run._uploader is not None:
        run._uploader.wait_ready(READY_WAIT)
        _report(run._uploader.take_warnings())
    if mode_ != "disabled":
        run._notebook = notebook.started(run)  # in a Jupyter kernel: the run's status block
    return run


def _refused_init_kwarg(name: str) -> TypeError:
    alternative = INIT_REFUSED.get(name)
    if alternative is not None:
        return TypeError(f"fwtrack.init() does not take wandb's {name}=: {alternative}")
    return TypeError(
        f"fwtrack.init() got an unexpected keyword argument {name!r}\nhint: it takes "
        f"{', '.join(INIT_ARGUMENTS)} (see docs/api.md)"
    )


INIT_ARGUMENTS = (
    "project",
    "entity",
    "name",
    "config",
    "tags",
    "notes",
    "group",
    "job_type",
    "dir",
    "mode",
    "id",
    "resume",
    "reinit",
    "save_code",
    "settings",
    "config_exclude_keys",
    "config_include_keys",
    "allow_val_change",
)


def _replace_settings(settings: Settings, overrides: dict[str, Any]) -> Settings:
    """`settings` with `overrides` (init's arguments beat `Settings`), checked again."""
    import dataclasses

    return dataclasses.replace(settings, **overrides)


def _filter_config(
    config: dict[str, Any],
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
) -> dict[str, Any]:
    """wandb's `config_include_keys` / `config_exclude_keys` (top-level keys)."""
    if include and exclude:
        raise ValueError(
            "pass config_include_keys or config_exclude_keys, not both (as wandb requires)"
        )
    for what, keys in (("config_include_keys", include), ("config_exclude_keys", exclude)):
        if keys is not None and (
            isinstance(keys, str) or not all(isinstance(k, str) for k in keys)
        ):
            raise TypeError(f"{what} must be a list of str, got {keys!r}")
    if include:
        return {k: v for k, v in config.items() if k in include}
    if exclude:
        return {k: v for k, v in config.items() if k not in exclude}
    return config


def _new_run_id(project_dir: str) -> str:
    run_id = names.generate_run_id()
    while os.path.exists(os.path.join(project_dir, run_id)):
        run_id = names.generate_run_id()
    return run_id


def _start_upload(run: Run, settings: Settings) -> str | None:
    """Start uploading `run` to its server; returns a warning when it cannot be uploaded
    (the run is then logged locally only, as in offline mode)."""
    base_url = settings.base_url or credentials.default_url()
    if base_url is None:
        return (
            "mode='online': no fwtrack server is configured (set FWTRACK_BASE_URL, or run "
            f"`fwtrack login URL`), so the run is logged locally in {run.dir} (as in offline "
            "mode)"
        )
    sync = f"fwtrack sync {shlex.quote(run.dir)}"
    api_key = settings.api_key or credentials.lookup(base_url)
    if api_key is None:
        return (
            f"fwtrack: no API key for the server at {base_url}, so run {run.id!r} is logged "
            f"locally in {run.dir} only\nhint: run `fwtrack login {base_url}` (or set "
            f"FWTRACK_API_KEY), then upload the run with `{sync}`"
        )
    try:
        run._uploader = _core.Uploader(
            base_url,
            api_key,
            run.project,
            run.id,
            run.dir,
            entity=settings.entity,
        )
    except (ValueError, RuntimeError) as exc:
        return f"fwtrack: cannot upload run {run.id!r} ({exc}); it is logged locally in {run.dir}"
    return None


def _disabled_run(
    run_id: str,
    name: str | None,
    project: str,
    tags: list[str] | None,
    notes: str | None,
    group: str | None,
    job_type: str | None,
    root: str,
    settings: Settings,
    config: dict[str, Any],
    sweep_id: str | None,
) -> Run:
    info = {
        "id": run_id,
        "entity": settings.entity,
        "name": name or f"run-{run_id}",
        "project": project,
        "group": group,
        "job_type": job_type,
        "tags": tags or [],
        "notes": notes,
        "resumed": False,
        "sweep_id": sweep_id,
    }
    run = Run(
        _NullWriter(),
        info=info,
        dir=os.path.join(root, project, run_id),
        mode="disabled",
        settings=settings,
        config={},
    )
    run.config.update(config)
    return run


def _start_run(
    run_id: str | None,
    name: str | None,
    project: str,
    tags: list[str] | None,
    notes: str | None,
    group: str | None,
    job_type: str | None,
    root: str,
    mode: Mode,
    resume: Resume | None,
    settings: Settings,
    config: dict[str, Any],
    sweep_id: str | None,
) -> Run:
    project_dir = os.path.join(root, project)
    if run_id is None:
        run_id = names.generate_run_id()
        while os.path.exists(os.path.join(project_dir, run_id)):
            run_id = names.generate_run_id()
    run_dir = os.path.join(project_dir, run_id)
    exists = os.path.exists(os.path.join(run_dir, _core.LOG_FILE_NAME))
    if exists and _core.is_locked(run_dir):
        raise RunLockedError(
            f"run {run_id!r} in {run_dir} is open for writing in another live process\n"
            "hint: finish it there first, or start a new run without id="
        )
    if exists and (resume is None or resume == "never"):
        how = "resume='never' was given" if resume == "never" else "resume is not set"
        raise ValueError(
            f"run {run_id!r} already exists in {run_dir} and {how}\n"
            "hint: pass resume='allow' to continue it, or leave out id= to start a new run"
        )
    if not exists and resume == "must":
        raise RunNotFoundError(
            f"cannot resume run {run_id!r}: there is no run log in {run_dir}\n"
            "hint: check the id, project and dir (FWTRACK_DIR), or pass resume='allow' to "
            "start it when it does not exist"
        )
    now = time.time()
    prior: dict[str, Any] = {}
    # Counted before the writer creates the run directory.
    new_name = name or (None if exists else names.generate_name(project_dir))

    def make_info(meta: dict[str, Any] | None) -> dict[str, Any]:
        """The run-start info; `meta` is the metadata of the run being resumed, read by the
        writer from the one decode of its log that also recovers step, summary and metrics."""
        previous: dict[str, Any] = {}
        if meta is not None:
            prior.update(meta)
            starts = meta.get("starts") or [{}]
            previous = dict(starts[-1])
            previous["created_at"] = starts[0].get("created_at")
        resumed = meta is not None
        created_at = previous.get("created_at") if resumed else None
        info: dict[str, Any] = {
            "id": run_id,
            "name": new_name or previous.get("name") or names.generate_name(project_dir),
            "project": project,
            "group": group if group is not None else previous.get("group"),
            "job_type": job_type if job_type is not None else previous.get("job_type"),
            "tags": tags if tags is not None else list(previous.get("tags") or []),
            "notes": notes if notes is not None else previous.get("notes"),
            "created_at": created_at if isinstance(created_at, int | float) else now,
            "started_at": now,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "program": sys.argv[0] if sys.argv else "",
            "args": snapshot.safe_argv(sys.argv[1:]),
            "python": platform.python_version(),
            "fwtrack_version": _core.__version__,
            "resumed": resumed,
        }
        entity = settings.entity if settings.entity is not None else previous.get("entity")
        if isinstance(entity, str):
            info["entity"] = entity
        previous_sweep = previous.get("sweep_id")
        if sweep_id is not None or isinstance(previous_sweep, str):
            info["sweep_id"] = sweep_id if sweep_id is not None else previous_sweep
        made.append(info)
        return info

    made: list[dict[str, Any]] = []
    media = MediaWorker(os.path.join(run_dir, snapshot.FILES_DIR))
    inner = _core.RunWriter(
        run_dir,
        make_info,
        resume=exists,
        flush_interval=settings.flush_interval,
        queue_capacity=settings.queue_capacity,
        queue_bytes=settings.queue_bytes,
        converter=media_converter(media),
        warn=warn,
    )
    info = made[-1]
    prior_config = dict(prior.get("config") or {})
    prior_metrics = list(prior.get("metrics") or [])
    run = Run(inner, info=info, dir=run_dir, mode=mode, settings=settings, config=prior_config)
    for definition in prior_metrics:
        if isinstance(definition, Mapping) and isinstance(definition.get("name"), str):
            metric = Metric._from_meta(definition)
            run._metrics[metric.name] = metric
    run._media = media
    if settings.save_code or settings.capture_env:
        run._snapshot = snapshot.Snapshot(
            run_dir,
            started_at=now,
            save_code=settings.save_code,
            capture_env=settings.capture_env,
        )
    if config:
        try:
            run.config.update(config)
        except BaseException:
            inner.finish(1)
            raise
    run._start_capture()
    return run
