"""The read side of the API: history (downsampled and full), histograms, log download with
Range, files, projects, OpenAPI; compared against the local reader on the same runs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import fwtrack
from fwtrack._core import hash_bytes

from .apputil import BACKENDS, open_client, upload

PROJECT = "reads"
BASE = f"/api/v1/runs/admin/{PROJECT}"
STEPS = 3000


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs logged offline: `rich` (many steps, NaN/Inf, strings, histograms) and `small`."""
    root = tmp_path_factory.mktemp("client")
    rng = np.random.default_rng(7)
    run = fwtrack.init(project=PROJECT, id="rich", dir=root, config={"lr": 0.1}, mode="offline")
    for i in range(STEPS):
        row: dict[str, Any] = {
            "loss": math.sin(i / 50) + i / 1000,
            "phase": "warmup" if i < 10 else "main",
        }
        if i % 100 == 7:
            row["loss"] = [math.nan, math.inf, -math.inf][(i // 100) % 3]
        if i % 10 == 0:
            row["eval/acc"] = i / STEPS
        if i % 500 == 0:
            row["weights"] = fwtrack.Histogram(rng.normal(size=1000), num_bins=16)
        fwtrack.log(row)
        if i % 700 == 0:
            run.flush()
    fwtrack.finish()
    run = fwtrack.init(project=PROJECT, id="small", dir=root, mode="offline")
    for i in range(5):
        fwtrack.log({"loss": 10.0 - i, "eval/acc": i / 10})
    fwtrack.finish()
    return root


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path, client_dir: Path) -> Iterator[TestClient]:
    for client in open_client(request, tmp_path, request.param):
        for run_id in ("rich", "small"):
            data = (client_dir / PROJECT / run_id / "run.fwlog").read_bytes()
            upload(client, "admin", PROJECT, run_id, data, chunks=5)
        yield client


def decode(values: list[Any]) -> np.ndarray:
    special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    return np.array([special[v] if isinstance(v, str) else v for v in values], dtype=np.float64)


def test_full_history_equals_the_local_reader(api: TestClient, client_dir: Path) -> None:
    body = api.get(f"{BASE}/rich/history", params={"samples": 0}).json()
    assert body["run"] == "rich"
    assert body["downsampled"] is False
    assert set(body["series"]) == {"loss", "eval/acc"}  # strings are not indexed
    local = fwtrack.Api(client_dir).run(f"{PROJECT}/rich").history()
    for key in ("loss", "eval/acc"):
        series = body["series"][key]
        assert set(series) == {"step", "value", "timestamp"}
        expected = local[["_step", key, "_timestamp"]].dropna(subset=[key])
        if key == "loss":  # NaN was logged: present in the series, dropped by dropna above
            expected = local[["_step", key, "_timestamp"]]
        assert series["step"] == expected["_step"].tolist()
        np.testing.assert_array_equal(decode(series["value"]), expected[key].to_numpy())
        np.testing.assert_allclose(series["timestamp"], expected["_timestamp"].to_numpy())
    values = body["series"]["loss"]["value"]
    assert values[7] == "NaN"
    assert values[107] == "Infinity"
    assert values[207] == "-Infinity"


def test_downsampled_history_keeps_min_max_and_last_point(api: TestClient) -> None:
    full = api.get(f"{BASE}/rich/history", params={"samples": 0, "keys": "loss"}).json()
    down = api.get(f"{BASE}/rich/history", params={"samples": 100, "keys": "loss"}).json()
    assert down["downsampled"] is True
    series = down["series"]["loss"]
    assert set(series) == {"step", "value", "timestamp", "min", "max"}
    assert len(series["step"]) <= 101
    assert series["step"][-1] == STEPS - 1
    assert series["step"] == sorted(series["step"])
    values = decode(full["series"]["loss"]["value"])
    finite = values[np.isfinite(values)]
    assert min(decode(series["min"])) == finite.min()
    assert max(decode(series["max"])) == finite.max()
    # a series with fewer points than `samples` comes back whole
    small = api.get(f"{BASE}/small/history", params={"samples": 100}).json()
    assert small["downsampled"] is False
    assert small["series"]["loss"]["value"] == [10.0, 9.0, 8.0, 7.0, 6.0]


def test_history_step_range_and_keys(api: TestClient) -> None:
    body = api.get(
        f"{BASE}/rich/history",
        params={"samples": 0, "keys": "eval/acc,unknown", "min_step": 100, "max_step": 200},
    ).json()
    assert list(body["series"]) == ["eval/acc"]
    assert body["series"]["eval/acc"]["step"] == list(range(100, 201, 10))
    for bad in ({"samples": -1}, {"min_step": "x"}, {"samples": "lots"}):
        r = api.get(f"{BASE}/rich/history", params=bad)
        assert r.status_code == 400, bad
    assert api.get(f"{BASE}/nope/history").status_code == 404


def test_history_of_many_runs(api: TestClient) -> None:
    r = api.post(
        f"/api/v1/history/admin/{PROJECT}",
        json={"runs": ["small", "rich", "ghost"], "keys": ["eval/acc"], "samples": 50},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [item["run"] for item in body["runs"]] == ["small", "rich"]
    assert body["missing"] == ["ghost"]
    assert body["runs"][0]["series"]["eval/acc"]["value"] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert body["runs"][1]["downsampled"] is True
    assert len(body["runs"][1]["series"]["eval/acc"]["step"]) <= 51
    for bad in ({"runs": []}, {"runs": ["x"] * 101}, {"runs": ["a"], "samples": -1}, {}):
        assert api.post(f"/api/v1/history/admin/{PROJECT}", json=bad).status_code == 400
    assert api.post("/api/v1/history/admin/none", json={"runs": ["a"]}).status_code == 404


def test_histograms_equal_the_local_reader(api: TestClient, client_dir: Path) -> None:
    body = api.get(f"{BASE}/rich/histograms", params={"key": "weights"}).json()
    local = fwtrack.Api(client_dir).run(f"{PROJECT}/rich").histograms("weights")
    assert body["key"] == "weights"
    assert body["steps"] == [h.step for h in local] == list(range(0, STEPS, 500))
    for i, entry in enumerate(local):
        assert body["counts"][i] == entry.counts.tolist()
        assert body["edges"][i] == entry.edges.tolist()
    r = api.get(f"{BASE}/rich/histograms", params={"key": "loss"})
    assert r.status_code == 404
    assert "'weights'" in r.json()["detail"]
    assert api.get(f"{BASE}/rich/histograms").status_code == 400


def test_log_download_with_ranges(api: TestClient, client_dir: Path) -> None:
    data = (client_dir / PROJECT / "rich" / "run.fwlog").read_bytes()
    r = api.get(f"{BASE}/rich/log")
    assert r.content == data
    assert r.headers["accept-ranges"] == "bytes"
    r = api.get(f"{BASE}/rich/log", headers={"Range": "bytes=100-"})
    assert r.status_code == 206
    assert r.content == data[100:]
    assert r.headers["content-range"] == f"bytes 100-{len(data) - 1}/{len(data)}"
    r = api.get(f"{BASE}/rich/log", headers={"Range": "bytes=10-19"})
    assert (r.status_code, r.content) == (206, data[10:20])
    r = api.get(f"{BASE}/rich/log", headers={"Range": "bytes=-16"})
    assert r.content == data[-16:]
    r = api.get(f"{BASE}/rich/log", headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    assert api.get(f"{BASE}/rich/log", headers={"Range": "lines=1-2"}).status_code == 400


def test_files(api: TestClient) -> None:
    assert api.get(f"{BASE}/small/files").json() == {"files": []}
    payload = bytes(range(256)) * 10
    r = api.put(f"{BASE}/small/files/media/images/a.png", content=payload)
    assert r.json() == {"path": "media/images/a.png", "size": len(payload)}
    api.put(f"{BASE}/small/files/requirements.txt", content=b"numpy\n")
    api.put(f"{BASE}/small/files/requirements.txt", content=b"numpy\npandas\n")  # replaced
    assert api.get(f"{BASE}/small/files").json() == {
        "files": [
            {"path": "media/images/a.png", "size": len(payload), "address": hash_bytes(payload)},
            {"path": "requirements.txt", "size": 13, "address": hash_bytes(b"numpy\npandas\n")},
        ]
    }
    assert api.get(f"{BASE}/small/files/media/images/a.png").content == payload
    assert api.get(f"{BASE}/small/files/nope.txt").status_code == 404
    assert api.put(f"{BASE}/ghost/files/a.txt", content=b"x").status_code == 404
    for bad in ("a/../../b", "%2e%2e/x", "a//b", "/etc/passwd", "a\\b", "x%00y", "%2E"):
        for method in ("GET", "PUT"):
            r = api.request(method, f"{BASE}/small/files/{bad}", content=b"x")
            assert r.status_code in (400, 404), (method, bad, r.status_code)
            assert r.status_code != 200
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    stored = sorted(p.name for p in Path(ctx.config.data_dir).rglob("*") if p.is_file())
    assert not {"passwd", "b", "x"} & set(stored)


def test_projects_list(api: TestClient) -> None:
    projects = api.get("/api/v1/projects").json()["projects"]
    assert len(projects) == 1
    assert projects[0]["entity"] == "admin"
    assert projects[0]["name"] == PROJECT
    assert projects[0]["run_count"] == 2
    assert projects[0]["last_activity"] > 0


def test_openapi_and_docs(api: TestClient) -> None:
    doc = api.get("/api/v1/openapi.json", headers={"Authorization": ""}).json()
    paths = doc["paths"]
    for path in (
        "/api/v1/health",
        "/api/v1/viewer",
        "/api/v1/login",
        "/api/v1/keys",
        "/api/v1/keys/{key_id}",
        "/api/v1/users",
        "/api/v1/teams",
        "/api/v1/teams/{team}/members",
        "/api/v1/projects",
        "/api/v1/runs/{entity}/{project}",
        "/api/v1/runs/{entity}/{project}/{run_id}",
        "/api/v1/runs/{entity}/{project}/{run_id}/history",
        "/api/v1/runs/{entity}/{project}/{run_id}/histograms",
        "/api/v1/runs/{entity}/{project}/{run_id}/log",
        "/api/v1/runs/{entity}/{project}/{run_id}/log/offset",
        "/api/v1/runs/{entity}/{project}/{run_id}/files",
        "/api/v1/runs/{entity}/{project}/{run_id}/files/{path}",
        "/api/v1/history/{entity}/{project}",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/runs/{entity}/{project}/{run_id}"]) == {"get", "patch", "delete"}
    assert "application/octet-stream" in str(paths["/api/v1/runs/{entity}/{project}/{run_id}/log"])
    r = api.get("/api/v1/docs", headers={"Authorization": ""})
    assert r.status_code == 200
    assert "swagger" in r.text.lower()


def test_unknown_routes_and_methods_are_json(api: TestClient) -> None:
    r = api.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["detail"]
    r = api.put("/api/v1/health")
    assert r.status_code == 405
    r = api.post("/api/v1/login", content=b"\xff\xfe", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.post("/api/v1/keys", content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413


def test_migrations_match_the_models(api: TestClient) -> None:
    """The schema the migrations build is the one the ORM models describe."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fwtrack.server.db import Base

    db = api.app.state.ctx.db  # type: ignore[attr-defined]
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == "0012"  # the newest migration
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
