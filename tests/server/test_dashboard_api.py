"""What the dashboard needs from the server: the built dashboard at `/`, a project's saved
layout, the config/summary fields of its runs, runs by id and a run's histogram keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

import fwtrack
from fwtrack.server import ServerConfig
from fwtrack.server.routes.dashboard import MAX_WORKSPACE_BYTES

from .apputil import BACKENDS, db_url, open_client, upload

PROJECT = "dash"
WS = f"/api/v1/projects/admin/{PROJECT}/workspace"
FIELDS = f"/api/v1/runs/admin/{PROJECT}/fields"

CONFIGS = {
    "a": {"lr": 0.1, "model": {"depth": 4, "act": {"name": "relu"}}, "layers": [1, 2]},
    "b": {"lr": 0.2, "model": {"width": 64}, "seed": 1, "empty": {}},
    "c": {},
}


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs of `dash` (nested config, summaries of different keys, a histogram in `a`)
    and one run of another project."""
    root = tmp_path_factory.mktemp("client")
    rng = np.random.default_rng(3)
    for run_id, config in CONFIGS.items():
        run = fwtrack.init(project=PROJECT, id=run_id, dir=root, config=config, mode="offline")
        if run_id == "a":
            run.define_metric("eval/acc", summary="max")
        for i in range(5):
            row: dict[str, object] = {"train/loss": 1.0 / (i + 1)}
            if run_id == "a":
                row["eval/acc"] = i / 5
                row["weights/w0"] = fwtrack.Histogram(rng.normal(size=100), num_bins=8)
            if run_id == "b":
                row["lr"] = 0.1
            fwtrack.log(row)
        fwtrack.finish()
    fwtrack.init(project="other", id="z", dir=root, config={"only_here": 1}, mode="offline")
    fwtrack.log({"other/metric": 1.0})
    fwtrack.finish()
    return root


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path, client_dir: Path) -> Iterator[TestClient]:
    for client in open_client(request, tmp_path, request.param):
        for run_id in CONFIGS:
            data = (client_dir / PROJECT / run_id / "run.fwlog").read_bytes()
            upload(client, "admin", PROJECT, run_id, data, chunks=2)
        data = (client_dir / "other" / "z" / "run.fwlog").read_bytes()
        upload(client, "admin", "other", "z", data, chunks=1)
        yield client


def _user(api: TestClient, name: str) -> dict[str, str]:
    r = api.post("/api/v1/users", json={"name": name, "password": "correct horse"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


# -- workspace -------------------------------------------------------------------------------


def test_workspace_is_empty_until_saved_then_stored_as_given(api: TestClient) -> None:
    r = api.get(WS)
    assert r.status_code == 200
    assert r.json() == {}
    assert r.headers["cache-control"] == "no-store"
    text = '{"panels": [ {"key": "train/loss", "x": 0}],\n "smooth": 0.6, "ü": "✓"}'
    r = api.put(WS, content=text.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.content == text.encode()
    r = api.get(WS)
    assert r.status_code == 200
    assert r.content == text.encode()  # byte for byte, spacing and key order kept
    r = api.put(WS, json={"panels": []})
    assert r.status_code == 200
    assert api.get(WS).json() == {"panels": []}


def test_workspace_is_per_project(api: TestClient) -> None:
    assert api.put(WS, json={"which": PROJECT}).status_code == 200
    assert api.get("/api/v1/projects/admin/other/workspace").json() == {}
    assert api.put("/api/v1/projects/admin/other/workspace", json={"which": 2}).status_code == 200
    assert api.get(WS).json() == {"which": PROJECT}


@pytest.mark.parametrize(
    ("body", "word"),
    [
        (b"[1, 2]", "object"),
        (b'"text"', "object"),
        (b"null", "object"),
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"x": NaN}', "not valid JSON"),
        (b'{"x": Infinity}', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"x": "a\x00b"}', "not valid JSON"),
    ],
)
def test_workspace_refuses_what_is_not_a_json_object(
    api: TestClient, body: bytes, word: str
) -> None:
    r = api.put(WS, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert word in r.json()["detail"]
    assert api.get(WS).json() == {}  # nothing stored


def test_workspace_size_limit(api: TestClient) -> None:
    filler = "x" * (MAX_WORKSPACE_BYTES - 20)
    fits = json.dumps({"f": filler}).encode()
    assert len(fits) <= MAX_WORKSPACE_BYTES
    r = api.put(WS, content=fits, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    too_big = json.dumps({"f": filler + "y" * 100}).encode()
    r = api.put(WS, content=too_big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "256" in r.json()["detail"] or str(MAX_WORKSPACE_BYTES) in r.json()["detail"]
    assert api.get(WS).content == fits


def test_workspace_access(api: TestClient) -> None:
    assert api.get("/api/v1/projects/admin/nope/workspace").status_code == 404
    assert api.put("/api/v1/projects/admin/nope/workspace", json={}).status_code == 404
    assert api.get("/api/v1/projects/adm!n/x/workspace").status_code == 400
    bare = {"Authorization": ""}
    assert api.get(WS, headers=bare).status_code == 401
    assert api.put(WS, json={}, headers=bare).status_code == 401
    alice = _user(api, "alice")
    # another user's entity: 403 on the name alone, for reads and writes
    assert api.get(WS, headers=alice).status_code == 403
    r = api.put(WS, json={"mine": True}, headers=alice)
    assert r.status_code == 403
    assert api.get(WS).json() == {}
    # a team member writes the team's project layout, as they may edit its runs
    r = api.post("/api/v1/teams", json={"name": "lab"}, headers=alice)
    assert r.status_code == 200, r.text
    data = api.get(f"/api/v1/runs/admin/{PROJECT}/c/log").content
    upload(api, "lab", "shared", "c", data, chunks=1)
    team_ws = "/api/v1/projects/lab/shared/workspace"
    assert api.put(team_ws, json={"by": "alice"}, headers=alice).status_code == 200
    assert api.get(team_ws, headers=alice).json() == {"by": "alice"}
    assert api.patch("/api/v1/runs/lab/shared/c", json={"notes": "n"}, headers=alice).is_success


# -- fields ----------------------------------------------------------------------------------


def test_fields_are_the_flattened_keys_over_all_runs(api: TestClient) -> None:
    r = api.get(FIELDS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["config"] == sorted(
        ["lr", "model.depth", "model.act.name", "layers", "model.width", "seed"]
    )
    summaries = [api.get(f"/api/v1/runs/admin/{PROJECT}/{i}").json()["summary"] for i in CONFIGS]
    expected: set[str] = set()
    for summary in summaries:
        expected |= set(_flatten(summary))
    assert body["summary"] == sorted(expected)
    assert "train/loss" in body["summary"]
    assert "other/metric" not in body["summary"]
    assert "only_here" not in body["config"]
    # every field names a filter that works
    for key in body["config"]:
        r = api.get(f"/api/v1/runs/admin/{PROJECT}", params={"filter": f"config.{key} != null"})
        assert r.status_code == 200, r.text
        assert r.json()["total"] >= 1, key


def _flatten(doc: dict[str, object], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


def test_fields_follow_deletes_and_empty_projects(api: TestClient) -> None:
    assert api.delete(f"/api/v1/runs/admin/{PROJECT}/a").status_code == 200
    body = api.get(FIELDS).json()
    assert body["config"] == sorted(["lr", "model.width", "seed"])
    for run_id in ("b", "c"):
        assert api.delete(f"/api/v1/runs/admin/{PROJECT}/{run_id}").status_code == 200
    assert api.get(FIELDS).json() == {"config": [], "summary": []}
    assert api.get("/api/v1/runs/admin/nope/fields").status_code == 404


def test_fields_access(api: TestClient) -> None:
    alice = _user(api, "alice")
    assert api.get(FIELDS, headers=alice).status_code == 403
    assert api.get(FIELDS, headers={"Authorization": ""}).status_code == 401


# -- runs by id, histogram keys --------------------------------------------------------------


def test_runs_list_by_ids(api: TestClient) -> None:
    base = f"/api/v1/runs/admin/{PROJECT}"
    r = api.get(base, params={"ids": "c,a,zzz", "sort": "id"})
    assert r.status_code == 200, r.text
    assert [run["id"] for run in r.json()["runs"]] == ["a", "c"]
    assert r.json()["total"] == 2
    r = api.get(base, params={"ids": "a,b", "filter": "config.lr > 0.15"})
    assert [run["id"] for run in r.json()["runs"]] == ["b"]
    assert api.get(base, params={"ids": "a,b/c"}).status_code == 400
    too_many = ",".join(f"r{i}" for i in range(1001))
    assert api.get(base, params={"ids": too_many}).status_code == 400
    assert api.get(base, params={"ids": " , "}).json()["total"] == 3


def test_histogram_keys(api: TestClient) -> None:
    base = f"/api/v1/runs/admin/{PROJECT}"
    r = api.get(f"{base}/a/histograms/keys")
    assert r.status_code == 200, r.text
    assert r.json() == {"keys": ["weights/w0"]}
    assert api.get(f"{base}/b/histograms/keys").json() == {"keys": []}
    assert api.get(f"{base}/nope/histograms/keys").status_code == 404
    r = api.get(f"{base}/a/histograms", params={"key": "weights/w0"})
    assert r.status_code == 200
    assert len(r.json()["steps"]) == 5


# -- the dashboard's files -------------------------------------------------------------------


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>fwtrack</title><div id=app></div>")
    (root / "assets" / "index-BVzSeV4c.js").write_text("console.log(1)")
    (root / "assets" / "index-BIXzF0qj.css").write_text("body{}")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    return root


def test_dashboard_is_served_without_auth(api: TestClient, dist: Path) -> None:
    api.app.state.dashboard_dir = dist  # type: ignore[attr-defined]
    bare = {"Authorization": ""}
    r = api.get("/", headers=bare)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert "<div id=app>" in r.text
    assert api.get("/index.html", headers=bare).headers["cache-control"] == "no-store"
    r = api.get("/assets/index-BVzSeV4c.js", headers=bare)
    assert r.status_code == 200
    assert r.text == "console.log(1)"
    assert "javascript" in r.headers["content-type"]
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    r = api.get("/assets/index-BIXzF0qj.css", headers=bare)
    assert r.headers["content-type"].startswith("text/css")
    r = api.get("/favicon.svg", headers=bare)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"  # not hashed: revalidated
    assert api.head("/", headers=bare).status_code == 200
    assert api.head("/assets/index-BVzSeV4c.js", headers=bare).status_code == 200


def test_dashboard_files_stay_inside_the_dist(api: TestClient, dist: Path) -> None:
    api.app.state.dashboard_dir = dist  # type: ignore[attr-defined]
    for path in (
        "/assets/missing-12345678.js",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/assets",
        "/assets/",
        "/api/v1/nope",
        "/api",
    ):
        r = api.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"] == "application/json", path
        assert "outside" not in r.text


def test_api_routes_keep_their_answers_beside_the_dashboard(api: TestClient, dist: Path) -> None:
    api.app.state.dashboard_dir = dist  # type: ignore[attr-defined]
    r = api.post("/api/v1/projects")
    assert r.status_code == 405
    assert api.post("/").status_code == 405
    assert api.post("/assets/index-BVzSeV4c.js").status_code == 404
    assert api.get("/api/v1/health").json()["status"] == "ok"
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/api/v1/projects/{entity}/{project}/workspace" in paths
    assert "/api/v1/runs/{entity}/{project}/fields" in paths
    assert "/api/v1/runs/{entity}/{project}/{run_id}/histograms/keys" in paths


def test_dashboard_not_built_page(api: TestClient, tmp_path: Path) -> None:
    api.app.state.dashboard_dir = tmp_path / "no-dist"  # type: ignore[attr-defined]
    r = api.get("/", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "not built" in r.text
    assert "make web" in r.text
    assert api.get("/assets/index-BVzSeV4c.js").status_code == 404


# -- migration -------------------------------------------------------------------------------


def test_migration_0002_fills_in_the_keys_of_existing_runs(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A database made by revision 0001 (runs with config and summary) upgrades to a schema
    whose fields answer covers those runs without a new upload."""
    import sqlalchemy as sa

    from fwtrack.server.db import Database
    from fwtrack.server.fields import keys_of_project

    for backend in BACKENDS:
        url = db_url(request, backend, empty=True) or f"sqlite:///{tmp_path / 'old.db'}"
        db = Database(ServerConfig(data_dir=tmp_path, db_url=url).database_url)
        try:
            with db.engine.connect() as connection:
                db.upgrade(connection, "0001")
                connection.execute(
                    sa.text(
                        "INSERT INTO projects (id, entity, name, created_at, last_activity) "
                        "VALUES (1, 'admin', 'old', 0, 0)"
                    )
                )
                for i, (config, summary) in enumerate(
                    [({"lr": 1, "m": {"d": 2}}, {"loss": 1}), ({"lr": 2}, {"acc": {"max": 1}})]
                ):
                    connection.execute(
                        sa.text(
                            "INSERT INTO runs (project_id, run_id, name, state, tags, notes, "
                            "created_at, updated_at, heartbeat_at, runtime, exit_code, config, "
                            "summary, metadata, keys, log_size, next_seq, edited) VALUES "
                            "(1, :rid, 'n', 'finished', '[]', NULL, 0, 0, 0, 0, 0, :config, "
                            ":summary, '{}', '[]', 0, 0, '[]')"
                        ),
                        {
                            "rid": f"r{i}",
                            "config": json.dumps(config),
                            "summary": json.dumps(summary),
                        },
                    )
                connection.commit()
            db.migrate()
            with db.read() as session:
                assert keys_of_project(session, 1) == {
                    "config": ["lr", "m.d"],
                    "summary": ["acc.max", "loss"],
                }
        finally:
            db.dispose()
