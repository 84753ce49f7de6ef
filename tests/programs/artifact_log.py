"""Logs a directory as an artifact of an offline run, then finishes.

    python artifact_log.py SRC_DIR NAME TAG [START_FILE]

Adds every file under SRC_DIR and a file `tag.txt` holding TAG (so that every process logs
distinct content), prints `{"phase": "logging", "id": <run id>}` as a JSON line, logs, waits
for the commit and prints `{"phase": "committed", "version": "vN", "digest": ...}`.
With START_FILE, waits until that file exists before logging (two processes start together).
"""

from __future__ import annotations

import json
import os
import sys
import time

import fwtrack

src, name, tag = sys.argv[1], sys.argv[2], sys.argv[3]
start_file = sys.argv[4] if len(sys.argv) > 4 else None
settings = {"console": False, "system_interval": 0, "save_code": False, "capture_env": False}
run = fwtrack.init(project="crash", mode="offline", settings=settings)
art = fwtrack.Artifact(name, type="dataset", metadata={"tag": tag})
art.add_dir(src)
with art.new_file("tag.txt") as f:
    f.write(tag)
if start_file is not None:
    while not os.path.exists(start_file):
        time.sleep(0.001)
print(json.dumps({"phase": "logging", "id": run.id}), flush=True)
logged = run.log_artifact(art, aliases=[f"tag-{tag}"])
logged.wait()
print(
    json.dumps({"phase": "committed", "version": logged.version, "digest": logged.digest}),
    flush=True,
)
run.finish()
