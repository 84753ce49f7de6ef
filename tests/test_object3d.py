"""`fwtrack.Object3D`: point clouds (N, 3) / (N, 4) / (N, 6), `from_point_cloud` with boxes
(`box3d`) and vectors, and glTF/GLB/OBJ/STL/Babylon/pts.json files (paths and file objects),
stored content-addressed in W&B's formats; every error."""

from __future__ import annotations

import io
import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import wandb

import fwtrack
from conftest import fetcher
from fwserver import Server
from fwtrack import _core
from fwtrack.data_types import Media, Object3D, box3d, from_descriptor


def round_trip(obj: Media, files_dir: Path) -> tuple[dict[str, Any], Any]:
    desc = json.loads(json.dumps(obj._store(files_dir)))
    return desc, from_descriptor(desc, fetcher(files_dir))


RNG = np.random.default_rng(3)


def glb() -> bytes:
    """A minimal GLB: a JSON chunk naming one triangle in a BIN chunk."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [0, 0, 0],
                "max": [1, 1, 0],
            }
        ],
    }
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    body += struct.pack("<II", len(positions), 0x004E4942) + positions
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
STL = (
    b"solid t\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\n"
    b"endloop\nendfacet\nendsolid t\n"
)
GLTF = json.dumps(
    {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": 4, "uri": "data:application/octet-stream;base64,AAAAAA=="}],
    }
).encode()


@pytest.mark.parametrize("width", [3, 4, 6])
def test_point_clouds_are_stored_as_wandb_stores_them(width: int, files: Path) -> None:
    points = RNG.uniform(-5, 5, (50, width))
    if width == 4:
        points[:, 3] = RNG.integers(1, 15, 50)
    if width == 6:
        points[:, 3:] = RNG.integers(0, 256, (50, 3))
    desc, back = round_trip(fwtrack.Object3D(points, caption="scan"), files)
    assert desc["_type"] == "object3d"
    assert desc["format"] == "pts.json"
    assert desc["points"] == 50
    assert desc["caption"] == "scan"
    payload = (files / desc["path"]).read_bytes()
    assert desc["path"] == f"media/{_core.hash_bytes(payload).split(':')[1]}.pts.json"
    # what wandb writes for the same array: a list of points
    theirs = wandb.Object3D(points)
    assert theirs._path is not None
    assert json.loads(payload) == json.loads(Path(theirs._path).read_text())
    assert back.to_json() == points.tolist()
    assert back.num_points == 50
    assert Object3D.from_numpy(points).address == back.address


def test_a_tensor_is_a_point_cloud_too(files: Path) -> None:
    points = RNG.uniform(-1, 1, (8, 3)).astype(np.float32)
    ours = fwtrack.Object3D(torch.from_numpy(points))
    assert ours.to_json() == points.tolist()


def test_from_point_cloud_with_boxes_and_vectors(files: Path) -> None:
    points = RNG.uniform(-5, 5, (30, 3))
    boxes = [
        box3d(
            center=(0.3 * t - 3, 0, 0),
            size=(0.1, 0.2, 0.3),
            orientation=(math.cos(t / 4), math.sin(t / 4), 0, 0),
            color=(0.5 + t / 40, 0.5, 0.5),
            label=f"box {t}",
            score=0.9,
        )
        for t in range(4)
    ]
    boxes.append({"corners": np.zeros((8, 3)), "color": [255, 0, 0]})
    vectors = [{"start": [0, 0, 0], "end": np.array([1, 1, 1])}]
    ours = Object3D.from_point_cloud(points=points, boxes=boxes, vectors=vectors)
    desc, back = round_trip(ours, files)
    assert desc["points"] == 30
    assert desc["boxes"] == 5
    doc = back.to_json()
    plain: Any = {"corners": np.zeros((8, 3)).tolist(), "color": [255, 0, 0]}
    plain.update(label=None, score=None)
    vecs: Any = [{"start": [0, 0, 0], "end": [1, 1, 1]}]
    theirs = wandb.Object3D.from_point_cloud(
        points=points,
        boxes=[wandb.box3d(**{k: v for k, v in _box_args(t).items()}) for t in range(4)] + [plain],
        vectors=vecs,
    )
    assert theirs._path is not None
    expected = json.loads(Path(theirs._path).read_text())
    assert doc["type"] == expected["type"] == "lidar/beta"
    np.testing.assert_allclose(doc["points"], expected["points"])
    assert len(doc["boxes"]) == 5
    for a, b in zip(doc["boxes"], expected["boxes"], strict=True):
        np.testing.assert_allclose(a["corners"], b["corners"], atol=1e-12)
        np.testing.assert_allclose(a["color"], b["color"])
        assert a.get("label") == b["label"]
        assert a.get("score") == b["score"]
    assert doc["vectors"] == [{"start": [0.0, 0.0, 0.0], "end": [1.0, 1.0, 1.0]}]


def _box_args(t: int) -> dict[str, Any]:
    return {
        "center": (0.3 * t - 3, 0, 0),
        "size": (0.1, 0.2, 0.3),
        "orientation": (math.cos(t / 4), math.sin(t / 4), 0, 0),
        "color": (0.5 + t / 40, 0.5, 0.5),
        "label": f"box {t}",
        "score": 0.9,
    }


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("model.glb", glb()),
        ("model.gltf", GLTF),
        ("mesh.obj", OBJ),
        ("part.stl", STL),
        ("scene.babylon", b'{"meshes": []}'),
        ("cloud.pts.json", b"[[0, 0, 0], [1, 1, 1]]"),
    ],
)
def test_model_files_by_path_and_file_object(
    name: str, payload: bytes, files: Path, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    ext = name.split(".", 1)[1]
    with open(path, "rb") as named:
        from_named = fwtrack.Object3D(named)  # a named file: its path decides, as wandb
    for made in (
        fwtrack.Object3D(path),
        fwtrack.Object3D(str(path)),
        Object3D.from_file(str(path)),
        fwtrack.Object3D(io.BytesIO(payload), file_type=ext),
        from_named,
    ):
        desc, back = round_trip(made, files)
        assert desc["format"] == ext
        assert desc["path"].endswith("." + ext)
        assert (files / desc["path"]).read_bytes() == payload
        assert back.bytes() == payload
    # wandb takes the same files
    wandb.Object3D(str(path))
    if ext in ("obj", "stl", "gltf"):
        text = fwtrack.Object3D(io.StringIO(payload.decode()), file_type=ext)
        assert text.bytes() == payload


def test_object3d_logged_in_a_run_and_as_a_gallery(tmp_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "m.glb").write_bytes(glb())
    run = fwtrack.init(project="3d", mode="offline")
    for step in range(3):
        run.log(
            {
                "cloud": fwtrack.Object3D(RNG.uniform(-1, 1, (20, 3)) * (step + 1)),
                "models": [
                    fwtrack.Object3D(tmp_path / "m.glb"),
                    fwtrack.Object3D(io.BytesIO(OBJ), file_type="obj"),
                ],
            }
        )
    run.finish()
    reader = _core.RunReader(run.dir)
    clouds = list(reader.media("cloud"))
    assert [s for s, _, _, _ in clouds] == [0, 1, 2]
    gallery = next(iter(reader.media("models")))[3]
    assert gallery["_type"] == "gallery"
    assert [i["format"] for i in gallery["items"]] == ["glb", "obj"]
    back = from_descriptor(clouds[2][3], fetcher(Path(run.dir) / "files"))
    assert back.num_points == 20


BAD: list[tuple[Any, dict[str, Any], type[Exception], str]] = [
    ([[0, 0, 0]], {}, TypeError, "Object3D takes a numpy array"),
    (np.zeros((5, 5)), {}, ValueError, "got points of shape (5, 5)"),
    (np.zeros(3), {}, ValueError, "got points of shape (3,)"),
    (np.array([[0, 0, np.nan]]), {}, ValueError, "point 0 is [0.0, 0.0, nan]"),
    (np.array([["a", "b", "c"]]), {}, TypeError, "points must be numbers"),
    ({"points": np.zeros((1, 3))}, {}, ValueError, "has no 'type' key"),
    ({"type": "radar"}, {}, ValueError, "must be 'lidar/beta', got 'radar'"),
    ({"type": "lidar/beta", "boxes": [1]}, {}, TypeError, "box 0 is a int"),
    ({"type": "lidar/beta", "boxes": [{}]}, {}, ValueError, "box 0 has no 'corners'"),
    ({"type": "lidar/beta", "boxes": [{"corners": [[0, 0, 0]]}]}, {}, ValueError, "must be 8"),
    (
        {"type": "lidar/beta", "boxes": [{"corners": [[0, 0]] * 8, "color": [0, 0, 0]}]},
        {},
        ValueError,
        "corner 0 must be 3 finite numbers",
    ),
    ({"type": "lidar/beta", "boxes": [{"corners": [[0, 0, 0]] * 8}]}, {}, ValueError, "no 'color'"),
    (
        {
            "type": "lidar/beta",
            "boxes": [{"corners": [[0, 0, 0]] * 8, "color": [0, 0, 0], "label": 1}],
        },
        {},
        TypeError,
        "'label' must be a str",
    ),
    (
        {
            "type": "lidar/beta",
            "boxes": [{"corners": [[0, 0, 0]] * 8, "color": [0, 0, 0], "score": "a"}],
        },
        {},
        TypeError,
        "'score' must be a number",
    ),
    ({"type": "lidar/beta", "boxes": 3}, {}, TypeError, "boxes must be a list"),
    ({"type": "lidar/beta", "vectors": [{"start": [0, 0, 0]}]}, {}, ValueError, "vector 0 is"),
    (io.BytesIO(b"x"), {}, ValueError, "pass file_type="),
    (io.BytesIO(b"x"), {"file_type": "ply"}, ValueError, "file_type must be one of"),
    (io.BytesIO(b"nope"), {"file_type": "glb"}, ValueError, "is not a GLB file"),
    (io.BytesIO(b"{"), {"file_type": "gltf"}, ValueError, "is not a JSON gltf file"),
    (
        io.BytesIO(json.dumps({"buffers": [{"uri": "mesh.bin"}]}).encode()),
        {"file_type": "gltf"},
        ValueError,
        "refers to the external file 'mesh.bin'",
    ),
    (io.BytesIO(b""), {"file_type": "obj"}, ValueError, "is empty"),
    ("model.ply", {}, ValueError, "the name must end in .obj, .gltf"),
    ("/nonexistent/model.glb", {}, FileNotFoundError, "no such file"),
]


@pytest.mark.parametrize(("data", "kwargs", "exc", "match"), BAD)
def test_errors_name_the_value_and_the_fix(
    data: Any, kwargs: dict[str, Any], exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc) as info:
        fwtrack.Object3D(data, **kwargs)
    assert match in str(info.value)


def test_class_method_errors() -> None:
    with pytest.raises(ValueError, match="point_cloud_type must be 'lidar/beta'"):
        Object3D.from_point_cloud(np.zeros((1, 3)), [], point_cloud_type="x")
    with pytest.raises(TypeError, match="from_numpy takes a numpy array"):
        Object3D.from_numpy([[0, 0, 0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="zero quaternion"):
        box3d(center=(0, 0, 0), size=(1, 1, 1), orientation=(0, 0, 0, 0), color=(1, 0, 0))
    with pytest.raises(ValueError, match="center must be 3 numbers"):
        box3d(center=(0, 0), size=(1, 1, 1), orientation=(1, 0, 0, 0), color=(1, 0, 0))
    with pytest.raises(ValueError, match="a glb model is not JSON"):
        fwtrack.Object3D(io.BytesIO(glb()), file_type="glb").to_json()


def test_online_run_uploads_masks_and_3d_payloads(
    server: Server, client_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    mask = np.zeros((6, 8), np.uint8)
    mask[2:, :3] = 2
    run = fwtrack.init(project="media-3d-online")
    run.log(
        {
            "scene": fwtrack.Image(
                np.zeros((6, 8, 3), np.uint8), masks={"gt": {"mask_data": mask}}
            ),
            "cloud": fwtrack.Object3D(RNG.uniform(-1, 1, (10, 3))),
            "model": fwtrack.Object3D(io.BytesIO(glb()), file_type="glb"),
        }
    )
    run.finish()
    base = f"/runs/admin/media-3d-online/{run.id}"
    items = server.get(f"{base}/media", key="scene")["items"]
    mask_path = items[0]["value"]["masks"]["gt"]["path"]
    status, payload = server.request(f"{base}/files/{mask_path}")
    assert status == 200
    assert payload == (Path(run.dir) / "files" / mask_path).read_bytes()
    keys = {k["key"]: k["type"] for k in server.get(f"{base}/media/keys")["keys"]}
    assert keys == {"cloud": "object3d", "model": "object3d", "scene": "image"}
    model = server.get(f"{base}/media", key="model")["items"][0]["value"]
    status, payload = server.request(f"{base}/files/{model['path']}")
    assert (status, payload) == (200, glb())
