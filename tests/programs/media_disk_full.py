"""Logs media to a disk that refuses large files, and prints the warnings it got.

With RLIMIT_FSIZE at 64 KiB (a write past it fails with EFBIG, as one fails with ENOSPC on a
full disk), each step logs `x`, a small image (stored) and at even steps a large noise image
(its payload cannot be written). Prints `{"dir", "id", "warnings"}` as a JSON line.
"""

from __future__ import annotations

import json
import resource
import signal
import warnings

import numpy as np

import fwtrack

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
rng = np.random.default_rng(1)
run = fwtrack.init(project="full", mode="offline", settings={"flush_interval": 0.05})
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, hard))
    for step in range(10):
        values = {"x": step, "small": fwtrack.Image(np.full((8, 8), step * 20, np.uint8))}
        if step % 2 == 0:
            values["large"] = fwtrack.Image(rng.integers(0, 256, (256, 256, 3), np.uint8))
        run.log(values)  # never raises
    run.finish()
messages = [str(w.message) for w in caught if issubclass(w.category, fwtrack.FwTrackWarning)]
print(json.dumps({"dir": run.dir, "id": run.id, "warnings": messages}))
