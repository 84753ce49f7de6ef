"""Histograms of adversarial arrays equal `np.histogram` bin for bin, edge for edge.

Values exactly on edges and one ulp either side, subnormals, huge and offset ranges, big
integers, float16, and arrays long enough to take the parallel SIMD path with a remainder.
Where numpy refuses the range (edges that round together: "too many bins"), fwtrack still
counts every finite value once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import fwtrack

Case = tuple[str, "np.ndarray[Any, Any]", int]


def on_and_near(edges: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Every edge and its neighbours one ulp down and up, within the edges' range."""
    inf = np.array(np.inf, edges.dtype)
    v: np.ndarray[Any, Any] = np.concatenate(
        [edges, np.nextafter(edges, inf), np.nextafter(edges, -inf)]
    )
    kept: np.ndarray[Any, Any] = v[(v >= edges[0]) & (v <= edges[-1])]
    return kept


def numpy_cases() -> Iterator[Case]:
    f16, f32, f64 = np.float16, np.float32, np.float64
    rng = np.random.default_rng(3)
    tiny32 = np.finfo(f32).smallest_subnormal
    yield "f32 on edges", on_and_near(np.linspace(f32(-3), f32(5), 65, dtype=f32)), 64
    yield "f32 on edges 0.1", on_and_near(np.linspace(f32(0.1), f32(0.7), 101, dtype=f32)), 100
    yield "f64 on edges", on_and_near(np.linspace(-3.3, 5.1, 65)), 64
    yield "f16 on edges", on_and_near(np.linspace(f16(-3), f16(5), 65, dtype=f16)), 64
    near = np.tile(on_and_near(np.linspace(f32(-1), f32(2), 65, dtype=f32)), 500)
    yield "f32 on edges, long", rng.permutation(near), 64
    yield "f32 subnormal", np.array([0, 1, 2, 3, 7, 9], f32) * tiny32, 3
    yield "f64 subnormal", np.arange(0, 640, dtype=f64) * np.finfo(f64).smallest_subnormal, 64
    yield "f32 huge range", np.array([-1e38, 0, 1e38, 1, -1, 3e37], f32), 64
    yield "f64 huge range", np.array([-1e307, 0, 1e307, 5e306, -3.3e306]), 64
    yield "f32 offset", (1e6 + rng.standard_normal(100_003) * 10).astype(f32), 128
    yield "f32 tiny scale", (rng.standard_normal(70_001) * 1e-30).astype(f32), 64
    yield "f32 long", (rng.standard_normal(300_001) * 1e3).astype(f32), 7
    yield "f32 512 bins", (rng.standard_normal(200_001) * 7).astype(f32), 512
    yield "f64 long", rng.standard_normal(300_001) * 1e3, 100
    yield "f16 long", (rng.standard_normal(200_001) * 20).astype(f16), 64
    yield "i64 extremes", np.array([np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max]), 4
    yield "i64 big", rng.integers(-(2**62), 2**62, 100_001, dtype=np.int64), 64
    yield "u64 big", np.array([0, 2**64 - 1, 2**63, 2**53 + 1], np.uint64), 16
    yield "i8 full", np.arange(-128, 128, dtype=np.int8), 64
    yield "u8 constant", np.full(10, 7, np.uint8), 4
    yield "f32 constant", np.full(10, 0.1, f32), 4
    yield "f32 one value", np.array([3.5], f32), 1


@pytest.mark.parametrize(("name", "values", "bins"), list(numpy_cases()), ids=lambda x: x)
def test_adversarial_arrays_match_numpy(name: str, values: np.ndarray[Any, Any], bins: int) -> None:
    h = fwtrack.Histogram(values, num_bins=bins)
    counts, edges = np.histogram(values, bins=bins)
    np.testing.assert_array_equal(h.edges, edges.astype(np.float64), err_msg=name)
    np.testing.assert_array_equal(h.counts, counts, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_values_beside_edge_values(dtype: type[np.generic]) -> None:
    edges = np.linspace(dtype(-2), dtype(2), 65, dtype=dtype)
    finite = np.tile(on_and_near(edges), 50)
    values = finite.copy()
    values[::7] = np.nan
    values[3::11] = np.inf
    values[5::13] = -np.inf
    h = fwtrack.Histogram(values, num_bins=64)
    counts, want_edges = np.histogram(values[np.isfinite(values)], bins=64)
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_array_equal(h.edges, want_edges.astype(np.float64))
    assert h.nan_count == int(np.isnan(values).sum())
    assert h.pos_inf_count == int(np.isposinf(values).sum())
    assert h.neg_inf_count == int(np.isneginf(values).sum())


@pytest.mark.parametrize(
    "values",
    [
        np.array([-3e38, 0, 3e38, 2e38], np.float32),
        np.array([1e7, 1e7 + 1, 1e7 + 2, 1e7 + 1], np.float32),
        np.array([0, 1, 2, 9], np.float32) * np.finfo(np.float32).smallest_subnormal,
        np.array([-1e308, 0, 1e308]),
    ],
    ids=["f32 overflowing range", "f32 edges round together", "f32 subnormal step", "f64 overflow"],
)
def test_ranges_numpy_refuses_still_count_every_value(values: np.ndarray[Any, Any]) -> None:
    with pytest.raises(ValueError, match="Too many bins"), np.errstate(all="ignore"):
        np.histogram(values, bins=64)
    h = fwtrack.Histogram(values, num_bins=64)
    assert int(h.counts.sum()) == len(values)
