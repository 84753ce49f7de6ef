"""A run's media and files go to the server through the one uploader, by content address:
real `fwtrack server` processes, a request-counting proxy in front of them
(tests/counting_proxy.py), real `kill -9`s of the server and of the client.

- A server killed (and restarted on its data dir and port) while an online run's blobs upload:
  after `finish()` every payload the log references is on the server, its bytes hash to its
  address, and each address is stored once; on the directory store and on S3 (a real
  SeaweedFS: its bucket holds each payload once, read back from the bucket).
- `fwtrack sync` of an offline run with media and files, twice: the second sends no request.
- A client killed while its blobs upload: `fwtrack sync` completes the upload, sending only
  what the server lacks.
- `429` with `Retry-After` on the blob routes is honoured.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fwtrack
from counting_proxy import CountingProxy
from fwserver import Server, client_env, run_cli, run_program
from fwtrack import _core
from server.harness import STORES, StoreChoice

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]

PROGRAM = Path(__file__).resolve().parent / "programs" / "media_and_files_run.py"
HOLD = 1.0
"""Seconds the proxy holds each blob request before forwarding it: wide enough to interrupt."""


def _holding(kind: str) -> float:
    return HOLD if kind in ("pack", "put") else 0.0


def _local_files(run_dir: Path) -> dict[str, Path]:
    """The run's regular files under `files/` by name (temporary `.` files left out)."""
    root = run_dir / "files"
    return {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and not p.name.startswith(".")
    }


def _matches(data: bytes, descriptor: dict[str, Any]) -> bool:
    """`data` hashes to the descriptor's address (or, in an older log, its sha256)."""
    if "address" in descriptor:
        return bool(_core.hash_bytes(data) == descriptor["address"])
    return hashlib.sha256(data).hexdigest() == descriptor["sha256"]


def _assert_on_server(srv: Server, run_dir: Path, project: str, run_id: str) -> set[str]:
    """Every file of the run, and every media payload its log references, is downloadable
    from the server with the local bytes, which hash to the listed address. Returns the
    addresses."""
    base = f"/runs/admin/{project}/{run_id}/files"
    listed = {f["path"]: f for f in srv.get(base)["files"]}
    local = _local_files(run_dir)
    assert sorted(listed) == sorted(local)
    for name, path in local.items():
        status, body = srv.request(f"{base}/{name}")
        assert status == 200, (name, status)
        assert body == path.read_bytes(), name
        assert _core.hash_bytes(body) == listed[name]["address"], name
        assert listed[name]["size"] == len(body), name
    media = _core.RunReader(str(run_dir)).media()
    assert media
    for _step, _ts, _key, descriptor in media:
        status, body = srv.request(f"{base}/{descriptor['path']}")
        assert status == 200, descriptor
        assert _matches(body, descriptor), descriptor
    return {f["address"] for f in listed.values()}


def _stored(srv: Server, entity: str = "admin") -> Counter[str]:
    """How many blobs the server's store holds per address, for `entity` (files of the
    directory store, objects of the bucket); each one's bytes hash to its address."""
    found: Counter[str] = Counter()
    for name in srv.stored_blob_names(entity):
        algorithm, _, hex_ = name.partition("-")
        found[f"{algorithm}:{hex_}"] += 1
    for address, data in srv.stored_blobs(entity).items():
        assert _core.hash_bytes(data) == address, address
    return found


@pytest.mark.parametrize("store", STORES)
def test_server_killed_while_blobs_upload_ends_with_every_payload_once(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    seaweed = request.getfixturevalue("seaweed") if store == "s3" else None
    srv = Server(tmp_path / "data", store=StoreChoice(store, seaweed)).start()
    proxy = CountingProxy(srv.port, hold=_holding).start()
    try:
        monkeypatch.setenv("FWTRACK_BASE_URL", proxy.url)
        monkeypatch.setenv("FWTRACK_API_KEY", srv.key)
        monkeypatch.setenv("FWTRACK_UPLOAD_TIMEOUT", "300")
        rng = np.random.default_rng(7)
        run = fwtrack.init(
            project="blobs",
            settings={"capture_env": False, "save_code": False, "system_interval": 0},
        )
        for step in range(12):
            pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
            run.log({"sample": fwtrack.Image(pixels), "loss": 1.0 / (step + 1)})
        for i in range(24):
            src = tmp_path / f"part{i}.bin"
            src.write_bytes(rng.bytes(1 << 20))
            run.save(src, name=f"parts/part{i:02d}.bin")
        big = tmp_path / "model.bin"
        big.write_bytes(rng.bytes(9 << 20))  # over a pack: streamed alone
        run.save(big, name="model/model.bin")

        sent_before = proxy.count("pack", "put", status=200)
        at_kill: dict[str, int] = {}

        def kill_and_restart() -> None:
            # Once a blob of the final pass is through, the next one is held: kill then.
            proxy.wait_for(
                "a blob sent by finish()",
                lambda: proxy.count("pack", "put", status=200) > sent_before,
            )
            at_kill["blobs"] = proxy.count("pack", "put", status=200)
            at_kill["manifests"] = proxy.count("manifest", status=200)
            srv.kill9()
            srv.start()

        killer = threading.Thread(target=kill_and_restart)
        killer.start()
        run.finish()
        killer.join(timeout=120)
        assert not killer.is_alive()
        uploader = run._uploader
        assert uploader is not None
        outcome = uploader.outcome()
        assert outcome["done"], outcome
        assert outcome["files_done"], outcome
        # The kill came in the middle: blobs and the manifest went up after the restart.
        assert proxy.count("pack", "put", status=200) > at_kill["blobs"]
        assert proxy.count("manifest", status=200) > at_kill["manifests"]

        addresses = _assert_on_server(srv, Path(run.dir), "blobs", run.id)
        stored = _stored(srv)
        assert set(stored) == addresses
        assert all(n == 1 for n in stored.values()), stored
        assert len(addresses) == len(_local_files(Path(run.dir)))
    finally:
        proxy.stop()
        srv.stop()


def test_sync_of_an_offline_run_sends_its_blobs_then_nothing(
    server: Server, tmp_path: Path
) -> None:
    made = run_program(
        str(PROGRAM), "offline", "30", "20000", cwd=tmp_path, env=client_env(tmp_path)
    )
    run_dir, run_id = Path(made["dir"]), made["id"]
    local = _local_files(run_dir)
    assert len(local) == 30 + 12  # the saved files and one image per step
    proxy = CountingProxy(server.port).start()
    try:
        env = client_env(tmp_path, FWTRACK_API_KEY=server.key)
        first = run_cli("sync", str(run_dir), "--base-url", proxy.url, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "1 uploaded, 0 already up to date, 0 failed" in first.stdout
        assert f"{len(local)} files ({len(local)} new" in first.stdout
        assert proxy.count("missing") >= 1
        assert proxy.count("pack", status=200) >= 1
        assert proxy.count("manifest", status=200) >= 1
        _assert_on_server(server, run_dir, "blobs", run_id)
        state = json.loads((run_dir / "upload.json").read_text())
        assert sorted(state["files"]) == sorted(local)

        n = len(proxy.seen)
        again = run_cli("sync", str(run_dir), "--base-url", proxy.url, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "0 uploaded, 1 already up to date, 0 failed" in again.stdout
        # Not one request: no blob, no manifest, not even a look at the log.
        assert proxy.seen[n:] == []

        # A changed file: one question, one pack, one manifest entry.
        changed = run_dir / "files" / "parts" / "part007.bin"
        changed.write_bytes(b"edited")
        third = run_cli("sync", str(run_dir), "--base-url", proxy.url, env=env)
        assert third.returncode == 0, third.stdout + third.stderr
        assert [s.kind for s in proxy.seen[n:]] == ["missing", "pack", "manifest"]
        _assert_on_server(server, run_dir, "blobs", run_id)
    finally:
        proxy.stop()


def test_a_client_killed_while_blobs_upload_is_completed_by_sync(
    server: Server, tmp_path: Path
) -> None:
    proxy = CountingProxy(server.port, hold=_holding).start()
    env = client_env(
        tmp_path,
        FWTRACK_BASE_URL=proxy.url,
        FWTRACK_API_KEY=server.key,
        FWTRACK_UPLOAD_TIMEOUT="300",
    )
    proc = subprocess.Popen(
        [sys.executable, str(PROGRAM), "online", "24", str(1 << 20)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        made = json.loads(proc.stdout.readline())
        assert proc.stdout.readline().strip() == "finishing"
        sent_before = proxy.count("pack", "put", status=200)
        proxy.wait_for(
            "a blob sent by finish()",
            lambda: proxy.count("pack", "put", status=200) > sent_before,
        )
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
        proxy.stop()
    run_dir, run_id = Path(made["dir"]), made["id"]
    local = _local_files(run_dir)
    listed = server.get(f"/runs/admin/blobs/{run_id}/files")["files"]
    assert len(listed) < len(local)  # cut off mid-upload

    resume = CountingProxy(server.port).start()
    try:
        done = run_cli("sync", str(run_dir), "--base-url", resume.url, env=env)
    finally:
        resume.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 uploaded" in done.stdout
    _assert_on_server(server, run_dir, "blobs", run_id)
    # Only what the server lacked was sent again.
    resent = sum(s.size for s in resume.seen if s.kind in ("pack", "put"))
    assert 0 < resent < sum(p.stat().st_size for p in local.values())


def test_retry_after_on_the_blob_routes_is_honoured(server: Server, tmp_path: Path) -> None:
    made = run_program(str(PROGRAM), "offline", "3", "1000", cwd=tmp_path, env=client_env(tmp_path))
    busy = {"left": 2}
    lock = threading.Lock()

    def answer(kind: str) -> tuple[int, dict[str, str], bytes] | None:
        with lock:
            if kind in ("missing", "manifest") and busy["left"] > 0:
                busy["left"] -= 1
                return (
                    429,
                    {"Retry-After": "2", "Content-Type": "application/json"},
                    (b'{"detail": "too many uploads at once"}'),
                )
        return None

    proxy = CountingProxy(server.port, answer=answer).start()
    try:
        env = client_env(tmp_path, FWTRACK_API_KEY=server.key)
        done = run_cli("sync", made["dir"], "--base-url", proxy.url, env=env)
    finally:
        proxy.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    _assert_on_server(server, Path(made["dir"]), "blobs", made["id"])
    seen = [s for s in proxy.seen if s.kind in ("missing", "manifest")]
    assert [s.status for s in seen] == [429, 429, 200, 200], seen
    # Each retry came no sooner than the server asked for.
    assert seen[1].at - seen[0].at >= 2.0
    assert seen[2].at - seen[1].at >= 2.0
