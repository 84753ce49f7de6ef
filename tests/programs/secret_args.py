"""A short offline run started with secrets on its command line (the test passes them; this
file never names them): logs three steps, finishes, and prints `{"dir", "id"}` as JSON."""

from __future__ import annotations

import json

import fwtrack

run = fwtrack.init(project="secrets", mode="offline", config={"lr": 0.1})
for step in range(3):
    run.log({"loss": 1.0 / (step + 1)})
run.finish()
print(json.dumps({"dir": run.dir, "id": run.id}))
