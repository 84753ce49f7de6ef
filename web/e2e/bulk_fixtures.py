"""Runs for `bulk.spec.ts`, logged online by real processes.

bulk_fixtures.py server --url URL --key KEY --work DIR --out seeded.json
    starts one `run` process per run: b1..b4 in project `admin/bulk-e2e` and d1 in
    `admin/bulk-dest` (so that project exists for the move picker), waits for them and writes
    `{"entity", "project", "dest", "runs", "dest_runs"}`.
bulk_fixtures.py run --project P --id ID
    one run: `loss` over STEPS steps, tag `seed`, a saved file `notes.txt`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ENTITY = "admin"
PROJECT = "bulk-e2e"
DEST = "bulk-dest"
RUNS = ["b1", "b2", "b3", "b4"]
DEST_RUNS = ["d1"]
STEPS = 8


def cmd_run(args: argparse.Namespace) -> int:
    import fwtrack

    run = fwtrack.init(
        project=args.project,
        id=args.id,
        name=f"run-{args.id}",
        tags=["seed"],
        config={"lr": 0.01},
        settings={"console": False, "save_code": False, "capture_env": False, "system_interval": 0},
    )
    for step in range(STEPS):
        run.log({"loss": 1.0 / (step + 1)})
    with tempfile.TemporaryDirectory() as scratch:
        src = Path(scratch) / "notes.txt"
        src.write_text(f"notes of {args.id}\n")
        run.save(src, name="notes.txt", policy="now")
        run.finish()
    return 0


def cmd_server(args: argparse.Namespace) -> int:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env.update(FWTRACK_BASE_URL=args.url, FWTRACK_API_KEY=args.key, FWTRACK_DIR=str(work))
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "run", "--project", project, "--id", run_id],
            cwd=work,
            env=env,
        )
        for project, ids in ((PROJECT, RUNS), (DEST, DEST_RUNS))
        for run_id in ids
    ]
    codes = [p.wait(timeout=180) for p in procs]
    if any(codes):
        print(f"run processes exited with {codes}", file=sys.stderr)
        return 1
    seeded = {
        "entity": ENTITY,
        "project": PROJECT,
        "dest": DEST,
        "runs": RUNS,
        "dest_runs": DEST_RUNS,
    }
    Path(args.out).write_text(json.dumps(seeded))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    server = sub.add_parser("server")
    server.add_argument("--url", required=True)
    server.add_argument("--key", required=True)
    server.add_argument("--work", required=True)
    server.add_argument("--out", required=True)
    run = sub.add_parser("run")
    run.add_argument("--project", required=True)
    run.add_argument("--id", required=True)
    args = parser.parse_args()
    return cmd_server(args) if args.cmd == "server" else cmd_run(args)


if __name__ == "__main__":
    sys.exit(main())
