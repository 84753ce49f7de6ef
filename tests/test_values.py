"""Every kind of logged value, written by the real writer and read back; histograms."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import torch

import fwtrack
from fwtrack import _core
from fwtrack.data_types.histogram import histogram_on_device

pytestmark = pytest.mark.usefixtures("tmp_dir")


def logged(data: dict[str, Any]) -> dict[str, Any]:
    """Log `data` as one row of a fresh run and return that row as read back."""
    run = fwtrack.init()
    run.log(data)
    run.finish()
    (row,) = list(_core.RunReader(run.dir).scan())
    return {k: v for k, v in row.items() if not k.startswith("_")}


def hists(data: dict[str, Any]) -> dict[str, _core.Histogram]:
    """Log `data` and return the histograms read back, by key."""
    run = fwtrack.init()
    run.log(data)
    run.finish()
    r = _core.RunReader(run.dir)
    out = {}
    for key in r.histogram_keys():
        ((step, h),) = r.histograms(key)
        assert step == 0
        out[key] = h
    return out


def test_python_scalars_and_strings() -> None:
    row = logged({"i": 3, "f": 0.25, "big": 2**62, "neg": -7, "t": True, "s": "hello", "u": "é✓"})
    assert row["i"] == 3
    assert type(row["i"]) is int
    assert row["f"] == 0.25
    assert row["big"] == 2**62
    assert row["neg"] == -7
    assert row["t"] is True
    assert row["s"] == "hello"
    assert row["u"] == "é✓"


def test_non_finite_floats_are_kept() -> None:
    row = logged({"nan": float("nan"), "inf": math.inf, "ninf": -math.inf, "np_nan": np.nan})
    assert math.isnan(row["nan"])
    assert math.isnan(row["np_nan"])
    assert row["inf"] == math.inf
    assert row["ninf"] == -math.inf


def test_non_finite_values_in_history_columns() -> None:
    run = fwtrack.init()
    for v in (1.0, math.nan, math.inf, -math.inf):
        run.log({"x": v})
    run.finish()
    col = _core.RunReader(run.dir).history()["x"]
    assert col[0] == 1.0
    assert math.isnan(col[1])
    assert col[2] == math.inf
    assert col[3] == -math.inf


def test_none_is_left_out() -> None:
    row = logged({"a": 1, "b": None})
    assert "b" not in row
    assert row["a"] == 1


@pytest.mark.parametrize(
    "dtype",
    [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64],
)
def test_numpy_integer_scalars(dtype: type[np.integer[Any]]) -> None:
    row = logged({"x": dtype(7)})
    assert row["x"] == 7


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_numpy_float_scalars(dtype: type[np.floating[Any]]) -> None:
    row = logged({"x": dtype(0.5), "nan": dtype("nan"), "inf": dtype("inf")})
    assert row["x"] == 0.5
    assert math.isnan(row["nan"])
    assert row["inf"] == math.inf


def test_numpy_bool_and_str_scalars() -> None:
    row = logged({"b": np.bool_(True), "s": np.str_("abc")})
    assert row["b"] is True
    assert row["s"] == "abc"


def test_other_real_numbers() -> None:
    row = logged({"frac": Fraction(1, 4)})
    assert row["frac"] == 0.25


def test_one_element_arrays_are_scalars() -> None:
    row = logged({"a0": np.array(2.5), "a1": np.array([3]), "a2": np.array([[4.5]])})
    assert row == {"a0": 2.5, "a1": 3, "a2": 4.5}


@pytest.mark.parametrize(
    ("tensor", "expected"),
    [
        (torch.tensor(1.5), 1.5),
        (torch.tensor(3), 3),
        (torch.tensor(True), True),
        (torch.tensor([2.5]), 2.5),
        (torch.tensor([[7]], dtype=torch.int32), 7),
        (torch.tensor(0.5, dtype=torch.bfloat16), 0.5),
        (torch.tensor(0.5, dtype=torch.float16), 0.5),
        (torch.tensor(0.25, requires_grad=True) * 2, 0.5),
        (torch.nn.Parameter(torch.tensor([1.0])), 1.0),
    ],
)
def test_one_element_tensors_are_scalars(tensor: torch.Tensor, expected: Any) -> None:
    row = logged({"t": tensor})
    assert row["t"] == expected
    assert type(row["t"]) is type(expected)


def test_non_finite_tensor_scalars() -> None:
    row = logged({"nan": torch.tensor(float("nan")), "inf": torch.tensor([float("-inf")])})
    assert math.isnan(row["nan"])
    assert row["inf"] == -math.inf


def test_values_mixed_with_nested_dicts() -> None:
    row = logged({"m": {"np": np.float32(0.5), "t": torch.tensor(2), "s": "x", "n": None}})
    assert row["m/np"] == 0.5
    assert row["m/t"] == 2
    assert row["m/s"] == "x"


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (object(), "object"),
        ([1, 2, 3], "list"),
        ((1, 2), "tuple"),
        ({1, 2}, "set"),
        (b"bytes", "bytes"),
        (1 + 2j, "complex"),
        (np.complex64(1 + 1j), "complex64"),
        (torch.tensor(1 + 1j), "Tensor"),
    ],
)
def test_unsupported_types_name_key_and_type(value: Any, type_name: str) -> None:
    run = fwtrack.init()
    with pytest.raises(TypeError, match=r"'the_key'") as e:
        run.log({"the_key": value})
    assert type_name in str(e.value)


def test_empty_arrays_are_rejected() -> None:
    run = fwtrack.init()
    with pytest.raises(ValueError, match=r"'e'.*empty"):
        run.log({"e": np.array([])})
    with pytest.raises(ValueError, match=r"'t'.*empty"):
        run.log({"t": torch.empty(0)})


# -- histograms ------------------------------------------------------------------------------


def np_reference(values: np.ndarray[Any, Any], bins: int) -> tuple[Any, Any]:
    # numpy bins float32/float16 data with edges in that precision, as fwtrack does
    finite = values[np.isfinite(values)]
    return np.histogram(finite, bins=bins)


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.uint16]
)
def test_numpy_arrays_become_histograms(dtype: type[np.generic]) -> None:
    rng = np.random.default_rng(0)
    values = (rng.normal(size=5000) * 20).astype(dtype)
    h = hists({"w": values})["w"]
    counts, edges = np_reference(values, 64)
    assert len(h.counts) == 64
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_allclose(h.edges, edges)
    assert (h.nan_count, h.pos_inf_count, h.neg_inf_count) == (0, 0, 0)


def test_nan_and_inf_are_counted_apart() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=1000)
    values[:7] = np.nan
    values[7:10] = np.inf
    values[10:12] = -np.inf
    h = hists({"w": values})["w"]
    assert (h.nan_count, h.pos_inf_count, h.neg_inf_count) == (7, 3, 2)
    counts, edges = np_reference(values, 64)
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_allclose(h.edges, edges)
    assert int(h.counts.sum()) == 988


@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.uint8]
)
def test_tensors_become_histograms(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(0)
    t = (torch.randn(4000, generator=g) * 30).abs().to(dtype)
    h = hists({"t": t})["t"]
    ref = t.float().numpy() if dtype in (torch.float16, torch.bfloat16) else t.numpy()
    counts, edges = np_reference(ref, 64)
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_allclose(h.edges, edges)


def test_tensor_histogram_counts_non_finite() -> None:
    t = torch.randn(3, 100, dtype=torch.float16)
    t[0, :5] = float("nan")
    t[1, :4] = float("inf")
    t[2, :3] = float("-inf")
    h = hists({"t": t})["t"]
    assert (h.nan_count, h.pos_inf_count, h.neg_inf_count) == (5, 4, 3)
    assert int(h.counts.sum()) == 288


def test_bool_arrays_and_grad_tensors() -> None:
    w = torch.nn.Linear(8, 8).weight  # requires grad
    got = hists({"mask": np.array([True, False, True, True]), "w": w})
    np.testing.assert_array_equal(got["mask"].counts.sum(), 4)
    assert int(got["w"].counts.sum()) == 64


def test_non_contiguous_and_big_endian_arrays() -> None:
    base = np.arange(200, dtype=np.float64).reshape(20, 10)
    strided = base[:, ::3]
    big_endian = np.arange(100, dtype=">f4")
    got = hists({"s": strided, "b": big_endian})
    counts, _ = np_reference(np.ascontiguousarray(strided).ravel(), 64)
    np.testing.assert_array_equal(got["s"].counts, counts)
    counts, _ = np_reference(big_endian.astype(np.float32), 64)
    np.testing.assert_array_equal(got["b"].counts, counts)


def test_histogram_class_from_values() -> None:
    values = np.linspace(-1, 1, 1001)
    h = fwtrack.Histogram(values, num_bins=10)
    counts, edges = np.histogram(values, bins=10)
    assert h.num_bins == 10
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_allclose(h.edges, edges)
    assert "num_bins=10" in repr(h)
    assert fwtrack.Histogram([1, 2, 3, 4], num_bins=2).counts.tolist() == [2, 2]

    got = hists({"h": h})["h"]
    np.testing.assert_array_equal(got.counts, counts)


def test_histogram_class_from_a_tensor() -> None:
    t = torch.arange(100, dtype=torch.bfloat16).reshape(10, 10)
    h = fwtrack.Histogram(t, num_bins=5)
    assert h.counts.tolist() == [20, 20, 20, 20, 20]
    assert h.edges[0] == 0.0
    assert h.edges[-1] == 99.0


def test_histogram_class_from_np_histogram() -> None:
    counts, edges = np.histogram(np.arange(10.0), bins=4)
    h = fwtrack.Histogram(np_histogram=(counts, edges))
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_allclose(h.edges, edges)
    assert h.nan_count == 0
    got = hists({"h": h})["h"]
    np.testing.assert_array_equal(got.counts, counts)


def test_constant_and_all_nan_values() -> None:
    h = fwtrack.Histogram(np.full(10, 5.0), num_bins=4)
    assert h.edges[0] == 4.5
    assert h.edges[-1] == 5.5
    assert int(h.counts.sum()) == 10
    h = fwtrack.Histogram(np.full(3, np.nan), num_bins=4)
    assert h.nan_count == 3
    assert int(h.counts.sum()) == 0


@pytest.mark.parametrize("bad", [0, 513, -1])
def test_histogram_num_bins_is_validated(bad: int) -> None:
    with pytest.raises(ValueError, match=r"num_bins must be in 1..=512"):
        fwtrack.Histogram(np.arange(10), num_bins=bad)


def test_histogram_bad_arguments() -> None:
    with pytest.raises(TypeError, match="num_bins must be an int"):
        fwtrack.Histogram(np.arange(10), num_bins=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs values"):
        fwtrack.Histogram()
    with pytest.raises(ValueError, match="not both"):
        fwtrack.Histogram([1.0], np_histogram=([1], [0.0, 1.0]))
    with pytest.raises(ValueError, match="one more edge than counts"):
        fwtrack.Histogram(np_histogram=([1, 2], [0.0, 1.0]))
    with pytest.raises(ValueError, match="non-negative"):
        fwtrack.Histogram(np_histogram=([-1, 2], [0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="ascending"):
        fwtrack.Histogram(np_histogram=([1, 2], [0.0, 2.0, 1.0]))
    with pytest.raises(TypeError, match="dtype"):
        fwtrack.Histogram(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="dtype"):
        fwtrack.Histogram(np.array([1 + 1j, 2j]))


# -- the on-device path (CUDA tensors), run here on a CPU tensor -----------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.bfloat16])
def test_device_path_matches_the_host_path(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(3)
    # values in the middle of bins: device (histc) and host (numpy rule) agree exactly
    t = (torch.randint(0, 50, (3000,), generator=g).to(torch.float64) + 0.5).to(dtype)
    t[0], t[1] = 0, 64  # fix the range so that edges fall between values
    on_device = histogram_on_device(t, 32)
    on_host = fwtrack.Histogram(t, num_bins=32)
    np.testing.assert_array_equal(on_device.counts, on_host.counts)
    np.testing.assert_allclose(on_device.edges, on_host.edges)


def test_device_path_counts_non_finite() -> None:
    t = torch.tensor([1.0, 2.0, float("nan"), float("inf"), float("-inf"), float("nan"), 3.0])
    h = histogram_on_device(t, 2)
    assert int(h.counts.sum()) == 3
    assert h.counts.tolist() == [1, 2]
    np.testing.assert_allclose(h.edges, [1.0, 2.0, 3.0])
    assert (h.nan_count, h.pos_inf_count, h.neg_inf_count) == (2, 1, 1)


def test_device_path_edge_cases() -> None:
    h = histogram_on_device(torch.full((5,), 2.0), 4)
    np.testing.assert_allclose(h.edges[[0, -1]], [1.5, 2.5])
    assert int(h.counts.sum()) == 5
    h = histogram_on_device(torch.empty(0), 3)
    assert h.counts.tolist() == [0, 0, 0]


def test_device_path_without_finite_values() -> None:
    h = histogram_on_device(torch.full((5,), float("nan")), 4)
    np.testing.assert_allclose(h.edges[[0, -1]], [0.0, 1.0])
    assert (int(h.counts.sum()), h.nan_count) == (0, 5)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.uint8])
def test_large_histograms_match_numpy_bin_for_bin(dtype: type[np.generic]) -> None:
    # a million values: some lie within rounding distance of an edge, where the precision
    # the edges are computed in decides the bin
    values = (np.random.default_rng(7).standard_normal(1_000_000) * 50).astype(dtype)
    h = fwtrack.Histogram(values, num_bins=64)
    counts, edges = np.histogram(values, bins=64)
    np.testing.assert_array_equal(h.counts, counts)
    np.testing.assert_array_equal(h.edges, edges.astype(np.float64))
