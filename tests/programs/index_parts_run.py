"""A run with every part the server indexes besides the history: console lines on both
streams (some not ASCII), system samples, media values and histograms.

Usage: index_parts_run.py <project> <run id> <steps> [<pause seconds per step>]
Every line it prints is `line <i>` (stdout) or `err <i>` (stderr), so a reader can check
that each arrives once.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import fwtrack


def main() -> None:
    project, run_id, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    run = fwtrack.init(
        project=project,
        id=run_id,
        settings=fwtrack.Settings(console=True, system_interval=1),
    )
    rng = np.random.default_rng(0)
    for i in range(steps):
        print(f"line {i} Straße ÉTÉ" if i % 7 == 0 else f"line {i} loss ok", flush=True)
        if i % 5 == 0:
            print(f"err {i} WARNING", file=sys.stderr, flush=True)
        row: dict[str, object] = {"loss": 1 / (i + 1), "weights": rng.normal(size=200)}
        if i % 4 == 0:
            row["grads"] = fwtrack.Histogram(rng.uniform(size=50), num_bins=8)
        if i % 10 == 0:
            row["img"] = fwtrack.Image(np.full((4, 4, 3), i % 255, dtype=np.uint8))
            row["page"] = fwtrack.Html(f"<p>{i}</p>")
        run.log(row)
        if pause:
            time.sleep(pause)
    time.sleep(1.5)  # a system sample or two
    run.finish()


if __name__ == "__main__":
    main()
