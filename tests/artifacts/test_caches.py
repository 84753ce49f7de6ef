"""The stat cache (re-logging a directory stores only what changed) and the download cache's
size bound (least recently used files go first; `cleanup(SIZE)`)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import fwtrack
from fwtrack import _core
from fwtrack.artifacts import cache
from fwtrack.artifacts.statcache import StatCache

from .util import blob_files, start, write_tree


def age(root: Path, seconds: float = 3600) -> None:
    """Set the mtime of `root` (a file) or of every file under it `seconds` into the past,
    as for files written a while ago."""
    then = time.time() - seconds
    for p in [root] if root.is_file() else root.rglob("*"):
        if p.is_file():
            os.utime(p, (then, then))


def test_relog_with_one_changed_file_stores_one_new_blob(tmp_dir: Path) -> None:
    files = {f"part-{i:03d}.bin": f"row {i}\n" * 50 for i in range(200)}
    src = write_tree(tmp_dir / "src", files)
    age(src)
    fwdir = tmp_dir / "fwtrack"
    with start() as run:
        first = run.log_artifact(src, name="big", type="dataset").wait()
    before = blob_files(fwdir)
    assert len(before) == 200 + 1  # the files and the manifest
    (src / "part-007.bin").write_text("changed\n")
    age(src / "part-007.bin")
    with start() as run:
        second = run.log_artifact(src, name="big", type="dataset").wait()
    assert second.version == "v1"
    new = blob_files(fwdir) - before
    changed = str(second.get_entry("part-007.bin").address).split(":")[1]
    assert new == {changed, second.digest.split(":")[1]}  # the one file, and the manifest
    assert first.get_entry("part-008.bin").address == second.get_entry("part-008.bin").address


def test_the_stat_cache_is_what_decides(tmp_dir: Path) -> None:
    """A file rewritten with its size, mtime and inode kept is not read again: proof that the
    stat cache, not a re-hash, gave its address (the trade-off rsync and git make too)."""
    src = write_tree(tmp_dir / "src", {"a.bin": b"a" * 100, "b.bin": b"b" * 100})
    age(src)
    with start() as run:
        first = run.log_artifact(src, name="s", type="dataset").wait()
        st = (src / "a.bin").stat()
        with open(src / "a.bin", "r+b") as f:  # same inode, same size
            f.write(b"A" * 100)
        os.utime(src / "a.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
        again = run.log_artifact(src, name="s", type="dataset").wait()
        assert again.digest == first.digest  # nothing looked changed
        # A new mtime is a change: the file is hashed again.
        age(src / "a.bin", 100)
        third = run.log_artifact(src, name="s", type="dataset").wait()
    assert third.version == "v1"
    assert third.get_entry("a.bin").address == _core.hash_bytes(b"A" * 100)


def test_a_file_written_just_before_it_was_hashed_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "fresh.bin"
    path.write_bytes(b"x")
    st = path.stat()
    key = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    db = StatCache(tmp_path / "stat.db")
    db.record([(str(path), key, "blake3:" + "1" * 64)], hashed_at=st.st_mtime + 1.0)
    assert db.lookup([(str(path), key)]) == {}
    db.record([(str(path), key, "blake3:" + "2" * 64)], hashed_at=st.st_mtime + 5.0)
    assert db.lookup([(str(path), key)]) == {str(path): "blake3:" + "2" * 64}
    other = (st.st_size + 1, *key[1:])
    assert db.lookup([(str(path), other)]) == {}
    db.close()


def fill(count: int, size: int) -> list[Path]:
    """`count` blobs of `size` bytes in the download cache, the first the least recently
    used."""
    paths = []
    now = time.time()
    for i in range(count):
        data = i.to_bytes(4, "little") * (size // 4)
        path = cache.blob_path(_core.hash_bytes(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (now - 1000 + i, now - 1000 + i))
        paths.append(path)
    return paths


def test_the_download_cache_is_bounded_lru(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_CACHE_SIZE", "10kB")
    assert cache.cache_bound() == 10_000
    paths = fill(8, 2000)  # 16 kB: over the bound
    used = cache.lookup(_core.hash_bytes((0).to_bytes(4, "little") * 500))
    assert used == paths[0]  # the oldest, used now: the most recently used
    result = cache.enforce_bound()
    assert result.remaining <= 10_000
    assert (result.removed, result.freed) == (3, 6000)
    assert [p.exists() for p in paths] == [True, False, False, False, True, True, True, True]
    assert cache.usage() == (5, 10_000)
    # `fwtrack artifact cache cleanup SIZE`.
    assert cache.cleanup("4KB").remaining == 4000
    assert [p.exists() for p in paths] == [True, False, False, False, False, False, False, True]
    assert cache.cleanup(0) == cache.CleanupResult(removed=2, freed=4000, remaining=0)


def test_cache_sizes() -> None:
    assert cache.parse_size("500MB") == 500_000_000
    assert cache.parse_size("10GiB") == 10 * 1024**3
    assert cache.parse_size("123") == 123
    assert cache.parse_size(" 1.5 kib ") == 1536
    with pytest.raises(ValueError, match="not a size"):
        cache.parse_size("lots")


def test_a_bad_cache_size_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_CACHE_SIZE", "ten gigs")
    with pytest.raises(ValueError, match="FWTRACK_CACHE_SIZE='ten gigs'"):
        cache.cache_bound()


def test_download_defaults_to_the_local_registry_without_caching(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a"})
    with start() as run:
        art = run.log_artifact(src, name="local", type="dataset").wait()
    art.download(tmp_dir / "out")
    assert cache.usage() == (0, 0)  # local versions are read from .artifacts/blobs
    assert fwtrack.Api().artifact("p/local").version == "v0"
