"""Hyperband early termination (`early_terminate: {type: hyperband, ...}`), W&B's rule exactly.

From `wandb/sweeps` `hyperband_stopping.py`:

1. Bands: with `max_iter` and `s`, `max_iter / eta^k` for k = 1..s (stopping below 1),
   truncated to integers, ascending; with `min_iter`, `min_iter * eta^k` for k = 0..99.
2. Every trial's metric history (finite numbers only, in logged order; negated when the goal is
   `maximize`, so lower is better) of every state counts. At each band `b`, the threshold is
   `sorted(values at index b-1)[int(len / eta)]` over the trials that reached `b`
   (no trial → no threshold).
3. A `running` trial is judged at the last band it has reached: it stops when its value
   (`strict: true`: the value at that band; `strict: false`, the default: its best so far)
   is worse than that band's threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fwtrack.sweeps.config import SweepConfig

__all__ = ["Curve", "thresholds", "to_stop"]


@dataclass(frozen=True)
class Curve:
    """A trial's metric in logged order and its state (`running`, `finished`, ...)."""

    trial_id: int
    state: str
    values: Sequence[float]


def _clean(values: Sequence[float], maximize: bool) -> list[float]:
    out: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        x = float(v)
        if not math.isfinite(x):  # W&B's is_number: finite numbers only
            continue
        out.append(-x if maximize else x)
    return out


def thresholds(config: SweepConfig, curves: Sequence[Curve]) -> list[tuple[int, float]]:
    """`(band, threshold)` pairs (in the minimized scale; `inf` where no trial reached the
    band)."""
    hb = config.early_terminate
    if hb is None or config.metric is None:
        return []
    maximize = config.metric.goal == "maximize"
    r = 1.0 / hb.eta
    histories = [h for h in (_clean(c.values, maximize) for c in curves) if h]
    out: list[tuple[int, float]] = []
    for band in hb.bands():
        at_band = sorted(h[band - 1] for h in histories if len(h) >= band)
        out.append((band, at_band[int(r * len(at_band))] if at_band else math.inf))
    return out


def to_stop(config: SweepConfig, curves: Sequence[Curve]) -> set[int]:
    """The ids of the running trials hyperband stops now (empty without `early_terminate`)."""
    hb = config.early_terminate
    if hb is None or config.metric is None:
        return set()
    maximize = config.metric.goal == "maximize"
    bands = thresholds(config, curves)
    stop: set[int] = set()
    for c in curves:
        if c.state != "running":
            continue
        history = _clean(c.values, maximize)
        closest: tuple[int, float] | None = None
        for band, threshold in bands:
            if band <= len(history):
                closest = (band, threshold)
            else:
                break
        if closest is None:
            continue
        band, threshold = closest
        value = history[band - 1] if hb.strict else min(history)
        if value > threshold:
            stop.add(c.trial_id)
    return stop
