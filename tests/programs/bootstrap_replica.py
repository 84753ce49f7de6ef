"""One replica's start-up against a shared database, released by a file: the replica test
starts several at once to see the database migrated and the first admin seeded once.

    FWTRACK_SERVER_ADMIN_KEY=... python bootstrap_replica.py DB_URL DATA_DIR GO_FILE

Touches DATA_DIR.ready once imported, waits until GO_FILE exists, then runs the server's
start-up (`fwtrack.server.app.bootstrap`: migrations, first admin) and prints
`{"created": <whether it created the admin>}`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from fwtrack.server.app import bootstrap
from fwtrack.server.config import ServerConfig


def main() -> None:
    db_url, data_dir, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    config = ServerConfig(
        data_dir=data_dir, db_url=db_url, admin_key=os.environ["FWTRACK_SERVER_ADMIN_KEY"]
    )
    Path(f"{data_dir}.ready").touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the start signal never came")
        time.sleep(0.001)
    db, key = bootstrap(config)
    db.dispose()
    print(json.dumps({"created": key is not None}), flush=True)


if __name__ == "__main__":
    main()
