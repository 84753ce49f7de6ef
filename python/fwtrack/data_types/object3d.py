"""`fwtrack.Object3D`: a point cloud (with boxes and vectors) or a 3D model file, as
`wandb.Object3D` takes them; `box3d` makes a box from its center, size and orientation.

A point cloud is stored as JSON (`media/<hex>.pts.json`, W&B's format: a list of points
`[[x, y, z], ...]` for an array, `{"type": "lidar/beta", "points", "boxes", "vectors"}` from
`from_point_cloud`); a model file (glTF, GLB, OBJ, STL, Babylon) byte for byte
(`media/<hex>.<ext>`). The dashboard shows both with three.js.

numpy is imported on first use.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from fwtrack.data_types.media import Media, _is_path, _is_tensor, _read_path, _tensor_to_numpy

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FILE_TYPES", "Object3D", "box3d"]

FILE_TYPES = ("obj", "gltf", "glb", "babylon", "stl", "pts.json")
"""The files `Object3D` takes (as `wandb.Object3D.SUPPORTED_TYPES`)."""

POINT_CLOUD_TYPES = ("lidar/beta",)

_SHAPES = (
    "a point cloud is an (N, 3) array of x, y, z; (N, 4) of x, y, z, category; or (N, 6) "
    "of x, y, z, r, g, b"
)


def _points_array(data: Any, where: str) -> npt.NDArray[Any]:
    import numpy as np

    if _is_tensor(data):
        data = _tensor_to_numpy(data)
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where}: points must be numbers, got an array of dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] not in (3, 4, 6):
        raise ValueError(f"{where}: got points of shape {tuple(arr.shape)}; {_SHAPES}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(
            f"{where}: point {bad} is {arr[bad].tolist()}: coordinates must be finite (drop "
            "NaN/inf points, e.g. points[np.isfinite(points).all(axis=1)])"
        )
    return arr


def _number_list(v: Any, n: int, what: str) -> list[float]:
    if hasattr(v, "tolist"):
        v = v.tolist()
    if (
        isinstance(v, str)
        or not isinstance(v, Sequence)
        or len(v) != n
        or not all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) for x in v
        )
    ):
        raise ValueError(f"{what} must be {n} finite numbers, got {v!r}")
    return [float(x) for x in v]


def _box(box: Any, i: int) -> dict[str, Any]:
    where = f"Object3D box {i}"
    if not isinstance(box, Mapping):
        raise TypeError(
            f"{where} is a {type(box).__name__}: a box is a dict with 'corners' (8 points), "
            "'color' (r, g, b), 'label' and 'score' (see fwtrack.box3d)"
        )
    if "corners" not in box:
        raise ValueError(f"{where} has no 'corners' (8 [x, y, z] points; see fwtrack.box3d)")
    corners = box["corners"]
    if hasattr(corners, "tolist"):
        corners = corners.tolist()
    if isinstance(corners, str) or not isinstance(corners, Sequence) or len(corners) != 8:
        raise ValueError(f"{where}: 'corners' must be 8 [x, y, z] points, got {corners!r}")
    out: dict[str, Any] = {
        "corners": [_number_list(c, 3, f"{where} corner {j}") for j, c in enumerate(corners)]
    }
    if box.get("color") is not None:
        out["color"] = _number_list(box["color"], 3, f"{where} 'color' (r, g, b)")
    else:
        raise ValueError(f"{where} has no 'color' (r, g, b), as wandb requires")
    label = box.get("label")
    if label is not None:
        if not isinstance(label, str):
            raise TypeError(f"{where}: 'label' must be a str, got {label!r}")
        out["label"] = label
    score = box.get("score")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, numbers.Real):
            raise TypeError(f"{where}: 'score' must be a number, got {score!r}")
        out["score"] = float(score)
    return out


def _vector(vec: Any, i: int) -> dict[str, Any]:
    where = f"Object3D vector {i}"
    if not isinstance(vec, Mapping) or "start" not in vec or "end" not in vec:
        raise ValueError(
            f"{where} is {vec!r}: a vector is a dict {{'start': [x, y, z], 'end': [x, y, z]}}"
        )
    out: dict[str, Any] = {
        "start": _number_list(vec["start"], 3, f"{where} 'start'"),
        "end": _number_list(vec["end"], 3, f"{where} 'end'"),
    }
    if vec.get("color") is not None:
        out["color"] = _number_list(vec["color"], 3, f"{where} 'color'")
    return out


def _items(values: Any, what: str) -> list[Any]:
    if values is None:
        return []
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Sequence):
        raise TypeError(f"Object3D {what} must be a list, got {type(values).__name__}")
    return list(values)


def _quaternion_to_rotation(q: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Rotation matrix R for `points @ R` from a quaternion [r, x, y, z] (as wandb)."""
    import numpy as np

    x = np.abs(q)
    top = x.argmax()
    if x[top] == 0:
        raise ValueError("box3d orientation is the zero quaternion; use e.g. (1, 0, 0, 0)")
    x = x / x[top]
    qr, qi, qj, qk = x / np.linalg.norm(x)
    qii, qjj, qkk = qi**2, qj**2, qk**2
    qij, qik, qjk = qi * qj, qi * qk, qj * qk
    qir, qjr, qkr = qi * qr, qj * qr, qk * qr
    return np.array(
        (
            (1 - 2 * (qjj + qkk), 2 * (qij + qkr), 2 * (qik - qjr)),
            (2 * (qij - qkr), 1 - 2 * (qii + qkk), 2 * (qjk + qir)),
            (2 * (qik + qjr), 2 * (qjk - qir), 1 - 2 * (qii + qjj)),
        ),
        dtype=np.float64,
    )


def box3d(
    *,
    center: npt.ArrayLike,
    size: npt.ArrayLike,
    orientation: npt.ArrayLike,
    color: Sequence[float],
    label: str | None = None,
    score: float | None = None,
) -> dict[str, Any]:
    """A box for `Object3D.from_point_cloud` (as `wandb.box3d`): `center` (3), `size` (its
    x, y, z extents), `orientation` (a quaternion [r, x, y, z]), `color` (r, g, b)."""
    import numpy as np

    c = np.asarray(center, dtype=np.float64)
    s = np.asarray(size, dtype=np.float64)
    q = np.asarray(orientation, dtype=np.float64)
    for name, arr, n in (("center", c, 3), ("size", s, 3), ("orientation", q, 4)):
        if arr.shape != (n,):
            raise ValueError(f"box3d {name} must be {n} numbers, got shape {arr.shape}")
    rot = _quaternion_to_rotation(q)
    unit = np.array(list(itertools.product((-1, 1), (-1, 1), (-1, 1))), dtype=np.float64)
    corners = c + (0.5 * s * unit) @ rot
    return {
        "corners": [tuple(float(v) for v in pt) for pt in corners],
        "color": color,
        "label": label,
        "score": score,
    }


def _file_type(name: str) -> str | None:
    lower = name.lower()
    for t in FILE_TYPES:
        if lower.endswith("." + t):
            return t
    return None


def _check_model(payload: bytes, file_type: str, where: str) -> None:
    """Refuse a file the dashboard could not draw: a GLB without its magic, a glTF that
    is not JSON or that names buffers or images outside itself."""
    if file_type == "glb":
        if not payload.startswith(b"glTF"):
            raise ValueError(f"Object3D: {where} is not a GLB file (it does not start with glTF)")
        return
    if file_type in ("gltf", "pts.json", "babylon"):
        try:
            doc = json.loads(payload)
        except (UnicodeDecodeError, ValueError) as e:
            raise ValueError(f"Object3D: {where} is not a JSON {file_type} file: {e}") from None
        if file_type == "gltf" and isinstance(doc, dict):
            for kind in ("buffers", "images"):
                for item in doc.get(kind) or []:
                    uri = item.get("uri") if isinstance(item, dict) else None
                    if isinstance(uri, str) and not uri.startswith("data:"):
                        raise ValueError(
                            f"Object3D: {where} refers to the external file {uri!r}, which "
                            "is not stored with it; embed it (data: URIs) or export a .glb"
                        )
        return
    if not payload:
        raise ValueError(f"Object3D: {where} is empty")


class Object3D(Media):
    """A 3D point cloud or model, logged as `fwtrack.log({"scene": fwtrack.Object3D(x)})`.

    `data_or_path`:
    - a numpy array (or torch tensor) of shape (N, 3) x, y, z; (N, 4) x, y, z, category;
      (N, 6) x, y, z, r, g, b (0..255);
    - a dict `{"type": "lidar/beta", "points": ..., "boxes": [...], "vectors": [...]}` (what
      `from_point_cloud` makes);
    - a path to a `.obj`, `.gltf`, `.glb`, `.stl`, `.babylon` or `.pts.json` file, or a file
      object with `file_type=` one of those.
    """

    _type = "object3d"

    SUPPORTED_TYPES: ClassVar[frozenset[str]] = frozenset(FILE_TYPES)
    SUPPORTED_POINT_CLOUD_TYPES: ClassVar[frozenset[str]] = frozenset(POINT_CLOUD_TYPES)

    format: str
    _points: int | None
    _boxes: int | None
    _data: Any

    def __init__(
        self, data_or_path: Any, caption: str | None = None, *, file_type: str | None = None
    ) -> None:
        self._init_media(caption)
        self._points = None
        self._boxes = None
        self._data = None
        name = getattr(data_or_path, "name", None)
        if hasattr(data_or_path, "read"):
            if isinstance(name, str) and _file_type(name) and os.path.isfile(name):
                self._from_file(name, None)  # an open file: its path decides, as wandb
                return
            self._from_stream(data_or_path, file_type)
        elif _is_path(data_or_path):
            self._from_file(os.fspath(data_or_path), file_type)
        elif isinstance(data_or_path, Mapping):
            self._from_dict(data_or_path)
        elif _is_tensor(data_or_path) or type(data_or_path).__module__ == "numpy":
            arr = _points_array(data_or_path, "Object3D")
            self._set_points(arr.tolist(), int(arr.shape[0]), None)
        else:
            raise TypeError(
                "Object3D takes a numpy array of points, a point cloud dict (see "
                "Object3D.from_point_cloud), a path to a .obj/.gltf/.glb/.stl/.babylon/"
                f".pts.json file or a file object with file_type=, got "
                f"{type(data_or_path).__name__}"
            )

    def _set_points(self, data: Any, points: int, boxes: int | None) -> None:
        self.format = "pts.json"
        self._ext = "pts.json"
        self._data = data
        self._points = points
        self._boxes = boxes

    def _from_dict(self, data: Mapping[str, Any]) -> None:
        kind = data.get("type")
        if kind not in POINT_CLOUD_TYPES:
            raise ValueError(
                f"Object3D point cloud type must be 'lidar/beta', got {kind!r}"
                + ("" if "type" in data else " (the dict has no 'type' key)")
            )
        points = data.get("points")
        if points is None or (hasattr(points, "__len__") and len(points) == 0):
            arr = _points_array([[0.0, 0.0, 0.0]], "Object3D points")[:0]  # no points
        else:
            arr = _points_array(points, "Object3D points")
        boxes = [_box(b, i) for i, b in enumerate(_items(data.get("boxes"), "boxes"))]
        vectors = [_vector(v, i) for i, v in enumerate(_items(data.get("vectors"), "vectors"))]
        body = {"type": kind, "points": arr.tolist(), "boxes": boxes, "vectors": vectors}
        self._set_points(body, int(arr.shape[0]), len(boxes))

    def _from_file(self, path: str, file_type: str | None) -> None:
        kind = _file_type(path)
        if kind is None:
            raise ValueError(
                f"Object3D: {path!r} is not a file Object3D takes: the name must end in "
                f"{', '.join('.' + t for t in FILE_TYPES)}"
            )
        payload = _read_path("Object3D", path)
        self._from_bytes(payload, kind, repr(path))

    def _from_stream(self, stream: Any, file_type: str | None) -> None:
        if file_type is None:
            raise ValueError(
                "Object3D: pass file_type= (one of "
                f"{', '.join(map(repr, FILE_TYPES))}) with a file object"
            )
        if file_type not in FILE_TYPES:
            raise ValueError(
                f"Object3D file_type must be one of {', '.join(map(repr, FILE_TYPES))}, got "
                f"{file_type!r}"
            )
        if hasattr(stream, "seek"):
            stream.seek(0)
        content = stream.read()
        payload = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        self._from_bytes(payload, file_type, "the file object")

    def _from_bytes(self, payload: bytes, kind: str, where: str) -> None:
        _check_model(payload, kind, where)
        self.format = kind
        self._ext = kind
        self._payload = payload
        if kind == "pts.json":
            doc = json.loads(payload)
            if isinstance(doc, list):
                self._points = len(doc)
            elif isinstance(doc, dict):
                self._points = len(doc.get("points") or [])
                self._boxes = len(doc.get("boxes") or [])

    @classmethod
    def from_file(cls, data_or_path: Any, file_type: str | None = None) -> Object3D:
        """From a path or a file object (`file_type` required for a file object)."""
        return cls(data_or_path, file_type=file_type)

    @classmethod
    def from_numpy(cls, data: npt.NDArray[Any]) -> Object3D:
        """From an (N, 3), (N, 4) or (N, 6) numpy array of points."""
        if type(data).__module__ != "numpy":
            raise TypeError(f"Object3D.from_numpy takes a numpy array, got {type(data).__name__}")
        return cls(data)

    @classmethod
    def from_point_cloud(
        cls,
        points: Any,
        boxes: Sequence[Mapping[str, Any]],
        vectors: Sequence[Mapping[str, Any]] | None = None,
        point_cloud_type: str = "lidar/beta",
    ) -> Object3D:
        """A point cloud with 3D boxes (`box3d` or dicts with 'corners', 'color', 'label',
        'score') and vectors (`{"start", "end"}`), as `wandb.Object3D.from_point_cloud`."""
        if point_cloud_type not in POINT_CLOUD_TYPES:
            raise ValueError(
                f"point_cloud_type must be 'lidar/beta' (the one type wandb has), got "
                f"{point_cloud_type!r}"
            )
        return cls({"type": point_cloud_type, "points": points, "boxes": boxes, "vectors": vectors})

    def _encode(self) -> bytes:
        text = json.dumps(self._data, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8")

    def _drop_source(self) -> None:
        self._data = None

    def _source_bytes(self) -> int:
        if self._payload is not None:
            return len(self._payload)
        return 48 * (self._points or 0) + 256 * (self._boxes or 0)

    def _meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"format": self.format}
        if self._points is not None:
            meta["points"] = self._points
        if self._boxes is not None:
            meta["boxes"] = self._boxes
        return meta

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._data = None
        self.format = str(desc.get("format", self._ext))
        points, boxes = desc.get("points"), desc.get("boxes")
        self._points = points if isinstance(points, int) else None
        self._boxes = boxes if isinstance(boxes, int) else None

    @property
    def num_points(self) -> int | None:
        """Points of a point cloud (None for a model file)."""
        return self._points

    def to_json(self) -> Any:
        """A point cloud's stored JSON (a list of points, or the `lidar/beta` dict)."""
        if self.format != "pts.json":
            raise ValueError(f"Object3D.to_json: a {self.format} model is not JSON; use .bytes()")
        return json.load(io.BytesIO(self.bytes()))

    def _repr_fields(self) -> str:
        if self._points is not None:
            return f"{self._points} points" + (f", {self._boxes} boxes" if self._boxes else "")
        return self.format
