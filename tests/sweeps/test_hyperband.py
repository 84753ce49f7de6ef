"""Hyperband early termination: W&B's rule on synthetic curves with known answers."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from fwtrack.sweeps.config import load_config
from fwtrack.sweeps.hyperband import Curve, thresholds, to_stop


def config(goal: str = "minimize", **early: Any) -> Any:
    return load_config(
        {
            "method": "random",
            "metric": {"name": "loss", "goal": goal},
            "early_terminate": {"type": "hyperband", **early},
            "parameters": {"a": {"values": [1, 2, 3]}},
        }
    )


def test_wandbs_own_example() -> None:
    # hyperband_stop_runs' doctest in wandb/sweeps: bands [1, 2]; band 2's threshold is the
    # 1/eta quantile of [9, 10, 8, 7, 6] = 8, so b (10) stops and c (8, not above 8) goes on.
    cfg = config(max_iter=5, eta=2, s=2)
    curves = [
        Curve(1, "finished", [10, 9]),
        Curve(2, "running", [10, 10]),
        Curve(3, "running", [10, 8, 8]),
        Curve(4, "running", [10, 7, 7]),
        Curve(5, "finished", [10, 6, 6]),
    ]
    assert thresholds(cfg, curves) == [(1, 10.0), (2, 8.0)]
    assert to_stop(cfg, curves) == {2}
    assert to_stop(config(max_iter=5, eta=2, s=2, strict=True), curves) == {2}


def test_min_iter_bands_and_thresholds() -> None:
    # bands 1, 3, 9, ...; eta 3 → threshold = sorted(values at the band)[int(n / 3)], over
    # every trial that reached the band (running ones too)
    cfg = config(min_iter=1, eta=3)
    curves = [
        Curve(1, "finished", [5.0, 4.0, 3.0, 2.0]),
        Curve(2, "finished", [6.0, 5.0, 4.0, 3.0]),
        Curve(3, "finished", [7.0, 6.0, 5.0, 4.0]),
        Curve(4, "running", [8.0]),  # band 1: 8 > 5.9 → stop
        Curve(5, "running", [5.5, 5.0, 4.5]),  # band 3: best 4.5 > 3.5 → stop
        Curve(6, "running", [6.5, 5.0, 3.5]),  # band 3: 3.5, not above 3.5 → keeps going
        Curve(7, "running", [5.9]),  # band 1: 5.9, not above 5.9 → keeps going
    ]
    th = dict(thresholds(cfg, curves))
    # band 1: sorted [5, 5.5, 5.9, 6, 6.5, 7, 8][int(7 / 3)] = 5.9
    assert th[1] == 5.9
    # band 3: sorted [3, 3.5, 4, 4.5, 5][int(5 / 3)] = 3.5
    assert th[3] == 3.5
    assert th[9] == math.inf
    assert to_stop(cfg, curves) == {4, 5}


def test_strict_judges_the_value_at_the_band_not_the_best() -> None:
    cfg_loose = config(min_iter=2, eta=2)
    cfg_strict = config(min_iter=2, eta=2, strict=True)
    curves = [
        Curve(1, "finished", [3.0, 2.0, 1.0]),
        Curve(2, "finished", [3.0, 2.0, 1.0]),
        # its best (1.5) beats band 2's threshold (2.0), its value at band 2 (3.0) does not
        Curve(3, "running", [1.5, 3.0]),
    ]
    assert dict(thresholds(cfg_loose, curves))[2] == 2.0
    assert to_stop(cfg_loose, curves) == set()
    assert to_stop(cfg_strict, curves) == {3}


def test_maximize_flips_the_comparison() -> None:
    cfg = config(goal="maximize", min_iter=1, eta=2)
    curves = [
        Curve(1, "finished", [0.9]),
        Curve(2, "finished", [0.8]),
        Curve(3, "running", [0.5]),  # worst accuracy → stops
        Curve(4, "running", [0.95]),
    ]
    # negated: [-0.9, -0.8, -0.5, -0.95] → sorted[int(4 / 2)] = -0.8
    assert thresholds(cfg, curves)[0] == (1, -0.8)
    assert to_stop(cfg, curves) == {3}


def test_only_running_trials_past_a_band_stop() -> None:
    cfg = config(min_iter=3, eta=3)
    curves = [
        Curve(1, "finished", [1.0, 1.0, 1.0]),
        Curve(2, "stopped", [9.0, 9.0, 9.0]),
        Curve(3, "failed", [9.0, 9.0, 9.0]),
        Curve(4, "running", [9.0, 9.0]),  # before the first band
        Curve(5, "queued", []),
    ]
    assert to_stop(cfg, curves) == set()
    # finished, stopped and failed trials all count towards the thresholds
    assert thresholds(cfg, curves)[0] == (3, 9.0)


def test_values_that_are_not_numbers_are_skipped() -> None:
    cfg = config(min_iter=2, eta=2)
    curves = [
        Curve(1, "finished", [1.0, math.nan, 1.0]),
        Curve(2, "finished", [1.0, 1.0]),
        Curve(3, "running", [math.nan, 5.0, "x", math.inf, True, 5.0]),  # type: ignore[list-item]
    ]
    # as W&B's is_number: trial 3's finite numbers are [5, 5]: at band 2 it is 5 > threshold 1
    assert to_stop(cfg, curves) == {3}


def test_without_early_terminate_nothing_stops() -> None:
    cfg = load_config(
        {"method": "grid", "metric": {"name": "loss"}, "parameters": {"a": {"values": [1]}}}
    )
    assert (
        to_stop(cfg, [Curve(1, "running", [100.0] * 10), Curve(2, "finished", [0.0] * 10)]) == set()
    )
    assert thresholds(cfg, []) == []


def test_judged_at_the_last_band_reached() -> None:
    cfg = config(max_iter=27, s=2, eta=3)  # bands [3, 9]
    finished = [Curve(i, "finished", [float(i)] * 9) for i in range(1, 7)]
    # thresholds: band 3 and band 9 both sorted([1..6])[2] = 3
    running_good_early_bad_late = Curve(10, "running", [1.0, 1.0, 1.0] + [4.0] * 6)
    running_bad_early = Curve(11, "running", [4.0] * 5)
    running_ok = Curve(12, "running", [2.0] * 12)
    curves = [*finished, running_good_early_bad_late, running_bad_early, running_ok]
    assert [b for b, _ in thresholds(cfg, curves)] == [3, 9]
    # not strict: trial 10's best (1.0) passes band 9; trial 11 fails band 3
    assert to_stop(cfg, curves) == {11}
    strict = config(max_iter=27, s=2, eta=3, strict=True)
    assert to_stop(strict, curves) == {10, 11}


def wandb_hyperband_stop_runs(cfg: Any, curves: list[Curve]) -> set[int]:
    """wandb/sweeps hyperband_stop_runs, transliterated (every band over every whole history)."""
    hb = cfg.early_terminate
    sign = -1.0 if cfg.metric.goal == "maximize" else 1.0

    def history(c: Curve) -> list[float]:
        return [
            sign * float(v)
            for v in c.values
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        ]

    bands = hb.bands()
    r = 1.0 / hb.eta
    all_histories = [h for h in map(history, curves) if len(h) > 0]
    thresholds_ = []
    for band in bands:
        band_values = [h[band - 1] for h in all_histories if len(h) >= band]
        thresholds_.append(
            sorted(band_values)[int(r * len(band_values))] if band_values else math.inf
        )
    stop = set()
    for c in curves:
        if c.state != "running":
            continue
        h = history(c)
        closest_band, closest_threshold = -1, 0.0
        for band, threshold in zip(bands, thresholds_, strict=True):
            if band <= len(h):
                closest_band, closest_threshold = band, threshold
            else:
                break
        if closest_band != -1:
            value = h[closest_band - 1] if hb.strict is True else min(h)
            if value > closest_threshold:
                stop.add(c.trial_id)
    return stop


@pytest.mark.parametrize("seed", range(12))
def test_the_same_decisions_as_wandbs_rule_on_random_curves(seed: int) -> None:
    rng = random.Random(seed)
    early = (
        {"min_iter": rng.choice([1, 2, 3]), "eta": rng.choice([2, 3, 1.5])}
        if seed % 2
        else {"max_iter": rng.choice([9, 27, 40]), "s": rng.choice([1, 2, 3]), "eta": 3}
    )
    cfg = config(goal=rng.choice(["minimize", "maximize"]), strict=rng.random() < 0.5, **early)
    curves = []
    for i in range(rng.randint(1, 40)):
        n = rng.randint(0, 45)
        values: list[Any] = [rng.gauss(0, 1) for _ in range(n)]
        for _ in range(rng.randint(0, 3)):
            if values:
                values[rng.randrange(len(values))] = rng.choice([math.nan, math.inf, None, True])
        state = rng.choice(["running", "running", "finished", "stopped", "failed", "crashed"])
        curves.append(Curve(i, state, values))
    assert to_stop(cfg, curves) == wandb_hyperband_stop_runs(cfg, curves)
