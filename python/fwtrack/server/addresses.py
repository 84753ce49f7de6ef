"""Content addresses on the server: checking them, and computing the address of bytes to
verify an upload before anything of it is stored.

New data is addressed `blake3:<hex>` (BLAKE3 in the Rust core, the GIL released, several
threads for large inputs); `sha256:<hex>` (older media payloads) is verified with hashlib.
"""

from __future__ import annotations

import hashlib

from fwtrack import _core

__all__ = ["Digest", "address_of", "check_address"]


def check_address(address: str) -> str:
    """`address` normalised (lowercase hex); ValueError naming it and the expected form."""
    if not isinstance(address, str) or len(address) > 200:
        raise ValueError(
            f"not a content address: {str(address)[:100]!r}; expected blake3:<64 hex digits>"
        )
    return _core.check_address(address)


def address_of(data: bytes | memoryview, algorithm: str = "blake3") -> str:
    """The address of `data` under `algorithm` (`blake3` or `sha256`)."""
    if algorithm == "sha256":
        return "sha256:" + hashlib.sha256(data).hexdigest()
    return _core.hash_bytes(data)


class Digest:
    """The address of bytes fed in pieces (`update`), under the algorithm of `address`."""

    def __init__(self, algorithm: str = "blake3") -> None:
        self.algorithm = algorithm
        self._sha = hashlib.sha256() if algorithm == "sha256" else None
        self._blake = _core.Hasher() if self._sha is None else None
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self.size += len(data)
        if self._sha is not None:
            self._sha.update(data)
        elif self._blake is not None:
            self._blake.update(data)

    def address(self) -> str:
        if self._sha is not None:
            return "sha256:" + self._sha.hexdigest()
        assert self._blake is not None
        return self._blake.hexdigest()
