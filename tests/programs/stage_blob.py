"""Receive a blob into a directory store and stop half-way: stages some bytes under
`<store root>` (argv[1]), prints `staged`, then waits to be killed (the test `kill -9`s it, as a
server dying during an upload)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fwtrack.server.store import DirectoryStore

store = DirectoryStore(Path(sys.argv[1]))
with store.stage() as staged:
    staged.write(b"half of a blob")
    print("staged", flush=True)
    time.sleep(600)
