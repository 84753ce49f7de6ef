"""Keras 3: `FwTrackCallback` for `model.fit`, on any backend (tested: torch and JAX).

    from fwtrack.integrations.keras import FwTrackCallback

    model.fit(x, y, validation_data=(vx, vy), epochs=10, callbacks=[FwTrackCallback()])

Each epoch becomes one row: Keras' metric names rewritten as in every fwtrack integration
(`loss` -> `train/loss`, `val_loss` -> `eval/loss`), the optimizer's learning rate
(`train/learning_rate`, schedules included) and `epoch`, their step metric. With
`log_freq="batch"` (or `N`, every N batches) training batches are logged too, under `batch/`
against `batch/step`. The config gets the parameter counts, `model.get_config()` and the
optimizer's config. See docs/integrations/keras.md.

Keras runs the batch hooks of callbacks that declare `async_safe` in a worker thread, so that
the training loop never waits for a metric to be copied off the device: this callback
declares it, reads no model state in its batch hook, and puts the rows that worker threads
finish out of order back in batch order.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

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

__all__ = ["FwTrackCallback"]

DEFAULT_PROJECT = "keras"
EPOCH = "epoch"
BATCH_STEP = "batch/step"
LOG_FREQS = ("epoch", "batch")
# Batch rows finished out of order wait for the rows before them; past this many waiting
# (the hook of some batch never ran), all waiting rows are written in order.
_MAX_WAITING = 64

if TYPE_CHECKING:
    _Callback = object
else:
    _Callback = keras.callbacks.Callback


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
        add_missing_config(run, self._fit_config(model, optimizer))
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

    def _fit_config(self, model: Any, optimizer: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "model/class": type(model).__name__,
            "model/num_parameters": _count(getattr(model, "weights", ())),
            "model/trainable_parameters": _count(getattr(model, "trainable_weights", ())),
            "model/config": _keras_config(model),
        }
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
    return True


def _metrics(logs: Mapping[str, Any] | None) -> Iterator[tuple[str, float]]:
    """The numbers of Keras `logs`. Keras hands them over as Python floats; a value it could
    not convert (a scalar tensor) is converted here, anything else is left out."""
    for key, value in (logs or {}).items():
        if isinstance(value, int | float):
            yield key, value
        elif _is_scalar_tensor(value):
            yield key, _to_float(value.reshape(()))


def _is_scalar_tensor(value: object) -> bool:
    shape = getattr(value, "shape", None)
    return isinstance(shape, Sequence) and hasattr(value, "reshape") and math.prod(shape) == 1


def _to_float(value: Any) -> float:
    """A scalar tensor or variable of any backend as a float (`float()` on the backend's
    tensor: numpy's conversion of torch tensors warns under numpy 2)."""
    if isinstance(value, keras.Variable):
        value = value.value
    return float(value)


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
