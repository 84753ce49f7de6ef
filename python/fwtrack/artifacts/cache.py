"""The artifact download cache: `<cache>/artifacts/blobs/<hh>/<hex>` (a blob dir), bounded by
`FWTRACK_CACHE_SIZE` (default 10 GiB; `500MB`, `10GiB` or plain bytes).

Files are evicted least recently used first: a file's mtime is its last use (it is touched
when it is read from the cache), and after every download (`enforce_bound()`) the oldest go
until the total is within the bound. `cleanup(SIZE)` (`fwtrack artifact cache cleanup SIZE`)
shrinks the cache to SIZE bytes at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from fwtrack import _core

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "CleanupResult",
    "blob_dir",
    "blob_path",
    "cache_bound",
    "cleanup",
    "enforce_bound",
    "lookup",
    "parse_size",
    "remove_stale_tmp",
    "usage",
]

DEFAULT_CACHE_SIZE = 10 * 1024**3
STALE_TMP_SECONDS = 3600.0
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def parse_size(value: str | int, what: str = "size") -> int:
    """Bytes from `123`, `"500MB"`, `"10GiB"`, `"1.5G"` (decimal units: kB, MB, GB, TB;
    binary: KiB, MiB, GiB, TiB); ValueError naming the value and the accepted forms."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be bytes or a size like '10GiB', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{what} must be >= 0, got {value}")
        return value
    m = _SIZE_RE.fullmatch(str(value))
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(
            f"{what} {value!r} is not a size: use bytes (e.g. 1073741824) or a number with "
            "a unit (500MB, 10GiB; kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024)"
        )
    return int(float(m.group(1)) * _UNITS[unit])


def cache_bound() -> int:
    """`FWTRACK_CACHE_SIZE` in bytes (default 10 GiB)."""
    from fwtrack.sdk.settings import FWTRACK_CACHE_SIZE

    raw = FWTRACK_CACHE_SIZE.get()
    if raw is None:
        return DEFAULT_CACHE_SIZE
    return parse_size(raw, f"FWTRACK_CACHE_SIZE={raw!r}:")


def blob_dir() -> Path:
    """`<cache>/artifacts/blobs` (`<cache>` is `FWTRACK_CACHE_DIR`, else
    `$XDG_CACHE_HOME/fwtrack`, else `~/.cache/fwtrack`)."""
    from fwtrack.api_remote import cache_root

    return cache_root() / "artifacts" / "blobs"


def blob_path(address: str) -> Path:
    hexpart = _core.check_address(address).partition(":")[2]
    return blob_dir() / hexpart[:2] / hexpart


def lookup(address: str) -> Path | None:
    """The cached file of `address`, touched (it was used now); None when not cached."""
    path = blob_path(address)
    try:
        now = time.time()
        os.utime(path, (now, now))
    except FileNotFoundError:
        return None
    return path


@dataclass(frozen=True)
class CleanupResult:
    """What a clean-up did: files `removed`, bytes `freed`, bytes `remaining` in the cache."""

    removed: int
    freed: int
    remaining: int


def _blobs(root: Path) -> list[tuple[float, int, str]]:
    """(mtime, size, path) of every cached blob."""
    out: list[tuple[float, int, str]] = []
    try:
        subdirs = list(os.scandir(root))
    except FileNotFoundError:
        return out
    for sub in subdirs:
        if len(sub.name) != 2 or not sub.is_dir(follow_symlinks=False):
            continue
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(sub.path):
                if len(entry.name) != 64:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    st = entry.stat(follow_symlinks=False)
                    out.append((st.st_mtime, st.st_size, entry.path))
    return out


def usage() -> tuple[int, int]:
    """(files, bytes) in the download cache."""
    blobs = _blobs(blob_dir())
    return len(blobs), sum(b[1] for b in blobs)


def remove_stale_tmp(root: Path) -> None:
    """Remove temporaries older than an hour from the blob dir `root` (left by a process
    killed while it stored a file)."""
    cutoff = time.time() - STALE_TMP_SECONDS
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(root / "tmp"):
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)


def cleanup(target_bytes: int | str, *, keep: frozenset[str] = frozenset()) -> CleanupResult:
    """Remove least recently used files until the cache holds at most `target_bytes`
    (bytes or a size like `"5GiB"`). Paths in `keep` (blobs in use right now) stay."""
    target = parse_size(target_bytes, "cache size")
    root = blob_dir()
    remove_stale_tmp(root)
    blobs = sorted(_blobs(root))
    total = sum(b[1] for b in blobs)
    removed = freed = 0
    for _mtime, size, path in blobs:
        if total <= target:
            break
        if path in keep:
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError:
            continue
        total -= size
        removed += 1
        freed += size
    return CleanupResult(removed, freed, total)


def enforce_bound(keep: frozenset[str] = frozenset()) -> CleanupResult:
    """Hold the cache to `FWTRACK_CACHE_SIZE` (called after each download)."""
    return cleanup(cache_bound(), keep=keep)
