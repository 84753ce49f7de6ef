"""Helpers for the in-process API tests: an app per backend, real run logs, chunked uploads."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import fwtrack
from fwtrack.server import ServerConfig, create_app

from .harness import StoreChoice, seed_migrated_sqlite

ADMIN_KEY = "fwk_" + "A1b2C3d4E5" * 4
BACKENDS = ["sqlite", "postgresql"]

MATRIX = ["directory-sqlite", "directory-postgresql", "s3-sqlite", "s3-postgresql"]
"""Every store on every SQL backend (`<store>-<backend>`): for the tests of what the store
keeps (the log's appends, blobs, the collector), where each combination behaves differently."""
REPRESENTATIVE = ["directory-sqlite", "s3-postgresql"]
"""The default and the other store on the other backend: for suites whose store matters less
than their time (a module's server, a client that trains)."""
S3_SQLITE = ["directory-sqlite", "s3-sqlite"]
"""Both stores on SQLite: for suites that look into the data dir's database file."""


def split(combination: str) -> tuple[str, str]:
    """`"s3-postgresql"` -> `("s3", "postgresql")`."""
    store, _, backend = combination.partition("-")
    if backend not in BACKENDS:
        raise ValueError(f"unknown combination {combination!r}; hint: <store>-<sqlite|postgresql>")
    return store, backend


def store_choice(request: pytest.FixtureRequest, kind: str) -> StoreChoice:
    """The store `kind` names: the directory store, or a fresh bucket of the session's
    SeaweedFS (started on first use). Never a skip: a store that cannot be had fails."""
    seaweed = request.getfixturevalue("seaweed") if kind == "s3" else None
    return StoreChoice(kind, seaweed)


@contextmanager
def database(request: pytest.FixtureRequest, backend: str) -> Iterator[str | None]:
    """None (SQLite in the data dir) or a new PostgreSQL database of the session's cluster,
    dropped at the end: usable from fixtures of any scope."""
    if backend == "sqlite":
        yield None
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = f"fwtrack_{uuid.uuid4().hex[:16]}"
    url: str = cluster.create_database(name)
    try:
        yield url
    finally:
        cluster.drop_database(name)


HEADER_LEN = 16
FRAME_HEADER_LEN = 28


def db_url(request: pytest.FixtureRequest, backend: str, *, empty: bool = False) -> str | None:
    """None (SQLite in the data dir) or a fresh PostgreSQL database for this test, already
    at the newest revision (a copy of a migrated template: the migrations have tests of
    their own, and running them for every app took seconds); with `empty`, a database with
    no tables, for the tests that build an older revision themselves."""
    if backend == "sqlite":
        return None
    url: str = request.getfixturevalue("fresh_postgres_db" if empty else "migrated_postgres_db")
    return url


def open_client(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    backend: str,
    store: StoreChoice | None = None,
    **config: Any,
) -> Iterator[TestClient]:
    """A TestClient (lifespan started) on a new app, authenticated as the admin; on `store`
    (default: the directory store), whose AWS variables are set for the test."""
    store = store or StoreChoice()
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    for name, value in store.env().items():
        monkeypatch.setenv(name, value)
    url = db_url(request, backend)
    if url is None:
        seed_migrated_sqlite(tmp_path / "server")
    cfg = ServerConfig(
        data_dir=tmp_path / "server",
        db_url=url,
        admin_key=ADMIN_KEY,
        **store.config(),
        **config,
    )
    app = create_app(cfg)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
        client.app.state.test_store = store  # type: ignore[attr-defined]
        yield client


def frame_boundaries(data: bytes) -> list[int]:
    """Offsets of every frame start, plus the end: [16, ..., len(data)]."""
    offsets = [HEADER_LEN]
    pos = HEADER_LEN
    while pos + FRAME_HEADER_LEN <= len(data):
        body_len = int.from_bytes(data[pos : pos + 4], "little")
        if pos + FRAME_HEADER_LEN + body_len > len(data):
            break
        pos += FRAME_HEADER_LEN + body_len
        offsets.append(pos)
    return offsets


def make_run(
    root: Path,
    project: str,
    run_id: str,
    *,
    steps: int = 50,
    config: dict[str, Any] | None = None,
    tags: Sequence[str] = (),
    name: str | None = None,
    exit_code: int | None = 0,
    extra: dict[str, Any] | None = None,
    flush_every: int = 10,
) -> Path:
    """Log a real run offline (fwtrack.init/log/finish); return its run.fwlog path.

    `exit_code=None` leaves the run open (its log has no finish record yet)."""
    run = fwtrack.init(
        project=project,
        id=run_id,
        dir=root,
        config=config or {},
        tags=list(tags),
        name=name,
        mode="offline",
    )
    for i in range(steps):
        row: dict[str, Any] = {"loss": 1.0 / (i + 1), "acc": i / max(steps, 1)}
        row.update(extra or {})
        fwtrack.log(row)
        if flush_every and i % flush_every == 0:
            run.flush()
    if exit_code is None:
        run.flush()
    else:
        fwtrack.finish(exit_code=exit_code)
    return root / project / run_id / "run.fwlog"


def upload(
    client: TestClient,
    entity: str,
    project: str,
    run_id: str,
    data: bytes,
    *,
    chunks: int = 3,
    start: int = 0,
) -> int:
    """Upload `data[start:]` in about `chunks` requests cut at frame boundaries; return the
    acknowledged offset."""
    bounds = [b for b in frame_boundaries(data) if b > start]
    step = max(1, len(bounds) // chunks)
    cuts = [*bounds[step - 1 :: step]]
    if not cuts or cuts[-1] != bounds[-1]:
        cuts.append(bounds[-1])
    offset = start
    for cut in cuts:
        r = client.post(
            f"/api/v1/runs/{entity}/{project}/{run_id}/log",
            params={"offset": offset},
            content=data[offset:cut],
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 200, r.text
        offset = r.json()["offset"]
        assert offset == cut
    return offset


def stored_log(client: TestClient, entity: str, project: str, run_id: str) -> bytes:
    r = client.get(f"/api/v1/runs/{entity}/{project}/{run_id}/log")
    assert r.status_code == 200, r.text
    return r.content


def files_under(path: Path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs
    )
