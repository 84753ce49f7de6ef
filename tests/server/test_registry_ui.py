"""`fwtrack ui` serving a hand-written local model registry (`<dir>/.artifacts/registry/
<model>.json`, the layout of docs/registry.md) through the registry's routes, read-only, with
the card of a version logged by a local run; `registry` is never taken for a project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from .harness import Ui
from .registry_util import run_log
from .test_artifacts_ui import local_version, write_json

pytestmark = pytest.mark.slow


def model_file(versions: list[dict[str, Any]], aliases: dict[str, int]) -> dict[str, Any]:
    """A model file as the client writes it: `versions` are the artifact VersionJSONs linked
    as v0, v1, ..."""
    rows = [
        {
            "index": i,
            "artifact": {
                "project": v["project"],
                "name": v["name"],
                "version": v["version"],
                "digest": v["digest"],
            },
            "linked_at": 1765000100.0 + i,
            "linked_by": "someone",
            "run": {"project": v["project"], "id": "train"} if i == 0 else None,
        }
        for i, v in enumerate(versions)
    ]
    audit: list[dict[str, Any]] = [
        {
            "id": i + 1,
            "at": 1765000100.0 + i,
            "user": "someone",
            "action": "link",
            "alias": None,
            "from_version": None,
            "to_version": f"v{i}",
            "detail": None,
        }
        for i in range(len(versions))
    ]
    audit.append(
        {
            "id": len(audit) + 1,
            "at": 1765000200.0,
            "user": "someone",
            "action": "alias.set",
            "alias": "production",
            "from_version": None,
            "to_version": "v0",
            "detail": None,
        }
    )
    return {
        "format": 1,
        "name": "classifier",
        "description": "# Local classifier",
        "metadata": {"task": "mnist"},
        "tags": ["vision"],
        "protected_aliases": ["production"],
        "maintainers": ["someone"],
        "created_at": 1765000000.0,
        "updated_at": 1765000200.0,
        "created_by": "someone",
        "versions": rows,
        "aliases": aliases,
        "audit": audit,
    }


def test_ui_serves_the_local_model_registry_read_only(ui: Ui, tmp_path: Path) -> None:
    root = tmp_path / "fwtrack"
    ds = local_version(root, "proj", "mnist", 0, {"train.csv": b"1,2\n"})
    used = {
        "ts": 1.0,
        "project": "proj",
        "name": "mnist",
        "type": "dataset",
        "digest": ds["digest"],
        "version": "v0",
        "ref": "mnist:latest",
    }
    run_log(root, "proj", "train", metrics=[{"loss": 0.25, "eval/acc": 0.5}], used=[used])
    arts = [
        local_version(root, "proj", "net", i, {"w.bin": b"w%d" % i}, type="model", run_id="train")
        for i in range(2)
    ]
    path = root / ".artifacts" / "registry" / "classifier.json"
    write_json(path, model_file(arts, {"production": 0, "staging": 1}))

    base = "/registry/local/models/classifier"
    model = ui.wait_for(
        "the local model",
        lambda: (r := ui.get(base)) and r[0] == 200 and r[1]["versions"] == 2 and r[1],
    )
    assert model["entity"] == "local"
    assert model["description"] == "# Local classifier"
    assert model["metadata"] == {"task": "mnist"}
    assert model["tags"] == ["vision"]
    assert model["protected_aliases"] == ["production"]
    assert model["latest"] == "v1"
    assert model["aliases"] == {"production": "v0", "staging": "v1"}
    assert model["stages"] == {"staging": "v1", "production": "v0", "archived": None}
    assert [v["version"] for v in model["versions_list"]] == ["v1", "v0"]
    status, v0 = ui.get(f"{base}/versions/production")
    assert status == 200
    assert v0["artifact"]["digest"] == arts[0]["digest"]
    assert v0["aliases"] == ["production"]
    assert v0["run"] == {"entity": "local", "project": "proj", "id": "train"}
    assert ui.get("/registry/local/models")[1][0]["name"] == "classifier"
    status, trail = ui.get(f"{base}/audit")
    assert [(e["action"], e["to_version"], e["user"]) for e in trail] == [
        ("alias.set", "v0", "someone"),
        ("link", "v1", "someone"),
        ("link", "v0", "someone"),
    ]
    # `registry` is not a project of the local artifacts.
    assert "registry" not in {p["name"] for p in ui.get("/projects")[1]["projects"]}
    # The card: the local run that logged the artifact version and the dataset it used.
    card = ui.wait_for(
        "the card with its dataset",
        lambda: (r := ui.get(f"{base}/versions/v0/card")) and r[1]["datasets"] and r[1],
    )
    assert card["run"]["id"] == "train"
    assert [(d["name"], d["version"]) for d in card["datasets"]] == [("mnist", "v0")]
    assert card["evaluation"]["eval/acc"] == 0.5

    # Read-only: every write answers 405 and changes nothing.
    link = {"artifact": {"entity": "local", "project": "proj", "name": "net", "ref": "v0"}}
    for method, url, body in [
        ("POST", "/registry/local/models", {"name": "new"}),
        ("PATCH", base, {"description": "x"}),
        ("DELETE", base, None),
        ("POST", f"{base}/links", link),
        ("PUT", f"{base}/aliases/production", {"version": "v1"}),
        ("DELETE", f"{base}/aliases/production", None),
    ]:
        r = httpx.request(method, f"{ui.url}{url}", json=body, timeout=30)
        assert r.status_code == 405, (method, url, r.text)
    assert ui.get(base)[1]["aliases"] == {"production": "v0", "staging": "v1"}

    # A moved alias in the file shows; a removed file removes the model.
    write_json(path, model_file(arts, {"production": 1}))
    ui.wait_for(
        "the moved alias",
        lambda: ui.get(base)[1]["aliases"] == {"production": "v1"},
    )
    path.unlink()
    ui.wait_for("the model gone", lambda: ui.get(base)[0] == 404)
