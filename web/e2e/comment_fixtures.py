"""Two people of one team for `comments.spec.ts`.

comment_fixtures.py --url URL --key KEY --work DIR --out seeded.json
    as the server's admin KEY creates the users `alice` and `bob`; alice creates the team
    `lab` (its admin) and adds bob (a member); a run `baseline-1` (named `baseline`) of
    project `lab/vision` is logged online through the Python API as alice, and alice
    registers the model `net` in the registry of `lab`. Writes the names and both API keys.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fixtures import go_online, request_json

import fwtrack

ENTITY = "lab"
PROJECT = "vision"
RUN = "baseline-1"
RUN_NAME = "baseline"
MODEL = "net"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    api = f"{args.url}/api/v1"
    alice = request_json(f"{api}/users", args.key, "POST", {"name": "alice"})["api_key"]
    bob = request_json(f"{api}/users", args.key, "POST", {"name": "bob"})["api_key"]
    request_json(f"{api}/teams", alice, "POST", {"name": ENTITY})
    request_json(f"{api}/teams/{ENTITY}/members", alice, "POST", {"user": "bob"})

    go_online(args.url, alice, ENTITY)
    run = fwtrack.init(
        project=PROJECT,
        id=RUN,
        name=RUN_NAME,
        config={"lr": 0.01},
        dir=Path(args.work) / "comments-client",
    )
    for i in range(5):
        run.log({"train/loss": 1.0 / (i + 1)}, step=i)
    run.finish()
    request_json(f"{api}/registry/{ENTITY}/models", alice, "POST", {"name": MODEL})

    seeded = {
        "entity": ENTITY,
        "project": PROJECT,
        "run": RUN,
        "run_name": RUN_NAME,
        "model": MODEL,
        "alice": {"name": "alice", "api_key": alice},
        "bob": {"name": "bob", "api_key": bob},
    }
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
