"""What `fwtrack.Image` draws over its pixels, in W&B's formats: `BoundingBoxes2D` (the
`boxes=` of an image), `ImageMask` (its `masks=`, a class id per pixel, stored as a PNG of
its own next to the image) and `Classes` (the `classes=` of an image: ids and names).

    fwtrack.Image(
        pixels,
        boxes={"predictions": {"box_data": [{"position": {"minX": 0.1, "maxX": 0.4,
               "minY": 0.2, "maxY": 0.6}, "class_id": 1, "box_caption": "cat",
               "scores": {"conf": 0.9}}], "class_labels": {1: "cat"}}},
        masks={"ground_truth": {"mask_data": mask, "class_labels": {0: "bg", 1: "cat"}}},
    )

numpy and Pillow are imported on first use.
"""

from __future__ import annotations

import io
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fwtrack.data_types.media import Media, _as_array, _is_path, _read_path

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["BoundingBoxes2D", "Classes", "ImageMask"]

_BOX_FORMS = (
    "a box's position is {'minX', 'maxX', 'minY', 'maxY'} or {'middle': [x, y], 'width', "
    "'height'} (fractions of the image by default; add 'domain': 'pixel' for pixels)"
)


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _plain(v: Any) -> Any:
    """Tensors and numpy values as plain Python numbers/lists (W&B converts tensors too)."""
    if hasattr(v, "tolist") and not isinstance(v, str | bytes):
        return v.tolist()
    return v


def _class_labels(labels: object, where: str) -> dict[str, str]:
    """`{id: name}` with int ids, as JSON wants it: `{"1": "cat"}`."""
    if not isinstance(labels, Mapping):
        raise TypeError(
            f"{where}: class_labels must be a dict of int ids to str names, e.g. "
            f"{{0: 'background', 1: 'cat'}}, got {type(labels).__name__}"
        )
    out: dict[str, str] = {}
    for k, v in labels.items():
        k = _plain(k)
        whole = isinstance(k, numbers.Integral) or (isinstance(k, float) and k.is_integer())
        if isinstance(k, bool) or not whole:
            raise TypeError(
                f"{where}: class_labels keys must be int class ids, got {k!r}; "
                "e.g. {0: 'background', 1: 'cat'}"
            )
        if not isinstance(v, str):
            raise TypeError(
                f"{where}: class_labels values must be str names, got {v!r} for id {k}; "
                "e.g. {1: 'cat'}"
            )
        out[str(int(k))] = v
    return out


class Classes:
    """The classes of an image's boxes and masks: `Classes([{"id": 1, "name": "cat"}, ...])`
    (W&B's `wandb.Classes`)."""

    __slots__ = ("_class_set",)

    def __init__(self, class_set: Sequence[Mapping[str, Any]]) -> None:
        self._class_set = _class_set(class_set, "Classes")

    @property
    def class_set(self) -> list[dict[str, Any]]:
        return [dict(c) for c in self._class_set]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Classes) and self._class_set == other._class_set

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Classes({self._class_set!r})"


def _class_set(classes: object, where: str) -> list[dict[str, Any]]:
    if isinstance(classes, Classes):
        return classes.class_set
    if isinstance(classes, str | bytes | Mapping) or not isinstance(classes, Sequence):
        raise TypeError(
            f"{where}: classes must be a list of {{'id': int, 'name': str}} dicts or a "
            f"fwtrack.Classes, got {type(classes).__name__}"
        )
    out: list[dict[str, Any]] = []
    for i, c in enumerate(classes):
        if not isinstance(c, Mapping) or "id" not in c or "name" not in c:
            raise TypeError(
                f"{where}: class {i} is {c!r}; each class is a dict with 'id' (int) and "
                "'name' (str), e.g. {'id': 1, 'name': 'cat'}"
            )
        cid = _plain(c["id"])
        if isinstance(cid, bool) or not isinstance(cid, int | str):
            raise TypeError(f"{where}: class {i} has id {cid!r}; ids are int (or str)")
        if not isinstance(c["name"], str):
            raise TypeError(f"{where}: class {i} has name {c['name']!r}; names are str")
        entry = {"id": cid, "name": c["name"]}
        extra = {k: _plain(v) for k, v in c.items() if k not in ("id", "name")}
        entry.update({k: v for k, v in extra.items() if isinstance(v, str | int | float)})
        out.append(entry)
    return out


def _position(pos: object, index: int, where: str) -> dict[str, Any]:
    if not isinstance(pos, Mapping):
        raise TypeError(f"{where}: box {index} has no position dict; {_BOX_FORMS}")
    pos = {k: _plain(v) for k, v in pos.items()}
    if all(k in pos for k in ("minX", "maxX", "minY", "maxY")):
        keys: tuple[str, ...] = ("minX", "maxX", "minY", "maxY")
        bad = [k for k in keys if not _is_number(pos[k])]
        if bad:
            raise TypeError(
                f"{where}: box {index} position {bad[0]} is {pos[bad[0]]!r}; positions are "
                "finite numbers"
            )
        if pos["minX"] > pos["maxX"] or pos["minY"] > pos["maxY"]:
            raise ValueError(
                f"{where}: box {index} has minX {pos['minX']} > maxX {pos['maxX']} or minY "
                f"{pos['minY']} > maxY {pos['maxY']}; swap them"
            )
        return {k: pos[k] for k in keys}
    if "middle" in pos and "width" in pos and "height" in pos:
        middle = pos["middle"]
        if (
            not isinstance(middle, Sequence)
            or isinstance(middle, str)
            or len(middle) != 2
            or not all(_is_number(v) for v in middle)
        ):
            raise TypeError(f"{where}: box {index} middle is {middle!r}; it is [x, y], two numbers")
        for k in ("width", "height"):
            if not _is_number(pos[k]) or pos[k] < 0:
                raise ValueError(f"{where}: box {index} {k} is {pos[k]!r}; it is a number >= 0")
        return {"middle": [middle[0], middle[1]], "width": pos["width"], "height": pos["height"]}
    raise TypeError(f"{where}: box {index} position is {dict(pos)!r}; {_BOX_FORMS}")


def _box(box: object, index: int, where: str) -> dict[str, Any]:
    if not isinstance(box, Mapping):
        raise TypeError(f"{where}: box {index} is a {type(box).__name__}, not a dict")
    if "position" not in box:
        raise TypeError(f"{where}: box {index} has no 'position'; {_BOX_FORMS}")
    out: dict[str, Any] = {"position": _position(box["position"], index, where)}
    domain = box.get("domain")
    if domain is not None:
        if domain != "pixel":
            raise ValueError(
                f"{where}: box {index} domain is {domain!r}; it is 'pixel' for pixel "
                "coordinates, or left out for fractions of the image"
            )
        out["domain"] = "pixel"
    if "class_id" in box:
        cid = _plain(box["class_id"])
        if isinstance(cid, bool) or not isinstance(cid, int):
            raise TypeError(f"{where}: box {index} class_id is {cid!r}; it is an int")
        out["class_id"] = cid
    if "box_caption" in box and box["box_caption"] is not None:
        if not isinstance(box["box_caption"], str):
            raise TypeError(
                f"{where}: box {index} box_caption is {box['box_caption']!r}; it is a str"
            )
        out["box_caption"] = box["box_caption"]
    if "scores" in box and box["scores"] is not None:
        scores = box["scores"]
        if not isinstance(scores, Mapping):
            raise TypeError(
                f"{where}: box {index} scores is {scores!r}; it is a dict of str to numbers"
            )
        checked: dict[str, float | int] = {}
        for k, v in scores.items():
            v = _plain(v)
            if not isinstance(k, str) or not _is_number(v):
                raise TypeError(
                    f"{where}: box {index} score {k!r}: {v!r}; scores map str names to "
                    "finite numbers, e.g. {'confidence': 0.9}"
                )
            checked[k] = v
        out["scores"] = checked
    return out


class BoundingBoxes2D:
    """Boxes drawn over an image, one group (`key`, e.g. "predictions") of an image's
    `boxes=` (W&B's `wandb.data_types.BoundingBoxes2D`).

    `val`: `{"box_data": [box, ...], "class_labels": {id: name}}` where a box is
    `{"position": {...}, "domain": "pixel"?, "class_id": int, "box_caption": str,
    "scores": {name: number}}`; without `class_labels` the ids are named `class_<id>`.
    """

    __slots__ = ("_class_labels", "_key", "_val")

    def __init__(self, val: Mapping[str, Any], key: str) -> None:
        where = f"boxes[{key!r}]"
        if not isinstance(val, Mapping):
            raise TypeError(
                f"{where} must be a dict {{'box_data': [...], 'class_labels': {{...}}}}, got "
                f"{type(val).__name__}"
            )
        data = val.get("box_data")
        if isinstance(data, str) or not isinstance(data, Sequence):
            raise TypeError(
                f"{where}: 'box_data' must be a list of boxes, got {type(data).__name__}"
            )
        self._key = key
        self._val = [_box(b, i, where) for i, b in enumerate(data)]
        if "class_labels" in val and val["class_labels"] is not None:
            self._class_labels = _class_labels(val["class_labels"], where)
        else:
            ids = sorted({b["class_id"] for b in self._val if "class_id" in b})
            self._class_labels = {str(i): f"class_{i}" for i in ids}

    @property
    def box_data(self) -> list[dict[str, Any]]:
        return self._val

    @property
    def class_labels(self) -> dict[int, str]:
        return {int(k): v for k, v in self._class_labels.items()}

    def _json(self) -> dict[str, Any]:
        return {"box_data": self._val, "class_labels": self._class_labels}

    @classmethod
    def _from_json(cls, obj: Mapping[str, Any], key: str) -> BoundingBoxes2D:
        out = cls.__new__(cls)
        out._key = key
        out._val = list(obj.get("box_data", []))
        out._class_labels = dict(obj.get("class_labels", {}))
        return out

    def __repr__(self) -> str:
        return f"BoundingBoxes2D({self._key!r}, {len(self._val)} boxes)"


def _mask_pixels(data: object, where: str) -> npt.NDArray[np.uint8]:
    import numpy as np

    arr = _as_array(data, f"{where}: mask_data must be a 2-D numpy array or torch tensor")
    if arr.ndim != 2:
        raise ValueError(
            f"{where}: mask_data must be 2-D (height, width) with one class id per pixel, "
            f"got shape {tuple(arr.shape)}"
        )
    if arr.size == 0:
        raise ValueError(f"{where}: mask_data is empty (shape {tuple(arr.shape)})")
    kind = arr.dtype.kind
    if kind == "b":
        return arr.astype(np.uint8)
    if kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(
                f"{where}: mask_data holds class ids, whole numbers in 0..255; got non-whole "
                "floats: cast with mask.astype(np.uint8) after rounding"
            )
    elif kind not in "iu":
        raise TypeError(
            f"{where}: mask_data of dtype {arr.dtype} cannot hold class ids; use an integer "
            "array (uint8)"
        )
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > 255:
        raise ValueError(
            f"{where}: mask class ids must lie in 0..255, got {lo}..{hi}; renumber the "
            "classes into 0..255"
        )
    return np.ascontiguousarray(arr, dtype=np.uint8)


class ImageMask(Media):
    """A class id per pixel drawn over an image, one group (`key`, e.g. "ground_truth") of an
    image's `masks=` (W&B's `wandb.data_types.ImageMask`). Stored as a grayscale PNG
    (`media/<hex>.mask.png`) next to the image.

    `val`: `{"mask_data": 2-D int array (0..255)}` or `{"path": PNG file of the mask}`, with
    `"class_labels": {id: name}` (default `class_<id>` for the ids present).
    """

    _type = "mask"

    _array: npt.NDArray[np.uint8] | None
    _key: str
    _class_labels: dict[str, str]
    width: int
    height: int

    def __init__(self, val: Mapping[str, Any], key: str) -> None:
        where = f"masks[{key!r}]"
        if not isinstance(val, Mapping):
            raise TypeError(
                f"{where} must be a dict {{'mask_data': array, 'class_labels': {{...}}}}, "
                f"got {type(val).__name__}"
            )
        self._init_media(None)
        self._ext = "mask.png"
        self._key = key
        self._array = None
        if "path" in val and "mask_data" not in val:
            path = val["path"]
            if not _is_path(path):
                raise TypeError(f"{where}: 'path' must be a file path, got {path!r}")
            self._from_file(_read_path("ImageMask", path), os.fspath(path), where)
        elif "mask_data" in val:
            self._array = _mask_pixels(val["mask_data"], where)
            self.height, self.width = (int(n) for n in self._array.shape)
        else:
            raise TypeError(
                f"{where}: missing 'mask_data' (a 2-D array of class ids, one per pixel) "
                "or 'path' (a PNG of the mask)"
            )
        if "class_labels" in val and val["class_labels"] is not None:
            self._class_labels = _class_labels(val["class_labels"], where)
        else:
            ids = self._ids()
            self._class_labels = {str(i): f"class_{i}" for i in ids}

    def _from_file(self, payload: bytes, path: str, where: str) -> None:
        import numpy as np
        from PIL import Image as PILImage
        from PIL import UnidentifiedImageError

        try:
            opened = PILImage.open(io.BytesIO(payload))
            opened.load()
        except UnidentifiedImageError:
            raise ValueError(f"{where}: {path!r} is not an image file Pillow can read") from None
        im = opened if opened.mode in ("L", "P", "1") else opened.convert("L")
        self._array = _mask_pixels(np.asarray(im), where)
        self.height, self.width = (int(n) for n in self._array.shape)

    def _ids(self) -> list[int]:
        import numpy as np

        if self._array is None:
            return []
        return [int(v) for v in np.unique(self._array)]

    @property
    def class_labels(self) -> dict[int, str]:
        return {int(k): v for k, v in self._class_labels.items()}

    def _encode(self) -> bytes:
        from PIL import Image as PILImage

        assert self._array is not None
        buf = io.BytesIO()
        PILImage.fromarray(self._array, mode="L").save(buf, format="PNG", compress_level=1)
        return buf.getvalue()

    def _drop_source(self) -> None:
        self._array = None

    def _source_bytes(self) -> int:
        if self._payload is not None:
            return len(self._payload)
        return int(self._array.nbytes) if self._array is not None else 0

    def _meta(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "class_labels": self._class_labels}

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._array = None
        self._key = str(desc.get("key", ""))
        self.width = int(desc.get("width", 0))
        self.height = int(desc.get("height", 0))
        labels = desc.get("class_labels")
        self._class_labels = dict(labels) if isinstance(labels, dict) else {}

    def to_numpy(self) -> npt.NDArray[np.uint8]:
        """The class ids, uint8 of shape (height, width)."""
        import numpy as np
        from PIL import Image as PILImage

        if self._array is not None:
            held: npt.NDArray[np.uint8] = self._array.copy()
            return held
        im = PILImage.open(io.BytesIO(self.bytes()))
        ids: npt.NDArray[np.uint8] = np.asarray(
            im.convert("L") if im.mode not in ("L", "P") else im, dtype=np.uint8
        )
        return ids

    def _repr_fields(self) -> str:
        return f"{self._key!r} {self.width}x{self.height}"
