"""Parameter values: random draws as W&B draws them, the grid in W&B's order, canonical keys."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from fwtrack.errors import SweepConfigError
from fwtrack.sweeps.config import load_config
from fwtrack.sweeps.params import (
    canonical_json,
    canonical_key,
    get_path,
    grid_point,
    grid_points,
    grid_size,
    grid_values,
    iter_grid,
    sample,
    set_path,
)

# ---------------------------------------------------------------------------------------------
# nested paths


def test_set_and_get_path() -> None:
    d: dict[str, Any] = {}
    set_path(d, ("a",), 1)
    set_path(d, ("o", "lr"), 0.1)
    set_path(d, ("o", "adam", "beta"), 0.9)
    assert d == {"a": 1, "o": {"lr": 0.1, "adam": {"beta": 0.9}}}
    assert get_path(d, ("o", "adam", "beta")) == 0.9
    assert get_path(d, ("o",)) == {"lr": 0.1, "adam": {"beta": 0.9}}
    with pytest.raises(KeyError, match=r"o\.sgd"):
        get_path(d, ("o", "sgd", "momentum"))
    with pytest.raises(KeyError, match=r"a\.b"):
        get_path(d, ("a", "b"))


# ---------------------------------------------------------------------------------------------
# canonical keys


def test_canonical_json_sorts_keys_without_spaces() -> None:
    assert (
        canonical_json({"b": 1, "a": {"z": [1, 2], "y": "s"}}) == '{"a":{"y":"s","z":[1,2]},"b":1}'
    )


def test_canonical_key_is_order_independent_sha256() -> None:
    k1 = canonical_key({"a": 1, "b": {"c": 2.5, "d": "x"}})
    k2 = canonical_key({"b": {"d": "x", "c": 2.5}, "a": 1})
    assert k1 == k2
    assert len(k1) == 64
    assert int(k1, 16) >= 0


def test_canonical_key_keeps_ints_and_floats_apart() -> None:
    assert canonical_key({"a": 1}) != canonical_key({"a": 1.0})
    assert canonical_key({"a": True}) != canonical_key({"a": 1})
    assert canonical_key({"a": None}) != canonical_key({"a": "None"})


def test_canonical_key_negative_zero_is_zero() -> None:
    assert canonical_key({"a": -0.0}) == canonical_key({"a": 0.0})
    assert canonical_key({"a": [-0.0]}) == canonical_key({"a": [0.0]})


def test_canonical_key_numpy_scalars_and_tuples_are_plain_values() -> None:
    assert canonical_key({"a": np.float64(0.5), "b": np.int64(3)}) == canonical_key(
        {"a": 0.5, "b": 3}
    )
    assert canonical_key({"a": (1, 2)}) == canonical_key({"a": [1, 2]})


def test_canonical_key_refuses_non_finite_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        canonical_key({"a": math.nan})
    with pytest.raises(ValueError, match="finite"):
        canonical_key({"a": math.inf})


# ---------------------------------------------------------------------------------------------
# grid


def grid(parameters: dict[str, Any]) -> Any:
    return load_config({"method": "grid", "parameters": parameters})


def test_grid_order_is_wandbs_sorted_names_last_fastest() -> None:
    # W&B walks the parameters sorted by name and takes itertools.product in that order.
    config = grid({"b": {"values": [1, 2]}, "a": {"values": ["x", "y"]}, "c": {"value": 0}})
    assert grid_points(config) == [
        {"b": 1, "a": "x", "c": 0},
        {"b": 2, "a": "x", "c": 0},
        {"b": 1, "a": "y", "c": 0},
        {"b": 2, "a": "y", "c": 0},
    ]
    # the dict keys keep the config's order
    assert list(grid_points(config)[0]) == ["b", "a", "c"]


def test_grid_order_with_nesting_sorts_at_every_level() -> None:
    config = grid(
        {
            "optimizer": {
                "parameters": {"lr": {"values": [0.1, 0.01]}, "beta": {"values": [0.9, 0.99]}}
            },
            "batch": {"values": [16, 32]},
        }
    )
    names = ["batch", "optimizer.beta", "optimizer.lr"]  # sorted order
    points = grid_points(config)
    assert len(points) == 8 == grid_size(config)
    flat = [(p["batch"], p["optimizer"]["beta"], p["optimizer"]["lr"]) for p in points]
    assert flat == [
        (16, 0.9, 0.1),
        (16, 0.9, 0.01),
        (16, 0.99, 0.1),
        (16, 0.99, 0.01),
        (32, 0.9, 0.1),
        (32, 0.9, 0.01),
        (32, 0.99, 0.1),
        (32, 0.99, 0.01),
    ]
    assert sorted(names) == names


def test_grid_int_uniform_is_inclusive() -> None:
    config = grid({"n": {"min": 2, "max": 5}})
    assert [p["n"] for p in grid_points(config)] == [2, 3, 4, 5]
    assert all(type(p["n"]) is int for p in grid_points(config))


def test_grid_q_uniform_is_numpy_arange_without_max() -> None:
    # W&B: np.arange(min, max, q).tolist()
    config = grid({"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}})
    assert [p["x"] for p in grid_points(config)] == [0.0, 0.25, 0.5, 0.75]
    config = grid({"x": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 5}})
    assert [p["x"] for p in grid_points(config)] == [0, 5]
    default_q = grid({"x": {"distribution": "q_uniform", "min": 1, "max": 4}})
    assert [p["x"] for p in grid_points(default_q)] == [1.0, 2.0, 3.0]


def test_grid_drops_duplicate_values() -> None:
    config = grid({"a": {"values": [1, 2, 1, 1.0]}, "b": {"values": [[1], [1], {"k": 1}]}})
    assert grid_size(config) == 3 * 2
    points = grid_points(config)
    assert len({canonical_key(p) for p in points}) == len(points) == 6
    assert [p["a"] for p in points[::2]] == [1, 2, 1.0]


def test_grid_values_of_structured_values_are_copies() -> None:
    config = grid({"a": {"values": [{"k": [1, 2]}]}, "b": {"values": [1, 2]}})
    points = grid_points(config)
    points[0]["a"]["k"].append(3)
    assert points[1]["a"] == {"k": [1, 2]}
    assert grid_points(config)[0]["a"] == {"k": [1, 2]}


def test_grid_of_the_wandb_grid_example() -> None:
    from pathlib import Path

    config = load_config(Path(__file__).parent / "wandb_examples" / "grid_sweeps_repo.yaml")
    points = grid_points(config)
    assert grid_size(config) == 27 == len(points)
    assert len({canonical_key(p) for p in points}) == 27
    # sorted names: base, direction, increment (constants ride along)
    assert [(p["base"], p["direction"], p["increment"]) for p in points[:4]] == [
        (10, -1, 0.1),
        (10, -1, 0.2),
        (10, -1, 0.3),
        (10, 0.1, 0.1),
    ]
    assert all(p["epochs"] == 5 and p["sleep"] == 0.5 for p in points)


def test_iter_grid_is_lazy_and_equal() -> None:
    config = grid({f"p{i}": {"values": list(range(10))} for i in range(6)})
    assert grid_size(config) == 10**6
    first = next(iter_grid(config))
    assert first == {f"p{i}": 0 for i in range(6)}


def test_grid_point_by_index_is_the_point_in_grid_order() -> None:
    config = grid(
        {
            "optimizer": {
                "parameters": {"lr": {"values": [0.1, 0.01]}, "beta": {"values": [0.9, 0.99]}}
            },
            "batch": {"values": [16, 32, 64]},
            "epochs": {"min": 1, "max": 3},
        }
    )
    points = grid_points(config)
    assert [grid_point(config, i) for i in range(len(points))] == points
    with pytest.raises(IndexError):
        grid_point(config, len(points))
    big = grid({f"p{i}": {"values": list(range(10))} for i in range(6)})
    assert grid_point(big, 123456) == {f"p{i}": int(d) for i, d in enumerate("123456")}


def test_grid_values_refuses_continuous() -> None:
    config = load_config({"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    with pytest.raises(SweepConfigError, match="cannot be enumerated"):
        grid_values(config.params[0])


# ---------------------------------------------------------------------------------------------
# random


SPACE: dict[str, Any] = {
    "const": {"value": {"k": [1, 2]}},
    "cat": {"values": ["a", "b", "c"]},
    "prob": {"values": ["x", "y", "z"], "probabilities": [0.0, 0.25, 0.75]},
    "n": {"min": -3, "max": 3},
    "u": {"min": 0.5, "max": 1.5},
    "qu": {"distribution": "q_uniform", "min": 0, "max": 100, "q": 10},
    "quf": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
    "lu": {"distribution": "log_uniform", "min": -4, "max": 0},
    "luv": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    "ilu": {"distribution": "inv_log_uniform", "min": 0, "max": 2},
    "iluv": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10},
    "qlu": {"distribution": "q_log_uniform", "min": 0, "max": 4, "q": 2},
    "qluv": {"distribution": "q_log_uniform_values", "min": 8, "max": 256, "q": 8},
    "nor": {"distribution": "normal", "mu": 5, "sigma": 0.1},
    "qnor": {"distribution": "q_normal", "mu": 100, "sigma": 10, "q": 5},
    "lnor": {"distribution": "log_normal", "mu": 0, "sigma": 0.5},
    "qlnor": {"distribution": "q_log_normal", "mu": 3, "sigma": 0.2, "q": 1},
    "beta": {"distribution": "beta", "a": 2, "b": 2},
    "qbeta": {"distribution": "q_beta", "a": 2, "b": 2, "q": 0.1},
    "nest": {"parameters": {"deep": {"parameters": {"x": {"values": [True, False]}}}}},
}


def draws(n: int = 400) -> list[dict[str, Any]]:
    config = load_config({"method": "random", "parameters": SPACE})
    return [sample(config, np.random.default_rng((11, i))) for i in range(n)]


def test_random_is_deterministic_per_seed_and_number() -> None:
    config = load_config({"method": "random", "parameters": SPACE})
    a = sample(config, np.random.default_rng((1, 5)))
    b = sample(config, np.random.default_rng((1, 5)))
    c = sample(config, np.random.default_rng((1, 6)))
    assert a == b
    assert canonical_key(a) == canonical_key(b)
    assert a != c


def test_random_values_are_plain_json_values() -> None:
    for d in draws(20):
        assert json.loads(json.dumps(d)) == d
        assert type(d["n"]) is int
        assert type(d["u"]) is float
        assert type(d["qu"]) is int  # integer q gives integers (W&B)
        assert type(d["quf"]) is float
        assert type(d["qluv"]) is int
        assert type(d["qlnor"]) is int
        assert type(d["nest"]["deep"]["x"]) is bool


def test_random_values_lie_in_their_distributions() -> None:
    ds = draws()
    for d in ds:
        assert d["const"] == {"k": [1, 2]}
        assert d["cat"] in ("a", "b", "c")
        assert d["prob"] in ("y", "z")  # probability 0 is never drawn
        assert -3 <= d["n"] <= 3
        assert 0.5 <= d["u"] <= 1.5
        assert d["qu"] % 10 == 0
        assert 0 <= d["qu"] <= 100
        assert d["quf"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert math.exp(-4) <= d["lu"] <= 1
        assert 1e-4 <= d["luv"] <= 1e-1
        assert math.exp(-2) <= d["ilu"] <= 1
        assert 0.1 <= d["iluv"] <= 10
        assert d["qlu"] % 2 == 0
        assert 0 <= d["qlu"] <= 56
        assert d["qluv"] % 8 == 0
        assert 8 <= d["qluv"] <= 256
        assert d["lnor"] > 0
        assert d["qnor"] % 5 == 0
        assert 0 <= d["beta"] <= 1
        assert any(math.isclose(d["qbeta"], k * 0.1) for k in range(11))
    # every value of every categorical shows up, and every integer of the range
    assert {d["cat"] for d in ds} == {"a", "b", "c"}
    assert {d["n"] for d in ds} == set(range(-3, 4))
    assert {d["nest"]["deep"]["x"] for d in ds} == {True, False}
    # the normal's mean is near mu
    assert abs(np.mean([d["nor"] for d in ds]) - 5) < 0.05


def test_random_probabilities_weigh_the_values() -> None:
    counts = Counter(d["prob"] for d in draws(2000))
    assert counts["x"] == 0
    assert counts["z"] > 2 * counts["y"] > 0


def test_random_log_uniform_values_spread_over_the_decades() -> None:
    decades = Counter(math.floor(math.log10(d["luv"])) for d in draws(900))
    assert set(decades) == {-4, -3, -2}
    assert min(decades.values()) > 200


def test_grid_of_constants_is_one_point() -> None:
    config = grid({"a": {"value": 1}, "b": {"parameters": {"c": {"value": [1, 2]}}}})
    assert grid_size(config) == 1
    assert grid_points(config) == [{"a": 1, "b": {"c": [1, 2]}}]
