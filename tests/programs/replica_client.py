"""One training client of the replica test: an online run (FWTRACK_BASE_URL is the balancer)
that logs scalars at every step, an image every `IMAGE_EVERY` steps and saves files on the way.

    python replica_client.py PROJECT STEPS SEED REPORT HOLD

Each step logs `train/loss` = 1 / (step + 1) and `train/step` = step; a short sleep between
steps keeps the run alive while replicas are killed; three quarters of the way it waits until
the file HOLD exists (the test creates it once a replica it killed is back), so the last
quarter uploads while both replicas run. Files: `ckpt/step<N>.bin` (random bytes,
one every `FILE_EVERY` steps) and, at the end, `summary.json`. Writes `{"run_id", "project",
"dir", "steps", "finish"}` to REPORT after `finish()` returned.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import fwtrack

IMAGE_EVERY = 40
FILE_EVERY = 250
FILE_BYTES = 192 * 1024
SLEEP = 0.003


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 600
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} never appeared")
        time.sleep(0.01)


def main() -> None:
    project, steps, seed, report = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    hold = Path(sys.argv[5])
    rng = np.random.default_rng(seed)
    run = fwtrack.init(
        project=project,
        config={"steps": steps, "seed": seed},
        settings={"capture_env": False, "save_code": False, "system_interval": 0},
    )
    with tempfile.TemporaryDirectory() as scratch:
        for step in range(steps):
            if step == steps * 3 // 4:
                _wait_for(hold)
            row: dict[str, object] = {"train/loss": 1.0 / (step + 1), "train/step": float(step)}
            if step % IMAGE_EVERY == 0:
                pixels = rng.integers(0, 256, size=(32, 48, 3), dtype=np.uint8)
                row["samples/image"] = fwtrack.Image(pixels)
            fwtrack.log(row)
            if step % FILE_EVERY == FILE_EVERY - 1:
                src = Path(scratch) / f"step{step}.bin"
                src.write_bytes(rng.bytes(FILE_BYTES))
                run.save(src, name=f"ckpt/step{step}.bin")
            time.sleep(SLEEP)
        summary = Path(scratch) / "summary.json"
        summary.write_text(json.dumps({"steps": steps, "seed": seed}))
        run.save(summary, name="summary.json")
        t0 = time.perf_counter()
        fwtrack.finish()
        finish = time.perf_counter() - t0
    Path(report).write_text(
        json.dumps(
            {
                "run_id": run.id,
                "project": run.project,
                "dir": run.dir,
                "steps": steps,
                "finish": finish,
            }
        )
    )


if __name__ == "__main__":
    main()
