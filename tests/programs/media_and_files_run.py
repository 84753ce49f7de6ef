"""A run with media and saved files, for the blob upload tests.

    python media_and_files_run.py MODE FILES FILE_BYTES [BIG_BYTES]

Logs an image of random pixels at each of 12 steps and saves FILES files of FILE_BYTES random
bytes (plus one of BIG_BYTES, when given, larger than a pack), in a run of project `blobs`
whose mode is MODE (`online` uses FWTRACK_BASE_URL / FWTRACK_API_KEY). Prints
`{"dir", "id"}` as JSON, then `finishing` just before `run.finish()`, then the JSON again.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import fwtrack

STEPS = 12


def main() -> None:
    mode, files, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    big = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    rng = np.random.default_rng(12)
    run = fwtrack.init(
        project="blobs",
        mode=mode,  # type: ignore[arg-type]
        settings={"capture_env": False, "save_code": False, "system_interval": 0},
    )
    made = json.dumps({"dir": run.dir, "id": run.id})
    print(made, flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for step in range(STEPS):
            pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
            run.log({"sample": fwtrack.Image(pixels), "loss": 1.0 / (step + 1)})
        for i in range(files):
            src = Path(scratch) / f"part{i:03d}.bin"
            src.write_bytes(rng.bytes(size))
            run.save(src, name=f"parts/part{i:03d}.bin")
        if big:
            src = Path(scratch) / "model.bin"
            src.write_bytes(rng.bytes(big))
            run.save(src, name="model/model.bin")
        print("finishing", flush=True)
        run.finish()
    print(made, flush=True)


if __name__ == "__main__":
    main()
