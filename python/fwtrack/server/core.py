"""The Rust core's server-side functions, in one place (`fwtrack-core::index`, `::downsample`).

All of them release the GIL, so request threads run them in parallel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from fwtrack import _core

__all__ = [
    "FRAME_HEADER_LEN",
    "LOG_HEADER_LEN",
    "frame_sequence",
    "index_read_meta",
    "index_update",
    "log_next_seq",
    "read_series",
    "validate_frames",
]

Series = dict[str, npt.NDArray[np.float64]]

LOG_HEADER_LEN: int = _core.LOG_HEADER_LEN
"""The run log's file header (magic and format version), in bytes."""

FRAME_HEADER_LEN: int = _core.FRAME_HEADER_LEN
"""The header of each frame, in bytes (docs/format.md)."""


def validate_frames(data: bytes, at_start: bool) -> int:
    """Check that `data` is (a header, when `at_start`, then) whole frames with good CRCs.

    Returns the frame count; raises ValueError naming the offset and the reason.
    """
    return _core.validate_frames(data, at_start)


def frame_sequence(data: bytes, at_start: bool, next_seq: int) -> int:
    """The next record number after the frames of `data` (already validated), which must
    continue a log whose next record is `next_seq`: a frame numbered below it (sent again or
    out of order) raises ValueError naming its offset; one numbered above it is accepted (a
    writer skips the numbers of records it dropped)."""
    return _core.frame_sequence(data, at_start, next_seq)


def log_next_seq(fd: int, size: int) -> int:
    """The next record number after the whole frames among the first `size` bytes of the
    stored log open on `fd` (read from the frame headers)."""
    return _core.log_next_seq(fd, size)


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
