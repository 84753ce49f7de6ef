"""Where the server keeps its bytes: the `Store` interface (`base`) and its backends
(`directory`). See `fwtrack.server.store.base` and docs/server.md, "Store"."""

from __future__ import annotations

from fwtrack.server.store.base import BlobKey, LogHandle, RunKey, RunLog, Staged, Store
from fwtrack.server.store.directory import DirectoryStore

__all__ = ["BlobKey", "DirectoryStore", "LogHandle", "RunKey", "RunLog", "Staged", "Store"]
