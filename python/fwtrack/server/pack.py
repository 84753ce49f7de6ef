"""The blob pack (`application/x-fwtrack-blobs`), read incrementally as a body arrives.

A pack is entries back to back, nothing else; each entry is `u16 LE` address length, the
address (ASCII), `u64 LE` size, then `size` bytes. `PackReader.feed` takes the body's chunks
as they come and returns the entries completed so far; `finish` checks that the body ended on
an entry boundary. A malformed pack raises `PackError` naming the byte offset.
"""

from __future__ import annotations

from fwtrack.server.addresses import check_address

__all__ = ["MAX_ADDRESS_LEN", "MAX_PACK_BYTES", "PackError", "PackReader", "encode_pack"]

MAX_PACK_BYTES = 64 << 20
"""Largest pack body (the client packs up to 8 MiB per request)."""

MAX_ADDRESS_LEN = 200


class PackError(ValueError):
    """A body that is not a pack."""


class PackReader:
    """Parses a pack fed in chunks; entries are `(address, bytes)`, the address normalised."""

    def __init__(self, limit: int = MAX_PACK_BYTES) -> None:
        self.limit = limit
        self._offset = 0  # of the next byte fed
        self._head = bytearray()
        self._address: str | None = None
        self._size = 0
        self._parts: list[bytes] = []
        self._got = 0

    def _need(self) -> int:
        """Header bytes needed: 2, then 2 + address length + 8."""
        if len(self._head) < 2:
            return 2
        return 2 + int.from_bytes(self._head[:2], "little") + 8

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        view = memoryview(data)
        pos = 0
        while pos < len(view):
            if self._address is not None:
                take = min(self._size - self._got, len(view) - pos)
                self._parts.append(bytes(view[pos : pos + take]))
                self._got += take
                pos += take
                if self._got == self._size:
                    out.append(self._complete())
                continue
            start = self._offset + pos - len(self._head)
            need = self._need()
            take = min(need - len(self._head), len(view) - pos)
            self._head += view[pos : pos + take]
            pos += take
            if len(self._head) < need:
                continue
            if need == 2:
                length = int.from_bytes(self._head, "little")
                if not 1 <= length <= MAX_ADDRESS_LEN:
                    raise PackError(
                        f"the entry at byte {start} has an address of {length} bytes; "
                        f"expected 1 to {MAX_ADDRESS_LEN} (u16 LE length, address, u64 LE "
                        "size, bytes)"
                    )
                continue
            raw = bytes(self._head[2:-8])
            try:
                address = check_address(raw.decode("ascii"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise PackError(f"the entry at byte {start}: {exc}") from None
            size = int.from_bytes(self._head[-8:], "little")
            if size > self.limit:
                raise PackError(
                    f"the entry at byte {start} ({address}) claims {size} bytes, over the "
                    f"pack limit of {self.limit}; hint: send a large blob alone with "
                    "PUT .../blobs/{address}"
                )
            self._head.clear()
            self._address, self._size, self._parts, self._got = address, size, [], 0
            if size == 0:
                out.append(self._complete())
        self._offset += len(view)
        return out

    def _complete(self) -> tuple[str, bytes]:
        assert self._address is not None
        entry = (self._address, b"".join(self._parts))
        self._address, self._parts, self._got = None, [], 0
        return entry

    def finish(self) -> None:
        """Raise PackError when the body ended inside an entry."""
        if self._address is not None:
            raise PackError(
                f"the body ended inside the entry of {self._address}: {self._got} of "
                f"{self._size} bytes"
            )
        if self._head:
            raise PackError(f"the body ended inside an entry's header at byte {self._offset}")


def encode_pack(entries: list[tuple[str, bytes]]) -> bytes:
    """A pack of `(address, bytes)` entries (for clients and tests)."""
    out = bytearray()
    for address, data in entries:
        raw = address.encode("ascii")
        out += len(raw).to_bytes(2, "little") + raw + len(data).to_bytes(8, "little") + data
    return bytes(out)
