"""Runs with alerts for `alerts.spec.ts`.

alert_fixtures.py server --url URL --key KEY --work DIR --out seeded.json
    logs the run `alerting` online to project `admin/alerts-e2e` of the server at URL as KEY:
    an INFO, a WARN and an ERROR alert, then the WARN one's title again within its
    `wait_duration` (suppressed: it is neither recorded nor shown).
alert_fixtures.py local --dir DIR --out seeded.json
    the same run logged offline in DIR, for `fwtrack ui --dir DIR`.
Writes what was seeded as JSON: entity, project, run id and the alerts expected, in order.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import fwtrack

PROJECT = "alerts-e2e"
RUN_ID = "alerting"
ALERTS = [
    {"title": "Training started", "text": "lr=0.01, 3 epochs", "level": "INFO"},
    {"title": "Loss is rising", "text": "loss 0.9 > 0.5 at step 2", "level": "WARN"},
    {"title": "NaN loss", "text": "loss became NaN at step 3\nstopping", "level": "ERROR"},
]


def seed(mode: str, out: Path) -> None:
    run = fwtrack.init(project=PROJECT, id=RUN_ID, mode=mode)  # type: ignore[arg-type]
    for step, spec in enumerate(ALERTS):
        run.log({"loss": 0.5 + step})
        run.alert(spec["title"], spec["text"], level=spec["level"], wait_duration=300)
    run.alert("Loss is rising", "suppressed: same title within wait_duration", level="WARN")
    run.finish()
    seeded: dict[str, Any] = {
        "entity": "admin" if mode == "online" else "local",
        "project": PROJECT,
        "run": RUN_ID,
        "alerts": ALERTS,
    }
    out.write_text(json.dumps(seeded))


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    srv = sub.add_parser("server")
    srv.add_argument("--url", required=True)
    srv.add_argument("--key", required=True)
    srv.add_argument("--work", required=True)
    srv.add_argument("--out", required=True)
    loc = sub.add_parser("local")
    loc.add_argument("--dir", required=True)
    loc.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.cmd == "server":
        os.environ.update(
            FWTRACK_BASE_URL=args.url, FWTRACK_API_KEY=args.key, FWTRACK_DIR=args.work
        )
        seed("online", Path(args.out))
    else:
        os.environ["FWTRACK_DIR"] = args.dir
        seed("offline", Path(args.out))


if __name__ == "__main__":
    main()
