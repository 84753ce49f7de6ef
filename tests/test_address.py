"""Content addresses from the core: BLAKE3 of buffers and files, `blake3:<hex>` strings."""

from __future__ import annotations

import array
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from fwtrack import _core

# The official BLAKE3 test vectors (test_vectors.json of the reference implementation): the
# input is the bytes 0, 1, ..., 250, 0, 1, ... of the given length; the first 32 output bytes.
VECTORS = {
    0: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
    1024: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
    1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
    102400: "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
}
BIG = 3 * 2**20 + 5  # above the thresholds for threads (128 KiB) and block reads (1 MiB)


def vector_input(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


@pytest.mark.parametrize("n", sorted(VECTORS))
def test_known_vectors(n: int) -> None:
    assert _core.hash_bytes(vector_input(n)) == f"blake3:{VECTORS[n]}"


def test_parallel_hash_equals_serial_pieces() -> None:
    data = np.random.default_rng(1).bytes(BIG)
    h = _core.Hasher()
    for i in range(0, len(data), 50_000):  # pieces below the parallel threshold
        h.update(data[i : i + 50_000])
    assert h.size == len(data)
    assert h.hexdigest() == _core.hash_bytes(data)
    assert _core.hash_bytes(data) != _core.hash_bytes(data[:-1])


def test_every_buffer_type_hashes_its_bytes() -> None:
    data = vector_input(1025)
    want = _core.hash_bytes(data)
    assert _core.hash_bytes(bytearray(data)) == want
    assert _core.hash_bytes(memoryview(data)) == want
    assert _core.hash_bytes(np.frombuffer(data, dtype=np.uint8)) == want
    assert _core.hash_bytes(array.array("B", data)) == want
    # A slice of a memoryview is hashed from its start, not from its base object's.
    assert _core.hash_bytes(memoryview(b"xx" + data + b"yy")[2:-2]) == want
    # A numpy array of any dtype is hashed as its raw memory.
    pixels = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    assert _core.hash_bytes(pixels) == _core.hash_bytes(pixels.tobytes())
    floats = np.linspace(0.0, 1.0, 1000, dtype=np.float32).reshape(10, 100)
    assert _core.hash_bytes(floats) == _core.hash_bytes(floats.tobytes())
    assert _core.hash_bytes(floats) != _core.hash_bytes(floats.astype(np.float64))
    # A C-contiguous slice of an array is hashed without its neighbours.
    assert _core.hash_bytes(floats[2:4]) == _core.hash_bytes(floats[2:4].tobytes())
    assert _core.hash_bytes(floats.data[2:4]) == _core.hash_bytes(floats[2:4].tobytes())
    assert _core.hash_bytes(np.zeros(0, dtype=np.float64)) == f"blake3:{VECTORS[0]}"


def test_non_contiguous_and_non_buffers_are_refused() -> None:
    floats = np.arange(12, dtype=np.float64).reshape(3, 4)
    with pytest.raises(ValueError, match=r"non-contiguous numpy array.*ascontiguousarray"):
        _core.hash_bytes(floats.T)
    with pytest.raises(ValueError, match=r"non-contiguous buffer.*ascontiguousarray"):
        _core.hash_bytes(memoryview(b"abcdef")[::2])
    with pytest.raises(TypeError, match="bytes-like object is required, not 'str'"):
        _core.hash_bytes("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="array of Python objects"):
        _core.hash_bytes(np.array([b"a", None], dtype=object))
    h = _core.Hasher()
    with pytest.raises(ValueError, match="non-contiguous"):
        h.update(floats[:, 1])
    assert h.size == 0


@pytest.mark.parametrize("size", [0, 1, 40_000, 2**20 - 1, 2**20, BIG])
def test_a_file_hashes_like_its_bytes(tmp_path: Path, size: int) -> None:
    data = np.random.default_rng(size).bytes(size)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert _core.hash_file(path) == (_core.hash_bytes(data), size)
    assert _core.hash_file(str(path)) == (_core.hash_bytes(data), size)


def test_a_symbolic_link_is_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "secret.txt"
    target.write_bytes(b"not for upload")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with pytest.raises(OSError, match=r"link\.txt is a symbolic link"):
        _core.hash_file(link)
    with pytest.raises(OSError, match="not a regular file"):
        _core.hash_file(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        _core.hash_file(tmp_path / "missing.txt")
    assert _core.hash_files([str(link), str(target)]) == [
        None,
        (_core.hash_bytes(b"not for upload"), 14),
    ]


def test_hash_files_in_order_with_none_for_unreadable(tmp_path: Path) -> None:
    paths: list[str] = []
    want: list[tuple[str, int] | None] = []
    for i in range(50):
        data = os.urandom(i * 997 + (2**20 if i == 7 else 0))
        p = tmp_path / f"f{i}"
        p.write_bytes(data)
        paths.append(str(p))
        want.append((_core.hash_bytes(data), len(data)))
    paths.insert(3, str(tmp_path / "missing"))
    want.insert(3, None)
    assert _core.hash_files(paths) == want
    assert _core.hash_files([]) == []


def test_hasher_incremental_equals_one_shot() -> None:
    data = vector_input(102400)
    h = _core.Hasher()
    assert h.hexdigest() == f"blake3:{VECTORS[0]}"
    h.update(data[:1])
    assert h.hexdigest() == f"blake3:{VECTORS[1]}"
    h.update(memoryview(data)[1:1024])
    assert h.hexdigest() == f"blake3:{VECTORS[1024]}"
    h.update(bytearray(data[1024:1025]))
    h.update(np.frombuffer(data[1025:], dtype=np.uint8))
    assert h.hexdigest() == f"blake3:{VECTORS[102400]}"
    assert h.size == len(data)


def test_check_address_normalises_or_names_the_bad_value() -> None:
    hexd = VECTORS[0]
    assert _core.check_address(f"blake3:{hexd}") == f"blake3:{hexd}"
    assert _core.check_address(f"blake3:{hexd.upper()}") == f"blake3:{hexd}"
    sha = hashlib.sha256(b"abc").hexdigest()
    assert _core.check_address(f"sha256:{sha.upper()}") == f"sha256:{sha}"
    for bad, reason in [
        (hexd, "no algorithm prefix"),
        (f"md5:{hexd}", 'unknown algorithm "md5"'),
        ("blake3:abc", "has 3 characters, not 64"),
        (f"blake3:{hexd[:-1]}z", "not hexadecimal"),
        (f"blake3:{hexd}\n", "has 65 characters"),
        ("", "no algorithm prefix"),
    ]:
        with pytest.raises(ValueError, match="is not a content address") as info:
            _core.check_address(bad)
        msg = str(info.value)
        assert repr(bad).strip("'") in msg.replace('"', "'"), msg
        assert reason in msg
        assert 'expected "blake3:" followed by 64 hex digits' in msg
