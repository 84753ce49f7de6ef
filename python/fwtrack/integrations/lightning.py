"""Lightning loggers: `FwTrackLogger` for the `Trainer`, `FwTrackFabricLogger` for Fabric.

    from fwtrack.integrations.lightning import FwTrackLogger

    trainer = Trainer(logger=FwTrackLogger(project="mnist"))

The logger's `version` is the run id, fixed at construction (nothing is created then); the run
starts, or is re-attached with `resume="allow"`, on first use on global rank 0. Other ranks get
no-ops. `finalize("success")` finishes the run, `"failed"` finishes it with exit code 1, and
`"finished"` (Lightning's SLURM auto-requeue) only flushes it, so the requeued job continues it.
A later `fit`/`validate`/`test` with the same logger continues the same run.

Pickling (spawn, `ddp_spawn`) drops the native handle; the copy re-attaches by run id on first
use. A run directory is writable by one process at a time, so when the logger is pickled to
start a child process while this process has the run open, the run is finished here first
(flushed, a finish record written) and the child continues it.
"""

from __future__ import annotations

import os
import time
import warnings
from argparse import Namespace
from collections.abc import Callable, Mapping, Sequence
from multiprocessing import context as _mp_context
from typing import Any, Literal

from fwtrack.artifacts.artifact import Artifact
from fwtrack.artifacts.registry import check_name
from fwtrack.data_types import Audio, Image, Table
from fwtrack.errors import ArtifactError, FwTrackWarning
from fwtrack.integrations._checkpoints import Snapshots, settled
from fwtrack.integrations._common import require, to_config
from fwtrack.sdk import names
from fwtrack.sdk import run as _run
from fwtrack.sdk.run import Mode, Run
from fwtrack.sdk.settings import FWTRACK_DIR, FWTRACK_PROJECT, FWTRACK_RUN_ID, Settings

require("lightning", "lightning")

import torch  # noqa: E402
from lightning.fabric.loggers.logger import Logger as _FabricLogger  # noqa: E402
from lightning.fabric.loggers.logger import rank_zero_experiment  # noqa: E402
from lightning.fabric.utilities.logger import (  # noqa: E402
    _add_prefix,
    _sanitize_callable_params,
)
from lightning.fabric.utilities.rank_zero import rank_zero_only  # noqa: E402
from lightning.pytorch.loggers.logger import Logger as _TrainerLogger  # noqa: E402

__all__ = ["FwTrackFabricLogger", "FwTrackLogger"]

DEFAULT_PROJECT = "lightning_logs"
"""The project when neither `project=` nor `FWTRACK_PROJECT` gives one (as Lightning's own
loggers name their default experiment)."""


class FwTrackFabricLogger(_FabricLogger):
    """Log a Lightning Fabric program to fwtrack: `Fabric(loggers=FwTrackFabricLogger(...))`.

    `fabric.log_dict(metrics, step=k)` logs one row with the metrics and `fabric/step` = k
    (the x-axis of every metric); fwtrack's own step counts rows, so it only goes up whatever
    `k` does. Call `logger.finalize("success")` at the end (see `finalize`).

    Arguments (all optional):
    - `project`: the fwtrack project (the logger's `name`); else `FWTRACK_PROJECT`, else
      "lightning_logs".
    - `name`: the run's display name; `config`, `tags`, `notes`, `group`, `job_type`,
      `settings`: as for `fwtrack.init`.
    - `prefix`: put before every metric key, joined with "-" (`prefix="fold1"` logs
      `fold1-train_loss`).
    - `id`: continue (or start) the run with this id (`resume="allow"`); else
      `FWTRACK_RUN_ID`, else the active run of this process if there is one (logged into, not
      finished), else a new id.
    - `save_dir`: the root directory (`fwtrack.init(dir=...)`); else `FWTRACK_DIR`, else
      `./fwtrack`. The run lives in `<save_dir>/<project>/<id>/` (`log_dir`).
    - `offline=True`: `mode="offline"` whatever `FWTRACK_MODE` says; `mode`: as for
      `fwtrack.init`.
    """

    LOGGER_JOIN_CHAR = "-"
    STEP_METRIC = "fabric/step"
    """The key the framework's step is logged under, and the x-axis of every metric."""

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | Namespace | Any | None = None,
        tags: Sequence[str] | None = None,
        prefix: str = "",
        id: str | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        offline: bool = False,
        *,
        notes: str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        mode: Mode | None = None,
        settings: Settings | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if offline:
            if mode not in (None, "offline"):
                raise ValueError(f"offline=True contradicts mode={mode!r}; pass one of them")
            mode = "offline"
        if tags is not None:
            tags = _run._check_tags(tags, "tags")
        self._display_name = name
        self._config = to_config(config)
        self._tags = None if tags is None else list(tags)
        self._notes = notes
        self._group = group
        self._job_type = job_type
        self._mode = _run._resolve_mode(mode) if mode is not None else None
        self._settings = None if settings is None else Settings.coerce(settings)
        self._prefix = prefix
        self._run: Run | None = None
        # False for a run the user started: it is logged into but not finished here.
        self._owned = True

        if id is None:
            id = FWTRACK_RUN_ID.get()
        active = _run.current_run()
        if id is None and active is not None and not active.finished:
            # Log into the run the user already started, as it is (project and dir included);
            # `_attach` picks it up by id.
            self._owned = False
            self._project = active.project
            self._save_dir = os.path.dirname(os.path.dirname(active.dir))
            self._id = active.id
            return
        self._project = names.check_project(
            project if project is not None else FWTRACK_PROJECT.get() or DEFAULT_PROJECT
        )
        root = os.fspath(save_dir) if save_dir is not None else None
        if root is None:
            root = FWTRACK_DIR.get() or FWTRACK_DIR.default or "fwtrack"
        self._save_dir = os.path.abspath(os.path.expanduser(root))
        if id is not None:
            self._id = names.check_run_id(id)
        else:
            self._id = names.generate_run_id()
            while os.path.exists(self.log_dir):
                self._id = names.generate_run_id()

    # -- identity ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The fwtrack project (Lightning calls a logger's experiment family its name)."""
        return self._project

    @property
    def version(self) -> str:
        """The run id, fixed at construction."""
        return self._id

    @property
    def save_dir(self) -> str:
        """The root directory: runs live in `<save_dir>/<project>/<run id>/`."""
        return self._save_dir

    @property
    def root_dir(self) -> str:
        """The project directory, holding every run of the project."""
        return os.path.join(self._save_dir, self._project)

    @property
    def log_dir(self) -> str:
        """The run directory; `ModelCheckpoint` saves into its `checkpoints/` folder."""
        return os.path.join(self._save_dir, self._project, self._id)

    # -- the run -------------------------------------------------------------------------------

    @property
    @rank_zero_experiment
    def experiment(self) -> Run:
        """The `fwtrack.Run` (started or re-attached here on first use); a no-op object on
        global ranks other than 0."""
        return self._attach()

    def _attach(self) -> Run:
        run = self._run
        if run is not None and not run.finished:
            return run
        current = _run.current_run()
        if current is not None and current.id == self._id and current.dir == self.log_dir:
            # The run the user started, or one another copy of this logger (unpickled in
            # this process) has open.
            if self._config:
                current.config.update(self._config)
            self._run = current
            return current
        run = _run.init(
            project=self._project,
            name=self._display_name,
            config=self._config or None,
            tags=self._tags,
            notes=self._notes,
            group=self._group,
            job_type=self._job_type,
            dir=self._save_dir,
            mode=self._mode,
            id=self._id,
            resume="allow",
            reinit="finish_previous",  # another active run is finished first, as before
            settings=self._settings,
        )
        if not run.resumed:
            run.define_metric("*", step_metric=self.STEP_METRIC)
        self._run = run
        self._owned = True
        return run

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log one row: the metrics (prefixed), and the framework's step under
        `STEP_METRIC` when there is one."""
        row = dict(_add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR))
        if step is not None:
            row[self.STEP_METRIC] = step
        self._attach().log(row)

    @rank_zero_only
    def log_image(
        self, key: str, images: list[Any], step: int | None = None, **kwargs: list[Any]
    ) -> None:
        """Log a list of images (numpy arrays, tensors, PIL images or paths) under `key` as
        one gallery, as `WandbLogger.log_image` does; each keyword is a list with one entry
        per image passed on to `fwtrack.Image` (`caption=[...]`, `mode=[...]`)."""
        media = _media_list("log_image", images, kwargs, Image)
        self.log_metrics({key: media}, step)

    @rank_zero_only
    def log_audio(
        self, key: str, audios: list[Any], step: int | None = None, **kwargs: list[Any]
    ) -> None:
        """Log a list of audio clips under `key`, as `WandbLogger.log_audio` does (keywords
        per clip, e.g. `sample_rate=[16000, ...]`, `caption=[...]`)."""
        self.log_metrics({key: _media_list("log_audio", audios, kwargs, Audio)}, step)

    @rank_zero_only
    def log_table(
        self,
        key: str,
        columns: list[str] | None = None,
        data: list[list[Any]] | None = None,
        dataframe: Any = None,
        step: int | None = None,
    ) -> None:
        """Log a `fwtrack.Table` under `key` from `columns` + `data` rows or a pandas
        `dataframe`, as `WandbLogger.log_table` does."""
        self.log_metrics({key: Table(columns=columns, data=data, dataframe=dataframe)}, step)

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Add to the run config: a dict (nested ones stay nested), an `argparse.Namespace`
        or a dataclass. Callables are recorded by name, as Lightning's loggers do. Extra
        arguments (which some other loggers take) are ignored."""
        config = _sanitize_callable_params(to_config(params))
        self._attach().config.update(config)

    def save(self) -> None:
        """Nothing to do: Lightning calls this after every log call, and the run log is made
        durable by its writer thread within `flush_interval` (1 s by default)."""

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """`"success"`: finish the run; `"failed"`: finish it with exit code 1 (state
        `failed`); `"finished"` (Lightning's SLURM auto-requeue) or any other status: make
        everything logged durable and leave the run open, to be continued with the same `id`.
        A run the user started is only flushed: its owner finishes it."""
        run = self._run
        if run is None or run.finished:
            # Never attached in this process (the main process of ddp_spawn, for one).
            return
        if self._owned and status in ("success", "failed"):
            run.finish(exit_code=0 if status == "success" else 1)
        else:
            run.flush()

    # -- pickling ------------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_run"] = None
        run = self._run
        if (
            run is not None
            and self._owned
            and not run.finished
            and _mp_context.get_spawning_popen() is not None
        ):
            # Pickled to start a child process (spawn): the child can only open the run once
            # this process has let go of it. The next use here re-attaches.
            run.finish()
            self._run = None
        return state


def _media_list(
    method: str, items: list[Any], kwargs: Mapping[str, list[Any]], cls: Callable[..., Any]
) -> list[Any]:
    if not isinstance(items, list):
        raise TypeError(f"{method} expects a list, got {type(items).__name__}; wrap it: [x]")
    for name, values in kwargs.items():
        if not isinstance(values, list) or len(values) != len(items):
            raise ValueError(
                f"{method}: {name}= must be a list with one entry per item ({len(items)})"
            )
    return [cls(item, **{k: v[i] for k, v in kwargs.items()}) for i, item in enumerate(items)]


class FwTrackLogger(FwTrackFabricLogger, _TrainerLogger):
    """Log a Lightning `Trainer` to fwtrack: `Trainer(logger=FwTrackLogger(project=...))`.

    Each `log_metrics` call is one row holding the metrics, `epoch` and Lightning's global step
    under `trainer/global_step`, the x-axis of every metric; fwtrack's own step counts rows, so
    it only goes up even when Lightning logs twice at one step or validates before training.
    Hyperparameters (`save_hyperparameters()`, `log_hyperparams`) go to the run config.
    Checkpoints of `ModelCheckpoint` land in the run directory (`log_dir/checkpoints`).

    Takes the arguments of `FwTrackFabricLogger`, and:
    - `log_model`: log the checkpoints of `ModelCheckpoint` as versions of the artifact
      `checkpoint_name` (default `model-<run id>`, type `model`), as `WandbLogger` does:
      `True` at the end of training (of every checkpoint still on disk; during training when
      `save_top_k=-1`, which removes none), `"all"` as each is saved, `False` (the default)
      never. The newest version is `latest`, the one of the callback's `best_model_path` is
      `best`; metadata: `score`, `monitor`, `mode`, `save_top_k`, `epoch`, `step`,
      `original_filename`. When `ModelCheckpoint` removes a checkpoint that was logged (top-k),
      its version loses its aliases; its bytes stay.
    """

    STEP_METRIC = "trainer/global_step"

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | Namespace | Any | None = None,
        tags: Sequence[str] | None = None,
        prefix: str = "",
        id: str | None = None,
        save_dir: str | os.PathLike[str] | None = None,
        offline: bool = False,
        *,
        notes: str | None = None,
        group: str | None = None,
        job_type: str | None = None,
        mode: Mode | None = None,
        settings: Settings | Mapping[str, Any] | None = None,
        log_model: bool | Literal["all"] = False,
        checkpoint_name: str | None = None,
    ) -> None:
        if log_model not in (True, False, "all"):
            raise ValueError(f"log_model must be True, False or 'all', got {log_model!r}")
        super().__init__(
            project,
            name,
            config,
            tags,
            prefix,
            id,
            save_dir,
            offline,
            notes=notes,
            group=group,
            job_type=job_type,
            mode=mode,
            settings=settings,
        )
        self._log_model: bool | Literal["all"] = log_model
        self._checkpoint_name = None if checkpoint_name is None else check_name(checkpoint_name)
        self._init_checkpoint_state()

    def _init_checkpoint_state(self) -> None:
        # ModelCheckpoint callbacks to scan at the end (weak proxies, as Lightning passes them).
        self._checkpoint_callbacks: dict[int, Any] = {}
        # path -> the mtime of the checkpoint file when it was logged, and its artifact.
        self._logged_model_time: dict[str, float] = {}
        self._logged_models: dict[str, Artifact] = {}
        # Versions of checkpoints ModelCheckpoint removed, to take the aliases from.
        self._removed_models: list[Artifact] = []
        self._snapshots = Snapshots()
        self._alias_warned = False
        self._best_model_artifact: Artifact | None = None

    @property
    def checkpoint_name(self) -> str:
        """The artifact the checkpoints are logged to: `model-<run id>` unless named."""
        return self._checkpoint_name or f"model-{self._id}"

    @property
    def best_model_artifact(self) -> Artifact | None:
        """The artifact version of the checkpoint logged as `best` (the `best_model_path` of
        `ModelCheckpoint` when it was logged), None before one is logged (and on other
        ranks): `run.link_artifact(logger.best_model_artifact, "registry/<model>")`."""
        return self._best_model_artifact

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Called by `ModelCheckpoint` after each save: log the new checkpoints now
        (`log_model="all"`, or `True` with `save_top_k=-1`) or remember the callback for the
        end of training (`True`)."""
        if self._log_model == "all" or (
            self._log_model is True and getattr(checkpoint_callback, "save_top_k", None) == -1
        ):
            self._scan_and_log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callbacks[id(checkpoint_callback)] = checkpoint_callback

    def _scan_and_log_checkpoints(self, checkpoint_callback: Any) -> None:
        run = self._attach()
        self._forget_removed()
        for mtime, path, score in _scan_checkpoints(checkpoint_callback, self._logged_model_time):
            epoch, step = _checkpoint_progress(path)
            metadata = {
                "score": score.item() if isinstance(score, torch.Tensor) else score,
                "monitor": getattr(checkpoint_callback, "monitor", None),
                "mode": getattr(checkpoint_callback, "mode", None),
                "save_top_k": getattr(checkpoint_callback, "save_top_k", None),
                "epoch": epoch,
                "step": step,
                "original_filename": os.path.basename(path),
            }
            artifact = Artifact(self.checkpoint_name, "model", metadata=metadata)
            snapshot = self._snapshots.take(path)
            if os.path.isdir(snapshot):  # a sharded checkpoint (a directory)
                artifact.add_dir(snapshot, name=MODEL_FILE)
            else:
                artifact.add_file(snapshot, name=MODEL_FILE)
            best = path == getattr(checkpoint_callback, "best_model_path", None)
            run.log_artifact(artifact, aliases=["best"] if best else None)
            self._snapshots.attach(artifact, snapshot)
            self._logged_model_time[path] = mtime
            self._logged_models[path] = artifact
            if best:
                self._best_model_artifact = artifact
        self._snapshots.sweep()

    def _forget_removed(self, timeout: float | None = 0) -> None:
        """Take the aliases from the versions of checkpoints that are no longer on disk, once
        those versions are stored (waiting at most `timeout` seconds for them)."""
        for path in [p for p in self._logged_models if not os.path.exists(p)]:
            self._removed_models.append(self._logged_models.pop(path))
            self._logged_model_time.pop(path, None)
        if not self._removed_models:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting = []
        for artifact in self._removed_models:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not settled(artifact, left):
                waiting.append(artifact)
                continue
            version = _stored_version(artifact)
            if version is None or not set(artifact.aliases) - {"latest"}:
                continue  # its log failed (reported), or it holds no alias to take
            if any(_stored_version(a) == version for a in self._logged_models.values()):
                continue  # the same bytes are another checkpoint that is still there
            try:
                artifact.aliases = []
            except Exception as exc:  # never fail training over an alias
                if not self._alias_warned:
                    self._alias_warned = True
                    warnings.warn(
                        f"fwtrack could not take the aliases from {artifact.qualified_name} "
                        f"(its checkpoint was removed): {exc}",
                        FwTrackWarning,
                        stacklevel=2,
                    )
        self._removed_models = waiting

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Log the checkpoints (`log_model=True`, on success), then as
        `FwTrackFabricLogger.finalize`."""
        if status == "success":
            for checkpoint_callback in self._checkpoint_callbacks.values():
                self._scan_and_log_checkpoints(checkpoint_callback)
        self._checkpoint_callbacks.clear()
        run = self._run
        if run is None or run.finished:
            return
        if self._logged_models or self._removed_models:
            self._forget_removed(timeout=FINAL_WAIT)
        super().finalize(status)
        if run.finished:
            self._logged_models.clear()
        self._snapshots.sweep(timeout=FINAL_WAIT if run.finished else 0)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # Weak proxies of callbacks and artifacts being logged stay with this process.
        for key in (
            "_checkpoint_callbacks",
            "_logged_model_time",
            "_logged_models",
            "_removed_models",
            "_snapshots",
            "_best_model_artifact",
        ):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._init_checkpoint_state()


MODEL_FILE = "model.ckpt"
"""The name of the checkpoint in each version (as `WandbLogger` names it): load it with
`Model.load_from_checkpoint(os.path.join(artifact.download(), "model.ckpt"))`."""

FINAL_WAIT = 60.0
"""Seconds `finalize` waits for the checkpoint versions still being stored before it takes
aliases from removed ones (an online run that cannot reach its server would wait for ever)."""


def _stored_version(artifact: Artifact) -> str | None:
    """`vN` of an artifact whose log is over and succeeded, else None (without waiting)."""
    if not settled(artifact):
        return None
    try:
        return artifact.version
    except ArtifactError:  # the log failed (the run reported it)
        return None


def _scan_checkpoints(
    checkpoint_callback: Any, logged_model_time: Mapping[str, float]
) -> list[tuple[float, str, Any]]:
    """(mtime, path, score) of the checkpoints of `checkpoint_callback` not logged yet (or
    written again since), oldest first: Lightning's `_scan_checkpoints`, directories (sharded
    checkpoints) included."""
    found: dict[str, Any] = {}
    last = getattr(checkpoint_callback, "last_model_path", None)
    if last and hasattr(checkpoint_callback, "current_score"):
        found[last] = checkpoint_callback.current_score
    best = getattr(checkpoint_callback, "best_model_path", None)
    if best and hasattr(checkpoint_callback, "best_model_score"):
        found[best] = checkpoint_callback.best_model_score
    for path, score in (getattr(checkpoint_callback, "best_k_models", None) or {}).items():
        found[path] = score
    out = []
    for path, score in found.items():
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        if path not in logged_model_time or logged_model_time[path] < mtime:
            out.append((mtime, path, score))
    out.sort(key=lambda c: (c[0], c[1]))
    return out


def _checkpoint_progress(path: str) -> tuple[int | None, int | None]:
    """The `epoch` and `global_step` a checkpoint file records (its tensors are mapped, not
    read); None for a directory or a file that does not say."""
    if not os.path.isfile(path):
        return None, None
    try:
        # The checkpoint this trainer has just written (not a file from elsewhere).
        checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    except Exception:
        return None, None
    if not isinstance(checkpoint, Mapping):
        return None, None
    epoch, step = checkpoint.get("epoch"), checkpoint.get("global_step")
    return (
        epoch if isinstance(epoch, int) else None,
        step if isinstance(step, int) else None,
    )
