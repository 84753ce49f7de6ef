"""Blob directories (`<blob_dir>/<hh>/<hex>`): `_core.store_files` and `_core.store_blob` store
bytes under their BLAKE3 address, once, and refuse what they cannot store faithfully."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from fwtrack import _core


def blob(blob_dir: Path, address: str) -> Path:
    hexd = address.removeprefix("blake3:")
    return blob_dir / hexd[:2] / hexd


def blobs_in(blob_dir: Path) -> dict[str, int]:
    """Every stored blob (relative path → inode), tmp/ left out."""
    return {
        str(p.relative_to(blob_dir)): p.stat().st_ino
        for p in blob_dir.rglob("*")
        if p.is_file() and p.parent.name != "tmp"
    }


def test_files_are_stored_under_their_address_and_only_once(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    sizes = [0, 1, 40_000, (1 << 20) - 1, 1 << 20, (3 << 20) + 5]
    paths = []
    for i, size in enumerate(sizes):
        p = src / f"f{i}"
        p.write_bytes(os.urandom(size))
        paths.append(str(p))
    (src / "copy").write_bytes((src / "f2").read_bytes())
    paths.append(str(src / "copy"))
    blobs = tmp_path / "blobs"

    first = _core.store_files(str(blobs), paths)
    for path, r in zip(paths, first, strict=True):
        assert r == _core.hash_file(path)
        assert isinstance(r, tuple)
        assert blob(blobs, r[0]).read_bytes() == Path(path).read_bytes()
    stored = blobs_in(blobs)
    assert len(stored) == len(sizes)  # the copy is the same blob
    assert list((blobs / "tmp").iterdir()) == []

    # Again: the same answers, and not one blob written anew (same files, same inodes).
    assert _core.store_files(str(blobs), paths) == first
    assert blobs_in(blobs) == stored
    assert list((blobs / "tmp").iterdir()) == []


def test_results_are_in_order_with_an_oserror_for_each_bad_entry(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_bytes(b"good bytes")
    link = tmp_path / "link.txt"
    link.symlink_to(good)
    missing = tmp_path / "missing.txt"
    blobs = tmp_path / "blobs"
    entries = [str(link), str(good), str(missing), str(tmp_path), str(good)]

    results = _core.store_files(str(blobs), entries)

    assert len(results) == len(entries)
    assert isinstance(results[0], OSError)
    assert "symbolic link" in str(results[0])
    assert str(link) in str(results[0])
    assert results[1] == _core.hash_file(good)
    assert isinstance(results[2], FileNotFoundError)
    assert str(missing) in str(results[2])
    assert isinstance(results[3], OSError)
    assert "not a regular file" in str(results[3])
    assert results[4] == results[1]
    # The link's target was stored only through the path that names it.
    assert list(blobs_in(blobs)) == [str(blob(blobs, _core.hash_file(good)[0]).relative_to(blobs))]


def test_a_file_appended_to_while_it_is_read_is_refused(tmp_path: Path) -> None:
    """A large sparse file is appended to once its copy has begun (its temporary file exists
    in tmp/): the store refuses it, naming the file, and keeps nothing of it."""
    growing = tmp_path / "growing.bin"
    with growing.open("wb") as f:
        f.truncate(256 << 20)
    blobs = tmp_path / "blobs"
    (blobs / "tmp").mkdir(parents=True)
    appended = threading.Event()
    stop = threading.Event()

    def append_once_the_copy_runs() -> None:
        while not stop.is_set():
            with os.scandir(blobs / "tmp") as entries:
                started = any(entries)
            if started:
                with growing.open("ab") as f:
                    f.write(b"more")
                appended.set()
                return

    appender = threading.Thread(target=append_once_the_copy_runs)
    appender.start()
    try:
        (result,) = _core.store_files(str(blobs), [str(growing)])
    finally:
        stop.set()
        appender.join()

    assert appended.is_set(), "the copy ended before the appender saw it begin"
    assert isinstance(result, OSError), result
    assert str(growing) in str(result)
    assert "changed while it was being logged; log it again once it is written" in str(result)
    assert blobs_in(blobs) == {}
    assert list((blobs / "tmp").iterdir()) == []
    # Once it is written, it is stored.
    (again,) = _core.store_files(str(blobs), [str(growing)])
    assert again == _core.hash_file(growing)


def test_bytes_are_stored_like_files(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    data = b'{"version":1,"entries":{}}'
    address, size = _core.store_blob(str(blobs), data)
    assert (address, size) == (_core.hash_bytes(data), len(data))
    assert blob(blobs, address).read_bytes() == data
    stored = blobs_in(blobs)
    assert _core.store_blob(str(blobs), data) == (address, size)
    assert blobs_in(blobs) == stored
    f = tmp_path / "manifest.json"
    f.write_bytes(data)
    assert _core.store_files(str(blobs), [str(f)]) == [(address, size)]
    assert blobs_in(blobs) == stored
    assert list((blobs / "tmp").iterdir()) == []


def test_an_unwritable_blob_dir_is_an_oserror_naming_it(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"x")
    src = tmp_path / "src.txt"
    src.write_bytes(b"data")
    (result,) = _core.store_files(str(not_a_dir), [str(src)])
    assert isinstance(result, OSError)
    assert str(not_a_dir) in str(result)
    with pytest.raises(OSError, match=str(not_a_dir)):
        _core.store_blob(str(not_a_dir), b"data")
