"""Keras 3: `FwTrackCallback` for `model.fit`, and `FwTrackModelCheckpoint`, which logs the
checkpoints Keras saves as model artifacts; on any backend (tested: torch, JAX and
TensorFlow).

    from fwtrack.integrations.keras import FwTrackCallback, FwTrackModelCheckpoint

    model.fit(x, y, validation_data=(vx, vy), epochs=10, callbacks=[
        FwTrackCallback(),
        FwTrackModelCheckpoint("checkpoints/best.keras", monitor="val_loss", save_best_only=True),
    ])

Each epoch becomes one row: Keras' metric names rewritten as in every fwtrack integration
(`loss` -> `train/loss`, `val_loss` -> `eval/loss`), the optimizer's learning rate
(`train/learning_rate`, schedules included) and `epoch`, their step metric. With
`log_freq="batch"` (or `N`, every N batches) training batches are logged too, under `batch/`
against `batch/step`. The config gets the parameter counts, `model.get_config()` and the
optimizer's config. `FwTrackModelCheckpoint` is Keras' `ModelCheckpoint`; each file it saves
is also logged as a version of the artifact `model-<run id>` (type `model`). See
docs/integrations/keras.md.

Keras runs the batch hooks of callbacks that declare `async_safe` in a worker thread, so that
the training loop never waits for a metric to be copied off the device: this callback
declares it, reads no model state in its batch hook, and puts the rows that worker threads
finish out of order back in batch order.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fwtrack.artifacts.artifact import Artifact
from fwtrack.integrations._common import (
    active_or_new_run,
    add_missing_config,
    init_settings,
    metric_key,
    require,
    to_config,
)
from fwtrack.sdk.run import Run
from fwtrack.sdk.values import jsonable

keras = require("keras", "keras")

__all__ = ["FwTrackCallback", "FwTrackModelCheckpoint"]

DEFAULT_PROJECT = "keras"
EPOCH = "epoch"
BATCH_STEP = "batch/step"
LOG_FREQS = ("epoch", "batch")
# Batch rows finished out of order wait for the rows before them; past this many waiting
# (the hook of some batch never ran), all waiting rows are written in order.
_MAX_WAITING = 64

if TYPE_CHECKING:
    _Callback = object
    _ModelCheckpoint = object
else:
    _Callback = keras.callbacks.Callback
    _ModelCheckpoint = keras.callbacks.ModelCheckpoint


class FwTrackCallback(_Callback):
    """Log a Keras `model.fit` to fwtrack.

    It logs into the active run (`fwtrack.run`) when there is one and leaves it open;
    otherwise it starts a run when training starts (project: `project`, else
    `FWTRACK_PROJECT`, else "keras") and finishes it when training ends.

    Args:
        log_freq: "epoch" (one row per epoch), "batch" (also one row per training batch) or
            an int N (also one row every N training batches).
        project, name, config, tags: for the run the callback starts (as `fwtrack.init`);
            `config` is also added to an active run's config.
        **init_kwargs: more `fwtrack.init` arguments for a run the callback starts
            (`notes`, `group`, `job_type`, `dir`, `mode`, `id`, `resume`, `settings`).

    Only the process of rank 0 logs in distributed training. One instance serves one
    `fit` at a time; each `fit` it sees starts afresh.
    """

    # Keras may call `on_train_batch_end` in a worker thread (see the module docstring).
    async_safe = True

    if TYPE_CHECKING:
        model: Any
        params: Any
        _model: Any

    def __init__(
        self,
        log_freq: str | int = "epoch",
        *,
        project: str | None = None,
        name: str | None = None,
        config: Any = None,
        tags: Sequence[str] | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        self._every = _check_log_freq(log_freq)
        self.log_freq = log_freq
        self._init = init_settings(project, name, tags, init_kwargs)
        self._config = to_config(config)
        self._last_run: Run | None = None
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._run: Run | None = None
        self._owned = False
        self._steps_per_execution = 1
        self._step0 = 0  # optimizer steps before this fit
        self._batches = 0  # training batches of this fit's finished epochs
        self._count_later = False  # the model had no weights yet at `on_train_begin`
        self._reset_epoch()

    def _reset_epoch(self) -> None:
        self._epoch_batches = 0  # training batches of the current epoch so far
        self._waiting: dict[int, dict[str, Any] | None] = {}  # batch rows, by position
        self._next = 0  # the position of the next batch row to write
        self._lr: list[tuple[str, Any, float]] = []  # (key, schedule or None, value)

    @property
    def run(self) -> Run | None:
        """The run of the current or latest `fit` (None before the first one)."""
        return self._last_run

    # -- pickling --------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_run=None, _owned=False, _last_run=None, _lock=None, _model=None)
        state.update(_waiting={}, _lr=[])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- hooks -----------------------------------------------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        previous = self._run
        if previous is not None and self._owned and not previous.finished:
            # The previous fit raised before `on_train_end`: its run failed.
            previous.finish(exit_code=1)
        self._reset()
        if not _rank_zero():
            return
        run, self._owned = active_or_new_run(DEFAULT_PROJECT, config=self._config, **self._init)
        self._run = self._last_run = run
        if not self._owned and self._config:
            run.config.update(self._config)
        model = self.model
        optimizer = getattr(model, "optimizer", None)
        self._steps_per_execution = max(1, int(getattr(model, "steps_per_execution", 1) or 1))
        self._step0 = _iterations(optimizer)
        # Keys already in the config (the user's own spelling of a setting) are kept.
        # On TensorFlow a subclassed model builds its weights in the first training step:
        # its parameters are counted (and its config read) after the first epoch.
        self._count_later = not getattr(model, "weights", None)
        add_missing_config(run, self._fit_config(model, optimizer, not self._count_later))
        run.define_metric("train/*", step_metric=EPOCH)
        run.define_metric("eval/*", step_metric=EPOCH)
        if self._every is not None:
            run.define_metric("batch/*", step_metric=BATCH_STEP)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._run is None:
            return
        with self._lock:
            self._write_waiting(everything=True)
            self._reset_epoch()
        if self._every is not None:
            # Read here, between epochs, where every backend has the optimizer's state at
            # hand (JAX detaches it from the model during an epoch).
            self._lr = _batch_learning_rates(getattr(self.model, "optimizer", None))

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        # May run in a Keras worker thread, possibly out of order with the next batches:
        # `logs` arrive as Python floats, and nothing of the model is touched here.
        if self._every is None or self._run is None:
            return
        spe = self._steps_per_execution
        position = batch // spe
        steps = self.params.get("steps") if self.params else None
        done = batch + 1 if not steps else min(batch + 1, steps)
        before = position * spe if not steps else min(position * spe, steps)
        start = self._step0 + self._batches
        row: dict[str, Any] | None = None
        if (start + done) // self._every > (start + before) // self._every:
            step = start + done
            row = {BATCH_STEP: step}
            for key, schedule, value in self._lr:
                if schedule is not None:
                    value = _to_float(schedule(step))
                row[f"batch/{key}"] = value
            for key, value in _metrics(logs):
                row[f"batch/{key}"] = value
        with self._lock:
            if done > self._epoch_batches:
                self._epoch_batches = done
            if position >= self._next:
                self._waiting[position] = row
            elif row is not None:  # a position already passed over: write it late
                self._write(row)
            self._write_waiting(everything=len(self._waiting) > _MAX_WAITING)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        run = self._run
        if run is None:
            return
        # Keras has waited for every batch hook of the epoch before calling this.
        with self._lock:
            self._write_waiting(everything=True)
            self._batches += self._epoch_batches
        if self._count_later:
            self._count_later = False
            add_missing_config(run, _model_config(self.model))
        row: dict[str, Any] = {EPOCH: epoch}
        row.update(
            (metric_key(key), value)
            for key, value in _learning_rates(getattr(self.model, "optimizer", None))
        )
        row.update((metric_key(key), value) for key, value in _metrics(logs))
        run.log(row)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        run = self._run
        if run is None:
            return
        try:
            with self._lock:
                self._write_waiting(everything=True)
        finally:
            if self._owned:
                run.finish()
            self._reset()

    # -- batch rows ------------------------------------------------------------------------

    def _write(self, row: dict[str, Any]) -> None:
        if self._run is not None and not self._run.finished:
            self._run.log(row)

    def _write_waiting(self, everything: bool) -> None:
        """Write the waiting batch rows that are next in order (with `everything`, all of
        them, in order). Called with the lock held."""
        while self._waiting:
            if self._next not in self._waiting:
                if not everything:
                    return
                self._next = min(self._waiting)
            row = self._waiting.pop(self._next)
            self._next += 1
            if row is not None:
                self._write(row)

    # -- config ----------------------------------------------------------------------------

    def _fit_config(self, model: Any, optimizer: Any, built: bool) -> dict[str, Any]:
        config: dict[str, Any] = {"model/class": type(model).__name__}
        if built:
            config.update(_model_config(model))
        if optimizer is not None:
            config["optimizer/config"] = _keras_config(optimizer)
        params = self.params or {}
        if params.get("epochs") is not None:
            config["epochs"] = params["epochs"]
        if params.get("steps") is not None:
            config["steps_per_epoch"] = params["steps"]
        config["keras/version"] = keras.__version__
        config["keras/backend"] = keras.backend.backend()
        return config


class FwTrackModelCheckpoint(_ModelCheckpoint):
    """Keras' `ModelCheckpoint` that also logs each checkpoint it saves to fwtrack (W&B's
    `WandbModelCheckpoint`).

    Saving is Keras' own (the arguments up to `initial_value_threshold` are
    `keras.callbacks.ModelCheckpoint`'s): a full model (`.keras`, `.h5`) or the weights
    (`save_weights_only=True`, `.weights.h5`), every epoch, every `save_freq` batches, or only
    when `monitor` improves (`save_best_only=True`). Each file Keras writes is then logged as a
    new version of the artifact `model-<run id>` of type `model`, holding that file under its
    own name, with the aliases `latest`, `epoch_<epoch>` (`epoch_<epoch>_batch_<batch>` when
    saving by batches) and `best` while it is the checkpoint with the best `monitor` value, and
    the metadata `epoch`, `batch`, `monitor`, `score`, `mode`, `best_score`, `save_best_only`,
    `save_weights_only`, `original_filename` and `keras_backend`. The file is copied when it is
    saved, so Keras can overwrite it at the next save while the copy is stored.

    The run: as `FwTrackCallback`'s (the active run, left open; else a run of its own from
    `project`, `name`, `config`, `tags` and `**init_kwargs`, finished when training ends). Only
    the process of rank 0 logs; every process saves, as Keras does.
    """

    if TYPE_CHECKING:
        model: Any
        monitor: str
        monitor_op: Any
        mode: str
        filepath: str
        save_best_only: bool
        save_weights_only: bool
        _model: Any

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
        *,
        project: str | None = None,
        name: str | None = None,
        config: Any = None,
        tags: Sequence[str] | None = None,
        **init_kwargs: Any,
    ) -> None:
        try:
            self._init = init_settings(project, name, tags, init_kwargs)
        except TypeError as exc:
            message = str(exc).replace("FwTrackCallback", type(self).__name__, 1)
            raise TypeError(message) from None
        super().__init__(  # type: ignore[call-arg]
            filepath=filepath,
            monitor=monitor,
            verbose=verbose,
            save_best_only=save_best_only,
            save_weights_only=save_weights_only,
            mode=mode,
            save_freq=save_freq,
            initial_value_threshold=initial_value_threshold,
        )
        self._config = to_config(config)
        self._last_run: Run | None = None
        self._run: Run | None = None
        self._owned = False
        self._logged_run: str | None = None  # the run whose collection the fields below track
        self._best_score: float | None = None
        self._last: Artifact | None = None
        self._best: Artifact | None = None
        self._saved: bool | None = None  # Keras' decision for the save in progress

    @property
    def run(self) -> Run | None:
        """The run of the current or latest `fit` (None before the first one)."""
        return self._last_run

    @property
    def last_artifact(self) -> Artifact | None:
        """The version logged for the latest checkpoint (`wait()` returns it committed)."""
        return self._last

    @property
    def best_artifact(self) -> Artifact | None:
        """The version logged for the checkpoint with the best `monitor` value."""
        return self._best

    # -- pickling --------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_run=None, _owned=False, _last_run=None, _model=None)
        state.update(_logged_run=None, _best_score=None, _last=None, _best=None, _saved=None)
        return state

    # -- hooks -----------------------------------------------------------------------------

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        super().on_train_begin(logs)  # type: ignore[misc]
        previous = self._run
        if previous is not None and self._owned and not previous.finished:
            # The previous fit raised before `on_train_end`: its run failed.
            previous.finish(exit_code=1)
        self._run, self._owned = None, False
        if not _rank_zero():
            return
        run, self._owned = active_or_new_run(DEFAULT_PROJECT, config=self._config, **self._init)
        self._run = self._last_run = run
        if not self._owned and self._config:
            run.config.update(self._config)
        if self._logged_run != run.id:  # a new collection: no best yet
            self._logged_run, self._best_score, self._last, self._best = run.id, None, None, None

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        super().on_train_end(logs)  # type: ignore[misc]
        run, owned = self._run, self._owned
        self._run, self._owned = None, False
        if run is not None and owned:
            run.finish()

    def _should_save_model(self, *args: Any, **kwargs: Any) -> Any:
        # Keras decides here whether `_save_model` writes the file (save_best_only).
        decision = super()._should_save_model(*args, **kwargs)  # type: ignore[misc]
        self._saved = bool(decision)
        return decision

    def _save_model(self, epoch: int, batch: int | None, logs: Mapping[str, Any] | None) -> None:
        filepath = self._get_file_path(epoch, batch, logs or {})  # type: ignore[attr-defined]
        before = _file_state(filepath)
        self._saved = None
        super()._save_model(epoch, batch, logs)  # type: ignore[misc]
        saved = self._saved
        if saved is None:  # a Keras without `_should_save_model`: did the file change?
            saved = _file_state(filepath) != before
        self._saved = None
        if saved:
            self._log_checkpoint(filepath, epoch, batch, logs or {})

    # -- logging ---------------------------------------------------------------------------

    def _log_checkpoint(
        self, filepath: str, epoch: int, batch: int | None, logs: Mapping[str, Any]
    ) -> None:
        run = self._run
        if run is None or run.finished:
            return
        score = _score(logs.get(self.monitor))
        mode = self._mode()
        improved = (
            score is not None
            and mode is not None
            and (self._best_score is None or self._better(score, self._best_score))
        )
        if improved:
            self._best_score = score
        aliases = [f"epoch_{epoch}" if batch is None else f"epoch_{epoch}_batch_{batch}"]
        if improved:
            aliases.append("best")
        metadata: dict[str, Any] = {"epoch": epoch}
        if batch is not None:
            metadata["batch"] = batch
        metadata.update(
            monitor=self.monitor,
            score=score,
            mode=mode,
            best_score=self._best_score,
            save_best_only=bool(self.save_best_only),
            save_weights_only=bool(self.save_weights_only),
            original_filename=os.path.basename(filepath),
            keras_backend=keras.backend.backend(),
        )
        artifact = Artifact(f"model-{run.id}", "model", metadata=metadata)
        _copy_into(artifact, filepath)
        self._last = run.log_artifact(artifact, aliases=aliases)
        if improved:
            self._best = self._last

    def _mode(self) -> str | None:
        """ "min" or "max": how Keras compares `monitor` (None when it cannot tell)."""
        if self.monitor_op is None:
            try:
                self._set_monitor_op()  # type: ignore[attr-defined]
            except (AttributeError, ValueError):
                return None
        if self.monitor_op is keras.ops.less:
            return "min"
        if self.monitor_op is keras.ops.greater:
            return "max"
        return None

    def _better(self, score: float, best: float) -> bool:
        return bool(self._is_improvement(score, best))  # type: ignore[attr-defined]


def _file_state(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _score(value: Any) -> float | None:
    """The monitored value as a float; None when missing or not a single number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif _is_scalar_tensor(value):
        number = _to_float(value.reshape(()))
    else:
        return None
    return number if math.isfinite(number) else None


def _copy_into(artifact: Artifact, path: str) -> None:
    """The checkpoint at `path` (a file, or a directory and everything below it) copied
    into the artifact: the copy is stored, not the file Keras may overwrite meanwhile."""
    if not os.path.isdir(path):
        with open(path, "rb") as src, artifact.new_file(os.path.basename(path), "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return
    top = os.path.basename(os.path.normpath(path))
    for folder, _dirs, files in os.walk(path):
        for file in sorted(files):
            source = os.path.join(folder, file)
            relative = os.path.relpath(source, path).replace(os.sep, "/")
            with open(source, "rb") as src, artifact.new_file(f"{top}/{relative}", "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _check_log_freq(log_freq: object) -> int | None:
    """Batches between batch rows, or None for epoch rows only."""
    if log_freq == "epoch":
        return None
    if log_freq == "batch":
        return 1
    if isinstance(log_freq, int) and not isinstance(log_freq, bool) and log_freq > 0:
        return log_freq
    raise ValueError(
        f"log_freq={log_freq!r} is not valid\n"
        'hint: use "epoch", "batch" or a number of batches (an int >= 1)'
    )


def _rank_zero() -> bool:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return bool(jax.process_index() == 0)
    if backend == "torch":
        import torch.distributed as dist

        return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
    if backend == "tensorflow":
        return _tf_chief()
    return True


def _tf_chief() -> bool:
    """Whether this TensorFlow worker logs: the chief of a multi-worker cluster (`TF_CONFIG`
    task "chief", or worker 0 when there is no chief), or a process outside any cluster."""
    import json

    try:
        tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
        task = tf_config.get("task") or {}
        cluster = tf_config.get("cluster") or {}
    except (ValueError, AttributeError):
        return True
    kind, index = task.get("type"), task.get("index", 0)
    if kind is None or kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in cluster


def _metrics(logs: Mapping[str, Any] | None) -> Iterator[tuple[str, float]]:
    """The numbers of Keras `logs`. Keras hands them over as Python floats; a value it could
    not convert (a scalar tensor) is converted here, anything else is left out."""
    for key, value in (logs or {}).items():
        if isinstance(value, int | float):
            yield key, value
        elif _is_scalar_tensor(value):
            yield key, _to_float(keras.ops.reshape(value, ()))


def _is_scalar_tensor(value: object) -> bool:
    """A tensor of one element, of any backend (TensorFlow's shape is a `TensorShape`, not a
    sequence, and its eager tensors have no `reshape` method)."""
    shape = getattr(value, "shape", None)
    if shape is None or isinstance(value, str | bytes):
        return False
    try:
        dims = tuple(shape)
    except TypeError:
        return False
    return all(isinstance(d, int) for d in dims) and math.prod(dims) == 1


def _to_float(value: Any) -> float:
    """A scalar tensor or variable of any backend as a float (`float()` on the backend's
    tensor: numpy's conversion of torch tensors warns under numpy 2)."""
    if isinstance(value, keras.Variable):
        value = value.value
    return float(value)


def _model_config(model: Any) -> dict[str, Any]:
    """The model's parameter counts and config (read once it is built)."""
    return {
        "model/num_parameters": _count(getattr(model, "weights", ())),
        "model/trainable_parameters": _count(getattr(model, "trainable_weights", ())),
        "model/config": _keras_config(model),
    }


def _count(weights: Any) -> int:
    return sum(math.prod(int(d) for d in w.shape) for w in weights)


def _keras_config(obj: Any) -> Any:
    """`obj.get_config()` as JSON data (values JSON cannot hold as their repr); else the
    object as a config, else its repr."""
    unserializable: list[str] = []
    try:
        return jsonable(obj.get_config(), "", unserializable)
    except Exception:
        pass
    try:
        return jsonable(to_config(obj), "", unserializable)
    except TypeError:
        return repr(obj)


def _optimizers(optimizer: Any) -> list[tuple[str, Any]]:
    """(learning-rate key, optimizer) pairs, as Keras' TensorBoard callback names them."""
    if optimizer is None:
        return []
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    inner = getattr(optimizer, "optimizers", None)
    if isinstance(inner, list | tuple):
        return [(f"learning_rate_{o.name}", o) for o in inner]
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return [("learning_rate", optimizer)]
    return []


def _iterations(optimizer: Any) -> int:
    """The optimizer's count of training batches (what its learning-rate schedule sees)."""
    if optimizer is None:
        return 0
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    counter = getattr(optimizer, "_iterations", None)
    if counter is None:
        counter = getattr(optimizer, "iterations", None)
    try:
        return int(_to_float(counter)) if counter is not None else 0
    except (TypeError, ValueError):
        return 0


def _learning_rates(optimizer: Any) -> list[tuple[str, float]]:
    """(key, current learning rate) per optimizer."""
    return [(key, value) for key, _, value in _batch_learning_rates(optimizer)]


def _batch_learning_rates(optimizer: Any) -> list[tuple[str, Any, float]]:
    """(key, schedule or None, current learning rate) per optimizer: what a batch row needs
    to know its learning rate without reading the optimizer's state."""
    out: list[tuple[str, Any, float]] = []
    for key, opt in _optimizers(optimizer):
        try:
            value = _to_float(opt.learning_rate)
        except (TypeError, ValueError):
            continue
        lr = getattr(opt, "_learning_rate", None)
        schedule = lr if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule) else None
        out.append((key, schedule, value))
    return out
