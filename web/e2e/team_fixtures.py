"""A team with a project for `team.spec.ts`.

team_fixtures.py --url URL --key KEY --work DIR --out seeded.json
    as the server's admin KEY creates the user `lead`, who creates the team `lab` (its
    admin); a run `base-1` (named `base`, tagged `baseline`) of project `lab/vision` is logged
    online through the Python API as lead. Writes the names and lead's API key.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fixtures import go_online, request_json

import fwtrack

ENTITY = "lab"
PROJECT = "vision"
RUN = "base-1"
RUN_NAME = "base"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    api = f"{args.url}/api/v1"
    lead = request_json(f"{api}/users", args.key, "POST", {"name": "lead"})["api_key"]
    request_json(f"{api}/teams", lead, "POST", {"name": ENTITY})

    go_online(args.url, lead, ENTITY)
    run = fwtrack.init(
        project=PROJECT,
        id=RUN,
        name=RUN_NAME,
        tags=["baseline"],
        config={"lr": 0.01},
        dir=Path(args.work) / "team-client",
    )
    for i in range(5):
        run.log({"train/loss": 1.0 / (i + 1)}, step=i)
    run.finish()

    seeded = {
        "entity": ENTITY,
        "project": PROJECT,
        "run": RUN,
        "run_name": RUN_NAME,
        "lead": {"name": "lead", "api_key": lead},
    }
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
