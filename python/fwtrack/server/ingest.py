"""The upload protocol: append whole frames to a run's stored log, idempotent by offset.

Per run, requests are serialized by an exclusive `flock` on the stored log (and, on
PostgreSQL, a row lock on the run). The log file is the truth: its size is the stored offset
`S` on every request. A crash between the append and the SQL update is healed on the next
request by re-running `index_update` (its manifest knows how far it got) and, should the
crash have left a partly written frame, by cutting the file back to its last whole frame.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fwtrack.server import core
from fwtrack.server.blobs import BlobStore, LocalRunsLayout, RunPaths, fsync_dir
from fwtrack.server.db import Database, Project, Run, now
from fwtrack.server.errors import ApiError
from fwtrack.server.fields import run_field_keys
from fwtrack.server.jsonutil import clean_text, json_safe

__all__ = [
    "IngestResult",
    "apply_index",
    "delete_run",
    "get_or_create_project",
    "get_or_create_run",
    "ingest",
    "stored_offset",
]

log = logging.getLogger("fwtrack.server")

_T = TypeVar("_T")
HEADER_LEN = 16
FRAME_HEADER_LEN = 28
_MAX_NAME = 256
_MAX_TAGS = 256


@dataclass(frozen=True)
class IngestResult:
    """The answer to an upload: HTTP status and the stored offset."""

    status: int
    offset: int


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


@contextlib.contextmanager
def locked_log(path: Path, *, create: bool) -> Iterator[int]:
    """An fd on the stored log, holding an exclusive flock on it. The fd is checked to still
    be the file at `path` once locked (a delete may have removed it meanwhile)."""
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    for _ in range(3):
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            if not create:
                raise
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield fd
                return
        finally:
            os.close(fd)  # releases the lock
        if not create:
            raise FileNotFoundError(2, "the run log was removed", str(path))
    raise ApiError(404, _DELETED)


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


def _heal(fd: int, paths: RunPaths, size: int) -> tuple[int, dict[str, Any]]:
    """Index everything stored; cut a partly written last frame (left by a crash) off."""
    result = core.index_update(str(paths.log), str(paths.index))
    good = int(result["log_offset"])
    if good < size:
        log.warning(
            "%s: cutting %d byte(s) of a partly written frame at offset %d (left by a crash)",
            paths.log,
            size - good,
            good,
        )
        os.ftruncate(fd, good)
        os.fsync(fd)
        size = good
        result = core.index_update(str(paths.log), str(paths.index))
    return size, result


def _check_sequence(data: bytes, at_start: bool, next_seq: int) -> int:
    """Check that the frames in `data` (already validated) continue the stored log's sequence
    numbers; return the next sequence number after them. A frame numbered below the next
    record repeats or reorders records (the client sent the wrong bytes for this offset). A
    frame numbered above it is accepted: the writer skips the numbers of records it had to
    drop after a long write failure (docs/format.md, "Sequence numbers")."""
    pos = HEADER_LEN if at_start else 0
    while pos + FRAME_HEADER_LEN <= len(data):
        body_len, first_seq, count = (
            int.from_bytes(data[pos : pos + 4], "little"),
            int.from_bytes(data[pos + 8 : pos + 16], "little"),
            int.from_bytes(data[pos + 16 : pos + 20], "little"),
        )
        if first_seq < next_seq:
            raise ValueError(
                f"the frame at byte {pos} starts at record {first_seq}, but the log continues "
                f"at record {next_seq} (a frame sent again or out of order)"
            )
        next_seq = first_seq + count
        pos += FRAME_HEADER_LEN + body_len
    return next_seq


def _scan_next_seq(fd: int, size: int) -> int:
    """The next sequence number after the whole frames of a stored log (read from the frame
    headers; used only when the SQL row lags the file after a crash)."""
    pos, next_seq = HEADER_LEN, 0
    while pos + FRAME_HEADER_LEN <= size:
        head = os.pread(fd, FRAME_HEADER_LEN, pos)
        if len(head) < FRAME_HEADER_LEN:
            break
        body_len = int.from_bytes(head[0:4], "little")
        next_seq = int.from_bytes(head[8:16], "little") + int.from_bytes(head[16:20], "little")
        pos += FRAME_HEADER_LEN + body_len
    return next_seq


def _append(fd: int, data: bytes, at: int) -> None:
    view = memoryview(data)
    pos = at
    try:
        while view:
            written = os.pwrite(fd, view, pos)
            view = view[written:]
            pos += written
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, at)
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
    if blobs.in_place:
        raise ApiError(405, "this server indexes local runs in place; uploads are not accepted")
    if offset < 0:
        raise ApiError(400, f"offset must be >= 0, got {offset}")
    run = get_or_create_run(db, project, run_id)
    paths = blobs.paths(project.id, project.name, run_id)
    known_size, known_seq = run.log_size, run.next_seq

    def work() -> tuple[IngestResult, dict[str, Any] | None, int]:
        with locked_log(paths.log, create=True) as fd:
            size = os.fstat(fd).st_size
            result: dict[str, Any] | None = None
            next_seq = known_seq
            if size != known_size:
                size, result = _heal(fd, paths, size)
                next_seq = _scan_next_seq(fd, size)
            if offset > size:
                return IngestResult(409, size), result, next_seq
            if not body or offset + len(body) <= size:
                return IngestResult(200, size), result, next_seq
            new = body[size - offset :]
            try:
                core.validate_frames(new, size == 0)
                next_seq = _check_sequence(new, size == 0, next_seq)
            except ValueError as exc:
                raise ApiError(
                    400,
                    f"bytes from offset {size} are not whole run-log frames: {exc}; hint: "
                    "send whole frames, starting at a frame boundary",
                ) from exc
            _append(fd, new, size)
            if size == 0:
                fsync_dir(paths.run_dir)
            result = core.index_update(str(paths.log), str(paths.index))
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

    try:
        answer, _, _ = _row_update(db, run.id, work, update)
    except FileNotFoundError as exc:  # removed by a concurrent DELETE
        raise ApiError(404, _DELETED) from exc
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
    """Delete a run's row and everything stored for it, serialized with its uploads (same lock
    order as `ingest`: the row lock, then the log's flock, on PostgreSQL; the flock, then the
    write transaction, on SQLite)."""
    paths = blobs.paths(project.id, project.name, run.run_id)
    missing = ApiError(404, f"no run {run.run_id!r} in project {project.entity}/{project.name}")
    if db.dialect == "postgresql":
        with db.write() as session:
            row = session.scalar(sa.select(Run).where(Run.id == run.id).with_for_update())
            if row is None:
                raise missing
            with _lock_if_present(paths.log):
                session.delete(row)
                session.flush()
                blobs.delete(paths)
        return
    with _lock_if_present(paths.log), db.write() as session:
        if session.get(Run, run.id) is None:
            raise missing
        session.execute(sa.delete(Run).where(Run.id == run.id))
        blobs.delete(paths)


def stored_offset(
    db: Database, blobs: BlobStore | LocalRunsLayout, project: Project, run: Run
) -> int:
    """The stored size of a run's log, healing a crash first (`GET .../log/offset`)."""
    paths = blobs.paths(project.id, project.name, run.run_id)
    if blobs.in_place:
        try:
            return paths.log.stat().st_size
        except FileNotFoundError:
            return 0
    if not paths.log.exists():
        return 0

    def work() -> tuple[int, dict[str, Any] | None, int]:
        with locked_log(paths.log, create=False) as fd:
            size = os.fstat(fd).st_size
            if size == run.log_size:
                return size, None, run.next_seq
            size, result = _heal(fd, paths, size)
            return size, result, _scan_next_seq(fd, size)

    def update(_session: Session, row: Run, out: tuple[int, dict[str, Any] | None, int]) -> None:
        size, result, next_seq = out
        if result is not None:
            apply_index(row, result, size)
            row.next_seq = next_seq

    try:
        return _row_update(db, run.id, work, update)[0]
    except FileNotFoundError as exc:
        raise ApiError(404, _DELETED) from exc


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
    row.config = json_safe(meta.get("config") or {})
    row.summary = json_safe(meta.get("summary") or {})
    row.field_keys, row.field_keys_hash = run_field_keys(row.config, row.summary)
    row.meta = json_safe(first)
    finish = meta.get("finish")
    if isinstance(finish, dict):
        code = finish.get("exit_code")
        row.exit_code = int(code) if isinstance(code, int) else None
        row.state = "finished" if row.exit_code == 0 else "failed"
        runtime = finish.get("runtime")
    else:
        row.exit_code = None
        row.state = "running"
        runtime = meta.get("runtime")
    if isinstance(runtime, int | float) and runtime == runtime and abs(runtime) != float("inf"):
        row.runtime = float(runtime)
    row.keys = sorted(str(k) for k in result.get("keys") or [])
    row.log_size = int(log_size)
