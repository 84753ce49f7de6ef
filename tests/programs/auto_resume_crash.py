"""A run started with `resume="auto"` that dies by SIGKILL after logging `argv[1]` steps:
`init(resume="auto")` in the next process continues it (tests/test_wb_surface.py)."""

from __future__ import annotations

import json
import os
import signal
import sys

import fwtrack

steps = int(sys.argv[1])
run = fwtrack.init(project="auto", resume="auto", settings={"console": False, "system_interval": 0})
run.define_metric("loss", summary="mean")
for step in range(steps):
    run.log({"loss": float(step)})
run.flush()
print(json.dumps({"id": run.id, "dir": run.dir}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
