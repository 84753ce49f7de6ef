"""`fwtrack.Histogram`: the distribution of an array, binned in Rust.

NaN and +/-Inf values are left out of the bins and counted apart. Binning follows
`numpy.histogram` with equal-width bins over the finite minimum and maximum (widened by 0.5 on
each side when they are equal; 0..1 when there is no finite value).

numpy is imported on first use, not by `import fwtrack`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from fwtrack import _core

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import torch

__all__ = ["MAX_BINS", "Histogram"]

MAX_BINS = 512

# dtypes `_core.histogram` bins as they are; anything else numeric is cast first.
_NATIVE_KINDS = frozenset("fiu")
_FLOAT_SIZES = frozenset({2, 4, 8})


def _check_num_bins(num_bins: object) -> int:
    import numpy as np

    if isinstance(num_bins, bool) or not isinstance(num_bins, int | np.integer):
        raise TypeError(f"num_bins must be an int, got {type(num_bins).__name__}")
    n = int(num_bins)
    if not 1 <= n <= MAX_BINS:
        raise ValueError(f"num_bins must be in 1..={MAX_BINS}, got {n}")
    return n


def is_tensor(value: object) -> bool:
    """True for a torch tensor (without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def prepare_array(arr: npt.NDArray[Any], what: str) -> npt.NDArray[Any]:
    """`arr` as a native-endian, C-contiguous float16/32/64 or int array `_core` can bin.

    Bools become uint8, other real dtypes (float128, ...) float64; anything else (complex,
    strings, objects) raises TypeError naming `what`.
    """
    import numpy as np

    dt = arr.dtype
    if dt.kind == "b":
        arr = arr.astype(np.uint8)
    elif dt.kind == "f" and dt.itemsize not in _FLOAT_SIZES:
        arr = arr.astype(np.float64)
    elif dt.kind not in _NATIVE_KINDS:
        raise TypeError(
            f"{what}: cannot make a histogram of a numpy array of dtype {dt}; "
            "use a float, int or bool array (e.g. np.abs(z) for complex values)"
        )
    elif not dt.isnative:
        arr = arr.astype(dt.newbyteorder("="))
    return np.ascontiguousarray(arr)


def _tensor_on_host(t: torch.Tensor, num_bins: int) -> _core.Histogram:
    import torch

    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    elif t.dtype == torch.bool:
        t = t.to(torch.uint8)
    elif t.is_complex():
        raise TypeError(
            f"cannot make a histogram of a tensor of dtype {t.dtype}; "
            "use a real tensor (e.g. z.abs())"
        )
    arr = t.contiguous().numpy()
    return _core.histogram(prepare_array(arr, f"tensor of dtype {t.dtype}"), num_bins)


def histogram_on_device(t: torch.Tensor, num_bins: int) -> _core.Histogram:
    """Bin a tensor where it lives (a CUDA tensor stays on its GPU); only the bins, edges and
    non-finite tallies are copied to the host.

    Matches `_core.histogram`: range over the finite values, widened by 0.5 when constant,
    0..1 without finite values; the last bin is closed.
    """
    import numpy as np
    import torch

    if t.is_complex():
        raise TypeError(
            f"cannot make a histogram of a tensor of dtype {t.dtype}; "
            "use a real tensor (e.g. z.abs())"
        )
    flat = t.detach().reshape(-1)
    # float64 keeps ints and the range exact (histc wants a floating tensor); MPS has no
    # float64, float32 it is there.
    wide = torch.float32 if flat.device.type == "mps" else torch.float64
    work = flat if flat.dtype == wide else flat.to(wide)
    if work.numel() == 0:
        return from_counts(np.zeros(num_bins, np.uint64), np.linspace(0.0, 1.0, num_bins + 1))
    finite_mask = torch.isfinite(work)
    tallies = torch.stack(
        (
            finite_mask.sum(),
            torch.isnan(work).sum(),
            torch.isposinf(work).sum(),
            torch.isneginf(work).sum(),
        )
    )
    # No boolean indexing (it would synchronize): non-finite values are masked instead.
    lo_hi = torch.stack(
        (
            torch.where(finite_mask, work, torch.inf).amin(),
            torch.where(finite_mask, work, -torch.inf).amax(),
        )
    )
    # histc needs the range as Python numbers: copy it and the tallies (a few bytes) to the host.
    lo, hi = (float(x) for x in lo_hi.cpu().tolist())
    finite_count, nan, pos_inf, neg_inf = (int(x) for x in tallies.cpu().tolist())
    if finite_count == 0:
        lo, hi = 0.0, 1.0
    elif lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    if finite_count > 0:
        # histc leaves NaN out of the bins.
        masked = torch.where(finite_mask, work, torch.nan)
        counts_t = torch.histc(masked, bins=num_bins, min=lo, max=hi)
        counts = counts_t.cpu().numpy().round().astype(np.uint64)
    else:
        counts = np.zeros(num_bins, dtype=np.uint64)
    edges = np.linspace(lo, hi, num_bins + 1)
    return from_counts(counts, edges, nan=nan, pos_inf=pos_inf, neg_inf=neg_inf)


def from_counts(
    counts: npt.ArrayLike,
    edges: npt.ArrayLike,
    *,
    nan: int = 0,
    pos_inf: int = 0,
    neg_inf: int = 0,
) -> _core.Histogram:
    """A `_core.Histogram` from bins computed elsewhere, validated here with clear errors."""
    import numpy as np

    c = np.asarray(counts)
    e = np.asarray(edges, dtype=np.float64)
    if c.ndim != 1 or e.ndim != 1:
        raise ValueError("np_histogram must be (counts, edges), two 1-d arrays")
    if not 1 <= c.size <= MAX_BINS:
        raise ValueError(f"np_histogram has {c.size} bins: the number of bins must be 1..=512")
    if e.size != c.size + 1:
        raise ValueError(
            f"np_histogram has {c.size} counts and {e.size} edges: "
            "there must be one more edge than counts (as numpy.histogram returns)"
        )
    if c.dtype.kind not in "iub" and (
        c.dtype.kind != "f" or not np.all(np.isfinite(c)) or np.any(c != np.round(c))
    ):
        raise ValueError("np_histogram counts must be whole, non-negative numbers")
    if np.any(c < 0):
        raise ValueError("np_histogram counts must be whole, non-negative numbers")
    if not np.all(np.isfinite(e)) or np.any(np.diff(e) < 0):
        raise ValueError("np_histogram edges must be finite and ascending")
    cu = np.ascontiguousarray(c, dtype=np.uint64)
    ec = np.ascontiguousarray(e)
    return _core.Histogram.from_counts(
        cu, ec, nan_count=nan, pos_inf_count=pos_inf, neg_inf_count=neg_inf
    )


class Histogram:
    """The distribution of an array of numbers, logged as `fwtrack.log({"w": Histogram(x)})`.

    `values` (or `sequence=`, wandb's name): a numpy array (float16/32/64, ints, bools), a
    list of numbers, a torch tensor (any device; CUDA tensors are binned on the GPU and only
    the bins are copied back), or anything `numpy.asarray` takes. `num_bins`: 1..=512
    (default 64). Or `np_histogram=(counts, edges)` as returned by `numpy.histogram` (also
    wandb's second positional argument). `.bins` (edges) and `.histogram` (counts) are
    lists, as wandb's. Logging a numpy array or a tensor with more than one element
    directly makes a 64-bin histogram of it.
    """

    __slots__ = ("_inner",)

    _inner: _core.Histogram

    def __init__(
        self,
        values: Any = None,
        num_bins: Any = 64,
        *,
        np_histogram: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        sequence: Any = None,
    ) -> None:
        if sequence is not None:
            if values is not None:
                raise ValueError("pass the values once: either positionally or as sequence=")
            values = sequence  # wandb's name
        if isinstance(num_bins, tuple) and np_histogram is None:
            # wandb's second positional parameter is np_histogram
            np_histogram, num_bins = num_bins, 64
        if np_histogram is not None:
            if values is not None:
                raise ValueError(
                    "pass either sequence (values) or np_histogram=(counts, edges), not both"
                )
            try:
                counts, edges = np_histogram
            except (TypeError, ValueError):
                raise ValueError(
                    "np_histogram must be a (counts, edges) pair, as numpy.histogram returns"
                ) from None
            self._inner = from_counts(counts, edges)
            return
        if values is None:
            raise ValueError(
                "Histogram needs values (sequence=: an array, tensor or list) or np_histogram="
            )
        import numpy as np

        n = _check_num_bins(num_bins)
        if is_tensor(values):
            self._inner = histogram_of_tensor(values, n)
        else:
            arr = values if isinstance(values, np.ndarray) else np.asarray(values)
            self._inner = _core.histogram(prepare_array(arr, "Histogram"), n)

    @property
    def bins(self) -> list[float]:
        """The `num_bins + 1` bin edges as a list (wandb's `Histogram.bins`)."""
        return [float(e) for e in self._inner.edges]

    @property
    def histogram(self) -> list[int]:
        """The count of each bin as a list (wandb's `Histogram.histogram`)."""
        return [int(c) for c in self._inner.counts]

    @classmethod
    def _wrap(cls, inner: _core.Histogram) -> Histogram:
        h = cls.__new__(cls)
        h._inner = inner
        return h

    @property
    def counts(self) -> npt.NDArray[np.uint64]:
        """Counts of the finite values in each bin."""
        return self._inner.counts

    @property
    def edges(self) -> npt.NDArray[np.float64]:
        """`num_bins + 1` ascending bin edges."""
        return self._inner.edges

    @property
    def num_bins(self) -> int:
        return len(self._inner.counts)

    @property
    def nan_count(self) -> int:
        return self._inner.nan_count

    @property
    def pos_inf_count(self) -> int:
        return self._inner.pos_inf_count

    @property
    def neg_inf_count(self) -> int:
        return self._inner.neg_inf_count

    def __repr__(self) -> str:
        e = self.edges
        return (
            f"Histogram(num_bins={self.num_bins}, range=[{e[0]:g}, {e[-1]:g}], "
            f"count={int(self.counts.sum())}, nan={self.nan_count}, "
            f"pos_inf={self.pos_inf_count}, neg_inf={self.neg_inf_count})"
        )


def histogram_of_tensor(t: torch.Tensor, num_bins: int) -> _core.Histogram:
    """Histogram of a torch tensor: CPU tensors go through numpy, others stay on device."""
    t = t.detach()
    if t.device.type == "cpu":
        return _tensor_on_host(t, num_bins)
    return histogram_on_device(t, num_bins)
