"""The model registry on a real server process, on the directory store with SQLite and on S3
(SeaweedFS) with PostgreSQL: models, links (model versions, idempotent, model type only),
aliases and stages, the audit trail, the card, and every route in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .apputil import REPRESENTATIVE
from .artifact_util import module_server
from .harness import ServerProcess
from .registry_util import RegistryClient, run_log, unique

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=REPRESENTATIVE)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    yield from module_server(request, tmp_path_factory, request.param)


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[RegistryClient]:
    client = RegistryClient(srv)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def project(api: RegistryClient, tmp_path: Path) -> str:
    """A fresh project with runs `r1`, `r2`."""
    name = unique("p")
    log = run_log(tmp_path, name, "template")
    api.new_run(log, name, "r1")
    api.new_run(log, name, "r2")
    return name


def test_linking_creates_model_versions_and_is_idempotent(
    api: RegistryClient, project: str
) -> None:
    model = unique("net")
    a = api.model_version(project, "r1", "net", b"weights-a")
    b = api.model_version(project, "r2", "net", b"weights-b")
    assert api.get(api.model_path(model)).status_code == 404

    r = api.link(model, a, aliases=["staging"], run={"project": project, "id": "r1"})
    assert r.status_code == 200, r.text
    v0 = r.json()
    assert v0["entity"] == "admin"
    assert v0["model"] == model
    assert (v0["version"], v0["index"]) == ("v0", 0)
    assert v0["aliases"] == ["latest", "staging"]
    assert v0["linked_by"] == "admin"
    assert v0["run"] == {"entity": "admin", "project": project, "id": "r1"}
    assert v0["artifact"]["digest"] == a["digest"]
    assert v0["artifact"]["version"] == "v0"
    assert v0["artifact"]["type"] == "model"

    # By digest (what a replayed pending link sends): the next version.
    r = api.link(model, b, ref=b["digest"])
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "v1"
    assert r.json()["aliases"] == ["latest"]
    assert r.json()["run"] is None

    # The same artifact version again (by alias): its model version, the new alias added.
    r = api.link(model, a, ref="v0", aliases=["production"])
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "v0"
    assert r.json()["aliases"] == ["production", "staging"]
    r = api.link(model, a, ref="v0", aliases=["production"])
    assert r.json()["version"] == "v0"

    versions = api.get(f"{api.model_path(model)}/versions").json()
    assert [v["version"] for v in versions] == ["v1", "v0"]
    for ref, want in [("v0", "v0"), ("v1", "v1"), ("latest", "v1"), ("staging", "v0")]:
        r = api.get(f"{api.model_path(model)}/versions/{ref}")
        assert r.status_code == 200, r.text
        assert r.json()["version"] == want
    r = api.get(f"{api.model_path(model)}/versions/v7")
    assert r.status_code == 404
    assert "v0..v1" in r.json()["detail"]
    assert "production" in r.json()["detail"]

    detail = api.get(api.model_path(model)).json()
    assert detail["versions"] == 2
    assert detail["latest"] == "v1"
    assert detail["aliases"] == {"production": "v0", "staging": "v0"}
    assert detail["stages"] == {"staging": "v0", "production": "v0", "archived": None}
    assert detail["created_by"] == "admin"
    assert [v["version"] for v in detail["versions_list"]] == ["v1", "v0"]
    listed = [m for m in api.get("/registry/admin/models").json() if m["name"] == model]
    assert listed == [{k: v for k, v in detail.items() if k != "versions_list"}]

    trail = [
        (e["action"], e["alias"], e["from_version"], e["to_version"], e["user"])
        for e in reversed(api.audit(model))
    ]
    assert trail == [
        ("link", None, None, "v0", "admin"),
        ("alias.set", "staging", None, "v0", "admin"),
        ("link", None, None, "v1", "admin"),
        ("alias.set", "production", None, "v0", "admin"),
    ]


def test_linking_refuses_an_artifact_that_is_not_a_model(api: RegistryClient, project: str) -> None:
    model = unique("m")
    r = api.commit(project, "r1", "mnist", {"train.csv": b"1,2"})
    assert r.status_code == 200, r.text
    r = api.link(model, r.json())
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "'dataset'" in detail
    assert "type='model'" in detail
    assert api.get(api.model_path(model)).status_code == 404
    # An artifact that does not exist: 404 naming it; an alias as the artifact's ref.
    ghost = {"entity": "admin", "project": project, "name": "ghost", "version": "v0"}
    assert api.link(model, ghost).status_code == 404
    assert api.link(model, ghost, aliases=["latest"]).status_code == 404


def test_alias_moves_removals_and_compare_and_set(api: RegistryClient, project: str) -> None:
    model = unique("m")
    for i, content in enumerate([b"1", b"2", b"3"]):
        art = api.model_version(project, "r1", "net", content + project.encode())
        assert api.link(model, art).json()["version"] == f"v{i}"
    path = api.model_path(model)
    r = api.move(model, "production", "v0")
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "v0"
    assert "production" in r.json()["aliases"]
    assert api.move(model, "production", "v0").status_code == 200  # unchanged: no audit
    # Compare-and-set: expect the wrong version → 409, nothing moved.
    r = api.move(model, "production", "v2", expect="v1")
    assert r.status_code == 409
    assert r.json()["current"] == "v0"
    r = api.move(model, "production", "latest", expect="v0")
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "v2"
    r = api.move(model, "archived", "v0", expect=None)
    assert r.status_code == 200, r.text
    assert api.move(model, "archived", "v1", expect=None).status_code == 409
    # Aliases named like versions are refused.
    for bad in ("latest", "v3"):
        r = api.move(model, bad, "v0")
        assert r.status_code == 400, r.text
    assert api.move(model, "production", "v9").status_code == 404
    r = api.delete(f"{path}/aliases/production")
    assert r.status_code == 200, r.text
    assert r.json() == {"alias": "production", "from": "v2"}
    assert api.delete(f"{path}/aliases/production").status_code == 404
    assert api.get(path).json()["stages"] == {
        "staging": None,
        "production": None,
        "archived": "v0",
    }
    moves = [
        (e["action"], e["alias"], e["from_version"], e["to_version"])
        for e in reversed(api.audit(model))
        if e["action"] != "link"
    ]
    assert moves == [
        ("alias.set", "production", None, "v0"),
        ("alias.set", "production", "v0", "v2"),
        ("alias.set", "archived", None, "v0"),
        ("alias.remove", "production", "v2", None),
    ]
    # Paging back with `before`.
    everything = api.audit(model)
    page = api.audit(model, limit=2)
    assert page == everything[:2]
    assert api.audit(model, limit=2, before=page[-1]["id"]) == everything[2:4]


def test_models_create_edit_list_and_delete(api: RegistryClient, project: str) -> None:
    name = unique("clf")
    body = {"name": name, "description": "# A classifier", "metadata": {"f1": 0.8}, "tags": ["x"]}
    r = api.post("/registry/admin/models", body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == name
    assert created["description"] == "# A classifier"
    assert created["metadata"] == {"f1": 0.8}
    assert created["tags"] == ["x"]
    assert created["versions"] == 0
    assert created["latest"] is None
    assert created["protected_aliases"] == []
    assert created["maintainers"] == []
    r = api.post("/registry/admin/models", {"name": name})
    assert r.status_code == 409
    assert "already" in r.json()["detail"]
    assert api.post("/registry/admin/models", {"name": "bad name!"}).status_code == 400
    assert api.post("/registry/admin/models", {"name": name, "x": 1}).status_code == 400

    path = api.model_path(name)
    r = api.patch(path, {"description": "better", "tags": ["x", "y"], "metadata": {"f1": 0.9}})
    assert r.status_code == 200, r.text
    assert (r.json()["description"], r.json()["tags"]) == ("better", ["x", "y"])
    assert r.json()["metadata"] == {"f1": 0.9}
    assert api.patch(path, {"tags": ["x", "y"]}).status_code == 200  # unchanged: no audit
    r = api.patch(path, {"protected_aliases": ["production"], "maintainers": ["admin"]})
    assert r.status_code == 200, r.text
    assert r.json()["protected_aliases"] == ["production"]
    assert r.json()["maintainers"] == ["admin"]
    assert api.patch(path, {"maintainers": ["nobody-like-this"]}).status_code == 404
    r = api.patch(path, {"protected_aliases": []})
    assert r.status_code == 200
    trail = [(e["action"], e["alias"], e["detail"]) for e in reversed(api.audit(name))]
    assert trail == [
        (
            "update",
            None,
            {
                "changed": {
                    "description": ["# A classifier", "better"],
                    "metadata": [{"f1": 0.8}, {"f1": 0.9}],
                    "tags": [["x"], ["x", "y"]],
                }
            },
        ),
        ("protect", "production", None),
        (
            "maintainers",
            None,
            {"from": [], "to": ["admin"], "added": ["admin"], "removed": []},
        ),
        ("unprotect", "production", None),
    ]

    tagged = [m["name"] for m in api.get("/registry/admin/models", params={"tag": "y"}).json()]
    assert name in tagged
    assert name not in [
        m["name"] for m in api.get("/registry/admin/models", params={"tag": "zzz"}).json()
    ]
    # Delete: the model goes, the artifact version it linked stays.
    art = api.model_version(project, "r1", "kept", b"kept " + name.encode())
    assert api.link(name, art).status_code == 200
    r = api.delete(path)
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": name}
    assert api.get(path).status_code == 404
    assert api.version(project, "kept", art["version"]).status_code == 200
    assert api.delete(path).status_code == 404


def test_the_card_holds_the_training_run_its_datasets_and_its_evaluation(
    api: RegistryClient, tmp_path: Path
) -> None:
    project = unique("card")
    api.new_run(run_log(tmp_path, project, "prep"), project, "prep")
    ds = api.commit(project, "prep", "mnist", {"train.csv": b"1,2"}).json()
    other = api.commit(project, "prep", "labels", {"l.csv": b"a"}).json()
    used = [
        {
            "ts": 1.0,
            "project": project,
            "name": d["name"],
            "type": d["type"],
            "digest": d["digest"],
            "entity": "admin",
            "version": d["version"],
            "ref": f"{d['name']}:latest",
        }
        for d in (ds, other)
    ]
    ghost = dict(used[0], name="ghost", digest="blake3:" + "1" * 64)
    metrics = [{"loss": 0.9, "eval/acc": 0.5}, {"loss": 0.4, "eval/acc": 0.75, "note": "ok"}]
    log = run_log(tmp_path, project, "train", metrics=metrics, used=[*used, ghost])
    api.new_run(log, project, "train")
    art = api.model_version(project, "train", "net", b"trained " + project.encode())
    model = unique("card")
    assert api.link(model, art, aliases=["production"]).status_code == 200

    r = api.get(f"{api.model_path(model)}/versions/production/card")
    assert r.status_code == 200, r.text
    card = r.json()
    assert card["model"]["name"] == model
    assert card["model"]["stages"]["production"] == "v0"
    assert card["version"]["version"] == "v0"
    assert card["version"]["artifact"]["digest"] == art["digest"]
    run = card["run"]
    assert (run["entity"], run["project"], run["id"], run["name"]) == (
        "admin",
        project,
        "train",
        "name-train",
    )
    assert run["state"] == "finished"
    assert run["summary"]["loss"] == 0.4
    assert sorted((d["name"], d["version"]) for d in card["datasets"]) == [
        ("labels", "v0"),
        ("mnist", "v0"),
    ]
    assert all("ref" not in d for d in card["datasets"])
    evaluation = card["evaluation"]
    assert evaluation["loss"] == 0.4
    assert evaluation["eval/acc"] == 0.75
    assert "note" not in evaluation
    assert all(not k.startswith("_") for k in evaluation)

    # A version whose artifact's run was not a training run with lineage: an empty card part.
    bare = api.model_version(project, "prep", "net", b"bare " + project.encode())
    assert api.link(model, bare).status_code == 200
    card = api.get(f"{api.model_path(model)}/versions/latest/card").json()
    assert card["run"]["id"] == "prep"
    assert card["datasets"] == []


def test_every_registry_route_is_in_the_openapi_document(api: RegistryClient) -> None:
    doc = api.get("/openapi.json").json()
    base = "/api/v1/registry/{entity}/models"
    want = {
        base: {"get", "post"},
        base + "/{model}": {"get", "patch", "delete"},
        base + "/{model}/links": {"post"},
        base + "/{model}/versions": {"get"},
        base + "/{model}/versions/{ref}": {"get"},
        base + "/{model}/versions/{ref}/card": {"get"},
        base + "/{model}/aliases/{alias}": {"put", "delete"},
        base + "/{model}/audit": {"get"},
        "/api/v1/teams/{team}/members/{member}": {"patch", "delete"},
    }
    for path, methods in want.items():
        assert path in doc["paths"], path
        assert set(doc["paths"][path]) >= methods, path
        for method in methods:
            if path.startswith(base):
                assert doc["paths"][path][method]["tags"] == ["registry"]
