"""`fwtrack.watch` / `fwtrack.unwatch`: histograms of a PyTorch model's gradients and
parameters, as `wandb.watch` logs them.

`watch(model, log="gradients", log_freq=1000)` registers hooks on the model:

- gradients: a tensor hook on every parameter that requires a gradient; every `log_freq`-th
  gradient of that parameter is binned into a 64-bin histogram and logged as
  `gradients/<name>` (`name` as `model.named_parameters()` gives it, e.g. `fc1.weight`);
- parameters: a forward hook on the model; every `log_freq`-th forward pass bins each
  parameter into `parameters/<name>`.

The histograms are made where the tensor lives (`fwtrack.Histogram` of a tensor: a CPU
tensor through the Rust core, a CUDA tensor with `torch.histc` on its device, only the bins
copied back) and logged with `commit=False`, so they land in the row the training loop's
next `log()` commits, at the run's step (as wandb does). A second model watched in the same
run gets wandb's `graph_<i>` prefix (`gradients/graph_1fc.weight`) unless `idx=` says
otherwise; unlike wandb the count starts again in each run.

The hooks belong to the run that was active at `watch()`; once it is finished they do
nothing and remove themselves. Trouble inside a hook never reaches the training loop: it is
reported once as a warning and the hook goes on. `log_graph=True` warns and is ignored (the
dashboard draws no model graph), so wandb code passing it runs unchanged. A disabled run
(`mode="disabled"`) hooks nothing.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from fwtrack.errors import FwTrackWarning, NoActiveRunError
from fwtrack.sdk.values import warn

if TYPE_CHECKING:
    import torch

    from fwtrack.sdk.run import Run

__all__ = ["unwatch", "watch"]

LogWhat = Literal["gradients", "parameters", "all"]
_LOG_CHOICES = ("gradients", "parameters", "all", None)
NUM_BINS = 64

_lock = threading.Lock()
_counted: list[Any] = [None, 0]
"""[run, models watched in it so far] (wandb's `_global_watch_idx`, which wandb counts per
process: a second run in a notebook would get `graph_1` keys for its first model)."""


class _Handles:
    """The hooks `watch` put on one model, so that `unwatch` can take them off."""

    __slots__ = ("by_name", "run")

    def __init__(self, run: Run) -> None:
        self.run = run
        self.by_name: dict[str, Any] = {}  # hook name -> torch.utils.hooks.RemovableHandle

    def remove(self) -> None:
        for handle in self.by_name.values():
            handle.remove()
        self.by_name.clear()


# model -> its hooks, without keeping a model alive.
_watched: weakref.WeakKeyDictionary[Any, _Handles] = weakref.WeakKeyDictionary()


class _Every:
    """Counts calls; true on every `n`-th (wandb's `log_track_update`)."""

    __slots__ = ("count", "n")

    def __init__(self, n: int) -> None:
        self.n = n
        self.count = 0

    def __call__(self) -> bool:
        self.count += 1
        if self.count < self.n:
            return False
        self.count = 0
        return True


class _Logger:
    """Logs a tensor's histogram into its run; disarms itself once the run is finished."""

    __slots__ = ("handles", "model_ref", "run", "warned")

    def __init__(self, run: Run, model: Any, handles: _Handles) -> None:
        self.run = run
        self.model_ref = weakref.ref(model)
        self.handles = handles
        self.warned = False

    def __call__(self, values: dict[str, torch.Tensor]) -> None:
        if self.run.finished:
            self.handles.remove()
            return
        try:
            from fwtrack.data_types.histogram import Histogram

            data = {key: Histogram(t.detach(), NUM_BINS) for key, t in values.items()}
            self.run.log(data, commit=False)
        except Exception as e:  # a tracker failure never stops training
            if self.run.finished:
                self.handles.remove()
            elif not self.warned:
                self.warned = True
                warn(f"fwtrack.watch: histograms of {', '.join(values)} not logged: {e}")


def _check_log_freq(log_freq: object) -> int:
    if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
        raise ValueError(
            f"watch(log_freq={log_freq!r}) is not valid\n"
            "hint: log_freq is the number of batches between histograms, an int >= 1"
        )
    return log_freq


def watch_run(
    run: Run,
    models: Any,
    criterion: Any = None,
    log: LogWhat | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> list[Any]:
    """`Run.watch`: see `watch`."""
    del criterion  # wandb uses it only for the graph, which is not drawn here
    if log not in _LOG_CHOICES:
        raise ValueError(
            f"watch(log={log!r}) is not valid\nhint: use 'gradients', 'parameters', 'all' or None"
        )
    log_freq = _check_log_freq(log_freq)
    if log_graph:
        warnings.warn(
            "fwtrack: watch(log_graph=True) is ignored: fwtrack does not draw model graphs; "
            "the histograms are logged as asked. hint: log the model's structure with "
            "run.config.update({'model': str(model)}) if you need it",
            FwTrackWarning,
            stacklevel=3,
        )
    if idx is not None and (isinstance(idx, bool) or not isinstance(idx, int) or idx < 0):
        raise ValueError(f"watch(idx={idx!r}) is not valid\nhint: idx is an int >= 0, or None")
    try:
        import torch
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(
            "fwtrack.watch works with PyTorch models and torch is not installed\n"
            "hint: pip install torch"
        ) from e
    run._check_open()
    models_ = list(models) if isinstance(models, (tuple, list)) else [models]
    for model in models_:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(
                "fwtrack.watch expects a PyTorch model (torch.nn.Module), got "
                f"{type(model).__module__}.{type(model).__qualname__}"
            )
    if run.mode == "disabled":
        return []  # nothing is logged: no hooks, no histograms to make
    with _lock:
        if _counted[0] is not run:
            _counted[:] = [run, 0]
        start = _counted[1] if idx is None else idx
        for i, model in enumerate(models_):
            global_idx = start + i
            _counted[1] += 1
            prefix = f"graph_{global_idx}" if global_idx > 0 else ""
            _hook(run, model, prefix, log, log_freq)
    return []


def _hook(run: Run, model: torch.nn.Module, prefix: str, log: LogWhat | None, freq: int) -> None:
    handles = _watched.get(model)
    if handles is not None and handles.by_name and not handles.run.finished:
        raise ValueError(
            f"this {type(model).__name__} is already watched\n"
            "hint: call fwtrack.unwatch(model) first to watch it with other arguments"
        )
    if handles is not None:
        handles.remove()
    handles = _Handles(run)
    _watched[model] = handles
    logger = _Logger(run, model, handles)
    if log in ("parameters", "all"):
        every = _Every(freq)

        def parameters_hook(module: torch.nn.Module, _args: Any, _output: Any) -> None:
            if every():
                logger({f"parameters/{prefix}{name}": p for name, p in module.named_parameters()})

        handles.by_name[f"parameters/{prefix}"] = model.register_forward_hook(parameters_hook)
    if log in ("gradients", "all"):
        for name, param in model.named_parameters():
            if param.requires_grad:
                key = f"gradients/{prefix}{name}"
                handles.by_name[key] = param.register_hook(  # type: ignore[no-untyped-call]
                    _gradient_hook(key, freq, logger)
                )


def _gradient_hook(key: str, freq: int, logger: _Logger) -> Callable[[torch.Tensor], None]:
    every = _Every(freq)

    def hook(grad: torch.Tensor) -> None:
        if every():
            logger({key: grad})

    return hook


def unwatch_run(run: Run, models: Any = None) -> None:
    """`Run.unwatch`: see `unwatch`."""
    del run  # hooks are per model; every model watched in this process is unhooked
    if models is None or (isinstance(models, (tuple, list)) and not models):
        for handles in list(_watched.values()):
            handles.remove()
        _watched.clear()
        return
    for model in models if isinstance(models, (tuple, list)) else [models]:
        hooked = _watched.get(model)
        if hooked is not None:
            del _watched[model]
        if hooked is None or not hooked.by_name:
            warn(f"fwtrack.unwatch: this {type(model).__name__} is not watched")
        else:
            hooked.remove()


def _active_run(what: str) -> Run:
    from fwtrack.sdk.run import current_run

    run = current_run()
    if run is None:
        raise NoActiveRunError(
            f"fwtrack.{what}() called with no active run\nhint: call fwtrack.init() first"
        )
    return run


def watch(
    models: torch.nn.Module | Sequence[torch.nn.Module],
    criterion: Any = None,
    log: LogWhat | None = "gradients",
    log_freq: int = 1000,
    idx: int | None = None,
    log_graph: bool = False,
) -> list[Any]:
    """Log histograms of a PyTorch model's gradients and/or parameters into the active run.

    `models`: a `torch.nn.Module` or a list of them. `log`: "gradients" (the default),
    "parameters", "all" or None (nothing). `log_freq`: every how many batches (backward
    passes for gradients, forward passes for parameters) the histograms are made (default
    1000). `idx`: the index of the first model, which picks the `graph_<idx>` key prefix of
    the second and later models (default: counted per process). `criterion` is accepted and
    unused, as in wandb without `log_graph`; `log_graph=True` warns and is ignored.

    Keys: `gradients/<parameter name>` and `parameters/<parameter name>`, 64 bins each,
    logged with `commit=False` so they join the row of the next `log()`. Returns an empty
    list (wandb returns its graph objects). See docs/api.md, "watch".
    """
    return watch_run(_active_run("watch"), models, criterion, log, log_freq, idx, log_graph)


def unwatch(models: torch.nn.Module | Sequence[torch.nn.Module] | None = None) -> None:
    """Remove the hooks `watch` put on `models` (all watched models when None). A model that
    is not watched gets a warning, as in wandb."""
    unwatch_run(_active_run("unwatch"), models)
