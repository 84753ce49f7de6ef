"""A media worker that never finishes: finishing the run must not wait for it beyond the
stall bound (set to 1 s here). Logs `x` at steps 0..2 and an image whose encoding blocks
forever at step 1; prints `{"dir", "id", "warnings"}` after `finish()` returns.
"""

from __future__ import annotations

import json
import threading
import warnings

import numpy as np

import fwtrack
from fwtrack.sdk import media_worker

media_worker.STALL_TIMEOUT = 1.0


class Wedged(fwtrack.Image):
    def _encode(self) -> bytes:
        threading.Event().wait()  # forever
        raise AssertionError("unreachable")


run = fwtrack.init(project="wedged", mode="offline")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    run.log({"x": 0})
    run.log({"x": 1, "img": Wedged(np.zeros((4, 4), np.uint8))})
    run.log({"x": 2})
    run.finish()
messages = [str(w.message) for w in caught if issubclass(w.category, fwtrack.FwTrackWarning)]
print(json.dumps({"dir": run.dir, "id": run.id, "warnings": messages}))
