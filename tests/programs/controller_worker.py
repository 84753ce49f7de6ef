"""One agent of the controller race test (tests/sweeps/test_controller_race.py), as its own
process on the shared database:

    python controller_worker.py DATABASE_URL SWEEP_ID GO_FILE

Registers an agent, waits until GO_FILE exists (so every worker starts at once), then asks for
trials and finishes each at once until the controller says `done`. Prints one JSON line:
`{"agent_id", "trials": [trial ids handed out], "done": reason}`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from fwtrack.server.db import Database
from fwtrack.sweeps.controller import Controller


def main() -> None:
    url, sweep_id, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    db = Database(url)
    ctl = Controller(db, heartbeat_interval=60.0)
    agent_id = ctl.register_agent(sweep_id, "worker", os.getpid())["agent_id"]
    while not go.exists():
        time.sleep(0.01)
    trials: list[int] = []
    while True:
        answer = ctl.next_trial(sweep_id, agent_id)
        if "done" in answer:
            break
        if "wait" in answer:
            time.sleep(0.01)
            continue
        trial = answer["trial"]
        trials.append(trial["id"])
        value = float(trial["number"])
        ctl.finish_trial(sweep_id, agent_id, trial["id"], "finished", value, [value], 0)
    db.dispose()
    print(json.dumps({"agent_id": agent_id, "trials": trials, "done": answer["done"]}))


if __name__ == "__main__":
    main()
