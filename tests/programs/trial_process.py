"""A sweep trial as `fwtrack agent` starts it (FWTRACK_SWEEP_ID, FWTRACK_RUN_ID, FWTRACK_PROJECT,
FWTRACK_SWEEP_PARAMS in the environment): logs `loss` every step and prints `step <n>` after
each flush of ten steps, so a test can stop it mid-loop.

Options: `--steps N` finishes normally after N steps (default: loop until stopped); `--init
JSON` passes keyword arguments to `fwtrack.init` (a trial ignores `project=` and `id=`, and the
sweep's parameters override the config); `--own-sigterm` installs the program's own SIGTERM
handler before `init` (it prints `own handler` and exits with code 7); `--fork` forks a child
that sleeps (as a DataLoader worker would) and prints `child <pid>`; `--tight` logs without
pausing between steps (the main thread is then mostly inside fwtrack's `log`, where a SIGTERM
is acted on once it returns).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from types import FrameType

import fwtrack


def own_handler(signum: int, frame: FrameType | None) -> None:
    print("own handler", flush=True)
    sys.exit(7)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--init", default="{}")
    parser.add_argument("--own-sigterm", action="store_true")
    parser.add_argument("--fork", action="store_true")
    parser.add_argument("--tight", action="store_true")
    args = parser.parse_args()
    if args.own_sigterm:
        signal.signal(signal.SIGTERM, own_handler)
    run = fwtrack.init(**json.loads(args.init))
    config = json.dumps(run.config.as_dict(), sort_keys=True)
    print(f"run {run.id} {run.project} {run.sweep_id} {config}", flush=True)
    if args.fork:
        pid = os.fork()
        if pid == 0:
            while True:
                time.sleep(1)
        print(f"child {pid}", flush=True)
    step = 0
    while args.steps is None or step < args.steps:
        run.log({"loss": 1.0 / (step + 1)})
        if step % 10 == 9:
            run.flush()
            print(f"step {step}", flush=True)
        step += 1
        if not args.tight:
            time.sleep(0.001)
    run.finish()
    print("done", flush=True)


if __name__ == "__main__":
    main()
