"""Media to log: `Image`, `Audio`, `Video` and `Html` (and `Table` cells of those kinds).

Every payload is encoded once (PNG, 16-bit PCM WAV, GIF or MP4, UTF-8 HTML), named by the
sha256 of its bytes and stored at `<run dir>/files/media/<sha256>.<ext>`, so identical payloads
are stored once per run. The run log keeps a small descriptor per logged value (record kind 10
`Media`; see docs/media.md and docs/format.md).

numpy, Pillow and PyAV are imported on first use, never by `import fwtrack`. MP4 needs PyAV,
the optional extra `pip install 'fwtrack[media]'`.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from fwtrack.run_files import write_atomic

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image as PILImage

__all__ = [
    "PNG_COMPRESS_LEVEL",
    "Audio",
    "Html",
    "Image",
    "Media",
    "Video",
    "from_descriptor",
]

Fetch = Callable[[str], bytes]
"""Reads a stored file given its path relative to the run's `files/` directory."""

PNG_COMPRESS_LEVEL = 1
"""zlib level for PNG: about 1.6x faster than Pillow's default 6 for files ~10% larger on
natural images (docs/media.md has the measurements)."""

MEDIA_DIR = "media"

# Digest of an image's pixels -> (sha256, size) of its PNG, for the images stored most
# recently in this process: logging the same pixels again costs a hash, not an encoding.
_ENCODED: OrderedDict[bytes, tuple[str, int]] = OrderedDict()
_ENCODED_MAX = 4096

_M = TypeVar("_M", bound="Media")

_IMAGE_MODES = ("L", "RGB", "RGBA")
_MODE_BY_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def write_once(files_dir: str | os.PathLike[str], rel_path: str, payload: bytes) -> None:
    """Write `payload` to `files_dir/rel_path` unless that file exists: through a temporary
    file in the same directory and `os.replace`, so a reader never sees a partial file."""
    path = os.path.join(os.fspath(files_dir), rel_path)
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(Path(path), payload)


def _is_tensor(value: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _tensor_to_numpy(t: Any) -> npt.NDArray[Any]:
    import torch

    t = t.detach().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return t.numpy()  # type: ignore[no-any-return]


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
    """uint8 as is; bool as 0/255; floats in [0, 1] scaled to 0..255 (clipped, rounded, NaN as
    0); other integers as they are when they all lie in 0..255."""
    import numpy as np

    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        return arr
    out: npt.NDArray[np.uint8]
    if kind == "b":
        out = arr.astype(np.uint8) * np.uint8(255)
        return out
    if kind == "f":
        scaled = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0) * 255.0
        out = np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)
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
        "use uint8 (0..255), float (0..1) or bool"
    )


def _sniff_image(payload: bytes) -> str | None:
    if payload.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if payload.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if payload.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


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


class Media:
    """What `Image`, `Audio`, `Video` and `Html` share: a payload encoded once, content-addressed
    by its sha256, stored by `_store` and read back lazily by `_from_descriptor`."""

    _type: ClassVar[str]

    _payload: bytes | None
    _sha: str | None
    _ext: str
    _fetch: Fetch | None
    _path: str | None
    _caption: str | None

    def _init_media(self, caption: object) -> None:
        self._payload = None
        self._sha = None
        self._size: int | None = None
        self._fetch = None
        self._path = None
        self._caption = _check_caption(caption)

    def _encode(self) -> bytes:
        raise NotImplementedError

    def _drop_source(self) -> None:
        """Free what the payload was encoded from (the payload is usually far smaller)."""

    def bytes(self) -> bytes:
        """The encoded payload (fetched on first use for a value read back from a run)."""
        if self._payload is None:
            if self._fetch is not None and self._path is not None:
                self._payload = self._fetch(self._path)
            else:
                self._payload = self._encode()
                self._drop_source()
        return self._payload

    @property
    def sha256(self) -> str:
        """Hex sha256 of the encoded payload; equal media have equal digests."""
        if self._sha is None:
            self._sha = _sha256(self.bytes())
        return self._sha

    @property
    def caption(self) -> str | None:
        return self._caption

    @property
    def path(self) -> str:
        """Where the payload lives, relative to the run's `files/` directory."""
        return f"{MEDIA_DIR}/{self.sha256}.{self._ext}"

    def _meta(self) -> dict[str, Any]:
        return {}

    def _store(self, files_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """Write the payload to `files_dir/media/<sha256>.<ext>` (once) and return the
        descriptor the run log keeps."""
        write_once(files_dir, self.path, self.bytes())
        return self._descriptor()

    def _descriptor(self) -> dict[str, Any]:
        """The descriptor of the stored payload (nothing is written)."""
        size = self._size if self._size is not None else len(self.bytes())
        desc: dict[str, Any] = {
            "_type": self._type,
            "path": self.path,
            "sha256": self.sha256,
            "size": size,
        }
        desc.update(self._meta())
        if self._caption is not None:
            desc["caption"] = self._caption
        return desc

    @classmethod
    def _from_descriptor(cls: type[_M], desc: dict[str, Any], fetch: Fetch) -> _M:
        """The value a descriptor describes; its payload is read with `fetch(desc["path"])`
        on first use."""
        obj = cls.__new__(cls)
        obj._init_media(desc.get("caption"))
        obj._fetch = fetch
        obj._path = str(desc["path"])
        sha = desc.get("sha256")
        obj._sha = str(sha) if sha is not None else None
        ext = obj._path.rsplit("/", 1)[-1].split(".", 1)
        obj._ext = ext[1] if len(ext) == 2 else ""
        obj._load_meta(desc)
        return obj

    def _load_meta(self, desc: dict[str, Any]) -> None:
        pass

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Media):
            return NotImplemented
        return self._type == other._type and self.sha256 == other.sha256

    def __hash__(self) -> int:
        return hash((self._type, self.sha256))

    def _repr_fields(self) -> str:
        return ""

    def __repr__(self) -> str:
        fields = self._repr_fields()
        cap = f", caption={self._caption!r}" if self._caption is not None else ""
        return f"{type(self).__name__}({fields}{cap}, sha256={self.sha256[:12]}...)"


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
    """

    _type = "image"

    _array: npt.NDArray[np.uint8] | None
    _pil: PILImage.Image | None
    format: str
    width: int
    height: int
    mode: str

    def __init__(self, data: Any, caption: str | None = None, mode: str | None = None) -> None:
        self._init_media(caption)
        if mode is not None and mode not in _IMAGE_MODES:
            raise ValueError(f"Image mode must be one of 'L', 'RGB', 'RGBA', got {mode!r}")
        self._array = None
        self._pil = None
        self.format = "png"
        self._ext = "png"
        if _is_path(data):
            self._from_file(_read_path("Image", data), os.fspath(data), mode)
            return
        pil_mod = sys.modules.get("PIL.Image")
        if pil_mod is not None and isinstance(data, pil_mod.Image):
            self._from_pil(data, mode)
            return
        if _is_tensor(data):
            arr = _tensor_to_numpy(data)
        else:
            import numpy as np

            if not isinstance(data, np.ndarray):
                raise TypeError(
                    f"Image takes a numpy array, a torch tensor, a PIL image or a file path, "
                    f"got {type(data).__name__}"
                )
            arr = data
        self._from_array(arr, mode)

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
        if np.may_share_memory(pixels, arr) or not pixels.flags.c_contiguous:
            # Own the pixels: changing the caller's array later must not change this image.
            pixels = np.array(pixels, order="C", copy=True)
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
        again) skip the PNG encoding: their digest maps to the payload's sha256."""
        if self._payload is not None or self._array is None:
            return super()._store(files_dir)
        pixels = self._array
        h = hashlib.sha256(f"{pixels.shape}{pixels.dtype}{self.mode}".encode())
        h.update(pixels.data)  # C-contiguous: the array owns its pixels
        key = h.digest()
        seen = _ENCODED.get(key)
        if seen is not None:
            sha, size = seen
            if os.path.exists(os.path.join(os.fspath(files_dir), MEDIA_DIR, f"{sha}.png")):
                _ENCODED.move_to_end(key)
                self._sha, self._size = sha, size
                return self._descriptor()
        desc = super()._store(files_dir)
        _ENCODED[key] = (self.sha256, int(desc["size"]))
        if len(_ENCODED) > _ENCODED_MAX:
            _ENCODED.popitem(last=False)
        return desc

    def _encode(self) -> bytes:
        im = self._pil if self._pil is not None else self._array_to_pil()
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        return buf.getvalue()

    def _drop_source(self) -> None:
        self._array = None
        self._pil = None

    def _meta(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "mode": self.mode,
        }

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._array = None
        self._pil = None
        self.format = str(desc.get("format", "png"))
        self.width = int(desc.get("width", 0))
        self.height = int(desc.get("height", 0))
        self.mode = str(desc.get("mode", "RGB"))

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


class Audio(Media):
    """A sound clip, stored as 16-bit PCM WAV.

    `data`: a numpy array (or torch tensor) of shape (samples,) or (samples, channels), floats
    in [-1, 1] (clipped; NaN as 0) or int16 samples as they are, with `sample_rate` in Hz; or a
    path to a WAV file (kept byte for byte; its sample rate is read from the file).
    """

    _type = "audio"

    _samples: npt.NDArray[np.int16] | None
    format: str
    sample_rate: int
    channels: int
    duration: float

    def __init__(
        self, data: Any, sample_rate: int | None = None, caption: str | None = None
    ) -> None:
        self._init_media(caption)
        self._samples = None
        self.format = "wav"
        self._ext = "wav"
        if sample_rate is not None and (
            isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0
        ):
            raise ValueError(f"sample_rate must be a positive int (Hz), got {sample_rate!r}")
        if _is_path(data):
            self._from_file(_read_path("Audio", data), os.fspath(data), sample_rate)
            return
        if _is_tensor(data):
            arr = _tensor_to_numpy(data)
        else:
            import numpy as np

            if not isinstance(data, np.ndarray):
                raise TypeError(
                    f"Audio takes a numpy array, a torch tensor or a WAV file path, "
                    f"got {type(data).__name__}"
                )
            arr = data
        if sample_rate is None:
            raise ValueError(
                "Audio from an array needs sample_rate= (samples per second), "
                "e.g. fwtrack.Audio(wave, sample_rate=16000)"
            )
        self._from_array(arr, sample_rate)

    def _from_array(self, arr: npt.NDArray[Any], sample_rate: int) -> None:
        import numpy as np

        if arr.ndim not in (1, 2):
            raise ValueError(
                f"Audio got a {arr.ndim}-D array of shape {tuple(arr.shape)}; "
                "accepted shapes are (samples,) and (samples, channels)"
            )
        if arr.ndim == 2 and arr.shape[1] > 64:
            raise ValueError(
                f"Audio got an array of shape {tuple(arr.shape)}: {arr.shape[1]} channels; "
                "the shape is (samples, channels): pass data.T if it is (channels, samples)"
            )
        if arr.ndim == 2 and arr.shape[1] == 0:
            raise ValueError(f"Audio got an array of shape {tuple(arr.shape)}: no channel")
        kind = arr.dtype.kind
        if arr.dtype == np.int16:
            samples = arr
        elif kind == "f":
            clean = np.nan_to_num(arr.astype(np.float64, copy=False), nan=0.0)
            samples = np.rint(np.clip(clean, -1.0, 1.0) * 32767.0).astype(np.int16)
        else:
            raise TypeError(
                f"Audio cannot take samples of dtype {arr.dtype}: use floats in [-1, 1] or "
                "int16 (e.g. (x / 2**31).astype(np.float32) for int32 samples)"
            )
        self._samples = np.array(samples, dtype="<i2", order="C", copy=True)
        self.sample_rate = sample_rate
        self.channels = 1 if arr.ndim == 1 else int(arr.shape[1])
        self.duration = len(self._samples) / sample_rate

    def _from_file(self, payload: bytes, path: str, sample_rate: int | None) -> None:
        import wave

        try:
            with wave.open(io.BytesIO(payload)) as w:
                rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
        except (wave.Error, EOFError) as e:
            raise ValueError(
                f"Audio: {path!r} is not a PCM WAV file ({e}); convert it to WAV, or load the "
                "samples and pass fwtrack.Audio(samples, sample_rate=...)"
            ) from None
        if sample_rate is not None and sample_rate != rate:
            raise ValueError(
                f"Audio: sample_rate={sample_rate} but {path!r} is sampled at {rate} Hz; "
                "leave sample_rate out for files"
            )
        self._payload = payload
        self.sample_rate = rate
        self.channels = channels
        self.duration = frames / rate if rate else 0.0

    def _encode(self) -> bytes:
        import wave

        assert self._samples is not None
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(self.channels)
            w.setsampwidth(2)
            w.setframerate(self.sample_rate)
            w.writeframes(self._samples.tobytes())
        return buf.getvalue()

    def _drop_source(self) -> None:
        self._samples = None

    def _meta(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "duration": self.duration,
        }

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._samples = None
        self.format = str(desc.get("format", "wav"))
        self.sample_rate = int(desc.get("sample_rate", 0))
        self.channels = int(desc.get("channels", 1))
        self.duration = float(desc.get("duration", 0.0))

    def to_numpy(self) -> tuple[npt.NDArray[np.int16], int]:
        """(samples, sample_rate): int16 samples of shape (samples,) for one channel, else
        (samples, channels)."""
        import wave

        import numpy as np

        with wave.open(io.BytesIO(self.bytes())) as w:
            if w.getsampwidth() != 2:
                raise ValueError(
                    f"Audio.to_numpy reads 16-bit WAV; this file has {8 * w.getsampwidth()}-bit "
                    "samples: read .bytes() with a sound library"
                )
            channels, rate = w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
        if channels > 1:
            samples = samples.reshape(-1, channels)
        return samples, rate

    def _repr_fields(self) -> str:
        return f"{self.duration:.3g} s, {self.sample_rate} Hz, {self.channels} ch"


def _require_av() -> Any:
    try:
        import av
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "MP4 video needs PyAV: pip install 'fwtrack[media]' (or log format='gif')"
        ) from None
    return av


class Video(Media):
    """A video, stored as GIF (Pillow) or MP4 (H.264 through PyAV, `pip install
    'fwtrack[media]'`).

    `data`: a numpy array or torch tensor of shape (T, C, H, W) with C in 1, 3, 4 (or (T, H, W,
    C) when the second dimension is not 1, 3 or 4), uint8 or floats in [0, 1]; or a path to an
    MP4 or GIF file (kept byte for byte; its own format and rate are used). `fps`: frames per
    second. `format`: "gif" or "mp4".
    GIF keeps up to 256 colours per frame; MP4 is lossy but far smaller for long clips. MP4
    frames of odd width or height are padded by one edge pixel (`to_numpy` crops them back).
    """

    _type = "video"

    _frames: npt.NDArray[np.uint8] | None
    format: str
    fps: float
    width: int
    height: int
    frames: int | None

    def __init__(
        self,
        data: Any,
        fps: float = 4,
        format: str = "gif",
        caption: str | None = None,
    ) -> None:
        self._init_media(caption)
        self._frames = None
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps < 1000:
            raise ValueError(f"fps must be a number in (0, 1000), got {fps!r}")
        if _is_path(data):
            self._from_file(_read_path("Video", data), os.fspath(data))
            return
        if format not in ("gif", "mp4"):
            raise ValueError(f"Video format must be 'gif' or 'mp4', got {format!r}")
        if format == "mp4":
            _require_av()
        self.format = format
        self._ext = format
        self.fps = float(fps)
        if _is_tensor(data):
            arr = _tensor_to_numpy(data)
        else:
            import numpy as np

            if not isinstance(data, np.ndarray):
                raise TypeError(
                    f"Video takes a numpy array, a torch tensor or an MP4/GIF file path, "
                    f"got {type(data).__name__}"
                )
            arr = data
        self._from_array(arr)

    def _from_array(self, arr: npt.NDArray[Any]) -> None:
        import numpy as np

        shape = tuple(arr.shape)
        accepted = "accepted shapes are (T, C, H, W) and (T, H, W, C) with C in 1, 3, 4"
        if arr.ndim != 4:
            hint = " (for a batch, log a list of Videos)" if arr.ndim == 5 else ""
            raise ValueError(f"Video got a {arr.ndim}-D array of shape {shape}; {accepted}{hint}")
        if shape[1] in (1, 3, 4):
            arr = np.moveaxis(arr, 1, -1)
        elif shape[-1] not in (1, 3, 4):
            raise ValueError(
                f"Video got an array of shape {shape}: no dimension of size 1, 3 or 4 holds "
                f"the channels; {accepted}"
            )
        if 0 in arr.shape:
            raise ValueError(f"Video got an empty array of shape {shape}")
        frames = _to_uint8(arr, "Video")
        if frames.shape[-1] == 1:
            frames = np.repeat(frames, 3, axis=-1)
        elif frames.shape[-1] == 4:
            frames = frames[..., :3]
        if np.may_share_memory(frames, arr) or not frames.flags.c_contiguous:
            # Own the frames: changing the caller's array later must not change this video.
            frames = np.array(frames, order="C", copy=True)
        self._frames = frames
        self.frames = int(frames.shape[0])
        self.height, self.width = int(frames.shape[1]), int(frames.shape[2])

    def _from_file(self, payload: bytes, path: str) -> None:
        if payload.startswith((b"GIF87a", b"GIF89a")):
            from PIL import Image as PILImage

            im = PILImage.open(io.BytesIO(payload))
            self.format = "gif"
            self.width, self.height = im.size
            self.frames = int(getattr(im, "n_frames", 1))
            duration = float(im.info.get("duration") or 100)
            self.fps = 1000.0 / duration
        elif payload[4:8] == b"ftyp":
            av = _require_av()
            with av.open(io.BytesIO(payload)) as container:
                stream = container.streams.video[0]
                self.width = int(stream.codec_context.width)
                self.height = int(stream.codec_context.height)
                rate = stream.average_rate or stream.guessed_rate
                self.fps = float(rate) if rate else 0.0
                self.frames = int(stream.frames) or None
            self.format = "mp4"
        else:
            raise ValueError(
                f"Video: {path!r} is neither an MP4 nor a GIF file; convert it to MP4, or "
                "load its frames and pass them as an array"
            )
        self._ext = self.format
        self._payload = payload

    def _encode(self) -> bytes:
        assert self._frames is not None
        if self.format == "gif":
            return self._encode_gif(self._frames)
        return self._encode_mp4(self._frames)

    def _drop_source(self) -> None:
        self._frames = None

    def _encode_gif(self, frames: npt.NDArray[np.uint8]) -> bytes:
        from PIL import Image as PILImage

        images = [PILImage.fromarray(f) for f in frames]
        buf = io.BytesIO()
        images[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=1000.0 / self.fps,
            loop=0,
        )
        return buf.getvalue()

    def _encode_mp4(self, frames: npt.NDArray[np.uint8]) -> bytes:
        from fractions import Fraction

        import numpy as np

        av = _require_av()
        # yuv420p needs even dimensions: repeat the last row / column when odd.
        pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
        if pad_h or pad_w:
            frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        rate = Fraction(self.fps).limit_denominator(1001)
        # `faststart` (the index before the data, so browsers start playing at once) rewrites
        # the file at the end, which needs a real file rather than a memory buffer.
        with tempfile.TemporaryDirectory(prefix="fwtrack-video-") as tmp:
            out = os.path.join(tmp, "video.mp4")
            with av.open(out, mode="w", options={"movflags": "faststart"}) as container:
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": "20", "preset": "veryfast"}
                for f in frames:
                    frame = av.VideoFrame.from_ndarray(f, format="rgb24")
                    container.mux(stream.encode(frame))
                container.mux(stream.encode())
            with open(out, "rb") as fh:
                return fh.read()

    def _meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "format": self.format,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
        }
        if self.frames is not None:
            meta["frames"] = self.frames
        return meta

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._frames = None
        self.format = str(desc.get("format", self._ext or "mp4"))
        self.fps = float(desc.get("fps", 4))
        self.width = int(desc.get("width", 0))
        self.height = int(desc.get("height", 0))
        frames = desc.get("frames")
        self.frames = int(frames) if frames is not None else None

    def to_numpy(self) -> npt.NDArray[np.uint8]:
        """The frames as stored (MP4 is lossy), decoded to uint8 of shape (T, H, W, 3).

        GIF frames that repeat the one before are stored once with a longer duration; they
        are repeated again here, so T matches the frames logged.
        """
        if self.format == "gif":
            return self._decode_gif()
        return self._decode_mp4()

    def _decode_gif(self) -> npt.NDArray[np.uint8]:
        import numpy as np
        from PIL import Image as PILImage
        from PIL import ImageSequence

        out: list[npt.NDArray[np.uint8]] = []
        frame_ms = 1000.0 / self.fps if self.fps > 0 else 100.0
        elapsed = 0.0
        with PILImage.open(io.BytesIO(self.bytes())) as im:
            for frame in ImageSequence.Iterator(im):
                pixels = np.asarray(frame.convert("RGB"), dtype=np.uint8)
                elapsed += float(frame.info.get("duration") or frame_ms)
                # Emit the frame until the frames so far cover the time elapsed (durations are
                # stored in 10 ms units, hence the rounding).
                target = max(len(out) + 1, round(elapsed / frame_ms))
                out.extend([pixels] * (target - len(out)))
        return np.stack(out)

    def _decode_mp4(self) -> npt.NDArray[np.uint8]:
        import numpy as np

        av = _require_av()
        out = []
        with av.open(io.BytesIO(self.bytes())) as container:
            for frame in container.decode(video=0):
                out.append(frame.to_ndarray(format="rgb24"))
        frames = np.stack(out)
        if self.width and self.height:
            frames = frames[:, : self.height, : self.width]
        return np.ascontiguousarray(frames)

    def _repr_fields(self) -> str:
        n = f"{self.frames} frames, " if self.frames is not None else ""
        return f"{self.width}x{self.height} {n}{self.fps:g} fps {self.format}"


_HTML_HEAD = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    "<style>body{font-family:system-ui,sans-serif;margin:8px}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>"
    "</head><body>\n"
)


class Html(Media):
    """An HTML document or fragment, shown in a sandboxed frame of the dashboard.

    `data`: the HTML text (str), a path (`os.PathLike`, or a str naming an existing `.html` /
    `.htm` file) or a text file object. `inject=True` wraps a fragment (text without an
    `<html>` tag) in a minimal UTF-8 document with a plain default style.
    """

    _type = "html"

    _text: str | None

    def __init__(self, data: Any, inject: bool = True) -> None:
        self._init_media(None)
        self._ext = "html"
        if hasattr(data, "read"):
            text = data.read()
        elif isinstance(data, os.PathLike) or (
            isinstance(data, str)
            and data.lower().endswith((".html", ".htm"))
            and "<" not in data
            and os.path.isfile(data)
        ):
            text = _read_path("Html", data).decode("utf-8")
        else:
            text = data
        if not isinstance(text, str):
            raise TypeError(
                f"Html takes HTML text (str), a path or a text file, got {type(text).__name__}"
            )
        if inject and "<html" not in text.lower():
            text = f"{_HTML_HEAD}{text}\n</body></html>\n"
        self._text = text

    def _encode(self) -> bytes:
        assert self._text is not None
        return self._text.encode("utf-8")

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._text = None

    @property
    def html(self) -> str:
        """The stored HTML text."""
        if self._text is None:
            self._text = self.bytes().decode("utf-8")
        return self._text

    def _repr_fields(self) -> str:
        return f"{len(self.bytes())} bytes"


_CLASSES: dict[str, type[Media]] = {
    "image": Image,
    "audio": Audio,
    "video": Video,
    "html": Html,
}


def from_descriptor(desc: dict[str, Any], fetch: Fetch) -> Any:
    """The object a media descriptor (run-log record kind 10) describes: an `Image`, `Audio`,
    `Video`, `Html` or `Table`, or a list of them for a gallery. Payloads are read lazily with
    `fetch(path)`, `path` relative to the run's `files/` directory."""
    kind = desc.get("_type") if isinstance(desc, dict) else None
    if kind == "gallery":
        return [from_descriptor(item, fetch) for item in desc.get("items", [])]
    if kind == "table":
        from fwtrack.data_types.table import Table

        return Table._from_descriptor(desc, fetch)
    cls = _CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(
            f"not a media descriptor: _type is {kind!r}; expected one of "
            "'image', 'audio', 'video', 'html', 'table', 'gallery'"
        )
    return cls._from_descriptor(desc, fetch)
