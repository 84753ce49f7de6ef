"""A run for the bulk-action tests: losses, an image at each step and one saved file.

    python bulk_run.py MODE ENTITY PROJECT RUN_ID [--hold]

`MODE` is `online` (FWTRACK_BASE_URL / FWTRACK_API_KEY) or `offline` (FWTRACK_DIR). With
`--hold` the run prints `holding` once its records are flushed and finishes only when a line
arrives on stdin (a run still being written). Prints `done` after finishing.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

import fwtrack

STEPS = 6


def main() -> None:
    mode, entity, project, run_id = sys.argv[1:5]
    hold = "--hold" in sys.argv[5:]
    rng = np.random.default_rng(sum(map(ord, run_id)))
    run = fwtrack.init(
        project=project,
        entity=entity if mode == "online" else None,
        id=run_id,
        mode=mode,  # type: ignore[arg-type]
        tags=["seed"],
        config={"lr": 0.01, "run": run_id},
        settings={"capture_env": False, "save_code": False, "system_interval": 0},
    )
    for step in range(STEPS):
        pixels = rng.integers(0, 256, size=(16, 24, 3), dtype=np.uint8)
        run.log({"loss": 1.0 / (step + 1), "sample": fwtrack.Image(pixels)})
    with tempfile.TemporaryDirectory() as scratch:
        src = Path(scratch) / "notes.txt"
        src.write_text(f"notes of {run_id}\n")
        run.save(src, name="notes.txt", policy="now")
        if hold:
            run.flush()
            print("holding", flush=True)
            sys.stdin.readline()
        run.finish()
    print("done", flush=True)


if __name__ == "__main__":
    main()
