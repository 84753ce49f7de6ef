"""The artifact thread of a run: `run.log_artifact` returns at once and this thread hashes,
stores and commits, one log call after another (docs/artifacts.md, "Logging").

Offline (no server): the files' bytes go into the local registry's blob dir (only those the
stat cache does not know to be there already), the manifest after them, then the version is
committed under the collection's lock, the `ArtifactLogged` record is written and the pending
commit for a later `fwtrack sync` is left in the run directory.
Online: the files are hashed (again only those the stat cache does not know) and handed to
`staging.stage_online`, which stages what the server lacks for the run's uploader.

A failed log never raises in the training loop: it is reported once as a warning and raised
by the artifact's `wait()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fwtrack import _core
from fwtrack.artifacts import cache
from fwtrack.artifacts.artifact import Artifact, _DraftEntry, _PendingLog
from fwtrack.artifacts.local import LocalRegistry
from fwtrack.artifacts.manifest import Manifest, ManifestEntry
from fwtrack.artifacts.registry import Registry
from fwtrack.artifacts.statcache import StatCache, StatKey, stat_key
from fwtrack.errors import ArtifactError

if TYPE_CHECKING:
    from fwtrack.sdk.run import Run

__all__ = [
    "ArtifactWorker",
    "local_registry",
    "remote_registry",
    "warn_from_thread",
    "write_record",
]

_WORKERS: weakref.WeakSet[ArtifactWorker] = weakref.WeakSet()


def local_registry(run: Run) -> LocalRegistry:
    """The local registry of `run`: `<root>/.artifacts` (the run is `<root>/<project>/<id>`)."""
    return LocalRegistry(Path(run.dir).parent.parent)


def remote_registry(run: Run) -> Registry:
    """The server's registry, for an online run."""
    from fwtrack.artifacts.remote import registry_for_run

    registry = registry_for_run(run)
    if registry is None:
        raise ArtifactError(
            f"run {run.id!r} has no server to read artifacts from (set FWTRACK_BASE_URL and "
            "an API key, or log the run offline)"
        )
    return registry


def is_online(run: Run) -> bool:
    return run.mode == "online" and getattr(run, "_uploader", None) is not None


def write_record(run: Run, kind: Literal["logged", "used"], body: dict[str, Any]) -> None:
    """An `ArtifactLogged`/`ArtifactUsed` record in the run log (nothing for a disabled run)."""
    run._inner.log_artifact_record(kind, json.dumps(body, allow_nan=False))


@dataclass
class _Job:
    artifact: Artifact
    pending: _PendingLog
    entries: list[_DraftEntry]
    project: str
    aliases: list[str]
    base: tuple[Registry, dict[str, Any]] | None


def warn_from_thread(text: str) -> None:
    """One warning from a run's background thread (artifacts, links): a warning the user's
    filters turn into an error stays in that thread."""
    from fwtrack.sdk.values import warn

    with contextlib.suppress(Exception):
        warn(text)


class ArtifactWorker:
    """One thread per run, started on the first `log_artifact`; jobs run in call order."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._open: set[_PendingLog] = set()
        self._warned = False
        _WORKERS.add(self)

    def submit(self, artifact: Artifact, aliases: list[str]) -> Artifact:
        log_id = uuid.uuid4().hex
        base = artifact._base
        entries = artifact._start_log(log_id, aliases)
        pending = artifact._pending
        assert pending is not None
        job = _Job(artifact, pending, entries, self._run.project, artifact.aliases, base)
        with self._lock:
            self._open.add(pending)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name=f"fwtrack-artifacts-{self._run.id}", daemon=True
                )
                self._thread.start()
        self._queue.put(job)
        return artifact

    def pending(self) -> int:
        with self._lock:
            return len(self._open)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every submitted log call; False when `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                open_ = list(self._open)
            if not open_:
                return True
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not open_[0].done.wait(left) and deadline is not None:
                return False

    def close(self) -> None:
        """Let the thread end once the queue is empty."""
        self._queue.put(None)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._log(job)
            except BaseException as exc:  # reported, never raised in the training loop
                job.pending.error = exc
                self._warn(job.artifact.name, exc)
            finally:
                with self._lock:
                    self._open.discard(job.pending)
                job.pending.done.set()

    def _warn(self, name: str, exc: BaseException) -> None:
        if self._warned:
            return
        self._warned = True
        warn_from_thread(
            f"fwtrack: logging artifact {name!r} failed ({exc}); the run goes on. "
            "artifact.wait() raises the error (later failures of this run are not warned "
            "again)"
        )

    # -- one log call ----------------------------------------------------------------------

    def _log(self, job: _Job) -> None:
        run = self._run
        art = job.artifact
        online = is_online(run)
        registry = local_registry(run)
        if not online:
            cache.remove_stale_tmp(registry.blob_dir)
        stat_cache = StatCache()
        try:
            blob_dir = None if online else registry.blob_dir
            manifest, sources = _build_manifest(job, blob_dir, stat_cache)
        finally:
            stat_cache.close()
        canonical = manifest.canonical()
        created_at = time.time()
        commit: dict[str, Any] = {
            "id": job.pending.id,
            "project": job.project,
            "name": art.name,
            "type": art.type,
            "description": art.description,
            "metadata": art.metadata,
            "aliases": job.aliases,
            "digest": manifest.digest,
            "created_at": created_at,
        }
        record: dict[str, Any] = {
            "id": job.pending.id,
            "ts": created_at,
            "project": job.project,
            "name": art.name,
            "type": art.type,
            "digest": commit["digest"],
            "size": manifest.size,
            "files": len(manifest),
            "aliases": job.aliases,
            "version": None,
            "description": art.description,
            "metadata": art.metadata,
        }
        if online:
            from fwtrack.artifacts import staging

            staging.stage_online(run, commit, canonical, sources)
            write_record(run, "logged", record)
            uploader = run._uploader

            def wait_commit(timeout: float | None) -> dict[str, Any]:
                return staging.wait_committed(run.dir, job.pending.id, timeout, uploader=uploader)

            job.pending.wait_commit = wait_commit
            job.pending.registry = _LazyRemote(run)
            return
        address, _size = _core.store_blob(str(registry.blob_dir), canonical)
        if address != commit["digest"]:
            raise ArtifactError(f"the manifest of {art.name!r} was stored as {address}")
        version = registry.commit(
            project=job.project,
            name=art.name,
            type=art.type,
            digest=address,
            size=manifest.size,
            files=len(manifest),
            aliases=job.aliases,
            log_id=job.pending.id,
            description=art.description,
            metadata=art.metadata,
            created_at=created_at,
            run={"entity": None, "project": run.project, "id": run.id},
        )
        record["version"] = version["version"]
        write_record(run, "logged", record)
        if run.mode != "disabled":
            from fwtrack.artifacts import staging

            staging.write_pending(run.dir, {**commit, "blob_dir": str(registry.blob_dir)})
        art._manifest = manifest
        art._set_committed(version, registry)


class _LazyRemote:
    """The server's registry, created when first needed (after the commit)."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._inner: Registry | None = None

    def __getattr__(self, name: str) -> Any:
        if self._inner is None:
            self._inner = remote_registry(self._run)
        return getattr(self._inner, name)


def _stat_all(sources: list[str]) -> list[StatKey]:
    keys = []
    for path in sources:
        try:
            keys.append(stat_key(os.stat(path)))
        except FileNotFoundError:
            raise FileNotFoundError(
                2, f"{path} was removed before the artifact was logged; add it again", path
            ) from None
    return keys


def _build_manifest(
    job: _Job, blob_dir: Path | None, stat_cache: StatCache
) -> tuple[Manifest, dict[str, str]]:
    """The manifest of the job's entries and, for the files among them, address → file.
    With a `blob_dir`, every file's bytes are in it afterwards."""
    files = [d for d in job.entries if d.source is not None]
    paths = [str(d.source) for d in files]
    keys = _stat_all(paths)
    started = time.time()
    known = stat_cache.lookup(list(zip(paths, keys, strict=True)))
    stored = _Stored(blob_dir)
    addresses: dict[str, tuple[str, int]] = {}
    todo: list[int] = []
    for i, path in enumerate(paths):
        address = known.get(path)
        if address is not None and (blob_dir is None or address in stored):
            addresses[path] = (address, keys[i][0])
        else:
            todo.append(i)
    if todo:
        todo_paths = [paths[i] for i in todo]
        if blob_dir is None:
            hashed: list[Any] = _core.hash_files(todo_paths)
        else:
            hashed = store_files(blob_dir, todo_paths)
        fresh = []
        for i, result in zip(todo, hashed, strict=True):
            if result is None or isinstance(result, OSError):
                reason = f": {result}" if isinstance(result, OSError) else ""
                raise ArtifactError(
                    f"cannot log {paths[i]} (entry {files[i].entry.path!r}){reason}"
                ) from (result if isinstance(result, OSError) else None)
            addresses[paths[i]] = (result[0], result[1])
            fresh.append((paths[i], keys[i], result[0]))
        stat_cache.record(fresh, hashed_at=started)
    entries: list[ManifestEntry] = []
    sources: dict[str, str] = {}
    carried: list[ManifestEntry] = []
    for d in job.entries:
        if d.source is not None:
            address, size = addresses[d.source]
            entries.append(ManifestEntry(d.entry.path, address=address, size=size))
            sources.setdefault(address, d.source)
        else:
            entries.append(d.entry)
            if d.entry.address is not None:
                carried.append(d.entry)
    if blob_dir is None and carried and job.base is not None:
        # Online: entries carried over from a local version are sent from the local blobs.
        blob_path = getattr(job.base[0], "blob_path", None)
        if blob_path is not None:
            for entry in carried:
                path = str(blob_path(str(entry.address)))
                if os.path.isfile(path):
                    sources.setdefault(str(entry.address), path)
    if blob_dir is not None and carried:
        _bring_carried(
            job, blob_dir, [e for e in carried if not _has_blob(blob_dir, str(e.address))]
        )
    return Manifest(entries), sources


def _bring_carried(job: _Job, blob_dir: Path, missing: list[ManifestEntry]) -> None:
    """Entries a draft carried over from its base version whose bytes are not in `blob_dir`
    (a version read from a server, logged offline): fetched from the base's registry."""
    if not missing:
        return
    if job.base is None:
        raise ArtifactError(
            f"the bytes of {missing[0].path!r} ({missing[0].address}) are not stored locally"
        )
    registry, version = job.base
    tmp = tempfile.mkdtemp(prefix="fwtrack-artifact-")
    try:
        registry.materialize(version, missing, Path(tmp))
        stored = store_files(blob_dir, [os.path.join(tmp, *e.path.split("/")) for e in missing])
        for entry, result in zip(missing, stored, strict=True):
            if isinstance(result, OSError) or result[0] != entry.address:
                raise ArtifactError(f"cannot store the bytes of {entry.path!r}: {result}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Stored:
    """Which addresses a blob dir holds: each `<hh>/` folder listed once, when first asked
    (one listing instead of a stat per file)."""

    def __init__(self, blob_dir: Path | None) -> None:
        self._dir = blob_dir
        self._listed: dict[str, set[str]] = {}

    def __contains__(self, address: object) -> bool:
        if self._dir is None or not isinstance(address, str):
            return False
        hexpart = address.partition(":")[2]
        folder = hexpart[:2]
        names = self._listed.get(folder)
        if names is None:
            try:
                names = set(os.listdir(self._dir / folder))
            except FileNotFoundError:
                names = set()
            self._listed[folder] = names
        return hexpart in names


def _has_blob(blob_dir: Path, address: str) -> bool:
    hexpart = address.partition(":")[2]
    return os.path.isfile(os.path.join(blob_dir, hexpart[:2], hexpart))


def store_files(blob_dir: Path, paths: list[str]) -> list[tuple[str, int] | OSError]:
    """`_core.store_files`: each file copied into `blob_dir` while hashed; results in order."""
    return _core.store_files(str(blob_dir), paths)


def _after_fork_in_child() -> None:
    # The parent's artifact threads do not exist in the child: start afresh there.
    for worker in list(_WORKERS):
        worker._thread = None
        worker._lock = threading.Lock()
        worker._queue = queue.Queue()
        with contextlib.suppress(Exception):
            worker._open.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
