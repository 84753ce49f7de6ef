"""W&B's media surface on fwtrack's types: `Image(..., boxes=, masks=, classes=, grouping=,
file_type=)` and its float rule, `Table.iterrows/get_column(convert_to=)/add_computed_columns/
cast/...`, `Histogram(sequence=, np_histogram=, num_bins=)` with `.bins`/`.histogram` — each
checked against what the installed wandb gives for the same input, and each error."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
import wandb
from PIL import Image as PILImage

import fwtrack
from conftest import fetcher
from fwtrack import _core
from fwtrack.data_types import BoundingBoxes2D, Classes, ImageMask, Media, from_descriptor
from fwtrack.errors import FwTrackWarning


def round_trip(obj: Media, files_dir: Path) -> tuple[dict[str, Any], Any]:
    desc = json.loads(json.dumps(obj._store(files_dir)))
    return desc, from_descriptor(desc, fetcher(files_dir))


def wandb_pixels(data: Any, **kw: Any) -> np.ndarray:
    im = wandb.Image(data, **kw)
    assert im.image is not None
    return np.asarray(im.image)


RNG = np.random.default_rng(17)
RGB = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)

# -- floats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pixels",
    [
        RNG.random((8, 10, 3)) * 255.0,  # W&B's docs: floats in 0..255
        RGB.astype(np.float32),
        np.linspace(1.5, 254.9, 80, dtype=np.float64).reshape(8, 10),
    ],
    ids=["float64 0..255", "float32 whole 0..255", "gray 1.5..254.9"],
)
def test_floats_beyond_1_are_0_to_255_as_wandb(pixels: np.ndarray) -> None:
    got = fwtrack.Image(pixels).to_numpy()
    np.testing.assert_array_equal(got, wandb_pixels(pixels))
    assert got.max() > 200  # not saturated, not scaled twice


def test_floats_in_0_to_1_are_scaled_and_tensors_follow_the_same_rule() -> None:
    unit = RNG.random((6, 7, 3))
    np.testing.assert_array_equal(
        fwtrack.Image(unit).to_numpy(), np.rint(unit * 255).astype(np.uint8)
    )
    wide = torch.from_numpy(RGB.transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(fwtrack.Image(wide).to_numpy(), RGB)
    # beyond 255 and below 0: clipped
    out = fwtrack.Image(np.array([[-3.0, 300.0], [128.9, 2.0]])).to_numpy()
    assert out.tolist() == [[0, 255], [128, 2]]


# -- file_type, mode, Image(Image) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("file_type", "ext", "magic"),
    [
        ("png", "png", b"\x89PNG"),
        ("jpg", "jpg", b"\xff\xd8\xff"),
        ("jpeg", "jpeg", b"\xff\xd8"),
        ("bmp", "bmp", b"BM"),
    ],
)
def test_file_type_encodes_as_wandb(file_type: str, ext: str, magic: bytes, files: Path) -> None:
    desc, back = round_trip(fwtrack.Image(RGB, file_type=file_type), files)
    assert desc["path"].endswith("." + ext)
    assert (files / desc["path"]).read_bytes().startswith(magic)
    assert back.width == 32
    assert back.height == 24
    if file_type in ("png", "bmp"):
        np.testing.assert_array_equal(back.to_numpy(), RGB)
    else:  # lossy: the pixels of the JPEG wandb writes for the same array
        theirs = wandb.Image(RGB, file_type=file_type)
        assert theirs._path is not None
        np.testing.assert_array_equal(back.to_numpy(), np.asarray(PILImage.open(theirs._path)))


def test_jpeg_drops_alpha_with_a_warning(files: Path) -> None:
    rgba = RNG.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    with pytest.warns(FwTrackWarning, match="alpha channel is dropped"):
        img = fwtrack.Image(rgba, file_type="jpg")
    assert img.mode == "RGB"
    desc, _ = round_trip(img, files)
    assert desc["mode"] == "RGB"


def test_same_pixels_as_png_and_jpeg_are_two_payloads(files: Path) -> None:
    a = fwtrack.Image(RGB)._store(files)
    b = fwtrack.Image(RGB, file_type="jpg")._store(files)
    c = fwtrack.Image(RGB)._store(files)
    assert a["path"] != b["path"]
    assert a["path"] == c["path"]


def test_image_of_image_copies_pixels_not_overlays(files: Path) -> None:
    first = fwtrack.Image(
        RGB, caption="a", boxes={"p": {"box_data": [{"position": _MINMAX, "class_id": 1}]}}
    )
    copy = fwtrack.Image(first, caption="b")
    assert copy.caption == "b"
    assert copy.boxes == {}
    np.testing.assert_array_equal(copy.to_numpy(), RGB)
    _desc, back = round_trip(first, files)
    again = fwtrack.Image(back)
    assert again.caption == "a"
    assert again.address == back.address


def test_mode_is_the_second_positional_parameter_as_wandb() -> None:
    assert fwtrack.Image(RGB, "L").mode == "L"
    with pytest.raises(ValueError, match="pass caption='a cat'"):
        fwtrack.Image(RGB, "a cat")


# -- boxes, masks, classes ------------------------------------------------------------------

_MINMAX = {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.6}
_MIDDLE = {"middle": [16, 12], "width": 10, "height": 8}

BOXES = {
    "predictions": {
        "box_data": [
            {
                "position": _MINMAX,
                "class_id": 1,
                "box_caption": "cat 0.9",
                "scores": {"conf": 0.9, "iou": 1},
            },
            {"position": _MIDDLE, "domain": "pixel", "class_id": 2, "box_caption": "dog"},
        ],
        "class_labels": {1: "cat", 2: "dog"},
    },
    "ground_truth": {"box_data": [{"position": _MINMAX, "class_id": 1}]},
}


def _mask(shape: tuple[int, int] = (24, 32)) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    m[4:12, 6:20] = 1
    m[14:, 20:] = 3
    return m


def test_boxes_masks_classes_and_grouping_round_trip(files: Path) -> None:
    mask = _mask()
    img = fwtrack.Image(
        RGB,
        caption="scene",
        grouping=3,
        boxes=BOXES,
        masks={
            "ground_truth": {"mask_data": mask, "class_labels": {0: "bg", 1: "cat", 3: "road"}},
            "predictions": {"mask_data": torch.from_numpy(mask.astype(np.int64))},
        },
        classes=[{"id": 1, "name": "Cat"}, {"id": 7, "name": "tree"}],
    )
    desc, back = round_trip(img, files)
    assert desc["grouping"] == 3
    # as wandb: every box keeps its fields; class labels are JSON objects with str ids
    preds = desc["boxes"]["predictions"]
    assert preds["box_data"][0] == {
        "position": _MINMAX,
        "class_id": 1,
        "box_caption": "cat 0.9",
        "scores": {"conf": 0.9, "iou": 1},
    }
    assert preds["box_data"][1]["domain"] == "pixel"
    assert preds["class_labels"] == {"1": "cat", "2": "dog"}
    # no class_labels: class_<id>, as wandb
    assert desc["boxes"]["ground_truth"]["class_labels"] == {"1": "class_1"}
    # classes=: first; then every label of the boxes and masks
    assert {c["id"]: c["name"] for c in desc["classes"]} == {
        1: "Cat",
        7: "tree",
        2: "dog",
        0: "bg",
        3: "road",
    }
    # masks: a grayscale PNG of their own next to the image, content-addressed
    gt = desc["masks"]["ground_truth"]
    assert gt["path"].endswith(".mask.png")
    assert gt["_type"] == "mask"
    payload = (files / gt["path"]).read_bytes()
    assert gt["address"] == _core.hash_bytes(payload)
    stored = PILImage.open(io.BytesIO(payload))
    assert stored.mode == "L"
    np.testing.assert_array_equal(np.asarray(stored), mask)
    assert gt["class_labels"] == {"0": "bg", "1": "cat", "3": "road"}
    assert desc["masks"]["predictions"]["class_labels"] == {
        "0": "class_0",
        "1": "class_1",
        "3": "class_3",
    }
    # identical masks are one file
    assert desc["masks"]["predictions"]["path"] == gt["path"]
    # read back
    assert back.grouping == 3
    assert set(back.boxes) == {"predictions", "ground_truth"}
    assert back.boxes["predictions"].class_labels == {1: "cat", 2: "dog"}
    np.testing.assert_array_equal(back.masks["ground_truth"].to_numpy(), mask)
    assert back.masks["ground_truth"].class_labels == {0: "bg", 1: "cat", 3: "road"}
    np.testing.assert_array_equal(back.to_numpy(), RGB)


def test_wandb_helper_objects_and_a_mask_file(files: Path, tmp_path: Path) -> None:
    mask = _mask()
    path = tmp_path / "mask.png"
    PILImage.fromarray(mask).save(path)
    img = fwtrack.Image(
        RGB,
        boxes={"p": BoundingBoxes2D({"box_data": [{"position": _MIDDLE}]}, "p")},
        masks={"file": {"path": str(path)}, "obj": ImageMask({"mask_data": mask}, "obj")},
        classes=Classes([{"id": 1, "name": "cat"}]),
    )
    desc, back = round_trip(img, files)
    assert desc["boxes"]["p"]["box_data"] == [{"position": _MIDDLE}]
    assert desc["masks"]["file"]["path"] == desc["masks"]["obj"]["path"]
    np.testing.assert_array_equal(back.masks["file"].to_numpy(), mask)
    assert back.classes[0] == {"id": 1, "name": "cat"}


def test_wandb_accepts_what_fwtrack_accepts() -> None:
    # the same arguments construct in both (the docs' examples)
    masks = {"ground_truth": {"mask_data": _mask(), "class_labels": {0: "bg", 1: "cat"}}}
    wandb.Image(RGB, boxes=BOXES, masks=masks)
    fwtrack.Image(RGB, boxes=BOXES, masks=masks)


def test_overlays_in_a_table_and_logged_in_a_run(tmp_dir: Path) -> None:
    run = fwtrack.init(project="overlays", mode="offline")
    table = fwtrack.Table(columns=["img"])
    table.add_data(fwtrack.Image(RGB, masks={"m": {"mask_data": _mask()}}))
    for step in range(2):
        run.log(
            {
                "scene": fwtrack.Image(RGB, boxes=BOXES, masks={"m": {"mask_data": _mask()}}),
                "tab": table,
            }
        )
        del step
    run.finish()
    files = Path(run.dir) / "files"
    reader = _core.RunReader(run.dir)
    scene = [d for _, _, _, d in reader.media("scene")]
    assert len(scene) == 2
    assert (files / scene[0]["masks"]["m"]["path"]).is_file()
    back = from_descriptor(scene[1], fetcher(files))
    np.testing.assert_array_equal(back.masks["m"].to_numpy(), _mask())
    tab = from_descriptor(next(iter(reader.media("tab")))[3], fetcher(files))
    cell = tab.get_column("img")[0]
    np.testing.assert_array_equal(cell.masks["m"].to_numpy(), _mask())


BAD_IMAGES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"file_type": "gif"}, ValueError, "file_type must be one of 'png', 'jpg', 'jpeg', 'bmp'"),
    ({"grouping": "a"}, TypeError, "grouping must be an int"),
    ({"classes": {"id": 1}}, TypeError, "classes must be a list"),
    ({"classes": [{"id": 1}]}, TypeError, "each class is a dict with 'id'"),
    ({"classes": [{"id": 1.5, "name": "a"}]}, TypeError, "ids are int"),
    ({"boxes": [1]}, TypeError, "boxes= must be a dict"),
    ({"boxes": {1: {}}}, TypeError, "keys are group names"),
    ({"boxes": {"p": []}}, TypeError, "must be a dict {'box_data'"),
    ({"boxes": {"p": {"box_data": 3}}}, TypeError, "'box_data' must be a list"),
    ({"boxes": {"p": {"box_data": [{}]}}}, TypeError, "box 0 has no 'position'"),
    ({"boxes": {"p": {"box_data": [{"position": {"minX": 0}}]}}}, TypeError, "minX', 'maxX'"),
    (
        {"boxes": {"p": {"box_data": [{"position": {**_MINMAX, "minX": "0"}}]}}},
        TypeError,
        "position minX is '0'",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": {**_MINMAX, "minX": 0.9}}]}}},
        ValueError,
        "minX 0.9 > maxX 0.4",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": {**_MIDDLE, "middle": [1]}}]}}},
        TypeError,
        "middle is [1]",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": {**_MIDDLE, "width": -1}}]}}},
        ValueError,
        "width is -1",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": _MINMAX, "domain": "percent"}]}}},
        ValueError,
        "domain is 'percent'",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": _MINMAX, "class_id": "1"}]}}},
        TypeError,
        "class_id is '1'",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": _MINMAX, "box_caption": 1}]}}},
        TypeError,
        "box_caption is 1",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": _MINMAX, "scores": [1]}]}}},
        TypeError,
        "scores is [1]",
    ),
    (
        {"boxes": {"p": {"box_data": [{"position": _MINMAX, "scores": {"a": "x"}}]}}},
        TypeError,
        "score 'a': 'x'",
    ),
    (
        {"boxes": {"p": {"box_data": [], "class_labels": {"a": "cat"}}}},
        TypeError,
        "keys must be int class ids",
    ),
    (
        {"boxes": {"p": {"box_data": [], "class_labels": {1: 2}}}},
        TypeError,
        "values must be str names",
    ),
    ({"boxes": {"p": {"box_data": [], "class_labels": [1]}}}, TypeError, "must be a dict of int"),
    ({"masks": [1]}, TypeError, "masks= must be a dict"),
    ({"masks": {"m": {}}}, TypeError, "missing 'mask_data'"),
    ({"masks": {"m": {"mask_data": [[1]]}}}, TypeError, "mask_data must be a 2-D numpy"),
    ({"masks": {"m": {"mask_data": np.zeros((2, 2, 3))}}}, ValueError, "must be 2-D"),
    ({"masks": {"m": {"mask_data": np.zeros((0, 2))}}}, ValueError, "is empty"),
    ({"masks": {"m": {"mask_data": np.full((2, 2), 300)}}}, ValueError, "0..255, got 300..300"),
    ({"masks": {"m": {"mask_data": np.full((2, 2), -1)}}}, ValueError, "0..255, got -1..-1"),
    ({"masks": {"m": {"mask_data": np.full((2, 2), 0.5)}}}, ValueError, "non-whole floats"),
    ({"masks": {"m": {"mask_data": np.full((2, 2), "a")}}}, TypeError, "cannot hold class ids"),
    ({"masks": {"m": {"path": 3}}}, TypeError, "'path' must be a file path"),
    ({"masks": {"m": {"path": "/nonexistent/m.png"}}}, FileNotFoundError, "no such file"),
]


@pytest.mark.parametrize(("kwargs", "exc", "match"), BAD_IMAGES)
def test_image_errors_name_the_value_and_the_fix(
    kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc) as info:
        fwtrack.Image(RGB, **kwargs)
    assert match in str(info.value)


def test_a_mask_file_that_is_not_an_image(tmp_path: Path) -> None:
    bad = tmp_path / "m.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="is not an image file"):
        fwtrack.Image(RGB, masks={"m": {"path": bad}})


# -- Table -------------------------------------------------------------------------------


def test_table_surface_as_wandb() -> None:
    rows = [[3, 1, "a"], [4, 6, "b"]]
    ours = fwtrack.Table(columns=["x", "y", "s"], data=rows)
    theirs = wandb.Table(columns=["x", "y", "s"], data=[list(r) for r in rows])
    assert [(int(i), r) for i, r in ours.iterrows()] == [(int(i), r) for i, r in theirs.iterrows()]
    assert ours.get_column("x") == theirs.get_column("x")
    np.testing.assert_array_equal(
        ours.get_column("y", convert_to="numpy"), theirs.get_column("y", convert_to="numpy")
    )
    ours.add_computed_columns(lambda i, row: {"diff": row["x"] - row["y"], "i": i})
    theirs.add_computed_columns(lambda i, row: {"diff": row["x"] - row["y"], "i": i})
    assert ours.columns == theirs.columns
    assert ours.data == [
        [int(v) if k == "i" else v for k, v in zip(theirs.columns, r, strict=False)]
        for r in theirs.data
    ]
    ours.add_column("z", np.array([0.5, 1.5]))
    assert ours.get_column("z") == [0.5, 1.5]
    assert ours.get_index() == [0, 1]
    assert ours.index_ref(1) == 1
    ours.add_row(5, 5, "c", 0, 2, 2.5)
    assert len(ours) == 3
    pd.testing.assert_frame_equal(ours.get_dataframe(), ours.to_pandas())


def test_table_constructor_as_wandb() -> None:
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert fwtrack.Table(data=df).columns == ["a", "b"]
    assert fwtrack.Table(columns=["a"], rows=[[1], [2]]).get_column("a") == [1, 2]
    t = fwtrack.Table(
        columns=["a", "b"], data=[[1, None], [2, "x"]], dtype=[int, str], optional=[False, True]
    )
    assert len(t) == 2
    fwtrack.Table(columns=["a"], data=[[1]], log_mode="MUTABLE", allow_mixed_types=True)
    t.cast("a", float)  # ints pass as floats


def test_get_column_numpy_gives_the_pixels_of_images() -> None:
    t = fwtrack.Table(columns=["img", "n"])
    t.add_data(fwtrack.Image(RGB), 1)
    t.add_data(fwtrack.Image(RGB[::-1].copy()), 2)
    arr = t.get_column("img", convert_to="numpy")
    assert arr.shape == (2, 24, 32, 3)
    np.testing.assert_array_equal(arr[1], RGB[::-1])


def test_table_read_back_iterates(files: Path) -> None:
    t = fwtrack.Table(columns=["a"], data=[[1], [2]])
    _, back = round_trip(t, files)
    assert list(back.iterrows()) == [(0, [1]), (1, [2])]


def test_table_errors() -> None:
    t = fwtrack.Table(columns=["x", "y"], data=[[1, 2]])
    with pytest.raises(ValueError, match="convert_to must be None or 'numpy'"):
        t.get_column("x", convert_to="pandas")  # type: ignore[call-overload]
    with pytest.raises(KeyError, match="no column 'q'"):
        t.get_column("q")
    with pytest.raises(TypeError, match="takes a list of values"):
        t.add_column("z", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="numpy column must be 1-D"):
        t.add_column("z", np.zeros((1, 2)))
    with pytest.raises(ValueError, match="got 2 values but the table has 1 rows"):
        t.add_column("z", [1, 2])
    with pytest.raises(ValueError, match="column 'x' appears twice"):
        t.add_column("x", [1])
    with pytest.raises(TypeError, match="must return a dict"):
        t.add_computed_columns(lambda i, r: [1])  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="column 'x' already exists"):
        t.add_computed_columns(lambda i, r: {"x": 1})
    two = fwtrack.Table(columns=["x"], data=[[1], [2]])
    with pytest.raises(ValueError, match="return the same names for every row"):
        two.add_computed_columns(lambda i, r: {f"c{i}": 1})
    with pytest.raises(IndexError, match="row 5 is out of range"):
        t.index_ref(5)
    with pytest.raises(TypeError, match="row 0 is 1 \\(int\\), not str"):
        t.cast("x", str)
    with pytest.raises(TypeError, match="dtype must be a type"):
        t.cast("x", "int")
    with pytest.raises(KeyError, match="no column 'q'"):
        t.cast("q", int)
    with pytest.raises(TypeError, match="row 0 is None \\(NoneType\\), not int \\(optional"):
        fwtrack.Table(columns=["a"], data=[[None]], dtype=int, optional=False)
    with pytest.raises(ValueError, match="one entry per column"):
        fwtrack.Table(columns=["a"], data=[[1]], dtype=[int, str])
    with pytest.raises(ValueError, match="log_mode must be one of"):
        fwtrack.Table(columns=["a"], log_mode="APPEND")
    with pytest.raises(ValueError, match="either data= or rows="):
        fwtrack.Table(columns=["a"], data=[[1]], rows=[[1]])


# -- Histogram ---------------------------------------------------------------------------


def test_histogram_bins_and_counts_as_wandb() -> None:
    data = RNG.normal(size=5000)
    for kwargs in ({}, {"num_bins": 10}, {"num_bins": 512}):
        ours = fwtrack.Histogram(sequence=data, **kwargs)
        theirs = wandb.Histogram(sequence=data, **kwargs)
        assert ours.histogram == theirs.histogram
        np.testing.assert_allclose(ours.bins, theirs.bins, rtol=1e-12)
        assert isinstance(ours.bins, list)
        assert isinstance(ours.histogram, list)
    listed = fwtrack.Histogram(sequence=[1, 2, 2, 3])
    assert listed.histogram == wandb.Histogram([1, 2, 2, 3]).histogram
    counts, edges = np.histogram(data, bins=7)
    for h in (
        fwtrack.Histogram(np_histogram=(counts, edges)),
        fwtrack.Histogram(None, (counts, edges)),
    ):
        assert h.histogram == counts.tolist()
        assert h.bins == edges.tolist()


def test_histogram_errors() -> None:
    with pytest.raises(ValueError, match="either positionally or as sequence="):
        fwtrack.Histogram([1], sequence=[1])
    with pytest.raises(ValueError, match="not both"):
        fwtrack.Histogram(sequence=[1], np_histogram=([1], [0, 1]))
    with pytest.raises(ValueError, match="needs values"):
        fwtrack.Histogram()
    with pytest.raises(ValueError, match=r"num_bins must be in 1\.\.=512"):
        fwtrack.Histogram(sequence=[1], num_bins=513)
    with pytest.raises(ValueError, match="one more edge than counts"):
        fwtrack.Histogram(np_histogram=([1, 2], [0, 1]))
    with pytest.raises(ValueError, match="a \\(counts, edges\\) pair"):
        fwtrack.Histogram(np_histogram=([1, 2],))  # type: ignore[arg-type]


def test_no_warning_for_a_plain_image() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fwtrack.Image(RGB, file_type="jpg")
