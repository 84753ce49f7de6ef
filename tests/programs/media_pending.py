"""Logs large images faster than they can be stored, then ends as its first argument says.

    python media_pending.py MODE [N]

Logs N (default 12) distinct 1024x1024 RGB noise images, each with `loss` at the same step
and a `between` metric at a step of its own after it, prints `{"dir", "id", "logged"}` as a
JSON line, then ends by MODE:

- `finish`: `run.finish()`;
- `exit`: returns without finishing (the atexit hook finishes the run);
- `interrupt`: raises KeyboardInterrupt (the atexit hook finishes the run as failed);
- `kill`: sleeps until it is killed (the test sends SIGKILL while media are pending).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

import fwtrack

mode = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 12
rng = np.random.default_rng(0)
run = fwtrack.init(project="pending", mode="offline", settings={"flush_interval": 0.05})
for i in range(n):
    pixels = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    run.log({"img": fwtrack.Image(pixels, caption=str(i)), "loss": 1.0 / (i + 1)})
    run.log({"between": i})
print(json.dumps({"dir": run.dir, "id": run.id, "logged": n}), flush=True)
if mode == "finish":
    run.finish()
elif mode == "interrupt":
    raise KeyboardInterrupt
elif mode == "kill":
    while True:
        time.sleep(1)
