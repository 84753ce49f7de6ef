"""The upload protocol: append whole frames to a run's stored log, idempotent by offset.

Per run, requests are serialized by the store's exclusive lock on the run's log (`RunLog.locked`:
a `flock` in the directory backend, a per-process lock and a `flock` on the cache file in the S3
backend) and, on PostgreSQL, a row lock on the run (`SELECT ... FOR UPDATE`, `_row_update`):
that row lock is what orders one run's uploads ACROSS server replicas sharing one database and
one S3 store (SQLite serves one server process, whose locks are enough). The stored log
is the truth: its size is the stored offset `S` on every request. A crash between the append
and the SQL update is healed on the next request by re-running `index_update` (its manifest
knows how far it got) and, should the crash have left a partly written frame, by cutting the
log back to its last whole frame.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fwtrack.server import core
from fwtrack.server.alerts import store_alerts
from fwtrack.server.artifacts import record_edges
from fwtrack.server.blobs import BlobStore, LocalRunsLayout
from fwtrack.server.db import Comment, Database, Project, Run, RunFileRow, now
from fwtrack.server.errors import ApiError
from fwtrack.server.fields import run_field_keys
from fwtrack.server.jsonutil import clean_text, json_safe
from fwtrack.server.queries import keep_edited
from fwtrack.server.store.base import LogHandle, RunLog

__all__ = [
    "IngestResult",
    "apply_index",
    "delete_run",
    "get_or_create_project",
    "get_or_create_run",
    "ingest",
    "move_run",
    "stored_offset",
]

log = logging.getLogger("fwtrack.server")

_T = TypeVar("_T")
_MAX_NAME = 256
_MAX_TAGS = 256


@dataclass(frozen=True)
class IngestResult:
    """The answer to an upload: HTTP status and the stored offset."""

    status: int
    offset: int
    alerts: int = 0
    """Alerts stored by this upload (the route wakes the webhook dispatcher for them)."""


def get_or_create_project(db: Database, entity: str, name: str) -> Project:
    """The project `entity/name`, created when missing (safe against concurrent creation)."""
    for _ in range(3):
        with db.read() as session:
            project = session.scalar(
                sa.select(Project).where(Project.entity == entity, Project.name == name)
            )
            if project is not None:
                return project
        try:
            with db.write() as session:
                t = now()
                project = Project(entity=entity, name=name, created_at=t, last_activity=t)
                session.add(project)
                session.flush()
                return project
        except IntegrityError:
            continue  # created by a concurrent request: read it
    raise ApiError(503, "could not create the project; retry", headers={"Retry-After": "1"})


def get_or_create_run(db: Database, project: Project, run_id: str) -> Run:
    """The run row `run_id` of `project`, created when missing."""
    for _ in range(3):
        with db.read() as session:
            run = session.scalar(
                sa.select(Run).where(Run.project_id == project.id, Run.run_id == run_id)
            )
            if run is not None:
                return run
        try:
            with db.write() as session:
                t = now()
                run = Run(
                    project_id=project.id,
                    run_id=run_id,
                    name=run_id,
                    state="running",
                    tags=[],
                    created_at=t,
                    updated_at=t,
                    heartbeat_at=t,
                    runtime=0.0,
                    config={},
                    summary={},
                    meta={},
                    keys=[],
                    log_size=0,
                    next_seq=0,
                    edited=[],
                )
                session.add(run)
                session.flush()
                return run
        except IntegrityError:
            continue
    raise ApiError(503, "could not create the run; retry", headers={"Retry-After": "1"})


_DELETED = "the run was deleted during this request; upload it again"


def _row_update(
    db: Database, run_pk: int, work: Callable[[], _T], update: Callable[[Session, Run, _T], None]
) -> _T:
    """Run `work()` then `update(session, row, result)` in one write transaction. On PostgreSQL
    the run row is locked (SELECT ... FOR UPDATE) around the work; on SQLite (one writer at a
    time anyway) the write transaction is kept short and taken after the work."""
    if db.dialect == "postgresql":
        with db.write() as session:
            row = session.scalar(sa.select(Run).where(Run.id == run_pk).with_for_update())
            if row is None:
                raise ApiError(404, "the run was deleted during this request; upload again")
            result = work()
            update(session, row, result)
            return result
    result = work()
    with db.write() as session:
        row = session.get(Run, run_pk)
        if row is None:
            raise ApiError(404, "the run was deleted during this request; upload again")
        update(session, row, result)
    return result


def _heal(handle: LogHandle, runlog: RunLog, index: str, size: int) -> tuple[int, dict[str, Any]]:
    """Index everything stored; cut a partly written last frame (left by a crash) off."""
    result = core.index_update(str(runlog.path), index)
    good = int(result["log_offset"])
    if good < size:
        log.warning(
            "%s: cutting %d byte(s) of a partly written frame at offset %d (left by a crash)",
            runlog.path,
            size - good,
            good,
        )
        handle.truncate(good)
        size = good
        result = core.index_update(str(runlog.path), index)
    return size, result


def _snapshot_index(blobs: BlobStore, project: Project, run: Run) -> None:
    """Keep a copy of a run's history index in the store once its finish record is indexed
    (the S3 store: a server without the index fetches it instead of indexing the whole log);
    a failure costs only that, so it is logged, not answered."""
    try:
        blobs.store.snapshot_index(blobs.key(project, run))
    except OSError as exc:
        log.warning(
            "run %s: its history index snapshot was not stored (%s); a server without the "
            "index rebuilds it from the log",
            run.run_id,
            exc,
        )


def _append(handle: LogHandle, data: bytes, at: int) -> None:
    try:
        handle.append(data, at)
    except OSError as exc:
        log.error("append to stored log failed: %s", exc)
        raise ApiError(
            503,
            f"the server could not store the upload ({exc.strerror or exc}); retry later",
            headers={"Retry-After": "5"},
        ) from exc


def ingest(
    db: Database,
    blobs: BlobStore | LocalRunsLayout,
    project: Project,
    run_id: str,
    offset: int,
    body: bytes,
) -> IngestResult:
    """Apply one `POST .../log?offset=N` (see docs/server.md, "Upload protocol")."""
    if isinstance(blobs, LocalRunsLayout):
        raise ApiError(405, "this server indexes local runs in place; uploads are not accepted")
    if offset < 0:
        raise ApiError(400, f"offset must be >= 0, got {offset}")
    run = get_or_create_run(db, project, run_id)
    runlog = blobs.log(project, run)
    index = str(blobs.paths(project, run).index)
    known_size, known_seq = run.log_size, run.next_seq
    alerts = [0]

    def work() -> tuple[IngestResult, dict[str, Any] | None, int]:
        with runlog.locked(create=True) as handle:
            size = handle.size()
            result: dict[str, Any] | None = None
            next_seq = known_seq
            if size != known_size:
                size, result = _heal(handle, runlog, index, size)
                next_seq = core.log_next_seq(handle.fileno(), size)
            if offset > size:
                return IngestResult(409, size), result, next_seq
            if not body or offset + len(body) <= size:
                return IngestResult(200, size), result, next_seq
            new = body[size - offset :]
            try:
                core.validate_frames(new, size == 0)
                next_seq = core.frame_sequence(new, size == 0, next_seq)
            except ValueError as exc:
                raise ApiError(
                    400,
                    f"bytes from offset {size} are not whole run-log frames: {exc}; hint: "
                    "send whole frames, starting at a frame boundary",
                ) from exc
            _append(handle, new, size)
            result = core.index_update(str(runlog.path), index)
            if run.state == "running" and (result.get("meta") or {}).get("finish") is not None:
                _snapshot_index(blobs, project, run)  # under the lock: the index holds still
            return IngestResult(200, size + len(new)), result, next_seq

    def update(
        session: Session, row: Run, out: tuple[IngestResult, dict[str, Any] | None, int]
    ) -> None:
        answer, result, next_seq = out
        t = now()
        row.heartbeat_at = t
        if result is not None:
            apply_index(row, result, answer.offset)
            row.next_seq = next_seq
            row.updated_at = t
            session.execute(
                sa.update(Project).where(Project.id == project.id).values(last_activity=t)
            )
            alerts[0] = store_alerts(session, project, row, result.get("meta") or {})

    try:
        answer, indexed, _ = _row_update(db, run.id, work, update)
    except FileNotFoundError as exc:  # removed by a concurrent DELETE
        raise ApiError(404, _DELETED) from exc
    if indexed is not None:  # lineage: the artifacts the log says it logged and used
        record_edges(db, run.id, project.entity, project.name, indexed.get("meta") or {})
    if alerts[0]:
        return IngestResult(answer.status, answer.offset, alerts[0])
    return answer


@contextlib.contextmanager
def _lock_if_present(path: os.PathLike[str] | str) -> Iterator[None]:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def delete_run(
    db: Database, blobs: BlobStore | LocalRunsLayout, project: Project, run: Run
) -> None:
    """Delete a run's row, its manifest and everything stored for it, serialized with its
    uploads (same lock order as `ingest`: the row lock, then the log's lock, on PostgreSQL;
    the log's lock, then the write transaction, on SQLite). The blobs its manifest named are
    then the collector's (kept while another run references them)."""
    missing = ApiError(404, f"no run {run.run_id!r} in project {project.entity}/{project.name}")
    if isinstance(blobs, LocalRunsLayout):
        paths = blobs.paths(project, run)
        with _lock_if_present(paths.log), db.write() as session:
            if session.get(Run, run.id) is None:
                raise missing
            session.execute(sa.delete(Run).where(Run.id == run.id))
            blobs.remove(paths)
        return
    runlog = blobs.log(project, run)
    named = sa.select(RunFileRow.blob_id).where(RunFileRow.run_pk == run.id)
    if db.dialect == "postgresql":
        with db.write() as session:
            row = session.scalar(sa.select(Run).where(Run.id == run.id).with_for_update())
            if row is None:
                raise missing
            released = list(session.scalars(named))
            with runlog.lock_if_present():
                session.delete(row)  # its manifest rows go with it (ON DELETE CASCADE)
                session.flush()
                blobs.delete(project, run)
    else:
        with runlog.lock_if_present(), db.write() as session:
            if session.get(Run, run.id) is None:
                raise missing
            released = list(session.scalars(named))
            session.execute(sa.delete(Run).where(Run.id == run.id))
            blobs.delete(project, run)
    blobs.released(released)


def _moved_row(session: Session, project: Project, run: Run, to: Project) -> Run:
    """The run's row, now in project `to` (flushed: a run of that id already there is a
    409), with its comments following it."""
    row = session.get(Run, run.id)
    if row is None:
        raise ApiError(404, f"no run {run.run_id!r} in project {project.entity}/{project.name}")
    clash = session.scalar(
        sa.select(Run.id).where(Run.project_id == to.id, Run.run_id == run.run_id)
    )
    if clash is not None:
        raise _clash(run, to)
    row.project_id = to.id
    try:
        session.flush()
    except IntegrityError:
        raise _clash(run, to) from None
    session.execute(
        sa.update(Comment)
        .where(
            Comment.entity == project.entity,
            Comment.target == "run",
            Comment.target_key == f"{project.name}/{run.run_id}",
        )
        .values(target_key=f"{to.name}/{run.run_id}")
    )
    session.execute(sa.update(Project).where(Project.id == to.id).values(last_activity=now()))
    return row


def _clash(run: Run, to: Project) -> ApiError:
    return ApiError(
        409,
        f"project {to.entity}/{to.name} already has a run {run.run_id!r}; hint: delete or "
        "move that run first",
    )


def move_run(
    db: Database, blobs: BlobStore | LocalRunsLayout, project: Project, run: Run, to: Project
) -> None:
    """Move a run to project `to` of the same entity: its row (id, history index, files,
    alerts, artifact links and comments all hang off it) and its stored log and index, under
    the log's lock (the lock order of `delete_run`). `fwtrack ui`: the run's directory is
    renamed to `<dir>/<to>/<run id>/`."""
    if to.entity != project.entity:
        raise ApiError(400, "a run moves within its entity only (blobs belong to an entity)")
    if isinstance(blobs, LocalRunsLayout):
        source = blobs.paths(project, run)
        target = blobs.run_paths(to.name, run.run_id)
        renamed = False
        try:
            with _lock_if_present(source.log), db.write() as session:
                if target.run_dir.exists() or target.run_dir.is_symlink():
                    raise ApiError(
                        409,
                        f"{target.run_dir} already exists; hint: move or remove that "
                        "directory first",
                    )
                _moved_row(session, project, run, to)
                blobs.move(source, target)
                renamed = True
        except BaseException:
            if renamed:
                blobs.move(target, source)
            raise
        return
    runlog = blobs.log(project, run)
    moved = False
    try:
        if db.dialect == "postgresql":
            with db.write() as session:
                row = session.scalar(sa.select(Run).where(Run.id == run.id).with_for_update())
                if row is None:
                    raise ApiError(
                        404, f"no run {run.run_id!r} in project {project.entity}/{project.name}"
                    )
                with runlog.lock_if_present():
                    _moved_row(session, project, run, to)
                    blobs.move(project, run, to)
                    moved = True
        else:
            with runlog.lock_if_present(), db.write() as session:
                _moved_row(session, project, run, to)
                blobs.move(project, run, to)
                moved = True
    except BaseException:
        if moved:  # the row stayed where it was: so do its bytes
            moved_run = Run(id=run.id, run_id=run.run_id, project_id=to.id)
            blobs.move(to, moved_run, project)
        raise


def stored_offset(
    db: Database, blobs: BlobStore | LocalRunsLayout, project: Project, run: Run
) -> int:
    """The stored size of a run's log, healing a crash first (`GET .../log/offset`)."""
    if isinstance(blobs, LocalRunsLayout):
        try:
            return blobs.paths(project, run).log.stat().st_size
        except FileNotFoundError:
            return 0
    runlog = blobs.log(project, run)
    index = str(blobs.paths(project, run).index)
    if runlog.size() == 0:  # the stored log, not the local file (a cache on the S3 store)
        return 0

    def work() -> tuple[int, dict[str, Any] | None, int]:
        with runlog.locked(create=False) as handle:
            size = handle.size()
            if size == run.log_size:
                return size, None, run.next_seq
            size, result = _heal(handle, runlog, index, size)
            return size, result, core.log_next_seq(handle.fileno(), size)

    def update(session: Session, row: Run, out: tuple[int, dict[str, Any] | None, int]) -> None:
        size, result, next_seq = out
        if result is not None:
            apply_index(row, result, size)
            row.next_seq = next_seq
            # Alerts of a part appended before a crash (the dispatcher's next look sends them).
            store_alerts(session, project, row, result.get("meta") or {})

    try:
        return _row_update(db, run.id, work, update)[0]
    except FileNotFoundError as exc:
        raise ApiError(404, _DELETED) from exc


def _is_hidden(key: str, hidden: list[str]) -> bool:
    """Whether a `define_metric(name, hidden=True)` name (a key, or a prefix and `*`)
    covers `key`."""
    return any(key.startswith(h[:-1]) if h.endswith("*") else key == h for h in hidden)


def apply_index(row: Run, result: dict[str, Any], log_size: int) -> None:
    """Update a run row from an `index_update` answer (its `meta` and `keys`)."""
    meta: dict[str, Any] = result.get("meta") or {}
    starts = [s for s in meta.get("starts") or [] if isinstance(s, dict)]
    first = starts[0] if starts else {}
    latest = starts[-1] if starts else {}
    edited = set(row.edited or [])
    if "name" not in edited:
        name = first.get("name") or latest.get("name") or row.run_id
        row.name = clean_text(str(name))[:_MAX_NAME]
    if "tags" not in edited:
        tags = latest.get("tags") if latest.get("tags") is not None else first.get("tags")
        row.tags = (
            [clean_text(str(t))[:_MAX_NAME] for t in tags][:_MAX_TAGS]
            if isinstance(tags, list)
            else []
        )
    if "notes" not in edited:
        notes = latest.get("notes") if latest.get("notes") is not None else first.get("notes")
        row.notes = None if notes is None else clean_text(str(notes))
    created = first.get("created_at")
    if isinstance(created, int | float) and not isinstance(created, bool) and created > 0:
        row.created_at = float(created)
    edits = [e for e in edited if "." in e]  # config/summary keys set through the API
    row.config = keep_edited(edits, "config", row.config or {}, json_safe(meta.get("config") or {}))
    row.summary = keep_edited(
        edits, "summary", row.summary or {}, json_safe(meta.get("summary") or {})
    )
    row.field_keys, row.field_keys_hash = run_field_keys(row.config, row.summary)
    row.meta = json_safe(first)
    sweep = first.get("sweep_id")
    row.sweep_id = sweep[:16] if isinstance(sweep, str) and sweep else None
    finish = meta.get("finish")
    if isinstance(finish, dict):
        code = finish.get("exit_code")
        row.exit_code = int(code) if isinstance(code, int) else None
        if finish.get("reason") == "stopped":
            row.state = "stopped"  # ended early by its sweep (hyperband, cancel)
        else:
            row.state = "finished" if row.exit_code == 0 else "failed"
        runtime = finish.get("runtime")
    else:
        row.exit_code = None
        row.state = "running"
        runtime = meta.get("runtime")
    if isinstance(runtime, int | float) and runtime == runtime and abs(runtime) != float("inf"):
        row.runtime = float(runtime)
    # Metrics defined with `hidden=True` stay out of the keys the dashboard charts.
    hidden = [
        str(m["name"])
        for m in meta.get("metrics") or []
        if isinstance(m, dict) and m.get("hidden") is True and isinstance(m.get("name"), str)
    ]
    row.keys = sorted(str(k) for k in result.get("keys") or [] if not _is_hidden(str(k), hidden))
    row.log_size = int(log_size)
