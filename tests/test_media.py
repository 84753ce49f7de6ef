"""`fwtrack.Image`, `Audio`, `Video` and `Html`: encode, store content-addressed, read back."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

import fwtrack
from conftest import fetcher
from fwtrack import _core
from fwtrack.data_types import Media, from_descriptor

if TYPE_CHECKING:
    from conftest import ScriptRunner


def round_trip(obj: Media, files_dir: Path) -> tuple[dict[str, Any], Any]:
    desc = obj._store(files_dir)
    # The descriptor goes into the run log as MessagePack: it must be JSON-compatible.
    desc = json.loads(json.dumps(desc))
    return desc, from_descriptor(desc, fetcher(files_dir))


def check_stored(desc: dict[str, Any], files_dir: Path, ext: str) -> bytes:
    payload: bytes = (files_dir / desc["path"]).read_bytes()
    address = _core.hash_bytes(payload)
    assert address.startswith("blake3:")
    assert desc["path"] == f"media/{address.removeprefix('blake3:')}.{ext}"
    assert desc["address"] == address
    assert "sha256" not in desc  # new descriptors carry the address only
    assert desc["size"] == len(payload)
    return payload


def media_files(files_dir: Path) -> list[str]:
    return sorted(p.name for p in (files_dir / "media").iterdir())


RNG = np.random.default_rng(6)
RGB = RNG.integers(0, 256, (12, 20, 3), dtype=np.uint8)
RGBA = RNG.integers(0, 256, (12, 20, 4), dtype=np.uint8)
GRAY = RNG.integers(0, 256, (12, 20), dtype=np.uint8)
UNIT = RNG.random((12, 20, 3)) * 1.1 - 0.1  # max below 1: taken as 0..1, negatives clipped


def to_u8(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out


def encoded(im: PILImage.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


IMAGE_INPUTS: dict[str, tuple[Callable[[Path], Any], np.ndarray]] = {
    "HW uint8": (lambda _: GRAY, GRAY),
    "HWC uint8": (lambda _: RGB, RGB),
    "HWC rgba": (lambda _: RGBA, RGBA),
    "HWC one channel": (lambda _: GRAY[..., None], GRAY),
    "CHW uint8": (lambda _: RGB.transpose(2, 0, 1), RGB),
    "CHW one channel": (lambda _: GRAY[None], GRAY),
    "HWC float": (lambda _: UNIT, to_u8(UNIT)),
    "CHW float32": (lambda _: UNIT.transpose(2, 0, 1).astype(np.float32), to_u8(UNIT)),
    "HW bool": (lambda _: GRAY > 128, np.where(GRAY > 128, 255, 0).astype(np.uint8)),
    "HW int64 in 0..255": (lambda _: GRAY.astype(np.int64), GRAY),
    "non-contiguous view": (lambda _: RGB[::-1, ::2], RGB[::-1, ::2]),
    "PIL RGB": (lambda _: PILImage.fromarray(RGB), RGB),
    "PIL L": (lambda _: PILImage.fromarray(GRAY), GRAY),
    "PIL palette": (
        lambda _: PILImage.fromarray(RGB).quantize(16),
        np.asarray(PILImage.fromarray(RGB).quantize(16).convert("RGB")),
    ),
    "torch CHW float": (
        lambda _: torch.from_numpy(UNIT.transpose(2, 0, 1).copy()).requires_grad_(),
        to_u8(UNIT),
    ),
    "torch HWC uint8": (lambda _: torch.from_numpy(RGB.copy()), RGB),
    "png file": (lambda d: write(d / "in.png", encoded(PILImage.fromarray(RGBA), "PNG")), RGBA),
    "png file as str": (
        lambda d: str(write(d / "in.png", encoded(PILImage.fromarray(GRAY), "PNG"))),
        GRAY,
    ),
}


def write(path: Path, payload: bytes) -> Path:
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("form", list(IMAGE_INPUTS))
def test_image_round_trip_is_pixel_identical(form: str, files: Path, tmp_path: Path) -> None:
    make, expected = IMAGE_INPUTS[form]
    img = fwtrack.Image(make(tmp_path), caption=form)
    np.testing.assert_array_equal(img.to_numpy(), expected)
    desc, back = round_trip(img, files)
    payload = check_stored(desc, files, "png")
    assert desc["_type"] == "image"
    mode = "L" if expected.ndim == 2 else {3: "RGB", 4: "RGBA"}[expected.shape[-1]]
    height, width = expected.shape[:2]
    assert (desc["format"], desc["width"], desc["height"], desc["mode"]) == (
        "png",
        width,
        height,
        mode,
    )
    assert desc["caption"] == form
    assert isinstance(back, fwtrack.Image)
    assert back == img
    assert (back.width, back.height, back.mode, back.caption) == (
        img.width,
        img.height,
        img.mode,
        form,
    )
    np.testing.assert_array_equal(back.to_numpy(), expected)
    assert back.bytes() == payload
    assert PILImage.open(io.BytesIO(payload)).format == "PNG"


@pytest.mark.parametrize(("fmt", "ext"), [("JPEG", "jpg"), ("GIF", "gif"), ("PNG", "png")])
def test_image_files_are_kept_byte_for_byte(
    fmt: str, ext: str, files: Path, tmp_path: Path
) -> None:
    payload = encoded(PILImage.fromarray(RGB), fmt)
    path = write(tmp_path / "photo.bin", payload)  # the format comes from the content
    img = fwtrack.Image(path)
    desc, back = round_trip(img, files)
    assert check_stored(desc, files, ext) == payload
    assert desc["format"] == fmt.lower()
    assert (desc["width"], desc["height"], desc["mode"]) == (20, 12, "RGB")
    expected = np.asarray(PILImage.open(io.BytesIO(payload)).convert("RGB"))
    np.testing.assert_array_equal(back.to_numpy(), expected)
    assert back.to_pil().mode == "RGB"


def test_other_image_files_become_png(files: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "in.bmp", encoded(PILImage.fromarray(RGB), "BMP"))
    desc, back = round_trip(fwtrack.Image(path), files)
    check_stored(desc, files, "png")
    np.testing.assert_array_equal(back.to_numpy(), RGB)


def test_sixteen_bit_images_are_scaled_to_eight(files: Path, tmp_path: Path) -> None:
    wide = (np.arange(12 * 20).reshape(12, 20) * 270).astype(np.uint16)
    expected = to_u8(wide / 65535.0)
    path = tmp_path / "wide.png"
    PILImage.fromarray(wide).save(path)
    from_file = fwtrack.Image(path)  # kept as the 16-bit PNG it is
    desc, back = round_trip(from_file, files)
    assert check_stored(desc, files, "png") == path.read_bytes()
    assert desc["mode"] == "L"
    np.testing.assert_array_equal(back.to_numpy(), expected)
    _, back = round_trip(fwtrack.Image(PILImage.open(path)), files)
    np.testing.assert_array_equal(back.to_numpy(), expected)


def test_image_mode_converts(files: Path) -> None:
    img = fwtrack.Image(RGB, mode="L")
    desc, back = round_trip(img, files)
    assert desc["mode"] == "L"
    np.testing.assert_array_equal(back.to_numpy(), np.asarray(PILImage.fromarray(RGB).convert("L")))


def test_identical_payloads_are_stored_once(files: Path) -> None:
    a, b = fwtrack.Image(RGB), fwtrack.Image(RGB.copy())
    assert a == b
    assert hash(a) == hash(b)
    assert a._store(files)["path"] == b._store(files)["path"]
    assert fwtrack.Image(RGB, caption="other caption")._store(files)["path"] == a.path
    assert fwtrack.Image(GRAY) != a
    assert len(media_files(files)) == 1


def test_image_copies_its_input(files: Path) -> None:
    arr = RGB.copy()
    img = fwtrack.Image(arr)
    arr[:] = 0
    np.testing.assert_array_equal(round_trip(img, files)[1].to_numpy(), RGB)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (np.zeros((2, 8, 8, 3)), ValueError, r"4-D array of shape \(2, 8, 8, 3\); accepted shapes"),
        (np.zeros((2, 8, 8, 3)), ValueError, r"log a list"),
        (np.zeros(8), ValueError, r"1-D array .* accepted shapes are \(H, W\)"),
        (np.zeros((5, 6, 7)), ValueError, r"no dimension of size 1, 3 or 4"),
        (np.zeros((0, 6)), ValueError, r"empty"),
        (np.full((4, 4), 300), ValueError, r"0\.\.255, got 300\.\.300 .* cast to uint8"),
        (np.zeros((4, 4), np.complex64), TypeError, r"dtype complex64; use uint8"),
        ([[0, 1], [1, 0]], TypeError, r"a PIL image, an Image or a file path"),
        ("no-such-file.png", FileNotFoundError, r"no such file"),
    ],
)
def test_image_bad_input(data: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        fwtrack.Image(data)


def test_image_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mode must be one of 'L', 'RGB', 'RGBA', got 'CMYK'"):
        fwtrack.Image(RGB, mode="CMYK")
    with pytest.raises(TypeError, match="caption must be a str"):
        fwtrack.Image(RGB, caption=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not an image file"):
        fwtrack.Image(write(tmp_path / "x.png", b"not an image"))


def test_audio_int16_round_trip_is_byte_identical(files: Path) -> None:
    samples = RNG.integers(-32768, 32767, 4000, dtype=np.int16)
    audio = fwtrack.Audio(samples, sample_rate=8000, caption="noise")
    desc, back = round_trip(audio, files)
    payload = check_stored(desc, files, "wav")
    assert desc["_type"] == "audio"
    assert (desc["format"], desc["sample_rate"], desc["channels"]) == ("wav", 8000, 1)
    assert desc["duration"] == 0.5
    assert desc["caption"] == "noise"
    with wave.open(io.BytesIO(payload)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.readframes(w.getnframes()) == samples.astype("<i2").tobytes()
    got, rate = back.to_numpy()
    assert rate == 8000
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, samples)


def test_audio_float_stereo_round_trip(files: Path) -> None:
    t = np.linspace(0, 1, 2205, endpoint=False)
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), 1.5 * np.cos(2 * np.pi * 220 * t)], axis=1)
    desc, back = round_trip(fwtrack.Audio(stereo.astype(np.float32), sample_rate=22050), files)
    assert (desc["channels"], desc["sample_rate"]) == (2, 22050)
    got, _ = back.to_numpy()
    assert got.shape == (2205, 2)
    expected = np.clip(stereo.astype(np.float32), -1, 1)
    assert np.max(np.abs(got / 32767.0 - expected)) <= 1 / 32767


def test_audio_tensor_and_wav_file(files: Path, tmp_path: Path) -> None:
    tensor = torch.linspace(-1, 1, 100)
    desc, back = round_trip(fwtrack.Audio(tensor, sample_rate=100), files)
    assert desc["duration"] == 1.0
    np.testing.assert_array_equal(back.to_numpy()[0], np.rint(tensor.numpy() * 32767))

    payload = (files / desc["path"]).read_bytes()
    path = write(tmp_path / "clip.wav", payload)
    from_file = fwtrack.Audio(str(path))
    assert from_file.bytes() == payload
    assert from_file == back
    assert from_file.sample_rate == 100
    with pytest.raises(ValueError, match="sampled at 100 Hz; leave sample_rate out"):
        fwtrack.Audio(path, sample_rate=16000)


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.zeros(10), {}, ValueError, r"needs sample_rate=.*sample_rate=16000"),
        (np.zeros(10), {"sample_rate": 0}, ValueError, r"positive int"),
        (np.zeros((2, 16000)), {"sample_rate": 8000}, ValueError, r"pass data\.T"),
        (np.zeros((2, 2, 2)), {"sample_rate": 8000}, ValueError, r"\(samples,\) and \(samples"),
        (np.zeros(10, np.int32), {"sample_rate": 8000}, TypeError, r"dtype int32: use floats"),
        ([0.0, 0.1], {"sample_rate": 8000}, TypeError, r"numpy array, a torch tensor or a WAV"),
    ],
)
def test_audio_bad_input(
    data: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        fwtrack.Audio(data, **kwargs)


def test_audio_rejects_non_wav_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a PCM WAV file"):
        fwtrack.Audio(write(tmp_path / "a.mp3", b"ID3\x03\x00 not a wav"))


def few_colour_video(t: int, h: int, w: int) -> np.ndarray:
    """(T, C, H, W) uint8 frames with few colours (GIF keeps them exactly); frames 2 and 3 are
    the same, which GIF stores once."""
    frames = np.zeros((t, 3, h, w), np.uint8)
    for i in range(t):
        frames[i, i % 3, : h // 2] = 255
        frames[i, :, h // 2 :, : (i * 3) % w] = 128
    frames[3] = frames[2]
    return frames


def test_video_gif_round_trip(files: Path) -> None:
    frames = few_colour_video(7, 10, 14)
    video = fwtrack.Video(frames, fps=10, caption="gif")
    desc, back = round_trip(video, files)
    payload = check_stored(desc, files, "gif")
    assert payload.startswith(b"GIF89a")
    assert desc["_type"] == "video"
    assert (desc["format"], desc["fps"], desc["width"], desc["height"]) == ("gif", 10.0, 14, 10)
    assert desc["frames"] == 7
    got = back.to_numpy()
    assert got.shape == (7, 10, 14, 3)
    np.testing.assert_array_equal(got, frames.transpose(0, 2, 3, 1))


def test_video_gif_from_float_tensor_and_file(files: Path, tmp_path: Path) -> None:
    frames = few_colour_video(4, 8, 8)
    tensor = torch.from_numpy(frames.astype(np.float32) / 255.0)
    desc, back = round_trip(fwtrack.Video(tensor, fps=4), files)
    np.testing.assert_array_equal(back.to_numpy(), frames.transpose(0, 2, 3, 1))

    path = write(tmp_path / "clip.gif", (files / desc["path"]).read_bytes())
    from_file = fwtrack.Video(path)
    assert from_file == back
    assert (from_file.format, from_file.fps, from_file.width, from_file.height) == (
        "gif",
        4.0,
        8,
        8,
    )


def test_video_mp4_round_trip(files: Path, tmp_path: Path) -> None:
    # A moving gradient, odd-sized (H.264 needs even sizes: padded, then cropped on read).
    t, h, w = 6, 33, 45
    y, x = np.mgrid[0:h, 0:w]
    frames = np.stack(
        [np.stack([(x * 5 + i * 8) % 256, (y * 7) % 256, np.full_like(x, 90)]) for i in range(t)]
    ).astype(np.uint8)
    video = fwtrack.Video(frames, fps=12, format="mp4")
    desc, back = round_trip(video, files)
    payload = check_stored(desc, files, "mp4")
    assert payload[4:8] == b"ftyp"
    # faststart: the index comes before the media data.
    assert payload.find(b"moov") < payload.find(b"mdat")
    assert (desc["format"], desc["fps"], desc["width"], desc["height"], desc["frames"]) == (
        "mp4",
        12.0,
        45,
        33,
        6,
    )
    got = back.to_numpy()
    assert got.shape == (t, h, w, 3)
    assert np.abs(got.astype(int) - frames.transpose(0, 2, 3, 1)).mean() < 6

    from_file = fwtrack.Video(write(tmp_path / "clip.mp4", payload))
    assert from_file == back
    assert (from_file.format, from_file.fps, from_file.width, from_file.height) == (
        "mp4",
        12.0,
        46,
        34,
    )


def test_video_copies_its_input(files: Path) -> None:
    frames = few_colour_video(4, 8, 8).transpose(0, 2, 3, 1).copy()  # (T, H, W, C)
    video = fwtrack.Video(frames)
    expected = frames.copy()
    frames[:] = 0
    np.testing.assert_array_equal(round_trip(video, files)[1].to_numpy(), expected)


def test_video_encoding_is_deterministic() -> None:
    frames = few_colour_video(4, 16, 16)
    assert fwtrack.Video(frames, format="mp4") == fwtrack.Video(frames.copy(), format="mp4")
    assert fwtrack.Video(frames) == fwtrack.Video(frames.copy())


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.zeros((2, 3, 4, 4), np.uint8), {"format": "webm"}, ValueError, r"'gif' or 'mp4'"),
        (np.zeros((2, 3, 4, 4), np.uint8), {"fps": 0}, ValueError, r"fps must be a number"),
        (np.zeros((3, 4, 4), np.uint8), {}, ValueError, r"3-D array .* \(T, C, H, W\)"),
        (np.zeros((1, 2, 3, 4, 4), np.uint8), {}, ValueError, r"list of Videos"),
        (np.zeros((2, 5, 6, 7), np.uint8), {}, ValueError, r"no dimension of size 1, 3 or 4"),
        ("nope.mp4", {}, FileNotFoundError, r"no such file"),
    ],
)
def test_video_bad_input(
    data: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        fwtrack.Video(data, **kwargs)


def test_video_file_of_another_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="neither an MP4 nor a GIF"):
        fwtrack.Video(write(tmp_path / "x.webm", b"\x1aE\xdf\xa3 webm"))


def test_mp4_without_pyav_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` fail as if absent
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'fwtrack\[media\]'"):
        fwtrack.Video(np.zeros((2, 3, 4, 4), np.uint8), format="mp4")
    fwtrack.Video(np.zeros((2, 3, 4, 4), np.uint8), format="gif")  # GIF needs no PyAV


def test_html_round_trip(files: Path, tmp_path: Path) -> None:
    fragment = "<h1>Résumé</h1><p>epoch 3</p>"
    html = fwtrack.Html(fragment)
    desc, back = round_trip(html, files)
    payload = check_stored(desc, files, "html")
    assert desc == {
        "_type": "html",
        "path": desc["path"],
        "address": desc["address"],
        "size": len(payload),
    }
    assert back.html == html.html
    assert back.html.startswith("<!DOCTYPE html>")
    assert fragment in back.html
    assert '<meta charset="utf-8">' in back.html

    doc = "<html><body>as is</body></html>"
    assert fwtrack.Html(doc).html == doc
    assert fwtrack.Html(fragment, inject=False).html == fragment
    path = write(tmp_path / "page.html", doc.encode())
    assert fwtrack.Html(path).html == doc
    assert fwtrack.Html(str(path)).html == doc
    with path.open() as f:
        assert fwtrack.Html(f).html == doc
    with pytest.raises(TypeError, match="HTML text"):
        fwtrack.Html(b"<b>bytes</b>")


def test_payloads_are_read_lazily(files: Path) -> None:
    desc = fwtrack.Image(RGB)._store(files)
    calls: list[str] = []
    back = from_descriptor(desc, fetcher(files, calls))
    assert (back.width, back.height, back.address) == (20, 12, desc["address"])
    assert calls == []
    back.to_numpy()
    back.to_numpy()
    assert calls == [desc["path"]]


def test_gallery_and_unknown_descriptors(files: Path) -> None:
    items = [fwtrack.Image(RGB)._store(files), fwtrack.Html("<p>x</p>")._store(files)]
    got = from_descriptor({"_type": "gallery", "items": items}, fetcher(files))
    assert [type(g) for g in got] == [fwtrack.Image, fwtrack.Html]
    with pytest.raises(ValueError, match="not a media descriptor: _type is 'model'"):
        from_descriptor({"_type": "model"}, fetcher(files))


def test_address_names_the_payload_and_sha256_is_still_there(files: Path) -> None:
    img = fwtrack.Image(RGB)
    payload = img.bytes()
    assert img.address == _core.hash_bytes(payload)
    assert img.path == f"media/{img.address.removeprefix('blake3:')}.png"
    assert img.sha256 == hashlib.sha256(payload).hexdigest()
    # Equal by kind and content, whatever the caption; a different payload differs.
    same = fwtrack.Image(RGB.copy(), caption="another caption")
    assert same == img
    assert hash(same) == hash(img)
    assert fwtrack.Image(GRAY) != img
    assert fwtrack.Html("<p>x</p>") != fwtrack.Html("<p>y</p>")
    back = from_descriptor(img._store(files), fetcher(files))
    assert back == img
    assert back.address == img.address


def test_media_types_import_from_their_modules_and_the_old_one() -> None:
    from fwtrack.data_types import audio, html, image, media, video

    assert (image.Image, audio.Audio, video.Video, html.Html) == (
        fwtrack.Image,
        fwtrack.Audio,
        fwtrack.Video,
        fwtrack.Html,
    )
    assert media.Image is fwtrack.Image
    assert media.Video is fwtrack.Video
    assert media.PNG_COMPRESS_LEVEL == image.PNG_COMPRESS_LEVEL
    with pytest.raises(AttributeError, match="no attribute 'Model'"):
        media.Model  # noqa: B018


def test_store_is_atomic_and_idempotent(files: Path) -> None:
    img = fwtrack.Image(RGB)
    desc = img._store(files)
    target = files / desc["path"]
    mtime = target.stat().st_mtime_ns
    assert img._store(files) == desc
    assert target.stat().st_mtime_ns == mtime  # an existing file is not rewritten
    assert media_files(files) == [target.name]  # no temporary file left behind


def test_reprs() -> None:
    assert repr(fwtrack.Image(RGB, caption="c")).startswith("Image(20x12 RGB png, caption='c'")
    assert repr(fwtrack.Audio(np.zeros(8000), sample_rate=16000)).startswith(
        "Audio(0.5 s, 16000 Hz, 1 ch"
    )
    assert repr(fwtrack.Video(few_colour_video(4, 8, 8))).startswith(
        "Video(8x8 4 frames, 4 fps gif"
    )


def test_import_fwtrack_loads_no_media_library(run_script: ScriptRunner) -> None:
    out = run_script(
        """
        import json, sys
        import fwtrack

        fwtrack.Image, fwtrack.Audio, fwtrack.Video, fwtrack.Html, fwtrack.Table
        heavy = ("numpy", "pandas", "PIL", "av", "torch")
        print(json.dumps([m for m in heavy if m in sys.modules]))
        """
    )
    assert json.loads(out.stdout) == []
