"""The upload protocol: idempotent by byte offset, whole frames only, crash healing.

Real run logs written by `fwtrack.init/log/finish`, uploaded in chunks at frame boundaries,
on the directory store and on S3 (a real SeaweedFS), against SQLite and PostgreSQL. What the
store holds is read back from its bytes (the directory store's file, the bucket's segments).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fwtrack import _core
from fwtrack.server.ingest import get_or_create_project, ingest

from .apputil import (
    MATRIX,
    frame_boundaries,
    make_run,
    open_client,
    split,
    store_choice,
    stored_log,
    upload,
)
from .harness import StoreChoice

PROJECT = "ingest"
BASE = "/api/v1/runs/admin/ingest"


@pytest.fixture(params=MATRIX)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    store, backend = split(request.param)
    yield from open_client(
        request, tmp_path, backend, store_choice(request, store), max_upload_bytes=256 * 1024
    )


@pytest.fixture
def log_bytes(tmp_path: Path) -> bytes:
    path = make_run(tmp_path / "client", PROJECT, "r1", steps=120, config={"lr": 0.1})
    return path.read_bytes()


def post(api: TestClient, run_id: str, offset: int, body: bytes) -> tuple[int, dict[str, object]]:
    r = api.post(
        f"{BASE}/{run_id}/log",
        params={"offset": offset},
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    return r.status_code, r.json()


def store_of(api: TestClient) -> StoreChoice:
    store: StoreChoice = api.app.state.test_store  # type: ignore[attr-defined]
    return store


def run_row(api: TestClient, run_id: str) -> tuple[int, int]:
    """(the run's primary key, its project's id)."""
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    with ctx.db.engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT runs.id, runs.project_id FROM runs JOIN projects "
                "ON projects.id = runs.project_id "
                "WHERE projects.entity = 'admin' AND projects.name = :project "
                "AND runs.run_id = :run"
            ),
            {"project": PROJECT, "run": run_id},
        ).one()
    return int(row[0]), int(row[1])


def blob_log(api: TestClient, run_id: str) -> bytes:
    """The run's log as the store holds it (read from its bytes, not through the server)."""
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    pk, project_id = run_row(api, run_id)
    return store_of(api).run_log(Path(ctx.config.data_dir), project_id, run_id, pk)


def append_behind(api: TestClient, run_id: str, at: int, data: bytes) -> None:
    """Store `data` at `at` as an append whose SQL update never happened (the server died in
    between): the directory store's file grows; S3 gets the append's segment."""
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    pk, project_id = run_row(api, run_id)
    store = store_of(api)
    if store.is_s3:
        store.put_log_segment(pk, at, data)
        return
    path = Path(ctx.config.data_dir) / "store" / "runs" / str(project_id) / run_id / "run.fwlog"
    assert path.stat().st_size == at
    with open(path, "ab") as fh:
        fh.write(data)


def torn_behind(api: TestClient, run_id: str, data: bytes) -> None:
    """A partly written frame after the stored end (the server died during a write): only
    the directory store can hold one (an S3 object is written whole or not at all)."""
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    if store_of(api).is_s3:
        return
    _, project_id = run_row(api, run_id)
    path = Path(ctx.config.data_dir) / "store" / "runs" / str(project_id) / run_id / "run.fwlog"
    with open(path, "ab") as fh:
        fh.write(data)


def read_meta(data: bytes, tmp: Path) -> dict[str, object]:
    """The Rust reader's view of a stored log."""
    path = tmp / f"stored-{len(data)}.fwlog"
    path.write_bytes(data)
    meta: dict[str, object] = _core.RunReader(str(path)).meta()
    return meta


def test_chunked_upload_stores_the_exact_bytes(api: TestClient, log_bytes: bytes) -> None:
    assert len(frame_boundaries(log_bytes)) > 5
    assert upload(api, "admin", PROJECT, "r1", log_bytes, chunks=4) == len(log_bytes)
    assert stored_log(api, "admin", PROJECT, "r1") == log_bytes
    run = api.get(f"{BASE}/r1").json()
    assert run["state"] == "finished"
    assert run["exit_code"] == 0
    assert run["log_size"] == len(log_bytes)
    assert run["config"] == {"lr": 0.1}
    assert run["keys"] == ["acc", "loss"]
    assert run["summary"]["loss"] == pytest.approx(1 / 120)
    assert api.get(f"{BASE}/r1/log/offset").json() == {"offset": len(log_bytes)}


def test_resending_chunks_never_duplicates(api: TestClient, log_bytes: bytes) -> None:
    bounds = frame_boundaries(log_bytes)
    mid = bounds[len(bounds) // 2]
    assert post(api, "r1", 0, log_bytes[:mid]) == (200, {"offset": mid})
    # the same chunk again (its ack was lost): nothing appended
    assert post(api, "r1", 0, log_bytes[:mid]) == (200, {"offset": mid})
    # a prefix of what is stored
    assert post(api, "r1", 0, log_bytes[: bounds[1]]) == (200, {"offset": mid})
    # overlapping: starts before the stored end, ends after it; only the new part is stored
    start = bounds[1]
    assert post(api, "r1", start, log_bytes[start:]) == (200, {"offset": len(log_bytes)})
    assert post(api, "r1", start, log_bytes[start:]) == (200, {"offset": len(log_bytes)})
    assert stored_log(api, "admin", PROJECT, "r1") == log_bytes
    assert blob_log(api, "r1") == log_bytes
    history = api.get(f"{BASE}/r1/history", params={"samples": 0}).json()
    assert history["series"]["loss"]["step"] == list(range(120))


def test_offset_past_the_end_is_409_with_the_stored_offset(
    api: TestClient, log_bytes: bytes
) -> None:
    bounds = frame_boundaries(log_bytes)
    status, body = post(api, "r1", bounds[2], log_bytes[bounds[2] : bounds[3]])
    assert status == 409
    assert body["offset"] == 0
    assert "resend from offset 0" in str(body["detail"])
    assert post(api, "r1", 0, log_bytes[: bounds[1]]) == (200, {"offset": bounds[1]})
    status, body = post(api, "r1", bounds[2], log_bytes[bounds[2] : bounds[3]])
    assert (status, body["offset"]) == (409, bounds[1])


@pytest.mark.parametrize("damage", ["torn", "crc", "garbage", "mid_frame", "bad_header"])
def test_invalid_bytes_are_400_and_nothing_is_stored(
    api: TestClient, log_bytes: bytes, damage: str
) -> None:
    bounds = frame_boundaries(log_bytes)
    assert post(api, "r1", 0, log_bytes[: bounds[2]]) == (200, {"offset": bounds[2]})
    start, end = bounds[2], bounds[5]
    chunk = bytearray(log_bytes[start:end])
    if damage == "torn":
        chunk = chunk[:-3]
    elif damage == "crc":
        chunk[40] ^= 0x55
    elif damage == "garbage":
        chunk = bytearray(os.urandom(len(chunk)))
    elif damage == "mid_frame":
        chunk = chunk[5:]
        start += 5
    if damage == "bad_header":
        status, body = post(api, "r2", 0, b"NOTALOG!" + log_bytes[8 : bounds[1]])
    else:
        status, body = post(api, "r1", start, bytes(chunk))
    if damage == "mid_frame":
        assert status == 409  # starts past the stored end
    else:
        assert status == 400, body
        assert "frame" in str(body["detail"]) or "header" in str(body["detail"])
    assert blob_log(api, "r1") == log_bytes[: bounds[2]]
    assert api.get(f"{BASE}/r1/log/offset").json() == {"offset": bounds[2]}
    assert post(api, "r1", bounds[2], log_bytes[bounds[2] :])[0] == 200
    assert stored_log(api, "admin", PROJECT, "r1") == log_bytes


def test_empty_body_is_a_heartbeat(api: TestClient, log_bytes: bytes) -> None:
    assert post(api, "r1", 0, b"") == (200, {"offset": 0})
    bounds = frame_boundaries(log_bytes)
    assert post(api, "r1", 0, log_bytes[: bounds[1]]) == (200, {"offset": bounds[1]})
    before = api.get(f"{BASE}/r1").json()["heartbeat_at"]
    assert post(api, "r1", bounds[1], b"") == (200, {"offset": bounds[1]})
    assert api.get(f"{BASE}/r1").json()["heartbeat_at"] >= before


def test_offset_of_a_run_not_uploaded_yet_is_zero(api: TestClient) -> None:
    assert api.get(f"{BASE}/nothing-yet/log/offset").json() == {"offset": 0}


def test_body_over_the_limit_is_413(api: TestClient) -> None:
    status, body = post(api, "big", 0, b"\0" * (256 * 1024 + 1))
    assert status == 413
    assert "larger than" in str(body["detail"])

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(300):
            yield b"\0" * 1024

    r = api.post(f"{BASE}/big/log", params={"offset": 0}, content=chunks())
    assert r.status_code == 413
    assert api.get(f"{BASE}/big/log/offset").json() == {"offset": 0}


def test_bad_offsets_are_400(api: TestClient) -> None:
    for bad in ("-1", "abc", "1e3", ""):
        r = api.post(f"{BASE}/r1/log?offset={bad}", content=b"")
        assert r.status_code == 400, (bad, r.text)
        assert "offset" in r.json()["detail"]
    r = api.post(f"{BASE}/r1/log", content=b"")
    assert r.status_code == 400


def test_a_running_run_is_running_until_stale(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    data = make_run(tmp_path / "client", PROJECT, "live", steps=20, exit_code=None).read_bytes()
    for stale_after, expected in ((300.0, "running"), (0.0, "crashed")):
        with_client = open_client(
            request, tmp_path / f"s{stale_after}", "sqlite", stale_after=stale_after
        )
        client = next(with_client)
        try:
            upload(client, "admin", PROJECT, "live", data)
            run = client.get(f"{BASE}/live").json()
            assert run["state"] == expected
            assert run["exit_code"] is None
            listed = client.get(BASE, params={"filter": f"state = {expected}"}).json()
            assert [r["id"] for r in listed["runs"]] == ["live"]
        finally:
            with_client.close()


def test_crash_after_append_is_healed(api: TestClient, log_bytes: bytes) -> None:
    """Bytes appended to the blob without the SQL update (a crash in between) are indexed on
    the next request; a partly written frame (a crash during the write) is cut off."""
    bounds = frame_boundaries(log_bytes)
    assert post(api, "r1", 0, log_bytes[: bounds[2]])[0] == 200
    # as if the server died after append + fsync
    append_behind(api, "r1", bounds[2], log_bytes[bounds[2] : bounds[6]])
    assert api.get(f"{BASE}/r1/log/offset").json() == {"offset": bounds[6]}
    assert api.get(f"{BASE}/r1").json()["log_size"] == bounds[6]
    torn_behind(api, "r1", log_bytes[bounds[6] : bounds[7] - 5])  # died in the middle of a write
    status, body = post(api, "r1", bounds[7], log_bytes[bounds[7] :])
    assert (status, body["offset"]) == (409, bounds[6])
    assert post(api, "r1", bounds[6], log_bytes[bounds[6] :]) == (200, {"offset": len(log_bytes)})
    assert blob_log(api, "r1") == log_bytes
    history = api.get(f"{BASE}/r1/history", params={"samples": 0, "keys": "loss"}).json()
    assert history["series"]["loss"]["step"] == list(range(120))


def test_concurrent_overlapping_uploads_store_each_byte_once(
    api: TestClient, log_bytes: bytes, tmp_path: Path
) -> None:
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    project = get_or_create_project(ctx.db, "admin", PROJECT)
    bounds = frame_boundaries(log_bytes)
    errors: list[BaseException] = []

    def client(seed: int) -> None:
        try:
            offset = 0
            i = seed % 3
            while offset < len(log_bytes):
                end = (
                    bounds[min(len(bounds) - 1, bounds.index(offset) + 1 + i)]
                    if offset in bounds
                    else len(log_bytes)
                )
                result = ingest(ctx.db, ctx.blobs, project, "race", offset, log_bytes[offset:end])
                assert result.status in (200, 409)
                offset = result.offset
                i = (i + 1) % 4
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert blob_log(api, "race") == log_bytes
    assert read_meta(blob_log(api, "race"), tmp_path)["tail_error"] is None
    run = api.get(f"{BASE}/race").json()
    assert run["log_size"] == len(log_bytes)
    assert run["state"] == "finished"


def test_frames_must_continue_the_sequence(api: TestClient, log_bytes: bytes) -> None:
    """Whole, valid frames at the right offset are still refused when they repeat or reorder
    records: the stored log could otherwise hold a record twice."""
    bounds = frame_boundaries(log_bytes)
    assert post(api, "r1", 0, log_bytes[: bounds[3]])[0] == 200
    frame = [log_bytes[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
    for label, body in (
        ("repeated", frame[2]),
        ("reordered", frame[4] + frame[3]),
        ("repeated later", frame[3] + frame[3]),
    ):
        status, answer = post(api, "r1", bounds[3], body)
        assert status == 400, label
        assert "starts at record" in str(answer["detail"]), label
    assert blob_log(api, "r1") == log_bytes[: bounds[3]]
    assert post(api, "r1", bounds[3], frame[3] + frame[4])[0] == 200
    # after a crash that the SQL row did not see, the sequence is read back from the store
    append_behind(api, "r1", bounds[5], frame[5])
    assert post(api, "r1", bounds[6], frame[5])[0] == 400
    assert post(api, "r1", bounds[6], frame[6])[0] == 200
    assert post(api, "r1", bounds[7], log_bytes[bounds[7] :])[0] == 200
    assert stored_log(api, "admin", PROJECT, "r1") == log_bytes


def test_a_log_with_a_gap_in_its_sequence_uploads_whole(
    api: TestClient, log_bytes: bytes, tmp_path: Path
) -> None:
    """A writer that had to drop records after a long write failure skips their sequence
    numbers (docs/format.md); such a log is stored whole and reads back like the client's."""
    bounds = frame_boundaries(log_bytes)
    gapped = log_bytes[: bounds[3]] + log_bytes[bounds[4] :]  # frame 3 was dropped
    assert post(api, "gap", 0, gapped[: bounds[3]])[0] == 200
    status, answer = post(api, "gap", bounds[3], gapped[bounds[3] :])
    assert status == 200, answer
    assert answer == {"offset": len(gapped)}
    assert stored_log(api, "admin", PROJECT, "gap") == gapped
    assert read_meta(blob_log(api, "gap"), tmp_path)["tail_error"] is None


def test_delete_during_uploads_neither_deadlocks_nor_fails(
    api: TestClient, log_bytes: bytes
) -> None:
    from fwtrack.server.errors import ApiError

    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    project = get_or_create_project(ctx.db, "admin", PROJECT)
    bounds = frame_boundaries(log_bytes)
    errors: list[BaseException] = []
    stop = threading.Event()

    def uploader() -> None:
        try:
            offset = 0
            while not stop.is_set():
                end = next((b for b in bounds if b > offset), len(log_bytes))
                try:
                    result = ingest(
                        ctx.db, ctx.blobs, project, "doomed", offset, log_bytes[offset:end]
                    )
                    offset = result.offset if result.offset < len(log_bytes) else 0
                except ApiError as exc:
                    if exc.status != 404:  # 404: deleted under our feet
                        raise
                    offset = 0
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=uploader) for _ in range(2)]
    for t in threads:
        t.start()
    deleted = 0
    for _ in range(20):
        r = api.delete(f"{BASE}/doomed")
        assert r.status_code in (200, 404), r.text
        deleted += r.status_code == 200
    stop.set()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive()
    assert not errors, errors
    assert deleted >= 1


def test_too_many_uploads_at_once_is_429(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """With the run's log locked (an upload in progress holds it), a first upload waits and
    counts as in flight; one more than the limit is answered 429 at once."""
    import fcntl

    data = make_run(tmp_path / "client", PROJECT, "busy", steps=5).read_bytes()
    clients = open_client(request, tmp_path, "sqlite", max_concurrent_uploads=1)
    api = next(clients)
    try:
        assert post(api, "busy", 0, data[:16]) == (200, {"offset": 16})
        ctx = api.app.state.ctx  # type: ignore[attr-defined]
        answers: list[tuple[int, dict[str, object]]] = []
        _, project_id = run_row(api, "busy")
        held_log = tmp_path / "server" / "store" / "runs" / str(project_id) / "busy" / "run.fwlog"
        with open(held_log, "rb") as held:  # the directory store's lock: its log file
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            first = threading.Thread(
                target=lambda: answers.append(post(api, "busy", 16, data[16:]))
            )
            first.start()
            deadline = time.monotonic() + 30
            while ctx.uploads_in_flight == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            r = api.post(f"{BASE}/busy/log", params={"offset": 16}, content=data[16:])
            assert r.status_code == 429
            assert r.headers["retry-after"] == "1"
            fcntl.flock(held.fileno(), fcntl.LOCK_UN)
        first.join(timeout=60)
        assert answers == [(200, {"offset": len(data)})]
        assert ctx.uploads_in_flight == 0
    finally:
        clients.close()
