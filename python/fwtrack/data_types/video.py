"""`fwtrack.Video`: frames stored as GIF (Pillow) or MP4 (H.264 through PyAV, the optional
extra `pip install 'fwtrack[media]'`)."""

from __future__ import annotations

import io
import os
import tempfile
from typing import TYPE_CHECKING, Any

from fwtrack.data_types.media import (
    Media,
    _as_array,
    _is_path,
    _owned_copy,
    _read_path,
    _recycle,
    _to_uint8,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Video"]


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
        arr = _as_array(data, "Video takes a numpy array, a torch tensor or an MP4/GIF file path")
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
            frames = _owned_copy(frames)
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
        frames, self._frames = self._frames, None
        _recycle(frames)

    def _queued(self) -> tuple[Media, int]:
        if self._payload is None and self.format == "gif":
            from PIL import Image as PILImage

            frame = PILImage.new("RGB", (1, 1))
            frame.save(io.BytesIO(), format="GIF", save_all=True, append_images=[frame])
        return super()._queued()

    def _source_bytes(self) -> int:
        if self._frames is not None:
            return int(self._frames.nbytes)
        return super()._source_bytes()

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
            # One encoder thread and bit-exact muxing: the same frames give the same bytes, so
            # the same content address, on any machine (frame threading and the muxer's
            # version string otherwise vary with the core count and the library build).
            options = {"movflags": "faststart", "fflags": "+bitexact"}
            with av.open(out, mode="w", options=options) as container:
                stream = container.add_stream("libx264", rate=rate)
                stream.width, stream.height = int(frames.shape[2]), int(frames.shape[1])
                stream.pix_fmt = "yuv420p"
                stream.options = {
                    "crf": "20",
                    "preset": "veryfast",
                    "threads": "1",
                    "flags": "+bitexact",
                }
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
