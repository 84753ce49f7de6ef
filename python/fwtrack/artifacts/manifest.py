"""The artifact manifest (docs/artifacts.md, "The manifest"): entry path → content address
and size, or a reference URI with what its source offers.

Canonical bytes: `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
in UTF-8. The artifact's digest is the content address (`blake3:<hex>`) of those bytes, so it
covers the sorted entries and nothing else (not the name, the metadata or the aliases).

This is the one codec and the one set of entry-path rules: the client builds and reads
manifests with it, and the server checks the manifests it commits with it (loading their JSON
with its depth bound, `Manifest.from_bytes(data, loads=...)`). Standard library and the core
only, so the client imports it without the `server` extra.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fwtrack import _core

__all__ = [
    "MANIFEST_VERSION",
    "MAX_ENTRY_PATH",
    "Manifest",
    "ManifestEntry",
    "check_entry_path",
    "check_no_prefix_conflict",
    "digest_hex",
]

MANIFEST_VERSION = 1
MAX_ENTRY_PATH = 1024
MAX_SIZE = (1 << 63) - 1
_REF_FIELDS = ("size", "etag", "version_id", "mtime")
_BAD_PARTS = frozenset(("", ".", ".."))
_BAD_CHAR = re.compile(r"[\x00-\x1f\x7f\\]")  # control characters and the backslash


def check_entry_path(path: object) -> str:
    """`path` when it is a valid entry path (`/`-separated, relative, no empty, `.` or `..`
    part, no backslash, NUL or other control character, at most 1024 characters), else
    ValueError naming it."""
    if not isinstance(path, str):
        raise TypeError(f"an artifact entry path must be a str, got {type(path).__name__}")
    if (
        not path
        or len(path) > MAX_ENTRY_PATH
        or _BAD_CHAR.search(path) is not None
        or not _BAD_PARTS.isdisjoint(path.split("/"))
    ):
        shown = repr(path[:80]) + ("..." if len(path) > 80 else "")
        raise ValueError(
            f"invalid artifact entry path {shown}: use a relative '/'-separated path "
            "(no empty, '.' or '..' parts, no backslash, NUL or other control character), "
            f"at most {MAX_ENTRY_PATH} characters, e.g. 'images/cat.png'"
        )
    return path


def digest_hex(address: str) -> str:
    """The 64 hex digits of a `blake3:<hex>` address."""
    algo, _, hexpart = address.partition(":")
    if algo != "blake3" or len(hexpart) != 64:
        raise ValueError(f"not a blake3 content address: {address!r}")
    return hexpart


@dataclass(frozen=True)
class ManifestEntry:
    """One entry: a stored file (`address`, `size`) or a reference (`ref` and, when it was
    checksummed, `size`, `etag`, `version_id`, `mtime`)."""

    path: str
    address: str | None = None
    size: int | None = None
    ref: str | None = None
    etag: str | None = None
    version_id: str | None = None
    mtime: float | None = None

    @property
    def is_reference(self) -> bool:
        return self.ref is not None

    def to_json(self) -> dict[str, Any]:
        if self.ref is None:
            return {"address": self.address, "size": self.size}
        out: dict[str, Any] = {"ref": self.ref}
        for name in _REF_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, path: str, obj: object) -> ManifestEntry:
        check_entry_path(path)
        if not isinstance(obj, Mapping):
            raise ValueError(f"manifest entry {path!r} is not an object")
        size = obj.get("size")
        if size is not None and (
            isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE
        ):
            raise ValueError(
                f"manifest entry {path!r}: size {str(size)[:40]} is not a byte count "
                "(a non-negative int)"
            )
        ref = obj.get("ref")
        if ref is not None:
            if not isinstance(ref, str) or not ref:
                raise ValueError(f"manifest entry {path!r}: ref must be a URI")
            etag, version_id, mtime = obj.get("etag"), obj.get("version_id"), obj.get("mtime")
            return cls(
                path,
                ref=ref,
                size=size,
                etag=etag if isinstance(etag, str) else None,
                version_id=version_id if isinstance(version_id, str) else None,
                mtime=float(mtime) if isinstance(mtime, int | float) else None,
            )
        address = obj.get("address")
        if not isinstance(address, str) or size is None:
            raise ValueError(
                f"manifest entry {path!r} has neither an address with a size nor a ref"
            )
        try:
            address = _core.check_address(address)
        except ValueError as exc:
            raise ValueError(f"manifest entry {path!r}: {exc}") from None
        return cls(path, address=address, size=size)


class Manifest:
    """The entries of an artifact, by path (immutable once built)."""

    __slots__ = ("_canonical", "_entries")

    def __init__(self, entries: Iterable[ManifestEntry] = ()) -> None:
        by_path: dict[str, ManifestEntry] = {}
        for entry in entries:
            check_entry_path(entry.path)
            if entry.path in by_path:
                raise ValueError(f"artifact entry path {entry.path!r} appears twice")
            by_path[entry.path] = entry
        check_no_prefix_conflict(by_path)
        self._entries = dict(sorted(by_path.items()))
        self._canonical: bytes | None = None

    @property
    def entries(self) -> dict[str, ManifestEntry]:
        return dict(self._entries)

    def __iter__(self) -> Iterator[ManifestEntry]:
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def get(self, path: str) -> ManifestEntry | None:
        return self._entries.get(path)

    @property
    def size(self) -> int:
        """Sum of entry sizes (references without a size count 0)."""
        return sum(e.size or 0 for e in self._entries.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "version": MANIFEST_VERSION,
            "entries": {p: e.to_json() for p, e in self._entries.items()},
        }

    def canonical(self) -> bytes:
        """The canonical bytes (sorted keys, no spaces, UTF-8)."""
        if self._canonical is None:
            self._canonical = json.dumps(
                self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
        return self._canonical

    @property
    def digest(self) -> str:
        """`blake3:<hex>` of the canonical bytes: the artifact's digest."""
        return _core.hash_bytes(self.canonical())

    def addresses(self) -> set[str]:
        """The content addresses of the stored entries (not references)."""
        return {e.address for e in self._entries.values() if e.address is not None}

    @classmethod
    def from_bytes(cls, data: bytes, *, loads: Callable[[bytes], Any] = json.loads) -> Manifest:
        """The manifest of `data`, checked entry by entry; ValueError naming the first
        problem. `loads` parses the JSON (the server passes its depth-bounded loader; a
        ValueError it raises for another reason passes through)."""
        try:
            obj = loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"an artifact manifest is not JSON: {exc}") from exc
        return cls.from_json(obj)

    @classmethod
    def from_json(cls, obj: object) -> Manifest:
        if not isinstance(obj, Mapping) or not isinstance(obj.get("entries"), Mapping):
            raise ValueError("an artifact manifest is an object with 'version' and 'entries'")
        version = obj.get("version")
        if version != MANIFEST_VERSION:
            raise ValueError(
                f"artifact manifest version {version!r} is not supported (this fwtrack reads "
                f"version {MANIFEST_VERSION}); upgrade fwtrack"
            )
        return cls(ManifestEntry.from_json(p, e) for p, e in obj["entries"].items())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Manifest) and self.canonical() == other.canonical()

    def __hash__(self) -> int:
        return hash(self.canonical())

    def __repr__(self) -> str:
        return f"<Manifest {len(self)} entries, {self.size} bytes>"


def check_no_prefix_conflict(paths: Iterable[str]) -> None:
    """ValueError when a path is both a file and a directory prefix of another path."""
    ordered = sorted(paths)
    known = set(ordered)
    for path in ordered:
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in known:
                raise ValueError(
                    f"artifact entry {prefix!r} is a file and also the directory of "
                    f"{path!r}; rename one of them"
                )
