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


def _clean(values: Sequence[float], maximize: bool, limit: int | None = None) -> list[float]:
    """The finite numbers of `values` in order (negated to maximize), the first `limit`."""
    out: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        x = float(v)
        if not math.isfinite(x):  # W&B's is_number: finite numbers only
            continue
        out.append(-x if maximize else x)
        if limit is not None and len(out) >= limit:
            break
    return out


def _threshold(histories: Sequence[Sequence[float]], band: int, eta: float) -> float:
    at_band = sorted(h[band - 1] for h in histories if len(h) >= band)
    return at_band[int(1.0 / eta * len(at_band))] if at_band else math.inf


def thresholds(config: SweepConfig, curves: Sequence[Curve]) -> list[tuple[int, float]]:
    """`(band, threshold)` pairs (in the minimized scale; `inf` where no trial reached the
    band)."""
    hb = config.early_terminate
    if hb is None or config.metric is None:
        return []
    maximize = config.metric.goal == "maximize"
    histories = [h for h in (_clean(c.values, maximize) for c in curves) if h]
    return [(band, _threshold(histories, band, hb.eta)) for band in hb.bands()]


def to_stop(config: SweepConfig, curves: Sequence[Curve]) -> set[int]:
    """The ids of the running trials hyperband stops now (empty without `early_terminate`).

    The same decisions as judging every band over every whole history, reading only what they
    need: the running trials' histories, and the others up to the last band a running trial
    has reached.
    """
    hb = config.early_terminate
    if hb is None or config.metric is None:
        return set()
    maximize = config.metric.goal == "maximize"
    bands = hb.bands()
    judged: list[tuple[int, list[float], int]] = []  # (trial id, history, band)
    for c in curves:
        if c.state != "running":
            continue
        history = _clean(c.values, maximize)
        reached = [band for band in bands if band <= len(history)]
        if reached:
            judged.append((c.trial_id, history, reached[-1]))
    if not judged:
        return set()
    limit = max(band for _, _, band in judged)
    histories = [h for h in (_clean(c.values, maximize, limit) for c in curves) if h]
    threshold = {band: _threshold(histories, band, hb.eta) for _, _, band in judged}
    stop: set[int] = set()
    for trial_id, history, band in judged:
        value = history[band - 1] if hb.strict else min(history)
        if value > threshold[band]:
            stop.add(trial_id)
    return stop
