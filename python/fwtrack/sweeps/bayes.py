"""Bayesian search (`method: bayes`) through Optuna's ask/tell interface.

`suggest(config, history, seed=..., number=...)` is a pure function: the same config, history,
seed and number give the same parameters. Each call rebuilds an in-memory Optuna study from the
history (in the order given) and asks it once:

- `sampler: tpe` (default): `TPESampler(multivariate=True, constant_liar=True, seed=s)`;
- `sampler: gp` (`fwtrack: {sampler: gp}`): `GPSampler(seed=s)`, for at most 10 searched
  parameters (load_config refuses more); it fits a Gaussian process, so it is slower than TPE
  with many trials;

where `s` is derived from the sweep's seed and the trial's number
(`numpy.random.SeedSequence([seed, number])`). `metric.goal: maximize` makes the study maximize.

History → Optuna trials:

| trial state | Optuna trial |
|---|---|
| `finished` with a value | `COMPLETE` with that value |
| `finished` without a value, `failed`, `crashed` | `FAIL` (ignored by the samplers) |
| `stopped` (hyperband, cancel) | `PRUNED`, its last value as the intermediate value |
| `running` (and `queued`) | `RUNNING`, so the constant liar keeps concurrent agents apart |

A trial whose parameters no longer fit the search space is left out.

Distributions (W&B → Optuna; "exact" means bayes searches the same set of values as random):

| W&B distribution | Optuna distribution |
|---|---|
| `constant` | not searched; the value is in every suggestion (exact) |
| `categorical` | `CategoricalDistribution` of the value indices (exact) |
| `categorical_w_probabilities` | the same; the probabilities are not a prior for TPE |
| `int_uniform` | `IntDistribution(min, max)` (exact) |
| `uniform` | `FloatDistribution(min, max)` (exact) |
| `q_uniform` | `IntDistribution(round(min/q), round(max/q))` of k; value `k*q` (exact) |
| `log_uniform` (exponents) | `FloatDistribution(e^min, e^max, log=True)` (exact) |
| `log_uniform_values` | `FloatDistribution(min, max, log=True)` (exact) |
| `inv_log_uniform` (exponents) | `FloatDistribution(e^-max, e^-min, log=True)` (exact: 1/X and X |
| | are both log-uniform) |
| `inv_log_uniform_values` | `FloatDistribution(min, max, log=True)` (exact, as above) |
| `q_log_uniform` | `FloatDistribution(e^min, e^max, log=True)`, rounded to a multiple of q |
| `q_log_uniform_values` | `FloatDistribution(min, max, log=True)`, rounded to a multiple of q |
| `normal`, `q_normal`, `log_normal`, | refused at load_config for bayes: unbounded or non-uniform |
| `q_log_normal`, `beta`, `q_beta` | priors Optuna has no distribution for; use bounds or random |

As in W&B, an integer `q` gives integer values.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fwtrack.errors import SweepConfigError
from fwtrack.sweeps.config import Param, SweepConfig
from fwtrack.sweeps.params import canonical_json, get_path, set_path

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["Observation", "suggest"]

State = Literal["finished", "running", "failed", "stopped", "crashed"]


@dataclass(frozen=True)
class Observation:
    """One trial of the sweep as bayes sees it: its parameters (nested), the metric's value
    and its state (`queued` counts as `running`)."""

    params: dict[str, Any]
    value: float | None
    state: State


class _QuietStudyCreation(logging.Filter):
    """Drops Optuna's "A new study created in memory" line, printed for every suggestion."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("A new study created")


_quiet = _QuietStudyCreation()


def _import_optuna() -> Any:
    try:
        import optuna
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "method bayes needs Optuna: pip install 'fwtrack[sweeps]'"
        ) from exc
    logger = logging.getLogger("optuna.storages._in_memory")
    if _quiet not in logger.filters:
        logger.addFilter(_quiet)
    return optuna


class _Space:
    """The Optuna search space of a config and the conversions to and from it."""

    def __init__(self, config: SweepConfig) -> None:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        self.config = config
        self.searched: list[tuple[Param, str, BaseDistribution]] = []
        self.index: dict[str, dict[str, int]] = {}
        for p in config.params:
            d = p.distribution
            name = p.name
            dist: BaseDistribution
            if d == "constant":
                continue
            if d in ("categorical", "categorical_w_probabilities"):
                assert p.values is not None
                self.index[name] = {}
                for i, v in enumerate(p.values):
                    self.index[name].setdefault(canonical_json(v), i)
                dist = CategoricalDistribution(tuple(range(len(p.values))))
            elif d == "int_uniform":
                assert p.min is not None
                assert p.max is not None
                dist = IntDistribution(int(p.min), int(p.max))
            elif d == "uniform":
                assert p.min is not None
                assert p.max is not None
                dist = FloatDistribution(float(p.min), float(p.max))
            elif d == "q_uniform":
                lo, hi = self._k_range(p)
                dist = IntDistribution(lo, hi)
            elif d in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
                lo_v, hi_v = self._log_bounds(p)
                dist = FloatDistribution(lo_v, hi_v, log=True)
            elif d in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
                assert p.min is not None
                assert p.max is not None
                dist = FloatDistribution(float(p.min), float(p.max), log=True)
            else:
                raise SweepConfigError(
                    f"parameters.{name}.distribution: {d!r} is not supported by method bayes"
                )
            self.searched.append((p, name, dist))
        self.distributions = {name: dist for _, name, dist in self.searched}

    @staticmethod
    def _k_range(p: Param) -> tuple[int, int]:
        assert p.min is not None
        assert p.max is not None
        assert p.q is not None
        lo = round(p.min / p.q)
        hi = round(p.max / p.q)
        return int(lo), int(max(hi, lo))

    @staticmethod
    def _log_bounds(p: Param) -> tuple[float, float]:
        assert p.min is not None
        assert p.max is not None
        if p.distribution == "inv_log_uniform":
            return math.exp(-p.max), math.exp(-p.min)
        return math.exp(p.min), math.exp(p.max)

    def to_internal(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The Optuna parameters of a trial; None when a value does not fit the space."""
        out: dict[str, Any] = {}
        for p, name, dist in self.searched:
            try:
                v = get_path(params, p.path)
            except KeyError:
                return None
            d = p.distribution
            try:
                if d in ("categorical", "categorical_w_probabilities"):
                    i = self.index[name].get(canonical_json(v))
                    if i is None:
                        return None
                    x: Any = i
                elif isinstance(v, bool) or not isinstance(v, (int, float)):
                    return None
                elif d == "q_uniform":
                    assert p.q is not None
                    x = round(v / p.q)
                elif d == "int_uniform":
                    if v != int(v):
                        return None
                    x = int(v)
                elif d in ("q_log_uniform", "q_log_uniform_values"):
                    lo, hi = dist.low, dist.high  # type: ignore[attr-defined]
                    x = min(max(float(v), lo), hi)
                else:
                    x = float(v)
            except (TypeError, ValueError, OverflowError):
                return None
            if not dist._contains(dist.to_internal_repr(x)):
                return None
            out[name] = x
        return out

    def to_external(self, internal: dict[str, Any]) -> dict[str, Any]:
        """Nested parameter values (with the constants) from Optuna's parameters."""
        from fwtrack.sweeps.params import _plain, _quantize

        out: dict[str, Any] = {}
        by_name = {name: p for p, name, _ in self.searched}
        for p in self.config.params:
            if p.distribution == "constant":
                set_path(out, p.path, _plain(p.value))
                continue
            x = internal[p.name]
            d = by_name[p.name].distribution
            if d in ("categorical", "categorical_w_probabilities"):
                assert p.values is not None
                v: Any = _plain(p.values[int(x)])
            elif d == "int_uniform":
                v = int(x)
            elif d == "q_uniform":
                assert p.q is not None
                v = int(x) * p.q if isinstance(p.q, int) else float(int(x) * p.q)
            elif d in ("q_log_uniform", "q_log_uniform_values"):
                assert p.q is not None
                v = _quantize(float(x), p.q)
            else:
                v = float(x)
            set_path(out, p.path, v)
        return out


_lock = threading.Lock()
_spaces: dict[str, _Space] = {}


def _space(config: SweepConfig) -> _Space:
    key = canonical_json(config.raw)
    with _lock:
        space = _spaces.get(key)
        if space is None:
            space = _Space(config)
            if len(_spaces) > 64:
                _spaces.clear()
            _spaces[key] = space
        return space


def _derived_seed(seed: int, number: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([int(seed), int(number)]).generate_state(1)[0])


def suggest(
    config: SweepConfig, history: Sequence[Observation], *, seed: int, number: int
) -> dict[str, Any]:
    """The parameters of trial `number` of a bayes sweep, given every trial so far."""
    optuna = _import_optuna()
    from optuna.storages import InMemoryStorage
    from optuna.study import StudyDirection
    from optuna.trial import TrialState, create_trial

    if config.metric is None:
        raise SweepConfigError("metric: missing; method bayes needs a metric to optimize")
    space = _space(config)
    if not space.searched:
        return space.to_external({})
    s = _derived_seed(seed, number)
    if config.sampler == "gp":
        sampler = optuna.samplers.GPSampler(seed=s)
    else:
        sampler = optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=s)
    direction = (
        StudyDirection.MAXIMIZE if config.metric.goal == "maximize" else StudyDirection.MINIMIZE
    )
    storage = InMemoryStorage()
    storage.create_new_study([direction], "fwtrack-sweep")
    study = optuna.study.Study(study_name="fwtrack-sweep", storage=storage, sampler=sampler)

    trials = []
    for obs in history:
        internal = space.to_internal(obs.params)
        if internal is None:
            continue
        value = obs.value
        finite = value is not None and math.isfinite(value)
        if obs.state == "finished" and finite:
            trial = create_trial(
                state=TrialState.COMPLETE,
                value=float(value),  # type: ignore[arg-type]
                params=internal,
                distributions=space.distributions,
            )
        elif obs.state == "stopped":
            trial = create_trial(
                state=TrialState.PRUNED,
                params=internal,
                distributions=space.distributions,
                intermediate_values={0: float(value)} if finite else None,  # type: ignore[arg-type]
            )
        elif obs.state in ("running", "queued"):
            trial = create_trial(
                state=TrialState.RUNNING, params=internal, distributions=space.distributions
            )
        else:
            trial = create_trial(
                state=TrialState.FAIL, params=internal, distributions=space.distributions
            )
        trials.append(trial)
    study.add_trials(trials)
    asked = study.ask(space.distributions)
    return space.to_external(asked.params)
