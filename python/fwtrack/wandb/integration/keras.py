"""`wandb.integration.keras` on fwtrack: `WandbMetricsLogger` and `WandbModelCheckpoint` with
W&B's arguments, onto `FwTrackCallback` and `FwTrackModelCheckpoint`."""

from __future__ import annotations

import os
from typing import Any, Literal

from fwtrack.integrations.keras import FwTrackCallback, FwTrackModelCheckpoint

__all__ = ["WandbCallback", "WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint"]


class WandbMetricsLogger(FwTrackCallback):
    """`WandbMetricsLogger(log_freq="epoch", initial_global_step=0)`: the metrics of
    `model.fit` each epoch ("epoch"), batch ("batch") or every N batches (an int).

    It logs into the active run (wandb's requires one; this one starts a run when there is
    none). `initial_global_step` (W&B's offset for a resumed fit's batch step) is added to the
    batch step fwtrack logs under `batch/batch_step`... when given; keys are fwtrack's (see
    docs/wandb.md).
    """

    def __init__(
        self,
        log_freq: Literal["epoch", "batch"] | int = "epoch",
        initial_global_step: int = 0,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if args:
            raise TypeError(
                f"WandbMetricsLogger takes log_freq and initial_global_step, got {len(args)} more "
                "positional arguments"
            )
        super().__init__(log_freq, **kwargs)
        self.initial_global_step = initial_global_step


class WandbModelCheckpoint(FwTrackModelCheckpoint):
    """`WandbModelCheckpoint(filepath, monitor="val_loss", verbose=0, save_best_only=False,
    save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None)`:
    Keras' ModelCheckpoint whose files are logged as versions of the `model-<run id>`
    artifact."""

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: Literal["auto", "min", "max"] = "auto",
        save_freq: Literal["epoch"] | int = "epoch",
        initial_value_threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            filepath,
            monitor=monitor,
            verbose=verbose,
            save_best_only=save_best_only,
            save_weights_only=save_weights_only,
            mode=mode,
            save_freq=save_freq,
            initial_value_threshold=initial_value_threshold,
            **kwargs,
        )


class _Legacy:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            f"wandb's {type(self).__name__} (the legacy Keras callback) has no fwtrack "
            "equivalent: use WandbMetricsLogger() for metrics and WandbModelCheckpoint(filepath) "
            "for checkpoints (docs/wandb.md)"
        )


class WandbCallback(_Legacy):
    """wandb's legacy Keras callback: refused, naming the two that replace it."""


class WandbEvalCallback(_Legacy):
    """wandb's table-building evaluation callback: refused (log a `wandb.Table` yourself)."""
