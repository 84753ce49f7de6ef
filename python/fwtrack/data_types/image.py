"""`fwtrack.Image`: an image, stored as PNG (or JPEG/BMP with `file_type=`, or as the PNG,
JPEG or GIF file it was read from), with W&B's overlays: boxes, masks and classes
(`overlays.py`)."""

from __future__ import annotations

import functools
import io
import os
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fwtrack.data_types.media import (
    MEDIA_DIR,
    Media,
    _as_array,
    _content_address,
    _is_path,
    _owned_copy,
    _read_path,
    _recycle,
    _to_uint8,
)
from fwtrack.data_types.overlays import BoundingBoxes2D, Classes, ImageMask, _class_set
from fwtrack.errors import FwTrackWarning

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image as PILImage

__all__ = ["PNG_COMPRESS_LEVEL", "Image"]

PNG_COMPRESS_LEVEL = 1
"""zlib level for PNG: about 1.6x faster than Pillow's default 6 for files ~10% larger on
natural images (docs/media.md has the measurements)."""

# BLAKE3 of an image's pixels -> (address, size) of its PNG, for the images stored most
# recently in this process: logging the same pixels again costs a hash, not an encoding.
# Media workers of several runs may share it, hence the lock.
_ENCODED: OrderedDict[tuple[Any, ...], tuple[str, int]] = OrderedDict()
_ENCODED_MAX = 4096
_ENCODED_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    # A worker thread of the parent may have held the lock at fork time.
    global _ENCODED_LOCK
    _ENCODED_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)

_png_encoder_loaded = False


def _load_png_encoder() -> None:
    """Import Pillow and its PNG encoder (the modules a first save imports) on this thread."""
    global _png_encoder_loaded
    if not _png_encoder_loaded:
        from PIL import Image as PILImage

        PILImage.new("L", (1, 1)).save(io.BytesIO(), format="PNG", compress_level=1)
        _png_encoder_loaded = True


_loaded_encoders: set[str] = set()


def _load_encoder(fmt: str) -> None:
    """Import Pillow's encoder for `fmt` (JPEG, BMP) on this thread (see `_queued`)."""
    if fmt not in _loaded_encoders:
        from PIL import Image as PILImage

        PILImage.new("RGB", (1, 1)).save(io.BytesIO(), format=fmt)
        _loaded_encoders.add(fmt)


def _read_stored(files_dir: str, path: str) -> bytes:
    with open(os.path.join(files_dir, path), "rb") as f:
        return f.read()


_IMAGE_MODES = ("L", "RGB", "RGBA")

FILE_TYPES = ("png", "jpg", "jpeg", "bmp")
"""What `file_type=` takes (as `wandb.Image`): the format pixels are encoded to."""

_PIL_FORMAT = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "bmp": "BMP"}
_MODE_BY_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}


def _sniff_image(payload: bytes) -> str | None:
    if payload.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if payload.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if payload.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


def _boxes(boxes: object) -> dict[str, BoundingBoxes2D]:
    if not isinstance(boxes, Mapping):
        raise TypeError(
            "Image boxes= must be a dict of group name to {'box_data': [...], "
            f"'class_labels': {{...}}}}, e.g. {{'predictions': {{...}}}}, got "
            f"{type(boxes).__name__}"
        )
    out: dict[str, BoundingBoxes2D] = {}
    for key, val in boxes.items():
        if not isinstance(key, str):
            raise TypeError(f"Image boxes= keys are group names (str), got {key!r}")
        out[key] = val if isinstance(val, BoundingBoxes2D) else BoundingBoxes2D(val, key)
    return out


def _masks(masks: object) -> dict[str, ImageMask]:
    if not isinstance(masks, Mapping):
        raise TypeError(
            "Image masks= must be a dict of group name to {'mask_data': array, "
            f"'class_labels': {{...}}}}, e.g. {{'ground_truth': {{...}}}}, got "
            f"{type(masks).__name__}"
        )
    out: dict[str, ImageMask] = {}
    for key, val in masks.items():
        if not isinstance(key, str):
            raise TypeError(f"Image masks= keys are group names (str), got {key!r}")
        out[key] = val if isinstance(val, ImageMask) else ImageMask(val, key)
    return out


_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "F")


def _plain_mode(im: PILImage.Image) -> str:
    """The mode among L, RGB, RGBA that represents `im` without loss of channels."""
    mode = im.mode
    if mode in _IMAGE_MODES:
        return mode
    if mode == "1" or mode in _WIDE_MODES:
        return "L"
    if mode in ("LA", "La", "PA", "RGBa"):
        return "RGBA"
    if mode == "P":
        return "RGBA" if "transparency" in im.info else "RGB"
    return "RGB"


def _wide_to_unit(im: PILImage.Image) -> npt.NDArray[Any]:
    """A 16/32-bit integer or float grayscale image as floats in [0, 1]: Pillow's conversion
    to L clips such values instead of scaling them. Integers are taken as 16-bit (0..65535),
    floats as already in [0, 1]."""
    import numpy as np

    wide = np.asarray(im)
    if wide.dtype.kind == "f":
        return wide
    return wide.astype(np.float64) / 65535.0


class Image(Media):
    """An image, stored as PNG (lossless: pixels read back identical).

    `data`:
    - a numpy array of shape (H, W), (H, W, C) or (C, H, W) with C in 1, 3, 4 ((C, H, W) when
      the last dimension is not 1, 3 or 4): uint8 as is, floats in [0, 1] scaled to 0..255
      (clipped, rounded), bools as 0/255, other integers when they lie in 0..255;
    - a torch tensor (same shapes, any device: copied to the host);
    - a `PIL.Image.Image`;
    - a path to an image file: PNG, JPEG and GIF files are kept byte for byte, other formats
      Pillow reads are converted to PNG.

    `mode` ("L", "RGB" or "RGBA") converts the pixels to that mode. One channel is stored as
    "L", three as "RGB", four as "RGBA".

    Floats follow W&B's rule: when no value exceeds 1 they are taken as 0..1 and scaled by
    255; otherwise as 0..255 (the fraction dropped, as `wandb.Image` does).

    As `wandb.Image`: `grouping` (an int kept in the descriptor), `classes` (a list of
    `{"id", "name"}` or a `Classes`), `boxes` (`{group: {"box_data": [...], "class_labels":
    {...}}}`), `masks` (`{group: {"mask_data": 2-D ids | "path": PNG, "class_labels":
    {...}}}`), `file_type` ("png", "jpg", "jpeg" or "bmp" for pixels; a file is kept as it
    is), and an `Image` as `data` (its pixels, without its boxes and masks).
    """

    _type = "image"

    _array: npt.NDArray[np.uint8] | None
    _pil: PILImage.Image | None
    format: str
    width: int
    height: int
    mode: str

    _boxes: dict[str, BoundingBoxes2D]
    _masks: dict[str, ImageMask]
    _classes: list[dict[str, Any]] | None
    _grouping: int | None

    def __init__(
        self,
        data: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Classes | list[dict[str, Any]] | None = None,
        boxes: Mapping[str, Any] | None = None,
        masks: Mapping[str, Any] | None = None,
        file_type: str | None = None,
    ) -> None:
        self._init_media(caption)
        if mode is not None and mode not in _IMAGE_MODES:
            hint = f"; to caption the image pass caption={mode!r}" if isinstance(mode, str) else ""
            raise ValueError(
                f"Image mode must be one of 'L', 'RGB', 'RGBA', got {mode!r}{hint} "
                "(the second argument is mode, as in wandb.Image)"
            )
        if file_type is not None and file_type not in FILE_TYPES:
            raise ValueError(
                f"Image file_type must be one of {', '.join(map(repr, FILE_TYPES))}, got "
                f"{file_type!r}"
            )
        if grouping is not None and (isinstance(grouping, bool) or not isinstance(grouping, int)):
            raise TypeError(f"Image grouping must be an int, got {grouping!r}")
        self._grouping = grouping
        self._classes = _class_set(classes, "Image classes=") if classes is not None else None
        self._boxes = _boxes(boxes) if boxes else {}
        self._masks = _masks(masks) if masks else {}
        self._array = None
        self._pil = None
        self.format = "png"
        self._ext = "png"
        if isinstance(data, Image):
            self._from_image(data)
            return
        if _is_path(data):
            self._from_file(_read_path("Image", data), os.fspath(data), mode)
            return
        if file_type is not None:
            self.format = "jpeg" if file_type == "jpg" else file_type
            self._ext = file_type
        # A media worker may be importing Pillow right now: its module can be half made.
        pil_image = getattr(sys.modules.get("PIL.Image"), "Image", None)
        if pil_image is not None and isinstance(data, pil_image):
            self._from_pil(data, mode)
        else:
            arr = _as_array(
                data,
                "Image takes a numpy array, a torch tensor, a PIL image, an Image or a file path",
            )
            self._from_array(arr, mode)
        if self.format in ("jpeg", "jpg", "bmp") and self.mode == "RGBA":
            warnings.warn(
                f"Image: {self.format.upper()} has no transparency; the alpha channel is "
                "dropped (use file_type='png' to keep it)",
                FwTrackWarning,
                stacklevel=2,
            )
            self._from_pil(self._to_pil_source(), "RGB")

    def _to_pil_source(self) -> PILImage.Image:
        if self._pil is not None:
            return self._pil
        return self._array_to_pil()

    def _from_image(self, other: Image) -> None:
        """The pixels (or file) of another Image, without its boxes and masks (as wandb)."""
        self.format, self._ext = other.format, other._ext
        self.mode, self.width, self.height = other.mode, other.width, other.height
        if self._caption is None:
            self._caption = other._caption
        if self._grouping is None:
            self._grouping = other._grouping
        if self._classes is None and other._classes is not None:
            self._classes = [dict(c) for c in other._classes]
        self._array, self._pil = other._array, other._pil
        self._payload, self._address, self._size = other._payload, other._address, other._size
        self._fetch, self._path = other._fetch, other._path
        if self._array is None and self._pil is None and self._payload is None and not self._fetch:
            self._payload = other.bytes()

    def _from_array(self, arr: npt.NDArray[Any], mode: str | None) -> None:
        import numpy as np

        shape = tuple(arr.shape)
        accepted = (
            "accepted shapes are (H, W), (H, W, C) and (C, H, W) with C in 1, 3, 4 "
            "(for a batch, log a list: [fwtrack.Image(x) for x in batch])"
        )
        if arr.ndim == 3:
            if shape[-1] in (1, 3, 4):
                pass
            elif shape[0] in (1, 3, 4):
                arr = np.moveaxis(arr, 0, -1)
            else:
                raise ValueError(
                    f"Image got an array of shape {shape}: no dimension of size 1, 3 or 4 "
                    f"holds the channels; {accepted}"
                )
            if arr.shape[-1] == 1:
                arr = arr[..., 0]
        elif arr.ndim != 2:
            raise ValueError(f"Image got a {arr.ndim}-D array of shape {shape}; {accepted}")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f"Image got an empty array of shape {shape}")
        pixels = _to_uint8(arr, "Image")
        # `_to_uint8` gives uint8 input back as it is (a view of the caller's array, maybe)
        # and anything else as a new array.
        if pixels is arr or not pixels.flags.c_contiguous:
            # Own the pixels: changing the caller's array later must not change this image.
            pixels = _owned_copy(pixels)
        self.height, self.width = int(pixels.shape[0]), int(pixels.shape[1])
        self.mode = "L" if pixels.ndim == 2 else _MODE_BY_CHANNELS[int(pixels.shape[2])]
        self._array = pixels
        if mode is not None and mode != self.mode:
            self._from_pil(self._array_to_pil(), mode)

    def _array_to_pil(self) -> PILImage.Image:
        from PIL import Image as PILImage

        assert self._array is not None
        return PILImage.fromarray(self._array)

    def _from_pil(self, im: PILImage.Image, mode: str | None) -> None:
        target = mode or _plain_mode(im)
        if im.mode in _WIDE_MODES and target == "L":
            self._from_array(_wide_to_unit(im), None)
            return
        # convert() returns a copy either way, so later edits to `im` do not change this image.
        out = im.convert(target) if im.mode != target else im.copy()
        self._array = None
        self._pil = out
        self.mode = target
        self.width, self.height = out.size

    def _from_file(self, payload: bytes, path: str, mode: str | None) -> None:
        from PIL import Image as PILImage
        from PIL import UnidentifiedImageError

        try:
            im = PILImage.open(io.BytesIO(payload))
        except UnidentifiedImageError:
            raise ValueError(
                f"Image: {path!r} is not an image file Pillow can read "
                "(PNG, JPEG and GIF are stored as they are, other formats as PNG)"
            ) from None
        fmt = _sniff_image(payload)
        if fmt is None or (mode is not None and mode != _plain_mode(im)):
            im.load()
            self._from_pil(im, mode)
            return
        self.format = fmt
        self._ext = "jpg" if fmt == "jpeg" else fmt
        self._payload = payload
        self.mode = _plain_mode(im)
        self.width, self.height = im.size

    def _store(self, files_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """As `Media._store`; pixels already stored in this process (the same array logged
        again) skip the PNG encoding: a BLAKE3 of the pixels maps to the payload's address."""
        for mask in self._masks.values():
            mask._store(files_dir)
        pixels = self._array
        if self._payload is not None or self._address is not None or pixels is None:
            return super()._store(files_dir)
        # C-contiguous: the array owns its pixels.
        key = (pixels.shape, pixels.dtype.str, self.mode, self._ext, _content_address(pixels))
        del pixels  # encoding frees (recycles) the pixels: no reference may stay here
        with _ENCODED_LOCK:
            seen = _ENCODED.get(key)
            if seen is not None:
                _ENCODED.move_to_end(key)
        if seen is not None:
            address, size = seen
            name = f"{address.partition(':')[2]}.{self._ext}"
            if os.path.exists(os.path.join(os.fspath(files_dir), MEDIA_DIR, name)):
                self._address, self._size = address, size
                # The payload is that file: read it from there if ever needed, and let the
                # pixels go (for the next image of this shape).
                self._path = self._stored_path()
                self._fetch = functools.partial(_read_stored, os.fspath(files_dir))
                self._drop_source()
                return self._descriptor()
        desc = super()._store(files_dir)
        with _ENCODED_LOCK:
            _ENCODED[key] = (self.address, int(desc["size"]))
            if len(_ENCODED) > _ENCODED_MAX:
                _ENCODED.popitem(last=False)
        return desc

    def _queued(self) -> tuple[Media, int]:
        masks = sum(m._source_bytes() for m in self._masks.values())
        if masks and not _png_encoder_loaded:
            _load_png_encoder()
        if self._payload is None:
            if not _png_encoder_loaded:
                _load_png_encoder()
            if self._ext != "png":
                _load_encoder(_PIL_FORMAT[self._ext])
            pixels = self._array
            if pixels is not None:
                return self, pixels.nbytes + masks
        return self, self._source_bytes() + masks

    def _source_bytes(self) -> int:
        if self._payload is not None:
            return len(self._payload)
        if self._array is not None:
            return int(self._array.nbytes)
        if self._pil is not None:
            return self.width * self.height * len(self.mode)
        return 0

    def _encode(self) -> bytes:
        im = self._pil if self._pil is not None else self._array_to_pil()
        buf = io.BytesIO()
        fmt = _PIL_FORMAT.get(self._ext, "PNG")
        if fmt == "PNG":
            im.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        else:
            im.save(buf, format=fmt)
        return buf.getvalue()

    def _drop_source(self) -> None:
        pixels, self._array, self._pil = self._array, None, None
        _recycle(pixels)

    def _meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "mode": self.mode,
        }
        if self._grouping is not None:
            meta["grouping"] = self._grouping
        classes = self._all_classes()
        if classes:
            meta["classes"] = classes
        if self._boxes:
            meta["boxes"] = {k: b._json() for k, b in self._boxes.items()}
        if self._masks:
            meta["masks"] = {k: m._descriptor() for k, m in self._masks.items()}
        return meta

    def _all_classes(self) -> list[dict[str, Any]]:
        """`classes=` merged with the class labels of every box and mask group (as wandb's
        image-level class list): one entry per id, `classes=` names first."""
        out: dict[str, dict[str, Any]] = {}
        for c in self._classes or []:
            out.setdefault(str(c["id"]), c)
        groups: list[dict[str, str]] = [b._class_labels for b in self._boxes.values()]
        groups += [m._class_labels for m in self._masks.values()]
        for labels in groups:
            for cid, name in labels.items():
                out.setdefault(cid, {"id": int(cid), "name": name})
        return list(out.values())

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._array = None
        self._pil = None
        self.format = str(desc.get("format", "png"))
        self.width = int(desc.get("width", 0))
        self.height = int(desc.get("height", 0))
        self.mode = str(desc.get("mode", "RGB"))
        grouping = desc.get("grouping")
        self._grouping = grouping if isinstance(grouping, int) else None
        classes = desc.get("classes")
        self._classes = [dict(c) for c in classes] if isinstance(classes, list) else None
        boxes = desc.get("boxes")
        self._boxes = (
            {str(k): BoundingBoxes2D._from_json(v, str(k)) for k, v in boxes.items()}
            if isinstance(boxes, dict)
            else {}
        )
        masks = desc.get("masks")
        self._masks = {}
        if isinstance(masks, dict) and self._fetch is not None:
            for k, v in masks.items():
                # a table's cells come with their masks already made (its JSON object hook)
                mask = v if isinstance(v, ImageMask) else ImageMask._from_descriptor(v, self._fetch)
                mask._key = str(k)
                self._masks[str(k)] = mask

    @property
    def boxes(self) -> dict[str, BoundingBoxes2D]:
        """The box groups drawn over the image, by name."""
        return dict(self._boxes)

    @property
    def masks(self) -> dict[str, ImageMask]:
        """The mask groups drawn over the image, by name (`.to_numpy()` gives the ids)."""
        return dict(self._masks)

    @property
    def classes(self) -> list[dict[str, Any]] | None:
        """`{"id", "name"}` of every class of the image (`classes=` and the class labels of
        its boxes and masks), or None without any."""
        return self._all_classes() or None

    @property
    def grouping(self) -> int | None:
        return self._grouping

    def to_pil(self) -> PILImage.Image:
        """The image as a `PIL.Image.Image` in mode L, RGB or RGBA (the first frame of a GIF)."""
        from PIL import Image as PILImage

        im = PILImage.open(io.BytesIO(self.bytes()))
        im.load()
        if im.mode == self.mode:
            return im
        if im.mode in _WIDE_MODES and self.mode == "L":
            return PILImage.fromarray(_to_uint8(_wide_to_unit(im), "Image"))
        return im.convert(self.mode)

    def to_numpy(self) -> npt.NDArray[np.uint8]:
        """The pixels as uint8: (H, W) for mode L, (H, W, 3) or (H, W, 4) otherwise."""
        import numpy as np

        pixels: npt.NDArray[np.uint8] = np.asarray(self.to_pil(), dtype=np.uint8)
        return pixels

    def _repr_fields(self) -> str:
        return f"{self.width}x{self.height} {self.mode} {self.format}"
