"""A run with overlaid images and 3D objects, for `media3d.spec.ts`.

media3d_fixtures.py --dir DIR --out expected.json
    logs run `media3d/scene-run` offline under DIR through the Python API: `scene` (an image
    with two box groups, a mask and classes) and `cloud` (a coloured point cloud with a box)
    at steps 0..2, and `model` (a GLB triangle) at step 2. Writes what it logged as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

import fwtrack

PROJECT = "media3d"
RUN_ID = "scene-run"
STEPS = 3


def glb() -> bytes:
    """A GLB with one large triangle (positions in a BIN chunk)."""
    positions = struct.pack("<9f", -1, -1, 0, 1, -1, 0, 0, 1, 0)
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "material": 0}]}],
        "materials": [
            {
                "pbrMetallicRoughness": {"baseColorFactor": [1, 0.8, 0.1, 1]},
                "emissiveFactor": [1, 0.8, 0.1],
                "doubleSided": True,
            }
        ],
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [-1, -1, 0],
                "max": [1, 1, 0],
            }
        ],
    }
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<II", len(text), 0x4E4F534A) + text
    body += struct.pack("<II", len(positions), 0x004E4942) + positions
    return struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body


def scene(step: int) -> fwtrack.Image:
    pixels = np.zeros((60, 80, 3), np.uint8)
    pixels[..., 1] = np.linspace(0, 200, 80, dtype=np.uint8)[None, :]
    mask = np.zeros((60, 80), np.uint8)
    mask[30:, :40] = 3  # road, bottom left
    return fwtrack.Image(
        pixels,
        caption=f"scene at step {step}",
        boxes={
            "predictions": {
                "box_data": [
                    {
                        "position": {
                            "minX": 0.1 + 0.1 * step,
                            "maxX": 0.4 + 0.1 * step,
                            "minY": 0.1,
                            "maxY": 0.5,
                        },
                        "class_id": 1,
                        "box_caption": f"cat {step}",
                        "scores": {"conf": 0.9},
                    },
                    {
                        "position": {"middle": [60, 40], "width": 20, "height": 20},
                        "domain": "pixel",
                        "class_id": 2,
                        "box_caption": "dog",
                    },
                ],
                "class_labels": {1: "cat", 2: "dog"},
            }
        },
        masks={"ground_truth": {"mask_data": mask, "class_labels": {0: "background", 3: "road"}}},
    )


def cloud(step: int) -> fwtrack.Object3D:
    rng = np.random.default_rng(step)
    xyz = rng.uniform(-1, 1, (400, 3))
    rgb = np.tile([255.0, 40.0, 40.0], (400, 1))  # red points
    corners = [[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)]
    return fwtrack.Object3D.from_point_cloud(
        points=np.hstack([xyz, rgb]),
        boxes=[{"corners": corners, "color": [0, 255, 0], "label": "box", "score": 0.5}],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ["FWTRACK_MODE"] = "offline"
    root = Path(args.dir)
    model = root.parent / "triangle.glb"
    model.write_bytes(glb())
    run = fwtrack.init(project=PROJECT, id=RUN_ID, name=RUN_ID, dir=root)
    for step in range(STEPS):
        row: dict[str, Any] = {"scene": scene(step), "cloud": cloud(step)}
        if step == STEPS - 1:
            row["model"] = fwtrack.Object3D(model)
        run.log(row, step=step)
    run.finish()
    Path(args.out).write_text(
        json.dumps({"project": PROJECT, "run": RUN_ID, "steps": STEPS}), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
