"""Parameter values: random samples, the grid in W&B's order, canonical keys, nested paths.

Values are nested dicts (`{"optimizer": {"lr": 0.01}, "epochs": 3}`) of plain Python values
(`int`, `float`, `str`, `bool`, `None`, lists and dicts), never numpy scalars.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from fwtrack.errors import SweepConfigError
from fwtrack.sweeps.config import Param, SweepConfig

if TYPE_CHECKING:
    import numpy

__all__ = [
    "canonical_json",
    "canonical_key",
    "get_path",
    "grid_point",
    "grid_points",
    "grid_size",
    "grid_values",
    "iter_grid",
    "sample",
    "sample_param",
    "set_path",
]


# ---------------------------------------------------------------------------------------------
# nested paths


def set_path(d: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set `d[path[0]][path[1]]... = value`, creating the dicts on the way."""
    node = d
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value


def get_path(d: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """`d[path[0]][path[1]]...`; `KeyError` naming the dotted path when absent."""
    node: Any = d
    for i, key in enumerate(path):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(".".join(path[: i + 1]))
        node = node[key]
    return node


# ---------------------------------------------------------------------------------------------
# canonical keys


def _plain(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, tuples as lists, -0.0 as 0.0."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a sweep parameter value must be finite, not {value!r}")
        return 0.0 if value == 0 else float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return _plain(item())
    raise TypeError(f"a sweep parameter value must be JSON-safe, not {type(value).__name__}")


def canonical_json(params: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, ints and floats distinct (1 vs 1.0), -0.0 = 0.0."""
    return json.dumps(
        _plain(params), sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True
    )


def canonical_key(params: Mapping[str, Any]) -> str:
    """The sha256 hex digest of `canonical_json(params)` (64 characters)."""
    return hashlib.sha256(canonical_json(params).encode("ascii")).hexdigest()


# ---------------------------------------------------------------------------------------------
# random


def _quantize(x: float, q: float) -> float | int:
    import numpy as np

    r = float(np.round(x / q) * q)
    # W&B: an integer q gives integers
    return int(r) if isinstance(q, int) else r


def sample_param(p: Param, rng: numpy.random.Generator) -> Any:
    """One value of `p` drawn as W&B draws it (`wandb/sweeps` params.py `ppf`)."""
    import numpy as np

    d = p.distribution
    if d == "constant":
        return _plain(p.value)
    if d == "categorical":
        assert p.values is not None
        return _plain(p.values[int(rng.integers(len(p.values)))])
    if d == "categorical_w_probabilities":
        assert p.values is not None
        assert p.probabilities is not None
        cdf = np.cumsum(p.probabilities)
        i = int(np.searchsorted(cdf, rng.random(), side="right"))
        return _plain(p.values[min(i, len(p.values) - 1)])
    lo, hi = p.min, p.max
    if d == "int_uniform":
        assert lo is not None
        assert hi is not None
        return int(rng.integers(int(lo), int(hi) + 1))
    if d in ("uniform", "q_uniform"):
        assert lo is not None
        assert hi is not None
        x = float(rng.uniform(lo, hi))
        return _quantize(x, p.q) if d == "q_uniform" and p.q is not None else x
    if d in ("log_uniform", "q_log_uniform"):
        assert lo is not None
        assert hi is not None
        x = math.exp(float(rng.uniform(lo, hi)))
        return _quantize(x, p.q) if d == "q_log_uniform" and p.q is not None else x
    if d in ("log_uniform_values", "q_log_uniform_values"):
        assert lo is not None
        assert hi is not None
        x = math.exp(float(rng.uniform(math.log(lo), math.log(hi))))
        return _quantize(x, p.q) if d == "q_log_uniform_values" and p.q is not None else x
    if d == "inv_log_uniform":
        assert lo is not None
        assert hi is not None
        return math.exp(-float(rng.uniform(lo, hi)))
    if d == "inv_log_uniform_values":
        assert lo is not None
        assert hi is not None
        return math.exp(-float(rng.uniform(-math.log(hi), -math.log(lo))))
    if d in ("normal", "q_normal"):
        assert p.mu is not None
        assert p.sigma is not None
        x = float(rng.normal(p.mu, p.sigma))
        return _quantize(x, p.q) if d == "q_normal" and p.q is not None else x
    if d in ("log_normal", "q_log_normal"):
        assert p.mu is not None
        assert p.sigma is not None
        x = math.exp(float(rng.normal(p.mu, p.sigma)))
        return _quantize(x, p.q) if d == "q_log_normal" and p.q is not None else x
    if d in ("beta", "q_beta"):
        assert p.a is not None
        assert p.b is not None
        x = float(rng.beta(p.a, p.b))
        return _quantize(x, p.q) if d == "q_beta" and p.q is not None else x
    raise SweepConfigError(f"parameter {p.name}: unknown distribution {d!r}")  # pragma: no cover


def sample(config: SweepConfig, rng: numpy.random.Generator) -> dict[str, Any]:
    """A random draw of every parameter, nested (`method: random`).

    The controller passes `numpy.random.default_rng((seed, number))`, so a trial's values are
    a function of the sweep's seed and the trial's number.
    """
    out: dict[str, Any] = {}
    for p in config.params:
        set_path(out, p.path, sample_param(p, rng))
    return out


# ---------------------------------------------------------------------------------------------
# grid


def grid_values(p: Param) -> list[Any]:
    """The values a grid takes for `p`, as W&B's grid_search.py enumerates them.

    `values` in order (duplicates dropped); `int_uniform` → `min..max` inclusive; `q_uniform` →
    `numpy.arange(min, max, q)` (W&B's rule: `max` itself is excluded); `value` → that value.
    """
    import numpy as np

    d = p.distribution
    if d == "constant":
        raw: list[Any] = [p.value]
    elif d == "categorical":
        assert p.values is not None
        raw = list(p.values)
    elif d == "int_uniform":
        assert p.min is not None
        assert p.max is not None
        raw = list(range(int(p.min), int(p.max) + 1))
    elif d == "q_uniform":
        assert p.min is not None
        assert p.max is not None
        assert p.q is not None
        raw = np.arange(p.min, p.max, p.q).tolist()
    else:
        raise SweepConfigError(
            f"parameters.{p.name}: distribution {d!r} cannot be enumerated by a grid; grid "
            "accepts value, values (without probabilities), int_uniform and q_uniform"
        )
    seen: set[str] = set()
    out: list[Any] = []
    for v in raw:
        key = canonical_json(v)
        if key not in seen:
            seen.add(key)
            out.append(_plain(v))
    return out


def _grid_axes(config: SweepConfig) -> list[tuple[Param, list[Any]]]:
    # W&B walks the parameters sorted by name at every level and makes the product in that
    # order (the last parameter varies fastest).
    return [(p, grid_values(p)) for p in sorted(config.params, key=lambda p: p.path)]


def grid_size(config: SweepConfig) -> int:
    """The number of grid points (without building them)."""
    n = 1
    for _, values in _grid_axes(config):
        n *= len(values)
    return n


def iter_grid(config: SweepConfig) -> Iterator[dict[str, Any]]:
    """The grid points one by one, in `grid_points` order."""
    axes = _grid_axes(config)
    for combo in itertools.product(*(values for _, values in axes)):
        chosen = {p.path: v for (p, _), v in zip(axes, combo, strict=True)}
        out: dict[str, Any] = {}
        for p in config.params:  # nested dicts keep the config's key order
            set_path(out, p.path, _plain(chosen[p.path]))
        yield out


def grid_point(config: SweepConfig, index: int) -> dict[str, Any]:
    """The grid point at `index` in `iter_grid` order, without building the ones before it
    (the index read as a mixed-radix number, the last axis the fastest digit)."""
    axes = _grid_axes(config)
    size = 1
    for _, values in axes:
        size *= len(values)
    if not 0 <= index < size:
        raise IndexError(f"grid point {index} of a grid of {size}")
    chosen: dict[tuple[str, ...], Any] = {}
    for p, values in reversed(axes):
        index, digit = divmod(index, len(values))
        chosen[p.path] = values[digit]
    out: dict[str, Any] = {}
    for p in config.params:  # nested dicts keep the config's key order
        set_path(out, p.path, _plain(chosen[p.path]))
    return out


def grid_points(config: SweepConfig) -> list[dict[str, Any]]:
    """Every grid point, in W&B's order: parameters sorted by name (at each nesting level),
    the last one varying fastest; each point once."""
    return list(iter_grid(config))
