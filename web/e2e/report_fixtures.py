"""Real runs and users for the reports browser test (web/e2e/reports.spec.ts).

report_fixtures.py --url URL --key ADMIN_KEY --work DIR --out seeded.json
    creates the users `ann` and `bob` (members of the team `rlab`) and `vic` (a viewer of
    `rlab`), then logs three runs online to `rlab/reports-demo` through the Python API
    (`train/loss` and `train/acc` over 30 steps, `config.lr` of 0.01, 0.02 and 0.05). Writes
    the entity, project, each user's API key and the run ids as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import urllib.request
from pathlib import Path
from typing import Any

import fwtrack

ENTITY = "rlab"
PROJECT = "reports-demo"
RUNS: dict[str, float] = {"rep-a": 0.01, "rep-b": 0.02, "rep-c": 0.05}
STEPS = 30


def request_json(url: str, key: str, method: str, body: Any) -> Any:
    """`method url` with a JSON body as `key`; the JSON answer (HTTPError on an error status)."""
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def log_runs(url: str, key: str, root: Path) -> list[str]:
    os.environ["FWTRACK_BASE_URL"] = url
    os.environ["FWTRACK_API_KEY"] = key
    os.environ["FWTRACK_ENTITY"] = ENTITY
    os.environ["FWTRACK_MODE"] = "online"
    for run_id, lr in RUNS.items():
        run = fwtrack.init(
            project=PROJECT, id=run_id, name=run_id, config={"lr": lr}, tags=["baseline"], dir=root
        )
        for i in range(STEPS):
            run.log(
                {
                    "train/loss": math.exp(-lr * 10 * i) + 0.05 * math.sin(i),
                    "train/acc": 1.0 - math.exp(-lr * 8 * i),
                },
                step=i,
            )
        run.finish()
    return list(RUNS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    api = f"{args.url}/api/v1"
    keys: dict[str, str] = {}
    for name in ("ann", "bob", "vic"):
        made = request_json(f"{api}/users", args.key, "POST", {"name": name})
        keys[name] = str(made["api_key"])
    request_json(f"{api}/teams", args.key, "POST", {"name": ENTITY})
    for name, role in (("ann", "member"), ("bob", "member"), ("vic", "viewer")):
        request_json(
            f"{api}/teams/{ENTITY}/members", args.key, "POST", {"user": name, "role": role}
        )
    runs = log_runs(args.url, args.key, Path(args.work) / "client")
    seeded = {"entity": ENTITY, "project": PROJECT, "keys": keys, "runs": runs}
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
