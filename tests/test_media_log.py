"""Media logged like scalars: `log({"img": fwtrack.Image(x)})` stores the payload once under
`files/media/<blake3 hex>.<ext>`, writes a `Media` record at the row's step, and
`Api().run(...).history()` gives the objects back, pixel- and byte-identical — locally, and
from a real server after an online run.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import fwtrack
from fwserver import Server
from fwtrack import _core
from fwtrack.errors import FwTrackWarning

if TYPE_CHECKING:
    from conftest import ScriptRunner


def _image(seed: int, shape: tuple[int, ...] = (16, 12, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _media_files(run_dir: str) -> list[str]:
    root = Path(run_dir) / "files" / "media"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def test_images_gallery_table_and_scalars_round_trip(tmp_dir: Path) -> None:
    run = fwtrack.init(project="media", mode="offline")
    frames = [_image(i) for i in range(3)]
    for step, x in enumerate(frames):
        run.log(
            {
                "loss": 1.0 / (step + 1),
                "sample": fwtrack.Image(x, caption=f"step {step}"),
                "gallery": [fwtrack.Image(frames[0]), fwtrack.Image(x)],
            }
        )
    table = fwtrack.Table(columns=["id", "score", "img"])
    table.add_data(1, 0.5, fwtrack.Image(frames[1]))
    table.add_data(2, float("nan"), None)
    run.log({"preds": table, "page": fwtrack.Html("<b>hi</b>")}, step=2)
    run.finish()

    # Three distinct images, the table and the html: each payload stored once.
    names = _media_files(run.dir)
    assert len(names) == 5, names
    assert sum(n.endswith(".png") for n in names) == 3

    reader = _core.RunReader(run.dir)
    assert reader.media_keys() == ["gallery", "page", "preds", "sample"]
    assert [(s, k) for s, _, k, _ in reader.media("sample")] == [
        (0, "sample"),
        (1, "sample"),
        (2, "sample"),
    ]

    got = fwtrack.Api().run(run.id)
    assert got.media_keys() == ["gallery", "page", "preds", "sample"]
    hist = got.history()
    assert hist["_step"].tolist() == [0, 1, 2]
    assert hist["loss"].tolist() == [1.0, 0.5, 1.0 / 3]
    for step, x in enumerate(frames):
        img = hist["sample"][step]
        assert isinstance(img, fwtrack.Image)
        assert img.caption == f"step {step}"
        np.testing.assert_array_equal(img.to_numpy(), x)
        gallery = hist["gallery"][step]
        assert [type(g) for g in gallery] == [fwtrack.Image, fwtrack.Image]
        np.testing.assert_array_equal(gallery[1].to_numpy(), x)
    assert hist["preds"][:2].tolist() == [None, None]
    frame = hist["preds"][2].to_pandas()
    assert frame.columns.tolist() == ["id", "score", "img"]
    assert frame["id"].tolist() == [1, 2]
    assert np.isnan(frame["score"][1])
    np.testing.assert_array_equal(frame["img"][0].to_numpy(), frames[1])
    assert hist["page"][2].html.endswith("<b>hi</b>") or "<b>hi</b>" in hist["page"][2].html

    rows = list(got.scan_history(keys=["sample"]))
    assert [r["_step"] for r in rows] == [0, 1, 2]
    np.testing.assert_array_equal(rows[1]["sample"].to_numpy(), frames[1])
    only = got.history(keys=["sample", "loss"])
    assert only.columns.tolist() == ["_step", "_timestamp", "_runtime", "sample", "loss"]


def test_the_same_image_logged_many_times_is_stored_once(tmp_dir: Path) -> None:
    run = fwtrack.init(project="media", mode="offline")
    x = _image(7)
    for _ in range(50):
        run.log({"same": fwtrack.Image(x)})
    run.finish()
    assert len(_media_files(run.dir)) == 1
    hist = fwtrack.Api().run(run.id).history()
    assert len(hist) == 50
    assert len({img.address for img in hist["same"]}) == 1


def test_media_with_commit_false_lands_on_the_committed_step(tmp_dir: Path) -> None:
    run = fwtrack.init(project="media", mode="offline")
    run.log({"a": 1})
    run.log({"img": fwtrack.Image(_image(1))}, commit=False)
    run.log({"b": 2})
    run.finish()
    hist = fwtrack.Api().run(run.id).history()
    assert hist["_step"].tolist() == [0, 1]
    assert hist["img"][0] is None
    np.testing.assert_array_equal(hist["img"][1].to_numpy(), _image(1))


def test_bad_media_input_raises_and_keeps_what_was_logged(tmp_dir: Path) -> None:
    run = fwtrack.init(project="media", mode="offline")
    run.log({"loss": 0.1})
    with pytest.raises((TypeError, ValueError)) as err:
        run.log({"img": fwtrack.Image(np.zeros((2, 3, 4, 5, 6)))})
    assert "shape" in str(err.value).lower()
    run.log({"loss": 0.2})
    run.finish()
    hist = fwtrack.Api().run(run.id).history()
    assert hist["loss"].tolist() == [0.1, 0.2]


def test_unwritable_media_directory_warns_once_and_the_run_goes_on(tmp_dir: Path) -> None:
    # A file where the media directory should be makes every payload write fail (as root
    # too, unlike permissions).
    run = fwtrack.init(project="media", mode="offline")
    (Path(run.dir) / "files").mkdir(exist_ok=True)
    (Path(run.dir) / "files" / "media").write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(3):
            run.log({"loss": float(i), "img": fwtrack.Image(_image(i))})
        # The worker stores media after log() returns: the warning comes with a later call.
        run.finish()
    notes = [w for w in caught if issubclass(w.category, FwTrackWarning)]
    assert len(notes) == 1
    assert "was not stored" in str(notes[0].message)
    hist = fwtrack.Api().run(run.id).history()
    assert hist["loss"].tolist() == [0.0, 1.0, 2.0]
    assert "img" not in hist.columns


def test_media_survive_kill_9(run_script: ScriptRunner, tmp_path: Path) -> None:
    proc = run_script(
        """
        import json, os, signal
        import numpy as np
        import fwtrack
        run = fwtrack.init(project="media")
        for i in range(5):
            x = np.full((8, 8), i * 40, dtype=np.uint8)
            run.log({"img": fwtrack.Image(x)})
        run.flush()
        print(json.dumps({"id": run.id}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        check=False,
    )
    assert proc.returncode == -9
    run_id = json.loads(proc.stdout.splitlines()[-1])["id"]
    got = fwtrack.Api(dir=str(tmp_path / "fwtrack")).run(run_id)
    assert got.state == "crashed"
    imgs = got.history()["img"].tolist()
    assert [int(i.to_numpy()[0, 0]) for i in imgs] == [0, 40, 80, 120, 160]


def test_online_run_uploads_media_and_remote_api_reads_them(
    server: Server, client_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    frames = [_image(10 + i) for i in range(3)]
    run = fwtrack.init(project="media-online")
    for x in frames:
        run.log({"img": fwtrack.Image(x), "clip": fwtrack.Audio(np.zeros(800), sample_rate=8000)})
    table = fwtrack.Table(dataframe=pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    run.log({"t": table})
    run.finish()

    listed = {f["path"] for f in server.get(f"/runs/admin/media-online/{run.id}/files")["files"]}
    assert {f"media/{name}" for name in _media_files(run.dir)} <= listed

    api = fwtrack.Api(base_url=server.url, api_key=server.key)
    remote = api.run(f"admin/media-online/{run.id}")
    hist = remote.history()
    for step, x in enumerate(frames):
        np.testing.assert_array_equal(hist["img"][step].to_numpy(), x)
    samples, rate = hist["clip"][0].to_numpy()
    assert rate == 8000
    assert len(samples) == 800
    assert hist["t"][3].to_pandas().to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


def test_pixels_logged_again_are_hashed_not_encoded_again(tmp_dir: Path) -> None:
    x = _image(5)
    run = fwtrack.init(project="media", mode="offline")
    first, second = fwtrack.Image(x), fwtrack.Image(x.copy(), caption="again")
    run.log({"img": first})
    run.log({"img": second})
    run.finish()
    assert first._payload is not None  # encoded once ...
    assert second._payload is None  # ... and recognised by its pixels the second time
    assert second.address == first.address
    imgs = fwtrack.Api().run(run.id).history()["img"].tolist()
    assert [i.caption for i in imgs] == [None, "again"]
    np.testing.assert_array_equal(imgs[1].to_numpy(), x)

    # Another run has its own files: the payload is written there too.
    other = fwtrack.init(project="media", mode="offline")
    other.log({"img": fwtrack.Image(x)})
    other.finish()
    assert _media_files(other.dir) == [f"{first.address.removeprefix('blake3:')}.png"]
