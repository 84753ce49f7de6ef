"""What every logged media value shares: `Media`, the base of `Image` (`image.py`), `Audio`
(`audio.py`), `Video` (`video.py`), `Html` (`html.py`) and `Table` (`table.py`), with the
helpers they share and `from_descriptor`, which makes any of them from its descriptor.

Every payload is encoded once (PNG, 16-bit PCM WAV, GIF or MP4, UTF-8 HTML, table JSON),
named by the BLAKE3 of its bytes and stored at `<run dir>/files/media/<hex>.<ext>`, so
identical payloads are stored once per run. The run log keeps a small descriptor per logged
value (record kind 10 `Media`, with `"address": "blake3:<hex>"`; see docs/media.md and
docs/format.md). Older logs name payloads by sha256 (`"sha256": "<hex>"`); they read the same.

numpy, Pillow and PyAV are imported on first use, never by `import fwtrack`.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from fwtrack import _core

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "MEDIA_DIR",
    "Fetch",
    "Media",
    "from_descriptor",
]

Fetch = Callable[[str], bytes]
"""Reads a stored file given its path relative to the run's `files/` directory."""

MEDIA_DIR = "media"

_M = TypeVar("_M", bound="Media")


# Buffers of pixels and frames already encoded, by size, kept for the next value of the same
# size: fresh memory costs page faults (about 0.1 ms for 200 KB) that a recycled buffer does
# not.
_POOL: dict[int, list[bytearray]] = {}
_POOL_MAX_BYTES = 64 << 20
_pool_bytes = 0
_pool_lock = threading.Lock()


# A value is encoded once, by whichever thread asks first (the media worker, or the user's
# thread reading `.bytes()` meanwhile); values share these locks by their id. Reentrant: a
# table encodes its cells' descriptors while encoding itself.
_ENCODE_LOCKS = [threading.RLock() for _ in range(16)]


def _after_fork_in_child() -> None:
    # A media worker of the parent may have held a lock at fork time.
    global _pool_lock, _ENCODE_LOCKS
    _pool_lock = threading.Lock()
    _ENCODE_LOCKS = [threading.RLock() for _ in range(16)]


os.register_at_fork(after_in_child=_after_fork_in_child)


def _owned_copy(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A C-contiguous copy of `arr` that nothing else references, in a recycled buffer when
    one of its size is free. A contiguous `arr` is copied with the GIL held: numpy lets it go
    while copying a large array, which hands it to a media worker that the caller must then
    wait for to get it back."""
    global _pool_bytes
    import numpy as np

    size = arr.nbytes
    buf = None
    with _pool_lock:
        free = _POOL.get(size)
        if free:
            buf = free.pop()
            _pool_bytes -= size
    if buf is None:
        buf = bytearray(size)
    out: npt.NDArray[Any] = np.ndarray(arr.shape, arr.dtype, buffer=buf)
    if arr.flags.c_contiguous and size:
        memoryview(buf)[:] = arr.data.cast("B")
    else:
        np.copyto(out, arr)
    return out


def _recycle(arr: npt.NDArray[Any] | None) -> None:
    """Keep the buffer of `arr` (made by `_owned_copy`) for the next copy, when nothing but
    the caller's variable references `arr` or its buffer."""
    global _pool_bytes
    if arr is None:
        return
    buf = arr.base
    # References: the caller's variable, this parameter and getrefcount's argument; to the
    # buffer: `buf`, the array's base and getrefcount's argument.
    if type(buf) is not bytearray or sys.getrefcount(arr) > 3 or sys.getrefcount(buf) > 3:
        return
    with _pool_lock:
        if _pool_bytes + len(buf) <= _POOL_MAX_BYTES:
            _POOL.setdefault(len(buf), []).append(buf)
            _pool_bytes += len(buf)


def _release_pool() -> None:
    """Give the recycled buffers back (at the end of a run)."""
    global _pool_bytes
    with _pool_lock:
        _POOL.clear()
        _pool_bytes = 0


_HASH_PIECE = 64 << 10


def _content_address(data: Any) -> str:
    """The address of the bytes of the buffer `data`. In a forked child they go to the
    hasher in pieces small enough to hash on this thread: the parent's hashing threads do not
    exist there."""
    if not _core.is_forked_child():
        return _core.hash_bytes(data)
    hasher = _core.Hasher()
    view = memoryview(data).cast("B")
    for start in range(0, len(view), _HASH_PIECE):
        hasher.update(view[start : start + _HASH_PIECE])
    return hasher.hexdigest()


def _is_tensor(value: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _tensor_to_numpy(t: Any) -> npt.NDArray[Any]:
    import torch

    t = t.detach().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return t.numpy()  # type: ignore[no-any-return]


def _as_array(data: object, accepted: str) -> npt.NDArray[Any]:
    """`data` (a numpy array or a torch tensor) as a numpy array; a TypeError naming what the
    type `accepted` (e.g. "Audio takes a numpy array, ...") otherwise."""
    if _is_tensor(data):
        return _tensor_to_numpy(data)
    import numpy as np

    if not isinstance(data, np.ndarray):
        raise TypeError(f"{accepted}, got {type(data).__name__}")
    return data


def _is_path(data: object) -> bool:
    return isinstance(data, str | os.PathLike)


def _read_path(cls: str, data: str | os.PathLike[str]) -> bytes:
    path = os.fspath(data)
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{cls}: no such file: {path!r}") from None


def _check_caption(caption: object) -> str | None:
    if caption is None or isinstance(caption, str):
        return caption
    raise TypeError(f"caption must be a str or None, got {type(caption).__name__}")


def _to_uint8(arr: npt.NDArray[Any], what: str) -> npt.NDArray[np.uint8]:
    """uint8 as is; bool as 0/255; floats by W&B's rule: when no value exceeds 1 they are
    taken as 0..1 (clipped at 0, scaled by 255, rounded), otherwise as 0..255 (clipped to
    0..255, the fraction dropped as `astype(np.uint8)` does in wandb); NaN as 0; other
    integers as they are when they all lie in 0..255."""
    import numpy as np

    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        return arr
    out: npt.NDArray[np.uint8]
    if kind == "b":
        out = arr.astype(np.uint8) * np.uint8(255)
        return out
    if kind == "f":
        values = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0)
        top = float(values.max()) if values.size else 0.0
        if top <= 1.0:
            out = np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
        else:
            out = np.clip(values, 0.0, 255.0).astype(np.uint8)
        return out
    if kind in "iu":
        if arr.size and (int(arr.min()) < 0 or int(arr.max()) > 255):
            raise ValueError(
                f"{what}: integer pixel values must lie in 0..255, got {int(arr.min())}.."
                f"{int(arr.max())} ({arr.dtype}); scale them to 0..255 and cast to uint8, or "
                "pass floats in [0, 1]"
            )
        return arr.astype(np.uint8)
    raise TypeError(
        f"{what}: cannot make pixels of a numpy array of dtype {arr.dtype}; "
        "use uint8 (0..255), float (0..1 or 0..255) or bool"
    )


class Media:
    """What `Image`, `Audio`, `Video`, `Html` and `Table` share: a payload encoded once,
    content-addressed by the BLAKE3 of its bytes, stored by `_store` and read back lazily by
    `_from_descriptor`.

    A value is immutable once made (a `Table` hands `log()` a snapshot of itself), so the
    media worker of a run can encode and store it on its own thread while the training goes
    on; the payload is encoded at most once, whichever thread asks first.
    """

    _type: ClassVar[str]

    _payload: bytes | None
    _address: str | None
    _sha: str | None
    _size: int | None
    _ext: str
    _fetch: Fetch | None
    _path: str | None
    _caption: str | None

    def _init_media(self, caption: object) -> None:
        self._payload = None
        self._address = None
        self._sha = None
        self._size = None
        self._fetch = None
        self._path = None
        self._caption = _check_caption(caption)

    def _encode(self) -> bytes:
        raise NotImplementedError

    def _drop_source(self) -> None:
        """Free what the payload was encoded from (the payload is usually far smaller)."""

    def _source_bytes(self) -> int:
        """About how many bytes this value holds until it is stored (what the media worker's
        queue counts against its budget)."""
        return len(self._payload) if self._payload is not None else 0

    def _queued(self) -> tuple[Media, int]:
        """What `log()` hands the media worker, on the logging thread: the value to store
        (this one, which nothing changes later; a `Table`, which `add_data` changes, gives a
        copy) and about how many bytes it holds until stored. Subclasses first import what
        encoding them needs: the worker never imports, because a `fork()` while another
        thread imports leaves that module locked for good in the child."""
        return self, self._source_bytes()

    def bytes(self) -> bytes:
        """The encoded payload (fetched on first use for a value read back from a run)."""
        payload = self._payload
        if payload is None:
            with _ENCODE_LOCKS[id(self) % len(_ENCODE_LOCKS)]:
                payload = self._payload
                if payload is None:
                    if self._fetch is not None and self._path is not None:
                        payload = self._fetch(self._path)
                    else:
                        payload = self._encode()
                        self._drop_source()
                    self._payload = payload
        return payload

    @property
    def address(self) -> str:
        """The content address of the encoded payload, `"blake3:<64 hex>"`: equal media have
        equal addresses."""
        address = self._address
        if address is None:
            payload = self.bytes()
            address = _content_address(payload)
            self._size = len(payload)
            self._address = address
        return address

    @property
    def sha256(self) -> str:
        """Hex sha256 of the encoded payload (media are named by `address` now; this stays
        for code written against older versions)."""
        if self._sha is None:
            self._sha = hashlib.sha256(self.bytes()).hexdigest()
        return self._sha

    @property
    def caption(self) -> str | None:
        return self._caption

    @property
    def path(self) -> str:
        """Where the payload lives, relative to the run's `files/` directory."""
        if self._path is not None:
            return self._path
        return self._stored_path()

    def _stored_path(self) -> str:
        """Where `_store` puts the payload: `media/<blake3 hex>.<ext>`."""
        return f"{MEDIA_DIR}/{self.address.partition(':')[2]}.{self._ext}"

    def _meta(self) -> dict[str, Any]:
        return {}

    def _store(self, files_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """Write the payload to `files_dir/media/<hex>.<ext>` and return the descriptor the run
        log keeps. Runs on the media worker's thread. The payload is hashed and written in
        one call outside the GIL (`_core.store_payload`: once, through a fsynced temporary
        file renamed into place); a value whose address is known and whose file exists is
        not encoded again."""
        files = os.fspath(files_dir)
        if self._address is None or not os.path.exists(os.path.join(files, self._stored_path())):
            payload = self.bytes()
            media = os.path.join(files, MEDIA_DIR)
            self._address, self._size = _core.store_payload(media, self._ext, payload)
        return self._descriptor()

    def _descriptor(self) -> dict[str, Any]:
        """The descriptor of the stored payload (nothing is written)."""
        address = self.address
        size = self._size if self._size is not None else len(self.bytes())
        desc: dict[str, Any] = {
            "_type": self._type,
            "path": self._stored_path(),
            "address": address,
            "size": size,
        }
        desc.update(self._meta())
        if self._caption is not None:
            desc["caption"] = self._caption
        return desc

    @classmethod
    def _from_descriptor(cls: type[_M], desc: dict[str, Any], fetch: Fetch) -> _M:
        """The value a descriptor describes; its payload is read with `fetch(desc["path"])`
        on first use. Descriptors of older logs carry `sha256` instead of `address`."""
        obj = cls.__new__(cls)
        obj._init_media(desc.get("caption"))
        obj._fetch = fetch
        obj._path = str(desc["path"])
        address = desc.get("address")
        obj._address = address if isinstance(address, str) else None
        sha = desc.get("sha256")
        obj._sha = str(sha) if sha is not None else None
        size = desc.get("size")
        if isinstance(size, int) and not isinstance(size, bool):
            obj._size = size
        ext = obj._path.rsplit("/", 1)[-1].split(".", 1)
        obj._ext = ext[1] if len(ext) == 2 else ""
        obj._load_meta(desc)
        return obj

    def _load_meta(self, desc: dict[str, Any]) -> None:
        pass

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Media):
            return NotImplemented
        return self._type == other._type and self.address == other.address

    def __hash__(self) -> int:
        return hash((self._type, self.address))

    def _repr_fields(self) -> str:
        return ""

    def __repr__(self) -> str:
        fields = self._repr_fields()
        cap = f", caption={self._caption!r}" if self._caption is not None else ""
        return f"{type(self).__name__}({fields}{cap}, address={self.address[:19]}...)"


# The module and class of each descriptor `_type`, imported when first met.
_KINDS = {
    "image": ("fwtrack.data_types.image", "Image"),
    "audio": ("fwtrack.data_types.audio", "Audio"),
    "video": ("fwtrack.data_types.video", "Video"),
    "html": ("fwtrack.data_types.html", "Html"),
    "table": ("fwtrack.data_types.table", "Table"),
    "object3d": ("fwtrack.data_types.object3d", "Object3D"),
    "custom-chart": ("fwtrack.plot.custom_chart", "CustomChart"),
    "mask": ("fwtrack.data_types.overlays", "ImageMask"),  # inside an image's descriptor
}


def from_descriptor(desc: dict[str, Any], fetch: Fetch) -> Any:
    """The object a media descriptor (run-log record kind 10) describes: an `Image`, `Audio`,
    `Video`, `Html`, `Table` or `Object3D`, or a list of them for a gallery. Payloads are
    read lazily with `fetch(path)`, `path` relative to the run's `files/` directory."""
    kind = desc.get("_type") if isinstance(desc, dict) else None
    if kind == "gallery":
        return [from_descriptor(item, fetch) for item in desc.get("items", [])]
    where = _KINDS.get(kind) if isinstance(kind, str) else None
    if where is None:
        raise ValueError(
            f"not a media descriptor: _type is {kind!r}; expected one of "
            "'image', 'audio', 'video', 'html', 'table', 'object3d', 'gallery'"
        )
    module, name = where
    cls: type[Media] = getattr(importlib.import_module(module), name)
    return cls._from_descriptor(desc, fetch)


def __getattr__(name: str) -> Any:
    # The media types lived in this module before each got its own; their old names still
    # import from here.
    moved = {kind_name: module for module, kind_name in _KINDS.values()}
    moved["PNG_COMPRESS_LEVEL"] = "fwtrack.data_types.image"
    if name in moved:
        return getattr(importlib.import_module(moved[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
