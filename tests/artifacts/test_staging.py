"""The files between the SDK and the uploader (docs/artifacts.md, "Online and sync"): pending
commits in order and whole, waiting for committed/ or failed/, and the clean-up of staging."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from fwtrack import _core
from fwtrack.artifacts import staging
from fwtrack.errors import ArtifactError


def _commit(artifact_id: str, blob_dir: Path, **extra: object) -> dict[str, object]:
    return {
        "id": artifact_id,
        "project": "p",
        "name": "ds",
        "type": "dataset",
        "description": None,
        "metadata": {"rows": 1},
        "aliases": ["best"],
        "digest": _core.hash_bytes(artifact_id.encode()),
        "blob_dir": str(blob_dir),
        "created_at": 1765000000.0,
        **extra,
    }


def test_pending_commits_are_numbered_in_order_and_whole(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ids = [f"{i:032x}" for i in range(1, 4)]
    paths = [staging.write_pending(run_dir, _commit(i, tmp_path / "blobs")) for i in ids]
    assert [p.name for p in paths] == [f"{n:06d}-{i}.json" for n, i in enumerate(ids, 1)]
    assert staging.pending_files(run_dir) == paths
    doc = json.loads(paths[0].read_text())
    assert doc == _commit(ids[0], tmp_path / "blobs")
    # The same id again is the file already there.
    assert staging.write_pending(run_dir, _commit(ids[1], tmp_path / "blobs")) == paths[1]
    # No temporary file is ever left among the pending ones.
    assert sorted(os.listdir(run_dir / "artifacts" / "pending")) == [p.name for p in paths]
    # Once the uploader committed them, numbering goes on after them.
    (run_dir / "artifacts" / "committed").mkdir()
    for p, i in zip(paths, ids, strict=True):
        (run_dir / "artifacts" / "committed" / f"{i}.json").write_text("{}")
        p.unlink()
    nxt = staging.write_pending(run_dir, _commit(f"{9:032x}", tmp_path / "blobs"))
    assert nxt.name.startswith("000004-")


def test_bad_pending_commits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="32 lowercase hex"):
        staging.write_pending(tmp_path, _commit("nothex", tmp_path))
    with pytest.raises(ValueError, match="absolute"):
        staging.write_pending(tmp_path, _commit("a" * 32, Path("relative")))
    with pytest.raises(ValueError, match="digest"):
        staging.write_pending(tmp_path, _commit("a" * 32, tmp_path, digest=""))


def test_wait_committed_returns_the_version_or_raises_the_refusal(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ok_id, bad_id = "1" * 32, "2" * 32
    version = {"version": "v3", "digest": "blake3:" + "0" * 64}

    def uploader_thread() -> None:
        time.sleep(0.05)
        out = run_dir / "artifacts" / "committed"
        out.mkdir(parents=True)
        (out / f"{ok_id}.json").write_text(json.dumps(version))

    thread = threading.Thread(target=uploader_thread)
    thread.start()
    assert staging.wait_committed(run_dir, ok_id, timeout=60) == version
    thread.join()
    failed = run_dir / "artifacts" / "failed"
    failed.mkdir(parents=True)
    (failed / f"{bad_id}.json").write_text(json.dumps({"id": bad_id, "error": "409: no blob"}))
    with pytest.raises(ArtifactError, match="409: no blob"):
        staging.wait_committed(run_dir, bad_id, timeout=60)
    with pytest.raises(staging.ArtifactCommitTimeoutError, match="not committed") as info:
        staging.wait_committed(run_dir, "3" * 32, timeout=0)
    assert isinstance(info.value, TimeoutError)


class _StoppedUploader:
    def status(self) -> dict[str, object]:
        return {"state": "stopped", "last_error": "401: unknown key"}


def test_wait_committed_gives_up_when_the_upload_stopped(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="401: unknown key") as info:
        staging.wait_committed(tmp_path, "4" * 32, timeout=None, uploader=_StoppedUploader())
    assert "fwtrack sync" in str(info.value)


def test_settle_moves_committed_blobs_into_the_cache(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    done, refused, waiting = "a" * 32, "b" * 32, "c" * 32
    addresses = {}
    for artifact_id in (done, refused, waiting):
        blob_dir = staging.staging_root() / artifact_id
        data = artifact_id.encode() * 10
        address = _core.hash_bytes(data)
        hex_ = address.partition(":")[2]
        (blob_dir / hex_[:2]).mkdir(parents=True)
        (blob_dir / hex_[:2] / hex_).write_bytes(data)
        addresses[artifact_id] = hex_
    (run_dir / "artifacts" / "committed").mkdir(parents=True)
    (run_dir / "artifacts" / "failed").mkdir(parents=True)
    (run_dir / "artifacts" / "committed" / f"{done}.json").write_text("{}")
    (run_dir / "artifacts" / "failed" / f"{refused}.json").write_text('{"error": "x"}')
    assert staging.settle(run_dir) == 2
    cache = staging.staging_root().parent / "blobs"
    hex_ = addresses[done]
    assert (cache / hex_[:2] / hex_).read_bytes() == done.encode() * 10
    assert not (staging.staging_root() / done).exists()
    assert not (staging.staging_root() / refused).exists()
    assert not (cache / addresses[refused][:2] / addresses[refused]).exists()
    assert (staging.staging_root() / waiting).is_dir()  # not committed yet: left alone
    assert staging.settle(run_dir) == 0
