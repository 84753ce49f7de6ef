"""The stat cache: which content address a file had when it was last hashed, so that re-logging
a large directory where one file changed hashes (and stores) only that file.

SQLite at `<cache>/artifacts/stat.db`: absolute path → (size, mtime_ns, inode, dev, address,
hashed_at). A file is trusted when all four stat fields are unchanged and its mtime is more
than 2 s older than the moment it was hashed (a file written within the same instant as the
hash could change again without moving its mtime). Trouble with the database (locked, full
disk, corrupt) never fails a log: lookups then find nothing and everything is hashed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["StatCache", "default_path"]

TRUST_MARGIN_NS = 2_000_000_000
_BATCH = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    address TEXT NOT NULL,
    hashed_at REAL NOT NULL
)
"""

StatKey = tuple[int, int, int, int]  # size, mtime_ns, inode, dev


def default_path() -> Path:
    from fwtrack.api_remote import cache_root

    return cache_root() / "artifacts" / "stat.db"


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


class StatCache:
    """One connection per instance; use it from one thread."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
                self._db = db
            except (sqlite3.Error, OSError):
                self._broken = True
        return self._db

    def lookup(self, files: Sequence[tuple[str, StatKey]]) -> dict[str, str]:
        """Of `(absolute path, stat key)` pairs, the trusted addresses by path."""
        db = self._conn()
        if db is None or not files:
            return {}
        wanted = dict(files)
        out: dict[str, str] = {}
        paths = list(wanted)
        try:
            for start in range(0, len(paths), _BATCH):
                batch = paths[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    "SELECT path, size, mtime_ns, inode, dev, address, hashed_at FROM stat "
                    f"WHERE path IN ({marks})",
                    batch,
                ).fetchall()
                for path, size, mtime_ns, inode, dev, address, hashed_at in rows:
                    if wanted.get(path) != (size, mtime_ns, inode, dev):
                        continue
                    if mtime_ns >= int(hashed_at * 1e9) - TRUST_MARGIN_NS:
                        continue  # written too close to the hash to be sure
                    out[path] = address
        except sqlite3.Error:
            return out
        return out

    def record(
        self, files: Iterable[tuple[str, StatKey, str]], hashed_at: float | None = None
    ) -> None:
        """Remember `(absolute path, stat key, address)` of files hashed at `hashed_at`."""
        db = self._conn()
        if db is None:
            return
        when = time.time() if hashed_at is None else hashed_at
        rows = [(p, k[0], k[1], k[2], k[3], a, when) for p, k, a in files]
        if not rows:
            return
        try:
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
