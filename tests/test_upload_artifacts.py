"""A run's artifact commits go to a real `fwtrack server` through the run's one uploader
(docs/server.md, "Upload protocol"): pending commits written by hand as the SDK writes them
(a blob directory, a manifest per docs/artifacts.md, `artifacts/pending/<seq>-<id>.json`),
an `Uploader` on a finished offline run as `fwtrack sync` starts it.

- A commit sends only the blobs the server lacks (another run's commit sent the shared one),
  files the server's version under `artifacts/committed/`, and the server answers it as the
  collection's latest version; on the directory store and on S3 (a real SeaweedFS, with a
  blob over the presign threshold going to the bucket in parts).
- A commit naming a blob that is nowhere fails alone: `artifacts/failed/<id>.json`, one
  warning, nothing recorded on the server.
- A commit written while the run's uploader is live is committed at `notify_files()`.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwserver import Server
from fwtrack import _core
from server.harness import STORES, StoreChoice

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]

SETTINGS = {"capture_env": False, "save_code": False, "system_interval": 0}
WAIT = 90.0
"""Seconds an uploader may take; a hang fails the test instead of blocking it."""


def _store(blob_dir: Path, data: bytes) -> str:
    """Keep `data` in the blob directory (`<hh>/<hex>`); its address."""
    store_blob = getattr(_core, "store_blob", None)
    if store_blob is not None:
        address, size = store_blob(str(blob_dir), data)
        assert size == len(data)
        return str(address)
    address = str(_core.hash_bytes(data))
    hex_ = address.removeprefix("blake3:")
    path = blob_dir / hex_[:2] / hex_
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return address


def _manifest(blob_dir: Path, files: dict[str, bytes]) -> str:
    """Store `files` and their manifest (canonical JSON, with one reference entry) in
    `blob_dir`; the digest."""
    entries: dict[str, Any] = {
        name: {"address": _store(blob_dir, data), "size": len(data)} for name, data in files.items()
    }
    entries["raw/elsewhere.csv"] = {"ref": "s3://bucket/prefix/elsewhere.csv"}
    canonical = json.dumps(
        {"version": 1, "entries": entries},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    digest = _store(blob_dir, canonical)
    assert digest == _core.hash_bytes(canonical)
    return digest


def _pending(run_dir: Path, seq: int, name: str, digest: str, blob_dir: Path) -> dict[str, Any]:
    """Write a pending commit of `run_dir` as the SDK does (temporary file + rename)."""
    commit = {
        "id": uuid.uuid4().hex,
        "project": run_dir.parent.name,
        "name": name,
        "type": "dataset",
        "description": "rows",
        "metadata": {"rows": 3},
        "aliases": ["best"],
        "digest": digest,
        "blob_dir": str(blob_dir),
        "created_at": time.time(),
    }
    folder = run_dir / "artifacts" / "pending"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{seq:06d}-{commit['id']}.json"
    tmp = folder / f".{target.name}.tmp"
    tmp.write_text(json.dumps(commit))
    os.replace(tmp, target)
    return commit


def _offline_run(project: str) -> Path:
    run = fwtrack.init(project=project, mode="offline", settings=SETTINGS)
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    return Path(run.dir)


def _uploader(srv: Server, run_dir: Path, **options: Any) -> _core.Uploader:
    return _core.Uploader(
        srv.url,
        srv.key,
        run_dir.parent.name,
        run_dir.name,
        str(run_dir),
        request_timeout=30.0,
        **options,
    )


def _sync(srv: Server, run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Upload the finished run as `fwtrack sync` does; (its outcome, its warnings)."""
    up = _uploader(srv, run_dir)
    outcome = dict(up.finish(WAIT))
    assert not outcome["timed_out"], outcome
    return outcome, up.take_warnings()


def _committed(run_dir: Path, commit: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (run_dir / "artifacts" / "committed" / f"{commit['id']}.json").read_text()
    )
    return data


@pytest.mark.parametrize("store", STORES)
def test_a_commit_sends_only_what_the_server_lacks_and_becomes_the_latest_version(
    request: pytest.FixtureRequest, tmp_path: Path, store: str
) -> None:
    seaweed = request.getfixturevalue("seaweed") if store == "s3" else None
    srv = Server(tmp_path / "data", store=StoreChoice(store, seaweed))
    srv.start()
    try:
        blob_dir = tmp_path / "blobs"
        shared = b"id,label\n" + b"1,cat\n" * 1000
        # Over the 8 MiB pack (and, on S3, the presign threshold): sent alone.
        big = os.urandom(9 << 20)
        extra = os.urandom(50_000)

        # Another run committed the first version, with the shared file.
        first_run = _offline_run("arts")
        d1 = _manifest(blob_dir, {"train.csv": shared})
        c1 = _pending(first_run, 1, "mnist", d1, blob_dir)
        outcome, warnings = _sync(srv, first_run)
        assert outcome["done"], outcome
        assert warnings == []
        assert (outcome["artifacts_committed"], outcome["artifacts_pending"]) == (1, 0)
        v1 = _committed(first_run, c1)

        run_dir = _offline_run("arts")
        d2 = _manifest(
            blob_dir, {"train.csv": shared, "images/extra.bin": extra, "model/big.bin": big}
        )
        c2 = _pending(run_dir, 1, "mnist", d2, blob_dir)
        outcome, warnings = _sync(srv, run_dir)
        assert outcome["done"], outcome
        assert outcome["files_done"], outcome
        assert warnings == []
        assert (outcome["artifacts_committed"], outcome["artifacts_failed"]) == (1, 0)
        # The extra file, the big one and the manifest; the shared file was there already
        # (the run has no files of its own).
        assert outcome["files_recorded"] == 0, outcome
        assert outcome["blobs_sent"] == 3, outcome
        assert outcome["blob_bytes_sent"] >= len(big) + len(extra)
        assert outcome["blob_bytes_sent"] < len(big) + len(extra) + len(shared)

        version = _committed(run_dir, c2)
        assert not (run_dir / "artifacts" / "pending").exists() or not any(
            (run_dir / "artifacts" / "pending").iterdir()
        )
        assert version["id"] == c2["id"]
        assert version["digest"] == d2
        assert version["index"] > v1["index"]
        latest = srv.get("/artifacts/admin/arts/collections/mnist/versions/latest")
        assert latest["id"] == c2["id"]
        assert latest["digest"] == d2
        assert latest["version"] == version["version"]
        assert latest["run"]["id"] == run_dir.name
        assert sorted(latest["aliases"]) == ["best", "latest"]
        assert latest["files"] == 4
        assert latest["size"] == len(shared) + len(extra) + len(big)
        # Every byte is on the server under its address.
        base = f"/artifacts/admin/arts/collections/mnist/versions/{version['version']}/files"
        for name, data in (("train.csv", shared), ("images/extra.bin", extra)):
            status, body = srv.request(f"{base}/{name}")
            assert (status, body) == (200, data), name
        found = srv.stored_blobs("admin")
        assert found[str(_core.hash_bytes(big))] == big

        # The same run again: nothing pending, nothing sent.
        outcome, _ = _sync(srv, run_dir)
        assert outcome["done"], outcome
        assert outcome["blobs_sent"] == 0, outcome
    finally:
        srv.stop()


def test_a_commit_whose_blob_is_nowhere_fails_alone_with_a_warning(
    server: Server, tmp_path: Path
) -> None:
    blob_dir = tmp_path / "blobs"
    run_dir = _offline_run("lost")
    d1 = _manifest(blob_dir, {"a.txt": b"kept"})
    lost = _manifest(blob_dir, {"b.txt": b"lost bytes"})
    hex_ = str(_core.hash_bytes(b"lost bytes")).removeprefix("blake3:")
    (blob_dir / hex_[:2] / hex_).unlink()
    c_lost = _pending(run_dir, 1, "broken", lost, blob_dir)
    c_ok = _pending(run_dir, 2, "fine", d1, blob_dir)

    outcome, warnings = _sync(server, run_dir)
    assert outcome["done"], outcome
    assert (outcome["artifacts_committed"], outcome["artifacts_failed"]) == (1, 1)
    failed = json.loads((run_dir / "artifacts" / "failed" / f"{c_lost['id']}.json").read_text())
    assert failed["id"] == c_lost["id"]
    assert "neither on the server nor in" in failed["error"]
    assert hex_ in failed["error"]
    assert len(warnings) == 1, warnings
    assert f"(commit {c_lost['id']})" in warnings[0], warnings
    assert _committed(run_dir, c_ok)["digest"] == d1
    status, _ = server.request("/artifacts/admin/lost/collections/broken")
    assert status == 404


def test_a_commit_written_while_the_uploader_is_live_is_taken_at_notify_files(
    server: Server, tmp_path: Path
) -> None:
    blob_dir = tmp_path / "blobs"
    run_dir = _offline_run("live")
    early = _pending(run_dir, 1, "ckpt", _manifest(blob_dir, {"w.bin": b"epoch 1"}), blob_dir)
    # No pass but the first unless nudged.
    up = _uploader(server, run_dir, files_interval=3600.0)
    try:
        deadline = time.monotonic() + WAIT
        while up.status()["artifacts_committed"] < 1:
            assert time.monotonic() < deadline, up.status()
            up.wait(0.05)
        assert _committed(run_dir, early)["digest"] == early["digest"]

        later = _pending(run_dir, 2, "ckpt", _manifest(blob_dir, {"w.bin": b"epoch 2"}), blob_dir)
        up.notify_files()
        while up.status()["artifacts_committed"] < 2:
            assert time.monotonic() < deadline, up.status()
            up.wait(0.05)
        assert not up.status()["complete"]
        latest = server.get("/artifacts/admin/live/collections/ckpt/versions/latest")
        assert latest["id"] == later["id"]
        assert _committed(run_dir, later)["version"] == latest["version"]
    finally:
        outcome = up.finish(WAIT)
    assert outcome["done"], outcome
