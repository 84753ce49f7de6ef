"""Bayesian search through Optuna: seeded, a pure function of its inputs, W&B's distributions."""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import pytest

from fwtrack.errors import SweepConfigError
from fwtrack.sweeps import bayes
from fwtrack.sweeps.bayes import Observation, suggest
from fwtrack.sweeps.config import load_config
from fwtrack.sweeps.params import canonical_key

SPACE: dict[str, Any] = {
    "x": {"min": -5.0, "max": 5.0},
    "n": {"min": 1, "max": 4},
    "qu": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
    "quf": {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.25},
    "cat": {"values": ["a", "b", {"k": [1]}]},
    "prob": {"values": [1, 2], "probabilities": [0.1, 0.9]},
    "lu": {"distribution": "log_uniform", "min": -4, "max": 0},
    "luv": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    "ilu": {"distribution": "inv_log_uniform", "min": 0, "max": 2},
    "iluv": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10},
    "qlu": {"distribution": "q_log_uniform", "min": 0, "max": 4, "q": 2},
    "qluv": {"distribution": "q_log_uniform_values", "min": 8, "max": 256, "q": 8},
    "const": {"value": [1, 2]},
    "nest": {"parameters": {"flag": {"values": [True, False]}}},
}


def make(goal: str = "minimize", parameters: dict[str, Any] | None = None, **ext: Any) -> Any:
    raw: dict[str, Any] = {
        "method": "bayes",
        "metric": {"name": "loss", "goal": goal},
        "parameters": parameters if parameters is not None else SPACE,
    }
    if ext:
        raw["fwtrack"] = ext
    return load_config(raw)


def objective(p: dict[str, Any]) -> float:
    return (p.get("x", 0.0) - 2.0) ** 2 + p.get("n", 0) + p.get("b", 0) / 100


STATES = ["finished", "stopped", "failed", "crashed", "finished", "finished"]


def simulate(
    config: Any, trials: int, *, seed: int = 7, fresh: bool = False
) -> list[dict[str, Any]]:
    """A sweep as the controller drives it: each suggestion becomes a running trial, older
    running trials end in various states later."""
    bayes.clear_cache()
    rng = np.random.default_rng(0)
    history: list[Observation] = []
    out: list[dict[str, Any]] = []
    for number in range(trials):
        if fresh:
            bayes.clear_cache()
        p = suggest(config, history, seed=seed, number=number)
        out.append(p)
        history.append(Observation(p, None, "running"))
        for i, obs in enumerate(history[:-2]):
            if obs.state == "running" and rng.random() < 0.5:
                state = STATES[int(rng.integers(len(STATES)))]
                history[i] = Observation(obs.params, objective(obs.params), state)  # type: ignore[arg-type]
    return out


def finished_history(config: Any, n: int) -> list[Observation]:
    from fwtrack.sweeps.params import sample

    out = []
    for i in range(n):
        p = sample(config, np.random.default_rng((3, i)))
        out.append(Observation(p, objective(p), "finished"))
    return out


def test_same_inputs_same_suggestion() -> None:
    config = make()
    history = finished_history(config, 25)
    a = suggest(config, history, seed=1, number=25)
    b = suggest(config, history, seed=1, number=25)
    bayes.clear_cache()
    c = suggest(config, history, seed=1, number=25)
    assert a == b == c
    assert canonical_key(a) == canonical_key(c)


def test_the_kept_study_gives_what_a_fresh_one_gives() -> None:
    config = make()
    kept = simulate(config, 30)
    fresh = simulate(config, 30, fresh=True)
    assert kept == fresh
    assert len({canonical_key(p) for p in kept}) == 30


def test_seeded_twice_gives_the_same_sweep_and_another_seed_another() -> None:
    config = make()
    assert simulate(config, 15, seed=3) == simulate(config, 15, seed=3)
    assert simulate(config, 15, seed=3) != simulate(config, 15, seed=4)


def test_number_changes_the_suggestion() -> None:
    config = make()
    history = finished_history(config, 12)
    assert suggest(config, history, seed=1, number=12) != suggest(
        config, history, seed=1, number=13
    )


def test_suggestions_lie_in_the_wandb_distributions() -> None:
    config = make()
    for p in simulate(config, 25):
        assert -5.0 <= p["x"] <= 5.0
        assert type(p["x"]) is float
        assert p["n"] in (1, 2, 3, 4)
        assert type(p["n"]) is int
        assert p["qu"] in (0, 2, 4, 6, 8, 10)
        assert type(p["qu"]) is int
        assert p["quf"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert type(p["quf"]) is float
        assert p["cat"] in ("a", "b", {"k": [1]})
        assert p["prob"] in (1, 2)
        assert math.exp(-4) <= p["lu"] <= 1.0
        assert 1e-4 <= p["luv"] <= 1e-1
        assert math.exp(-2) <= p["ilu"] <= 1.0
        assert 0.1 <= p["iluv"] <= 10
        # q_log_uniform: e^0..e^4 rounded to multiples of 2
        assert p["qlu"] % 2 == 0
        assert 0 <= p["qlu"] <= round(math.exp(4) / 2) * 2
        assert type(p["qlu"]) is int
        assert p["qluv"] % 8 == 0
        assert 8 <= p["qluv"] <= 256
        assert type(p["qluv"]) is int
        assert p["const"] == [1, 2]
        assert type(p["nest"]["flag"]) is bool
        assert list(p) == list(SPACE)  # the config's order


def test_bayes_minimizes() -> None:
    config = make(parameters={"x": {"min": -10.0, "max": 10.0}, "n": {"value": 0}})
    history: list[Observation] = []
    for number in range(40):
        p = suggest(config, history, seed=5, number=number)
        history.append(Observation(p, objective(p), "finished"))
    values = [o.value for o in history]
    assert min(v for v in values if v is not None) < 0.5
    # the informed half does better than the random start
    assert float(np.median(values[20:])) < float(np.median(values[:10]))  # type: ignore[arg-type]


def test_goal_maximize_turns_the_study_around() -> None:
    params = {"x": {"min": 0.0, "max": 1.0}}

    def run(goal: str) -> float:
        config = make(goal=goal, parameters=params)
        history: list[Observation] = []
        for number in range(30):
            p = suggest(config, history, seed=2, number=number)
            history.append(Observation(p, p["x"], "finished"))
        return float(np.mean([o.params["x"] for o in history[15:]]))

    assert run("maximize") > 0.6 > 0.4 > run("minimize")


def test_history_that_does_not_fit_the_space_is_left_out() -> None:
    config = make(parameters={"x": {"min": 0.0, "max": 1.0}, "c": {"values": ["a", "b"]}})
    good = [Observation({"x": 0.1 * i, "c": "a"}, float(i), "finished") for i in range(1, 10)]
    foreign = [
        Observation({"x": 7.0, "c": "a"}, 0.0, "finished"),  # outside [0, 1]
        Observation({"x": 0.5, "c": "zzz"}, 0.0, "finished"),  # not a value
        Observation({"y": 0.5}, 0.0, "finished"),  # another parameter
        Observation({"x": "0.5", "c": "a"}, 0.0, "finished"),  # not a number
        Observation({"x": 0.5, "c": "b"}, math.nan, "finished"),  # no value: a failed trial
        Observation({"x": 0.5, "c": "b"}, None, "stopped"),
    ]
    mixed = good[:4] + foreign + good[4:]
    p = suggest(config, mixed, seed=0, number=len(mixed))
    assert 0.0 <= p["x"] <= 1.0
    assert p["c"] in ("a", "b")


def test_constants_only() -> None:
    config = make(parameters={"a": {"value": 3}, "b": {"parameters": {"c": {"value": "x"}}}})
    assert suggest(config, [], seed=0, number=0) == {"a": 3, "b": {"c": "x"}}


def test_q_log_uniform_reaching_zero_is_searched_linearly() -> None:
    config = make(
        parameters={"b": {"distribution": "q_log_uniform_values", "min": 1, "max": 50, "q": 8}}
    )
    seen = {p["b"] for p in simulate(config, 20)}
    assert seen <= {0, 8, 16, 24, 32, 40, 48}


def test_gp_sampler_is_seeded_too() -> None:
    config = make(
        parameters={"x": {"min": -3.0, "max": 3.0}, "n": {"min": 1, "max": 3}}, sampler="gp"
    )
    assert config.sampler == "gp"
    a = simulate(config, 14, seed=9)
    b = simulate(config, 14, seed=9)
    assert a == b
    assert all(-3.0 <= p["x"] <= 3.0 and p["n"] in (1, 2, 3) for p in a)


def test_concurrent_suggestions_are_the_same_as_one() -> None:
    config = make()
    history = finished_history(config, 20)
    expected = suggest(config, history, seed=4, number=20)
    bayes.clear_cache()
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def work() -> None:
        p = suggest(config, history, seed=4, number=20)
        with lock:
            results.append(p)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_no_study_creation_lines_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    config = make()
    suggest(config, finished_history(config, 3), seed=0, number=3)
    assert "A new study created" not in capfd.readouterr().err


def test_bayes_needs_a_metric() -> None:
    config = load_config({"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    with pytest.raises(SweepConfigError, match="metric"):
        suggest(config, [], seed=0, number=0)


def stock_optuna_suggest(
    config: Any, history: list[Observation], *, seed: int, number: int
) -> dict[str, Any]:
    """The straightforward build: a new study, Optuna's own create_trial and TPESampler."""
    import optuna
    from optuna.trial import TrialState, create_trial

    space = bayes._space(config)
    sampler = optuna.samplers.TPESampler(
        multivariate=True, constant_liar=True, seed=bayes._derived_seed(seed, number)
    )
    study = optuna.create_study(sampler=sampler, direction=config.metric.goal)
    for obs in history:
        internal = space.to_internal(obs.params)
        if internal is None:
            continue
        finite = obs.value is not None and math.isfinite(obs.value)
        kw: dict[str, Any] = {"params": internal, "distributions": space.distributions}
        if obs.state == "finished" and finite:
            study.add_trial(create_trial(state=TrialState.COMPLETE, value=obs.value, **kw))
        elif obs.state == "stopped":
            iv = {0: obs.value} if finite else None
            study.add_trial(create_trial(state=TrialState.PRUNED, intermediate_values=iv, **kw))
        elif obs.state == "running":
            study.add_trial(create_trial(state=TrialState.RUNNING, **kw))
        else:
            study.add_trial(create_trial(state=TrialState.FAIL, **kw))
    return space.to_external(study.ask(space.distributions).params)


def test_suggestions_are_optunas_own() -> None:
    """What suggest saves (the kept study, the told search space, the kept conversions) does
    not change what TPE suggests."""
    config = make()
    bayes.clear_cache()
    rng = np.random.default_rng(1)
    history: list[Observation] = []
    for number in range(36):
        ours = suggest(config, history, seed=11, number=number)
        if number % 5 == 0 or number > 30:
            assert ours == stock_optuna_suggest(config, history, seed=11, number=number)
        history.append(Observation(ours, None, "running"))
        for i, obs in enumerate(history[:-2]):
            if obs.state == "running" and rng.random() < 0.5:
                state = STATES[int(rng.integers(len(STATES)))]
                history[i] = Observation(obs.params, objective(obs.params), state)  # type: ignore[arg-type]


def test_categorical_values_keep_their_types() -> None:
    values: list[Any] = [1, 1.0, True, "1", None, [1], {"a": 1}, -0.0]
    config = make(parameters={"c": {"values": values}, "x": {"min": 0.0, "max": 1.0}})
    space = bayes._space(config)
    for i, v in enumerate(values):
        internal = space.to_internal({"c": v, "x": 0.5})
        assert internal is not None
        # told apart by type: 1, 1.0, True and "1" are four values
        assert internal["c"] == i
        back = space.to_external(internal)["c"]
        assert type(back) is type(v)
        assert back == v
    # 0.0 and -0.0 are one value (as canonical JSON has it)
    assert space.to_internal({"c": 0.0, "x": 0.5}) == {"c": 7, "x": 0.5}
    assert space.to_internal({"c": 2, "x": 0.5}) is None
    assert space.to_internal({"c": [2], "x": 0.5}) is None
    seen = [p["c"] for p in simulate(config, 16)]
    assert all(any(type(s) is type(v) and s == v for v in values) for s in seen)


def test_without_the_fast_paths_the_suggestions_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an Optuna without the private members the fast paths use runs Optuna's own code
    config = make()
    fast = simulate(config, 20)
    monkeypatch.setattr(bayes, "_internals", False)
    monkeypatch.setattr(bayes, "_tpe", None)
    monkeypatch.setattr(bayes, "_trial", None)
    assert bayes._trial_class() is None
    slow = simulate(config, 20)
    assert slow == fast


def _suggestions_in_a_new_process(trials: int) -> list[dict[str, Any]]:
    return simulate(make(), trials, seed=21)


@pytest.mark.parametrize("hash_seed", ["1", "2"])
def test_the_same_suggestions_in_another_process(
    hash_seed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    here = simulate(make(), 14, seed=21)
    monkeypatch.setenv("PYTHONHASHSEED", hash_seed)  # str hashes differ between the processes
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        there = pool.submit(_suggestions_in_a_new_process, 14).result(timeout=90)
    assert there == here
