"""The Rust core's server-side functions, in one place (`fwtrack-core::index`, `::downsample`).

All of them release the GIL, so request threads run them in parallel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fwtrack import _core

__all__ = ["index_read_meta", "index_update", "read_series", "validate_frames"]

Series = dict[str, npt.NDArray[np.float64]]


def validate_frames(data: bytes, at_start: bool) -> int:
    """Check that `data` is (a header, when `at_start`, then) whole frames with good CRCs.

    Returns the frame count; raises ValueError naming the offset and the reason.
    """
    return _core.validate_frames(data, at_start)


def index_update(log_path: str, index_dir: str) -> dict[str, Any]:
    """Bring the history index of `log_path` up to date; return
    `{"log_offset", "rows_added", "keys", "meta"}` (meta shaped like `RunReader.meta()`)."""
    return _core.index_update(log_path, index_dir)


def index_read_meta(index_dir: str) -> dict[str, Any]:
    """What `index_update` last answered, without updating (an empty index: offset 0)."""
    return _core.index_read_meta(index_dir)


def read_series(
    index_dir: str,
    keys: list[str] | None,
    samples: int,
    min_step: float | None,
    max_step: float | None,
) -> dict[str, Series]:
    """Per key: float64 arrays `step`, `value`, `timestamp` (and `min`, `max` when
    downsampled) within `[min_step, max_step]`; keys without data are absent."""
    return _core.read_series(index_dir, keys, samples, min_step, max_step)
