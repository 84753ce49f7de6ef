"""Log one directory as an artifact from a run that is online when FWTRACK_BASE_URL is set,
started at the same moment as its siblings: waits until the file named by `--go` exists, then
logs, waits for the version and prints `{"version", "digest", "run_id", "dir"}` as its last
line.

    python artifact_log_online.py PROJECT NAME PATH [--go FILE] [--alias A]...
"""

from __future__ import annotations

import argparse
import json
import os
import time

import fwtrack


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project")
    parser.add_argument("name")
    parser.add_argument("path")
    parser.add_argument("--go", default=None)
    parser.add_argument("--alias", action="append", default=[])
    args = parser.parse_args()
    settings = {"console": False, "system_interval": 0, "save_code": False, "capture_env": False}
    run = fwtrack.init(project=args.project, job_type="concurrent", settings=settings)
    art = fwtrack.Artifact(args.name, type="dataset")
    art.add_dir(args.path)
    if args.go is not None:
        while not os.path.exists(args.go):
            time.sleep(0.005)
    logged = run.log_artifact(art, aliases=args.alias)
    logged.wait()
    run.finish()
    doc = {"version": logged.version, "digest": logged.digest, "run_id": run.id, "dir": run.dir}
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
