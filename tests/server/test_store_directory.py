"""The directory backend of the server's store: blobs written atomically (a reader sees all of
a blob or nothing, never a partial file), removed, private on disk, never read or written
through a symbolic link; temporaries of a killed upload cleaned up; run logs locked,
appended and cut."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fwtrack.server.store import BlobKey, DirectoryStore, RunKey, Store

from .harness import REPO, child_env

ENTITY = "alice"


def key_of(data: bytes, entity: str = ENTITY) -> BlobKey:
    # The store trusts its caller's address; any well-formed one names the blob.
    return BlobKey(entity, "sha256:" + hashlib.sha256(data).hexdigest())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_put_open_size_delete(tmp_path: Path) -> None:
    store: Store = DirectoryStore(tmp_path / "store")
    data = b"a run file\n" * 1000
    key = key_of(data)
    assert not store.exists(key)
    assert store.size(key) is None
    store.put(key, data)
    assert store.exists(key)
    assert store.size(key) == len(data)
    with store.open(key) as fh:
        assert fh.read() == data
    local = store.local_path(key)
    assert local is not None
    assert local == tmp_path / "store" / "blobs" / ENTITY / key.hex[:2] / f"sha256-{key.hex}"
    # private, as the rest of the data dir
    assert mode(local) == 0o600
    for folder in (local.parent, local.parent.parent, tmp_path / "store" / "blobs"):
        assert mode(folder) == 0o700, folder
    store.put(key, data)  # storing it again is harmless
    assert store.size(key) == len(data)
    store.delete(key)
    assert not store.exists(key)
    assert store.local_path(key) is None
    with pytest.raises(FileNotFoundError):
        store.open(key)
    store.delete(key)  # nothing to remove: no error
    assert os.listdir(tmp_path / "store" / "tmp") == []


def test_a_staged_upload_is_moved_and_an_unused_one_removed(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    data = os.urandom(3 << 20)
    key = key_of(data)
    with store.stage() as staged:
        for start in range(0, len(data), 1 << 20):
            staged.write(memoryview(data)[start : start + (1 << 20)])
        assert staged.size == len(data)
        assert not store.exists(key)  # nothing visible before `put`
        store.put(key, staged)
    with store.open(key) as fh:
        assert fh.read() == data
    with store.stage() as staged:
        staged.write(b"refused bytes")
        assert len(os.listdir(tmp_path / "store" / "tmp")) == 1
    assert os.listdir(tmp_path / "store" / "tmp") == []  # a refused upload leaves nothing
    assert [p.name for p in (tmp_path / "store" / "blobs").rglob("*") if p.is_file()] == [
        f"sha256-{key.hex}"
    ]


def test_readers_never_see_a_partial_blob(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    blobs = [os.urandom(4 << 20) for _ in range(3)]
    keys = [key_of(b) for b in blobs]
    seen: list[int] = []
    done = threading.Event()
    errors: list[str] = []

    def read() -> None:
        while not done.is_set():
            for key, blob in zip(keys, blobs, strict=True):
                try:
                    with store.open(key) as fh:
                        got = fh.read()
                except FileNotFoundError:
                    continue
                seen.append(len(got))
                if got != blob:
                    errors.append(f"{key.hex[:8]}: read {len(got)} of {len(blob)} bytes")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(5):
            for key, blob in zip(keys, blobs, strict=True):
                store.put(key, blob)
            for key in keys:
                store.delete(key)
        for key, blob in zip(keys, blobs, strict=True):
            store.put(key, blob)
    finally:
        done.set()
        reader.join(timeout=60)
    assert errors == []
    assert seen  # the reader did read whole blobs


def test_no_symbolic_link_is_followed(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = DirectoryStore(root)
    data = b"the blob"
    key = key_of(data)
    outside = tmp_path / "outside"
    (outside / key.hex[:2]).mkdir(parents=True)
    secret = outside / key.hex[:2] / f"sha256-{key.hex}"
    secret.write_bytes(b"not the store's")
    # the entity's folder is a link out of the store
    (root / "blobs" / ENTITY).symlink_to(outside, target_is_directory=True)
    assert not store.exists(key)
    assert store.size(key) is None
    assert store.local_path(key) is None
    with pytest.raises(FileNotFoundError):
        store.open(key)
    with pytest.raises(OSError, match="symbolic link"):
        store.put(key, data)
    store.delete(key)
    assert secret.read_bytes() == b"not the store's"  # neither written nor removed
    assert sorted(p.name for p in outside.rglob("*")) == [key.hex[:2], secret.name]

    # a blob that is itself a link
    other = b"another blob"
    other_key = BlobKey("bob", "sha256:" + hashlib.sha256(other).hexdigest())
    target = root / "blobs" / "bob" / other_key.hex[:2] / f"sha256-{other_key.hex}"
    target.parent.mkdir(parents=True)
    target.symlink_to(secret)
    assert not store.exists(other_key)
    with pytest.raises(FileNotFoundError):
        store.open(other_key)
    store.put(other_key, other)  # replaces the link itself, never writes through it
    assert not target.is_symlink()
    with store.open(other_key) as fh:
        assert fh.read() == other
    assert secret.read_bytes() == b"not the store's"

    # a run's folder that is a link
    run = RunKey(1, "r1", 1)
    runs = root / "runs" / "1"
    runs.mkdir()
    (outside / "r1").mkdir()
    (outside / "r1" / "run.fwlog").write_bytes(b"outside log")
    (runs / "r1").symlink_to(outside / "r1", target_is_directory=True)
    log = store.run_log(run)
    with pytest.raises(FileNotFoundError), log.locked(create=True):
        pass
    with pytest.raises(FileNotFoundError):
        list(log.read_range(0, 4))
    store.delete_run(run)
    assert (outside / "r1" / "run.fwlog").read_bytes() == b"outside log"


def test_a_killed_upload_leaves_a_temporary_that_the_next_start_removes(tmp_path: Path) -> None:
    root = tmp_path / "store"
    DirectoryStore(root)
    with subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "programs" / "stage_blob.py"), str(root)],
        stdout=subprocess.PIPE,
        env=child_env(),
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"staged"
            left = os.listdir(root / "tmp")
            assert len(left) == 1
            DirectoryStore(root, stale_after=0)  # another process starts: the upload is live
            assert os.listdir(root / "tmp") == left
        finally:
            proc.kill()
            proc.wait(timeout=30)
    assert os.listdir(root / "tmp") == left  # killed: the temporary stays...
    DirectoryStore(root)  # ...a recent one is kept a while (its upload may be live)...
    assert os.listdir(root / "tmp") == left
    DirectoryStore(root, stale_after=0)  # ...and an old unlocked one goes
    assert os.listdir(root / "tmp") == []
    assert [p for p in (root / "blobs").rglob("*")] == []


def test_run_log_append_read_truncate(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path / "store")
    log = store.run_log(RunKey(7, "r1", 70))
    assert log.size() == 0
    with pytest.raises(FileNotFoundError), log.locked(create=False):
        pass
    with log.locked(create=True) as handle:
        assert handle.size() == 0
        handle.append(b"header..", 0)
        handle.append(b"frame-1;frame-2;", 8)
        assert handle.read(7, 8) == b"frame-1"
        handle.truncate(16)
        assert handle.size() == 16
    assert log.size() == 16
    assert b"".join(log.read_range(8, 16)) == b"frame-1;"
    assert mode(log.path) == 0o600
    assert log.path.parent == store.run_dir(RunKey(7, "r1", 70))
    index = store.index_dir(RunKey(7, "r1", 70))
    index.mkdir()
    store.delete_run(RunKey(7, "r1", 70))
    assert not log.path.exists()
    assert not index.exists()
    with pytest.raises(FileNotFoundError), log.locked(create=False):
        pass
