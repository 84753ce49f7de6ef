"""The store interface: every byte the server keeps goes through it.

Three kinds of bytes, three parts of one `Store`:

- **Blobs**, immutable and content-addressed: run files, media payloads (and artifact files
  later). A blob is named by a `BlobKey`, its owner (an entity: the user or team whose runs
  share it) and its address (`blake3:<hex>`). `put` stores bytes under a key (from memory, or
  from a `Staged` upload the store took in beforehand); `open`, `exists`, `size` and `delete`
  do what they say. A key's bytes never change once stored, so a backend may cache, replicate
  or serve them from anywhere; a second `put` of a stored key is harmless.
- **Run logs**, append-only: one per run (`RunKey`), appended at a byte offset under an
  exclusive per-run lock (`RunLog.locked` yields a `LogHandle`: size, read, append, truncate),
  read by range. `RunLog.path` is a local file the Rust core reads (the history index, the
  decoders of the log routes).
- **History indexes**: a local working directory per run (`Store.index_dir`), written by the
  Rust core from the run's local log.

SQL decides what exists: a blob is "stored" when its `blobs` row says so (`stored` is only
set after `put` succeeded, and cleared before `delete` runs), and a run's files are its rows
in `run_files` (path -> blob). A backend keeps bytes, never metadata. Routes never build a
store path: they ask `fwtrack.server.blobs` for a run's log, index and files.

Two backends (`fwtrack.server.store.open_store` picks one from `--store`):

- `DirectoryStore` (the default, `<data dir>/store`): everything in one local folder; the run
  log file is the stored log itself and `local_path` serves blobs zero-copy.
- `S3Store` (`--store s3://bucket/prefix`): every byte in S3-compatible object storage.
  Blobs are objects (`put` uploads, `open` a streaming GET, `local_path` None: the routes
  stream `open`). A run log is a chain of immutable segment objects (`store.segments`); its
  `RunLog.path` is a local cache file that always holds a prefix of the stored log, and the
  history index is a local cache rebuilt from it (or fetched from a snapshot in the bucket).
  Everything the S3 store keeps on disk (`--cache-dir`) is a cache: it may be deleted while
  the server is stopped. `sync_run` brings a run's caches up to the size its SQL row names
  (a replica reading what another appended).

Runs are keyed by `RunKey`: the directory store places them by project id and run id, the
S3 store by the `runs` row's primary key (`pk`), so a run id deleted and uploaded again never
meets the leftovers of the deleted run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = [
    "ADDRESS_PATTERN",
    "BlobKey",
    "LogHandle",
    "RunKey",
    "RunLog",
    "Staged",
    "Store",
]

ADDRESS_PATTERN = re.compile(r"^(blake3|sha256):([0-9a-f]{64})$")
"""A normalised content address: its algorithm and 64 lowercase hex digits."""


@dataclass(frozen=True)
class BlobKey:
    """One stored blob: `entity` (the user or team whose runs share it; a validated name)
    and `address` (normalised, `ADDRESS_PATTERN`)."""

    entity: str
    address: str

    def __post_init__(self) -> None:
        if ADDRESS_PATTERN.match(self.address) is None:
            raise ValueError(
                f"not a content address: {self.address[:100]!r}; expected blake3:<64 hex>"
            )

    @property
    def algorithm(self) -> str:
        return self.address.partition(":")[0]

    @property
    def hex(self) -> str:
        return self.address.partition(":")[2]


@dataclass(frozen=True)
class RunKey:
    """One uploaded run: its project's id (stable across renames), its id, and the primary
    key of its `runs` row (`pk`; a run deleted and created again gets a new one)."""

    project_id: int
    run_id: str
    pk: int


class Staged(Protocol):
    """Bytes being received for a blob (a streamed upload), kept where `Store.put` takes them
    cheaply (the directory backend: a temporary file on the store's volume, so `put` is a
    rename). Whatever `put` did not take is removed when the `Store.stage()` block ends."""

    @property
    def size(self) -> int: ...

    def write(self, data: bytes | memoryview) -> None: ...

    def seal(self) -> None:
        """Make the bytes received so far durable (before they are verified and put, so that
        `put` has little left to do); nothing may be written after."""
        ...


class LogHandle(Protocol):
    """A run log held under its exclusive lock (`RunLog.locked`)."""

    def size(self) -> int:
        """The stored length in bytes."""
        ...

    def read(self, length: int, at: int) -> bytes:
        """Up to `length` bytes from offset `at`."""
        ...

    def append(self, data: bytes, at: int) -> None:
        """Write `data` at offset `at` (the stored length) and make it durable; on failure,
        cut the log back to `at` and raise OSError."""
        ...

    def truncate(self, length: int) -> None:
        """Cut the log to `length` bytes, durably."""
        ...

    def fileno(self) -> int:
        """A descriptor of the local file (`RunLog.path`), for the Rust core's readers."""
        ...


class RunLog(Protocol):
    """One run's log."""

    @property
    def path(self) -> Path:
        """The local file the Rust core reads (it may not exist yet)."""
        ...

    def size(self) -> int:
        """The stored length (0 when there is no log yet); taken without the lock."""
        ...

    def locked(self, *, create: bool) -> AbstractContextManager[LogHandle]:
        """Hold the log's exclusive lock (serialising uploads and deletion of one run).
        FileNotFoundError when it does not exist and not `create`, or was removed meanwhile."""
        ...

    def lock_if_present(self) -> AbstractContextManager[None]:
        """Hold the lock while it exists (nothing to hold otherwise): for removing a run."""
        ...

    def read_range(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes `[start, end)` in chunks."""
        ...


class Store(Protocol):
    """Where the server's bytes live (see the module's docstring)."""

    @property
    def root(self) -> Path:
        """The local folder of the store's own files (the directory store: all of them; the S3
        store: its caches). No symbolic link below it is followed."""
        ...

    # -- blobs, by content address -----------------------------------------------------------

    def stage(self) -> AbstractContextManager[Staged]:
        """A place to receive a blob's bytes before they are verified and `put`."""
        ...

    def put(self, key: BlobKey, src: bytes | memoryview | Staged) -> None:
        """Store `src` under `key`, atomically (readers see all of it or nothing) and durably.
        The caller has verified that the bytes hash to the key's address. A staged `src` is
        taken (moved), not copied."""
        ...

    def put_many(self, items: Sequence[tuple[BlobKey, bytes | memoryview | Staged]]) -> None:
        """`put` of several blobs at once (a backend may write them concurrently)."""
        ...

    def open(self, key: BlobKey) -> BinaryIO:
        """The blob's bytes (FileNotFoundError when not stored)."""
        ...

    def exists(self, key: BlobKey) -> bool: ...

    def size(self, key: BlobKey) -> int | None:
        """The blob's length, None when not stored."""
        ...

    def delete(self, key: BlobKey) -> None:
        """Remove the blob (nothing when not stored)."""
        ...

    def local_path(self, key: BlobKey) -> Path | None:
        """A local file holding the blob, for zero-copy serving; None when the backend has
        none (the caller then reads `open`)."""
        ...

    # -- run logs and history indexes --------------------------------------------------------

    def run_dir(self, run: RunKey) -> Path:
        """The local folder of the run's log file and index."""
        ...

    def run_log(self, run: RunKey) -> RunLog: ...

    def index_dir(self, run: RunKey) -> Path:
        """The run's history index: a local working directory the Rust core writes."""
        ...

    def sync_run(self, run: RunKey, size: int) -> None:
        """Make the run's local log (`RunLog.path`) hold at least its first `size` bytes and
        its index cover them (`size`: the stored size its SQL row names). Nothing to do for
        the directory store, whose local log is the stored one."""
        ...

    def snapshot_index(self, run: RunKey) -> None:
        """Keep a copy of the run's index with its log (the S3 store: `runs/<pk>/index/`,
        fetched by `sync_run` when there is no local index); called under the log's lock when
        a finish record was indexed. Nothing for the directory store (its index is kept)."""
        ...

    def delete_run(self, run: RunKey) -> None:
        """Remove the run's log and index, and their caches (its blobs are the collector's)."""
        ...

    def move_run(self, run: RunKey, to: RunKey) -> None:
        """Place the run's log and index under `to` (the same run, `pk`, in another project of
        its entity); the caller holds the run's lock. Nothing for the S3 store, which keys a
        run by its `pk` alone."""
        ...
