"""`fwtrack ui` serving a hand-written local artifact registry (`<dir>/.artifacts`, the layout
of docs/artifacts.md) through the artifact routes, read-only, with lineage from the records in
the local runs' logs; `.artifacts` is never taken for a project."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from fwtrack import _core

from .artifact_util import lineage_log, manifest_of, new_id, record_of
from .harness import Ui

pytestmark = pytest.mark.slow


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}"
    tmp.write_text(json.dumps(obj))
    os.replace(tmp, path)


def store_blob(root: Path, data: bytes) -> str:
    address = _core.hash_bytes(data)
    hexd = address.partition(":")[2]
    path = root / ".artifacts" / "blobs" / hexd[:2] / hexd
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return address


def local_version(
    root: Path,
    project: str,
    name: str,
    index: int,
    files: dict[str, bytes],
    *,
    type: str = "dataset",
    run_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write one version as the local registry does: blobs and manifest first, then
    `versions/v<N>.json` (aliases stored empty)."""
    raw, digest, blobs = manifest_of(files)
    for data in blobs.values():
        store_blob(root, data)
    assert store_blob(root, raw) == digest
    coll = root / ".artifacts" / project / name
    if not (coll / "collection.json").exists():
        write_json(
            coll / "collection.json", {"type": type, "description": "local", "created_at": 1.0}
        )
    version: dict[str, Any] = {
        "id": new_id(),
        "entity": None,
        "project": project,
        "name": name,
        "type": type,
        "version": f"v{index}",
        "index": index,
        "digest": digest,
        "size": sum(len(b) for b in files.values()),
        "files": len(files),
        "aliases": [],
        "description": None,
        "metadata": metadata or {},
        "created_at": 1765000000.0 + index,
        "created_by": None,
        "run": None if run_id is None else {"entity": None, "project": project, "id": run_id},
    }
    write_json(coll / "versions" / f"v{index}.json", version)
    return version


def test_ui_serves_the_local_registry(ui: Ui, tmp_path: Path) -> None:
    root = tmp_path / "fwtrack"
    v0 = local_version(root, "proj", "mnist", 0, {"train.csv": b"1,2\n", "img/a.png": b"png"})
    # The run that logged v1 and the one that used it, with their records in the logs.
    lineage_log(root, "proj", "maker")
    v1 = local_version(
        root, "proj", "mnist", 1, {"train.csv": b"1,2,3\n"}, run_id="maker", metadata={"rows": 3}
    )
    shutil.rmtree(root / "proj" / "maker")
    lineage_log(root, "proj", "maker", logged=[record_of(v1)])
    lineage_log(root, "proj", "user", used=[record_of(v1, "mnist:best")])
    write_json(root / ".artifacts" / "proj" / "mnist" / "aliases.json", {"best": "v1"})

    base = "/artifacts/local/proj/collections/mnist"
    coll = ui.wait_for(
        "the local collection",
        lambda: (r := ui.get(base)) and r[0] == 200 and r[1]["versions"] == 2 and r[1],
    )
    assert coll["latest"] == "v1"
    assert coll["aliases"] == {"best": "v1"}
    assert coll["type"] == "dataset"
    assert [v["version"] for v in coll["versions_list"]] == ["v1", "v0"]
    status, best = ui.get(f"{base}/versions/best")
    assert status == 200
    assert best["digest"] == v1["digest"]
    assert best["aliases"] == ["best", "latest"]
    assert best["metadata"] == {"rows": 3}
    assert best["entity"] == "local"
    # `.artifacts` is not a project.
    status, projects = ui.get("/projects")
    assert ".artifacts" not in {p["name"] for p in projects["projects"]}
    # Files from the local blob dir.
    status, listing = ui.get(f"{base}/versions/v0/files")
    assert [d["name"] for d in listing["dirs"]] == ["img"]
    assert [f["path"] for f in listing["files"]] == ["train.csv"]
    r = httpx.get(f"{ui.url}{base}/versions/v0/files/img/a.png", timeout=30)
    assert r.status_code == 200
    assert r.content == b"png"
    assert r.headers["content-type"] == "image/png"
    r = httpx.get(f"{ui.url}{base}/versions/v0/files/train.csv", headers={"Range": "bytes=2-"})
    assert r.status_code == 206
    assert r.content == b"2\n"
    status, manifest = ui.get(f"{base}/versions/v0/manifest")
    assert (
        _core.hash_bytes(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
        == (v0["digest"])
    )
    # Lineage from the local runs' logs.
    used = ui.wait_for(
        "the user run's edge",
        lambda: (r := ui.get(f"{base}/versions/v1/used_by")) and r[0] == 200 and r[1],
    )
    assert [u["run_id"] for u in used] == ["user"]
    status, graph = ui.get(f"{base}/versions/v1/lineage")
    assert {n["id"] for n in graph["nodes"]} == {
        "artifact:proj/mnist:v1",
        "run:local/proj/maker",
        "run:local/proj/user",
    }
    status, runs = ui.get("/runs/local/proj/user/artifacts")
    assert [(v["name"], v["version"], v["ref"]) for v in runs["used"]] == [
        ("mnist", "v1", "mnist:best")
    ]
    # Read-only.
    commit = {"id": new_id(), "name": "mnist", "type": "dataset", "digest": v0["digest"]}
    for method, path, body in [
        ("POST", "/runs/local/proj/user/artifacts", commit),
        ("PATCH", f"{base}/versions/v0", {"aliases": ["x"]}),
        ("POST", "/artifacts/local/proj/blobs/missing", {"addresses": []}),
    ]:
        r = httpx.request(method, f"{ui.url}{path}", json=body, timeout=30)
        assert r.status_code == 405, (method, path, r.text)
    assert ui.get(f"{base}/versions/v0")[1]["aliases"] == []
    # A new version and moved aliases appear; a removed collection goes.
    local_version(root, "proj", "mnist", 2, {"train.csv": b"4"})
    write_json(root / ".artifacts" / "proj" / "mnist" / "aliases.json", {"best": "v0"})
    ui.wait_for(
        "v2 and the moved alias",
        lambda: (
            (r := ui.get(base))[0] == 200
            and r[1]["latest"] == "v2"
            and r[1]["aliases"] == {"best": "v0"}
        ),
    )
    local_version(root, "proj", "other", 0, {"x": b"x"}, type="model")
    ui.wait_for("the other collection", lambda: ui.get("/artifacts/local/proj/types")[1] == [
        {"type": "dataset", "collections": 1, "versions": 3},
        {"type": "model", "collections": 1, "versions": 1},
    ])  # fmt: skip
    shutil.rmtree(root / ".artifacts" / "proj" / "other")
    ui.wait_for(
        "the removed collection gone",
        lambda: ui.get("/artifacts/local/proj/collections/other")[0] == 404,
    )
