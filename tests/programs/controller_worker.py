"""One agent of the controller race test (tests/sweeps/test_controller_race.py), as its own
process on the shared database:

    python controller_worker.py DATABASE_URL GO_FILE

Opens the controller (DATABASE_URL `local:<dir>` opens the local store of `<dir>`, creating it
if no other process did yet), waits until GO_FILE exists and reads the sweep id from it (so
every worker starts at once), registers an agent, then asks for trials and finishes each at
once until the controller says `done`. Prints one JSON line: `{"agent_id", "trials": [trial
ids handed out], "done": reason}`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from fwtrack.server.db import Database
from fwtrack.sweeps.controller import Controller
from fwtrack.sweeps.local import open_local

T = TypeVar("T")


def retried(call: Callable[..., T], *args: Any) -> T:
    """`call(*args)`, again while SQLite's write lock stays taken past its busy timeout (a
    machine far busier than its cores), as an agent retries: the failed transaction left
    nothing behind."""
    while True:
        try:
            return call(*args)
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            print(f"retrying {call.__name__}: {exc.orig}", file=sys.stderr)


def main() -> None:
    url, go = sys.argv[1], Path(sys.argv[2])
    if url.startswith("local:"):
        ctl = open_local(url.removeprefix("local:"), heartbeat_interval=60.0)
    else:
        ctl = Controller(Database(url), heartbeat_interval=60.0)
    while not go.exists():
        time.sleep(0.01)
    sweep_id = go.read_text()
    agent_id = retried(ctl.register_agent, sweep_id, "worker", os.getpid())["agent_id"]
    trials: list[int] = []
    while True:
        answer = retried(ctl.next_trial, sweep_id, agent_id)
        if "done" in answer:
            break
        if "wait" in answer:
            # Other workers' trials run: ask again soon, yet not so often that the workers
            # still starting (a process takes a while on a busy machine) wait for SQLite's
            # write lock longer than its busy timeout.
            time.sleep(0.5)
            continue
        trial = answer["trial"]
        trials.append(trial["id"])
        value = float(trial["number"])
        retried(ctl.finish_trial, sweep_id, agent_id, trial["id"], "finished", value, [value], 0)
    ctl.db.dispose()
    print(json.dumps({"agent_id": agent_id, "trials": trials, "done": answer["done"]}))


if __name__ == "__main__":
    main()
