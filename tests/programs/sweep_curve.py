"""A sweep trial for tests/sweeps (the agent and CLI tests): `fwtrack agent` runs it with the
trial's parameters as `--key=value` arguments and in `FWTRACK_SWEEP_PARAMS`.

It logs `loss` for `steps` steps (`a * b / (step + 1)`, or with `curve: rank`
`rank + 1 / (step + 1)`: curves whose order never changes, so hyperband's decisions are known in
advance), flushes, and then:

- with `SWEEP_TRIAL_HOLD` naming a file that exists: writes its pid to
  `<SWEEP_TRIAL_HOLD>.<run id>.pid` and waits while the file exists (a trial caught mid-run);
- with `handshake: true` in its config: waits until the controller has stored its whole
  history; if the controller asked for the trial to stop meanwhile (hyperband decides in the
  heartbeat that stores the values) it waits for the agent's SIGTERM, else it finishes.

Prints one JSON line: the run's id and config.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import fwtrack


def own_trial(sweep_id: str, run_id: str) -> dict[str, Any]:
    for trial in fwtrack.Api().sweep(sweep_id).trials:
        if trial["run_id"] == run_id:
            return trial
    raise SystemExit(f"no trial of sweep {sweep_id} has run {run_id}")


def main() -> None:
    run = fwtrack.init(
        config={"steps": 3, "rank": 0, "a": 1, "b": 1},
        settings={"console": False, "save_code": False, "capture_env": False, "system_interval": 0},
    )
    config = run.config
    steps = int(config["steps"])
    for step in range(steps):
        if config.get("curve") == "rank":
            loss = float(config["rank"]) + 1.0 / (step + 1)
        else:
            loss = float(config["a"]) * float(config["b"]) / (step + 1)
        fwtrack.log({"loss": loss})
    run.flush()

    hold = os.environ.get("SWEEP_TRIAL_HOLD")
    if hold and Path(hold).exists():
        Path(f"{hold}.{run.id}.pid").write_text(str(os.getpid()))
        while Path(hold).exists():
            time.sleep(0.05)

    if config.get("handshake"):
        sweep_id = os.environ["FWTRACK_SWEEP_ID"]
        while True:
            trial = own_trial(sweep_id, run.id)
            if trial["stop_requested"]:
                while True:  # the agent's SIGTERM ends the run as `stopped`
                    time.sleep(0.05)
            if int(trial["history_len"]) >= steps:
                break
            time.sleep(0.05)

    print(json.dumps({"id": run.id, "config": dict(run.config)}), flush=True)
    fwtrack.finish()


if __name__ == "__main__":
    main()
