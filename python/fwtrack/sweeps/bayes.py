"""Bayesian search (`method: bayes`) through Optuna's ask/tell interface.

`suggest(config, history, seed=..., number=...)` is a pure function: the same config, history,
seed and number give the same parameters. It asks an in-memory Optuna study holding the history
(in the order given, which should be the trials' numbers) once:

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

Speed: the study is kept per process (per sweep config and seed) and brought up to date from
the next history (trials that ended since, new trials, the previous suggestion); TPE is told the
search space instead of intersecting every trial's, and each trial's conversion to Optuna's
internal representation is kept. None of this changes a suggestion: the tests compare with a
plain Optuna study built from scratch. Any other change of the history rebuilds the study.

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
| `q_log_uniform` | `IntDistribution(round(e^min/q), round(e^max/q), log=True)` of k; value |
| | `k*q` (exact values; log scale unless the range starts at k = 0, then linear) |
| `q_log_uniform_values` | the same with `min`, `max` for `e^min`, `e^max` |
| `normal`, `q_normal`, `log_normal`, | refused at load_config for bayes: unbounded or non-uniform |
| `q_log_normal`, `beta`, `q_beta` | priors Optuna has no distribution for; use bounds or random |

As in W&B, an integer `q` gives integer values.
"""

from __future__ import annotations

import copy
import datetime
import json
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
        self.scalar_index: dict[str, dict[tuple[type, Any], int]] = {}
        for p in config.params:
            d = p.distribution
            name = p.name
            dist: BaseDistribution
            if d == "constant":
                continue
            if d in ("categorical", "categorical_w_probabilities"):
                assert p.values is not None
                self.index[name] = {}
                self.scalar_index[name] = {}
                for i, v in enumerate(p.values):
                    self.index[name].setdefault(canonical_json(v), i)
                    if isinstance(v, self._SCALARS):
                        self.scalar_index[name].setdefault((type(v), v), i)
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
                assert p.min is not None
                assert p.max is not None
                lo, hi = self._k_range(p.min, p.max, p.q)
                dist = IntDistribution(lo, hi)
            elif d in ("q_log_uniform", "q_log_uniform_values"):
                lo, hi = self._k_range(*self._log_bounds(p), p.q)
                dist = IntDistribution(lo, hi, log=lo >= 1)
            elif d in ("log_uniform", "inv_log_uniform"):
                lo_v, hi_v = self._log_bounds(p)
                dist = FloatDistribution(lo_v, hi_v, log=True)
            elif d in ("log_uniform_values", "inv_log_uniform_values"):
                assert p.min is not None
                assert p.max is not None
                dist = FloatDistribution(float(p.min), float(p.max), log=True)
            else:
                raise SweepConfigError(
                    f"parameters.{name}.distribution: {d!r} is not supported by method bayes"
                )
            self.searched.append((p, name, dist))
        self.distributions = {name: dist for _, name, dist in self.searched}
        # what TPE searches jointly: the non-single distributions sorted by name (as Optuna's
        # IntersectionSearchSpace returns them)
        self.relative = {
            name: dist for name, dist in sorted(self.distributions.items()) if not dist.single()
        }

    _SCALARS = (str, int, float, bool, type(None))

    def _index_of(self, name: str, v: Any) -> int | None:
        """The index of value `v` among the parameter's values (as canonical JSON compares)."""
        if isinstance(v, self._SCALARS):
            # type-exact: 1, 1.0 and True are different values, -0.0 is 0.0
            return self.scalar_index[name].get((type(v), v))
        try:
            return self.index[name].get(canonical_json(v))
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _k_range(lo: float, hi: float, q: float | None) -> tuple[int, int]:
        """The multipliers k of the values `k*q` that rounding a draw from [lo, hi] yields."""
        assert q is not None
        k_lo = round(lo / q)
        return int(k_lo), int(max(round(hi / q), k_lo))

    @staticmethod
    def _log_bounds(p: Param) -> tuple[float, float]:
        assert p.min is not None
        assert p.max is not None
        if p.distribution == "inv_log_uniform":
            return math.exp(-p.max), math.exp(-p.min)
        if p.distribution.endswith("_values"):
            return float(p.min), float(p.max)
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
                    i = self._index_of(name, v)
                    if i is None:
                        return None
                    x: Any = i
                elif isinstance(v, bool) or not isinstance(v, (int, float)):
                    return None
                elif d in ("q_uniform", "q_log_uniform", "q_log_uniform_values"):
                    assert p.q is not None
                    x = round(v / p.q)
                elif d == "int_uniform":
                    if v != int(v):
                        return None
                    x = int(v)
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
        from fwtrack.sweeps.params import _plain

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
            elif d in ("q_uniform", "q_log_uniform", "q_log_uniform_values"):
                assert p.q is not None
                v = int(x) * p.q if isinstance(p.q, int) else float(int(x) * p.q)
            else:
                v = float(x)
            set_path(out, p.path, v)
        return out


_tpe: Any = None
_internals: bool | None = None


def _optuna_internals_known() -> bool:
    """Whether this Optuna has the private members the fast paths below rely on (Optuna 5:
    `TPESampler._get_internal_repr(trials, search_space, study)`, `TPESampler._get_params` and
    FrozenTrial's attributes). Otherwise Optuna's own code runs: slower, the same suggestions."""
    global _internals
    if _internals is None:
        import inspect

        from optuna.samplers import TPESampler
        from optuna.trial import create_trial

        try:
            names = list(inspect.signature(TPESampler._get_internal_repr).parameters)
            trial_attrs = set(vars(create_trial(value=0.0)))
        except (AttributeError, TypeError, ValueError):
            _internals = False
        else:
            _internals = (
                names == ["self", "trials", "search_space", "study"]
                and callable(getattr(TPESampler, "_get_params", None))
                and {
                    "_params",
                    "_distributions",
                    "_user_attrs",
                    "_system_attrs",
                    "intermediate_values",
                    "_values",
                }
                <= trial_attrs
            )
    return _internals


def _tpe_class() -> Any:
    """`TPESampler` told the search space instead of inferring it from every trial.

    Optuna's TPE intersects the distributions of all finished trials at every ask (a fresh
    sampler has no cache): with 1,000 trials that is most of the time of a suggestion. Every
    trial of a sweep has the sweep's distributions, so the intersection is the space itself,
    sorted by name as Optuna sorts it (with fewer than `n_startup_trials` finished trials TPE
    samples independently either way).
    """
    global _tpe
    if _tpe is None:
        from optuna.samplers import TPESampler

        known = _optuna_internals_known()

        class _SweepTPESampler(TPESampler):
            def __init__(self, relative: dict[str, BaseDistribution], **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self._fwtrack_relative = relative

                # per trial id: its parameters in Optuna's internal representation; set by
                # the sweep's _Study (a trial's parameters never change)
                self._fwtrack_rows: dict[int, dict[str, Any]] = {}

            def infer_relative_search_space(
                self, study: Any, trial: Any
            ) -> dict[str, BaseDistribution]:
                return dict(self._fwtrack_relative)

            if known:

                def _get_internal_repr(
                    self, trials: list[Any], search_space: dict[str, BaseDistribution], study: Any
                ) -> dict[str, Any]:
                    # TPESampler._get_internal_repr, with each trial's conversion kept between
                    # suggestions (it is most of the time TPE spends on 1,000 trials)
                    import numpy as np

                    rows = self._fwtrack_rows
                    picked = []
                    for trial in trials:
                        row = rows.get(trial._trial_id)
                        if row is None:
                            params = self._get_params(trial, study)
                            row = {
                                name: dist.to_internal_repr(params[name])
                                for name, dist in trial.distributions.items()
                                if name in params
                            }
                            rows[trial._trial_id] = row
                        if search_space.keys() <= row.keys():
                            picked.append(row)
                    return {
                        name: np.asarray([row[name] for row in picked]) for name in search_space
                    }

        _tpe = _SweepTPESampler
    return _tpe


_trial: Any = None


def _trial_class() -> Any:
    """`FrozenTrial` whose deep copy (the storage copies every trial it is given) copies the
    containers but shares the distributions, which nothing changes: building a study of 1,000
    trials then takes a fraction of the time."""
    global _trial
    if _trial is None and _optuna_internals_known():
        from optuna.trial import FrozenTrial

        class _SweepTrial(FrozenTrial):
            def __deepcopy__(self, memo: dict[int, Any]) -> _SweepTrial:
                new = copy.copy(self)
                new._params = dict(self._params)
                new._distributions = dict(self._distributions)
                new._user_attrs = copy.deepcopy(self._user_attrs, memo)
                new._system_attrs = copy.deepcopy(self._system_attrs, memo)
                new.intermediate_values = dict(self.intermediate_values)
                new._values = None if self._values is None else list(self._values)
                return new

        _trial = _SweepTrial
    return _trial


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


# What an observation is to Optuna: ("complete", value) | ("pruned", value | None) |
# ("running", None) | ("fail", None).
_Kind = tuple[str, "float | None"]


def _kind(obs: Observation) -> _Kind:
    value = obs.value
    finite = value is not None and isinstance(value, (int, float)) and math.isfinite(value)
    if obs.state == "finished" and finite:
        return ("complete", float(value))  # type: ignore[arg-type]
    if obs.state == "stopped":
        return ("pruned", float(value) if finite else None)  # type: ignore[arg-type]
    if obs.state in ("running", "queued"):
        return ("running", None)
    return ("fail", None)


class _Study:
    """An Optuna study holding a sweep's history, kept per process between suggestions.

    A later history usually extends the previous one: the same trials in the same order (some
    `running` ones since finished or stopped) plus new ones, the first of them often the trial
    the last suggestion became. Those changes are applied to the study in place; anything else
    rebuilds it. Either way the study holds exactly the trials a fresh build would, in the same
    order, so the suggestion does not depend on the cache.
    """

    def __init__(self, space: _Space, direction: Any) -> None:
        optuna = _import_optuna()
        from optuna.storages import InMemoryStorage

        self.space = space
        self.lock = threading.Lock()
        self.storage = InMemoryStorage()
        self.study_id = self.storage.create_new_study([direction], "fwtrack-sweep")
        self.study = optuna.study.Study(study_name="fwtrack-sweep", storage=self.storage)
        # per observation: (params, kind, Optuna trial id or None when left out)
        self.mirror: list[tuple[dict[str, Any], _Kind, int | None]] = []
        # the trial the last ask created: (trial id, the parameters it suggested)
        self.pending: tuple[int, dict[str, Any]] | None = None
        # the TPE sampler's per-trial internal representations (see _tpe_class)
        self.rows: dict[int, dict[str, Any]] = {}

    def _add(self, obs_params: dict[str, Any], kind: _Kind) -> int | None:
        from optuna.trial import TrialState

        internal = self.space.to_internal(obs_params)
        if internal is None:
            return None
        name, value = kind
        state = {
            "complete": TrialState.COMPLETE,
            "pruned": TrialState.PRUNED,
            "running": TrialState.RUNNING,
        }.get(name, TrialState.FAIL)
        if _trial_class() is None:
            from optuna.trial import create_trial

            return self.storage.create_new_trial(
                self.study_id,
                template_trial=create_trial(
                    state=state,
                    value=value if name == "complete" else None,
                    params=internal,
                    distributions=self.space.distributions,
                    intermediate_values={0: value}
                    if name == "pruned" and value is not None
                    else None,
                ),
            )
        now = datetime.datetime.now()
        # what optuna.trial.create_trial builds, without its validation (to_internal checked
        # every value against its distribution) and cheap to copy into the storage
        trial = _trial_class()(
            number=-1,
            state=state,
            value=value if name == "complete" else None,
            datetime_start=now,
            datetime_complete=None if name == "running" else now,
            params=internal,
            distributions=self.space.distributions,
            user_attrs={},
            system_attrs={},
            intermediate_values={0: value} if name == "pruned" and value is not None else {},
            trial_id=-1,
        )
        return self.storage.create_new_trial(self.study_id, template_trial=trial)

    def _finish(self, trial_id: int, kind: _Kind) -> None:
        from optuna.trial import TrialState

        name, value = kind
        if name == "complete":
            assert value is not None
            self.storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [value])
        elif name == "pruned":
            if value is not None:
                self.storage.set_trial_intermediate_value(trial_id, 0, value)
            self.storage.set_trial_state_values(trial_id, TrialState.PRUNED)
        else:
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)

    def sync(self, history: Sequence[Observation]) -> bool:
        """Bring the study to `history`; False when only a rebuild can."""
        kinds = [_kind(obs) for obs in history]
        m = len(self.mirror)
        if len(history) < m:
            return False
        for i in range(m):
            params, kind, _ = self.mirror[i]
            if history[i].params != params:
                return False
            if kind != kinds[i] and kind[0] != "running":
                return False
        if self.pending is not None and (m >= len(history) or history[m].params != self.pending[1]):
            return False
        # the checks passed: apply
        for i in range(m):
            params, kind, trial_id = self.mirror[i]
            if kind != kinds[i]:
                if trial_id is not None and kinds[i][0] != "running":
                    self._finish(trial_id, kinds[i])
                self.mirror[i] = (params, kinds[i], trial_id)
        start = m
        if self.pending is not None:
            pending_id, suggested = self.pending
            self.pending = None
            self.mirror.append((suggested, ("running", None), pending_id))
            if kinds[m] != ("running", None):
                self._finish(pending_id, kinds[m])
                self.mirror[m] = (suggested, kinds[m], pending_id)
            start = m + 1
        for i in range(start, len(history)):
            params = _copy(history[i].params)
            self.mirror.append((params, kinds[i], self._add(params, kinds[i])))
        return True

    def ask(self, sampler: Any) -> dict[str, Any]:
        if hasattr(sampler, "_fwtrack_rows"):
            sampler._fwtrack_rows = self.rows
        self.study.sampler = sampler
        trial = self.study.ask(self.space.distributions)
        suggested = self.space.to_external(trial.params)
        self.pending = (trial._trial_id, _copy(suggested))
        return suggested


def _copy(params: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of JSON-like parameters (a JSON round trip is faster than copy.deepcopy)."""
    try:
        out = json.loads(json.dumps(params))
    except (TypeError, ValueError):
        return copy.deepcopy(params)
    return out if out == params else copy.deepcopy(params)


_studies: dict[tuple[str, int], _Study] = {}
_STUDIES_KEPT = 16


def _study(config: SweepConfig, space: _Space, seed: int, history: Sequence[Observation]) -> _Study:
    from optuna.study import StudyDirection

    assert config.metric is not None
    key = (canonical_json(config.raw), int(seed))
    with _lock:
        cached = _studies.pop(key, None)
    if cached is not None:
        cached.lock.acquire()
        if cached.sync(history):
            with _lock:
                _studies[key] = cached  # most recently used last
            return cached
        cached.lock.release()
    direction = (
        StudyDirection.MAXIMIZE if config.metric.goal == "maximize" else StudyDirection.MINIMIZE
    )
    fresh = _Study(space, direction)
    fresh.lock.acquire()
    fresh.sync(history)
    with _lock:
        _studies[key] = fresh
        while len(_studies) > _STUDIES_KEPT:
            del _studies[next(iter(_studies))]
    return fresh


def suggest(
    config: SweepConfig, history: Sequence[Observation], *, seed: int, number: int
) -> dict[str, Any]:
    """The parameters of trial `number` of a bayes sweep, given every trial so far (in the
    order of their numbers). A pure function of its arguments: the same inputs give the same
    parameters, in this process or another."""
    optuna = _import_optuna()
    if config.metric is None:
        raise SweepConfigError("metric: missing; method bayes needs a metric to optimize")
    space = _space(config)
    if not space.searched:
        return space.to_external({})
    s = _derived_seed(seed, number)
    if config.sampler == "gp":
        sampler = optuna.samplers.GPSampler(seed=s)
    else:
        sampler = _tpe_class()(space.relative, multivariate=True, constant_liar=True, seed=s)
    study = _study(config, space, seed, history)
    try:
        return study.ask(sampler)
    finally:
        study.lock.release()


def clear_cache() -> None:
    """Forget the studies kept between suggestions (tests compare with fresh builds)."""
    with _lock:
        _studies.clear()
