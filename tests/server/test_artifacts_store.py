"""Artifacts and what the server keeps, against real server processes: the collector never
removes a blob a committed version names (its files and its manifest), even once the run that
logged it is deleted, on both stores and SQL backends; committers in two server processes at
once (PostgreSQL) get distinct versions, and the same content one version."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fwtrack import _core

from .apputil import MATRIX, make_run, split, store_choice
from .artifact_util import ArtifactClient, manifest_of, new_id
from .conftest import ServerFactory
from .harness import ServerProcess

pytestmark = pytest.mark.slow

DEADLINE = 60.0


@pytest.fixture(scope="module")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_run(tmp_path_factory.mktemp("client"), "template", "template", steps=3).read_bytes()


def wait_until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def committed(
    api: ArtifactClient, project: str, run_id: str, name: str, files: dict[str, bytes]
) -> dict[str, Any]:
    """Commit, sending what a `409 missing` names again (with `--blob-grace 0` the collector
    may take a blob between its upload and the commit), as the uploader does."""
    raw, digest, blobs = manifest_of(files)
    every = {**blobs, digest: raw}
    call = new_id()
    api.send_blobs(project, run_id, every)
    for _ in range(20):
        r = api.commit(project, run_id, name, files, call_id=call, send=False)
        if r.status_code == 200:
            out: dict[str, Any] = r.json()
            return out
        assert r.status_code == 409, r.text
        api.send_blobs(project, run_id, {a: every[a] for a in r.json()["missing"]})
    raise AssertionError(f"never committed: {r.text}")


@pytest.fixture(params=MATRIX)
def collecting(request: pytest.FixtureRequest, server_factory: ServerFactory) -> ServerProcess:
    store, backend = split(request.param)
    url = request.getfixturevalue("fresh_postgres_db") if backend == "postgresql" else None
    return server_factory(
        db_url=url, store=store_choice(request, store), extra_args=["--blob-grace", "0"]
    )


def test_the_collector_keeps_what_a_version_names(
    collecting: ServerProcess, run_log: bytes
) -> None:
    api = ArtifactClient(collecting)
    try:
        api.new_run(run_log, "p", "producer")
        files = {"a.bin": os.urandom(5000), "sub/b.bin": os.urandom(3000)}
        version = committed(api, "p", "producer", "ds", files)
        raw, digest, blobs = manifest_of(files)
        # A blob nothing names goes: the collector ran; the version's stay.
        witness = b"named by nothing " + uuid.uuid4().bytes
        api.send_blobs("p", "producer", {_core.hash_bytes(witness): witness})
        assert api.http.delete("/runs/admin/p/producer").status_code == 200
        wait_until(
            "the collector removing the unnamed blob",
            lambda: _core.hash_bytes(witness) not in collecting.stored_blobs(),
        )
        assert collecting.stored_blobs() == {**blobs, digest: raw}
        kept = api.version("p", "ds", "v0").json()
        assert kept["digest"] == version["digest"]
        assert kept["run"] is None
        base = "/artifacts/admin/p/collections/ds/versions/v0/files"
        for path, data in files.items():
            assert api.get(f"{base}/{path}").content == data
        # The blobs stay stored for the entity: another run's commit needs no upload.
        api.new_run(run_log, "p", "again")
        r = api.post("/artifacts/admin/p/blobs/missing", {"addresses": [*blobs, digest]})
        assert r.json() == {"missing": []}
        r = api.commit("p", "again", "ds", files, send=False)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == "v0"
    finally:
        api.close()


# -- concurrent committers ---------------------------------------------------------------------


@pytest.fixture
def two_workers(
    request: pytest.FixtureRequest, server_factory: ServerFactory, fresh_postgres_db: str
) -> ServerProcess:
    """A server of two worker processes on PostgreSQL (the requests of two threads reach
    either process)."""
    del request
    return server_factory(db_url=fresh_postgres_db, workers=2)


def test_concurrent_commits_get_distinct_versions(
    two_workers: ServerProcess, run_log: bytes
) -> None:
    api = ArtifactClient(two_workers)
    try:
        api.new_run(run_log, "p", "r1")
        per_thread = 8
        contents = {
            (t, i): {"data.bin": f"thread {t} commit {i} ".encode() + os.urandom(16)}
            for t in range(2)
            for i in range(per_thread)
        }
        for files in contents.values():
            raw, digest, blobs = manifest_of(files)
            api.send_blobs("p", "r1", {**blobs, digest: raw})
        answers: dict[tuple[int, int], dict[str, Any]] = {}
        errors: list[str] = []
        start = threading.Barrier(2)

        def committer(t: int) -> None:
            client = httpx.Client(
                base_url=f"{two_workers.url}/api/v1",
                headers=two_workers.headers,
                timeout=120,
                limits=httpx.Limits(max_keepalive_connections=0),  # spread over both workers
            )
            own = ArtifactClient(two_workers)
            own.http = client
            start.wait()
            for i in range(per_thread):
                r = own.commit("p", "r1", "shared", contents[(t, i)], send=False)
                if r.status_code != 200:
                    errors.append(r.text)
                else:
                    answers[(t, i)] = r.json()
            client.close()

        threads = [threading.Thread(target=committer, args=(t,)) for t in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        indexes = sorted(a["index"] for a in answers.values())
        assert indexes == list(range(2 * per_thread))
        for key, answer in answers.items():
            _, digest, _ = manifest_of(contents[key])
            assert answer["digest"] == digest
            assert api.version("p", "shared", answer["version"]).json()["digest"] == digest
        # Each thread's own commits are in its order.
        for t in range(2):
            mine = [answers[(t, i)]["index"] for i in range(per_thread)]
            assert mine == sorted(mine)
        # The same content from both at once: one version.
        same = {"same.bin": os.urandom(64)}
        raw, digest, blobs = manifest_of(same)
        api.send_blobs("p", "r1", {**blobs, digest: raw})
        got: list[dict[str, Any]] = []

        def same_commit() -> None:
            own = ArtifactClient(two_workers)
            start.wait()
            r = own.commit("p", "r1", "shared", same, send=False)
            got.append(r.json() if r.status_code == 200 else {"error": r.text})
            own.close()

        threads = [threading.Thread(target=same_commit) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert [g.get("version") for g in got] == [f"v{2 * per_thread}"] * 2
        assert api.get("/artifacts/admin/p/collections/shared").json()["versions"] == (
            2 * per_thread + 1
        )
    finally:
        api.close()
