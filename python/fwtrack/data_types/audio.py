"""`fwtrack.Audio`: a sound clip, stored as 16-bit PCM WAV."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Any

from fwtrack.data_types.media import Media, _as_array, _is_path, _read_path

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["Audio"]


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
        arr = _as_array(data, "Audio takes a numpy array, a torch tensor or a WAV file path")
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

    def _queued(self) -> tuple[Media, int]:
        import wave  # noqa: F401  (the encoder, imported here rather than by the worker)

        return super()._queued()

    def _source_bytes(self) -> int:
        if self._samples is not None:
            return int(self._samples.nbytes)
        return super()._source_bytes()

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
