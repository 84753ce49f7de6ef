"""The runs list: filter expressions, search, sort, pagination (in SQL, on SQLite and
PostgreSQL); editing and deleting runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .apputil import BACKENDS, make_run, open_client, upload

PROJECT = "query"
BASE = f"/api/v1/runs/admin/{PROJECT}"

RUNS: dict[str, dict[str, Any]] = {
    "r-a": {
        "name": "alpha-base",
        "config": {"lr": 0.1, "opt": "adam", "layers": 2, "nested": {"depth": 3}},
        "tags": ["base", "sweep"],
        "steps": 50,
        "exit_code": 0,
    },
    "r-b": {
        "name": "beta",
        "config": {"lr": 0.01, "opt": "sgd", "layers": 4},
        "tags": ["sweep"],
        "steps": 20,
        "exit_code": 1,
    },
    "r-c": {
        "name": "gamma",
        "config": {"lr": 0.001, "opt": "adam", "layers": "deep"},
        "tags": [],
        "steps": 10,
        "exit_code": 0,
    },
    "r-d": {
        "name": "delta_%x",
        "config": {"lr": 1, "flag": True},
        "tags": [],
        "steps": 30,
        "exit_code": None,
    },
}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("client")
    out = {}
    for run_id, spec in RUNS.items():
        path = make_run(root, PROJECT, run_id, **spec)
        out[run_id] = path.read_bytes()  # read now: a later init finishes an open run
    import fwtrack

    fwtrack.finish()
    return out


@pytest.fixture(params=BACKENDS)
def api(
    request: pytest.FixtureRequest, tmp_path: Path, logs: dict[str, bytes]
) -> Iterator[TestClient]:
    for client in open_client(request, tmp_path, request.param):
        for run_id, data in logs.items():
            upload(client, "admin", PROJECT, run_id, data)
        yield client


def ids(api: TestClient, **params: Any) -> list[str]:
    r = api.get(BASE, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return [run["id"] for run in body["runs"]]


def test_default_order_is_newest_first(api: TestClient) -> None:
    body = api.get(BASE).json()
    assert body["total"] == 4
    assert [r["id"] for r in body["runs"]] == ["r-d", "r-c", "r-b", "r-a"]
    states = {r["id"]: r["state"] for r in body["runs"]}
    assert states == {"r-a": "finished", "r-b": "failed", "r-c": "finished", "r-d": "running"}
    first = body["runs"][0]
    assert set(first) == {
        "id", "entity", "project", "name", "state", "tags", "notes", "created_at",
        "updated_at", "heartbeat_at", "runtime", "exit_code", "config", "summary",
        "metadata", "keys", "log_size", "sweep_id",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("created_at", ["r-a", "r-b", "r-c", "r-d"]),
        ("config.lr", ["r-c", "r-b", "r-a", "r-d"]),
        ("-config.lr", ["r-d", "r-a", "r-b", "r-c"]),
        ("-summary.loss", ["r-c", "r-b", "r-d", "r-a"]),
        ("name", ["r-a", "r-b", "r-d", "r-c"]),
        ("-id", ["r-d", "r-c", "r-b", "r-a"]),
        ("state", ["r-b", "r-a", "r-c", "r-d"]),
        ("config.nested.depth", ["r-a", "r-b", "r-c", "r-d"]),  # missing keys sort last
    ],
)
def test_sort(api: TestClient, sort: str, expected: list[str]) -> None:
    assert ids(api, sort=sort) == expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("config.lr > 0.005", {"r-a", "r-b", "r-d"}),
        ("config.lr <= 0.01", {"r-b", "r-c"}),
        ("config.lr = 1", {"r-d"}),
        ("config.opt = adam", {"r-a", "r-c"}),
        ('config.opt = "adam"', {"r-a", "r-c"}),
        ("config.opt != adam", {"r-b", "r-d"}),
        ("config.opt ~ ad", {"r-a", "r-c"}),
        ("config.layers > 3", {"r-b"}),  # a string value never matches a number
        ("config.layers = deep", {"r-c"}),
        ("config.layers < zzz", {"r-c"}),
        ("config.nested.depth = 3", {"r-a"}),
        ("config.flag = true", {"r-d"}),
        ("config.flag != true", {"r-a", "r-b", "r-c"}),
        ("config.missing = null", {"r-a", "r-b", "r-c", "r-d"}),
        ("config.opt != null", {"r-a", "r-b", "r-c"}),
        ("tags ~ sweep", {"r-a", "r-b"}),
        ("tags = base", {"r-a"}),
        ("tags != sweep", {"r-c", "r-d"}),
        ("state = finished", {"r-a", "r-c"}),
        ("state = failed", {"r-b"}),
        ("state = running", {"r-d"}),
        ("state != finished", {"r-b", "r-d"}),
        ("name ~ delta_%", {"r-d"}),
        ("name ~ _", {"r-d"}),
        ("name = beta", {"r-b"}),
        ("id = r-c", {"r-c"}),
        ("summary.loss < 0.05", {"r-a", "r-d"}),
        ("summary.loss >= 0.05", {"r-b", "r-c"}),
        ("config.opt = adam and tags ~ base", {"r-a"}),
        ("config.opt = adam AND state = finished and config.lr < 0.01", {"r-c"}),
        ("runtime >= 0", {"r-a", "r-b", "r-c", "r-d"}),
        ("created_at > 0", {"r-a", "r-b", "r-c", "r-d"}),
        ("", {"r-a", "r-b", "r-c", "r-d"}),
    ],
)
def test_filter(api: TestClient, expr: str, expected: set[str]) -> None:
    r = api.get(BASE, params={"filter": expr})
    assert r.status_code == 200, r.text
    assert {run["id"] for run in r.json()["runs"]} == expected
    assert r.json()["total"] == len(expected)


def test_filter_by_created_at(api: TestClient) -> None:
    runs = {r["id"]: r for r in api.get(BASE).json()["runs"]}
    cut = runs["r-b"]["created_at"]
    assert set(ids(api, filter=f"created_at > {cut!r}")) == {"r-c", "r-d"}
    assert set(ids(api, filter=f"created_at <= {cut!r}")) == {"r-a", "r-b"}


@pytest.mark.parametrize(
    ("expr", "clause"),
    [
        ("foo = 1", "foo = 1"),
        ("config.lr >", "config.lr >"),
        ("lr 0.1", "lr 0.1"),
        ("state = bogus", "state = bogus"),
        ("created_at > yesterday", "created_at > yesterday"),
        ("tags > x", "tags > x"),
        ("config.lr ~ 1", "config.lr ~ 1"),
        ("config.flag > true", "config.flag > true"),
        ("config.x'); DROP TABLE runs; -- = 1", "config.x'); DROP TABLE runs; -- = 1"),
        ('config.a"b = 1', 'config.a"b = 1'),
        ("config..x = 1", "config..x = 1"),
        ("config.lr = 1 and nonsense", "nonsense"),
        ("config.lr = [1, 2]", "config.lr = [1, 2]"),
        ("config.lr = " + "[" * 3000, "config.lr = " + "[" * 3000),
        ("config.lr > 1" + "0" * 400, "config.lr > 1" + "0" * 400),
    ],
)
def test_bad_filter_is_400_naming_the_clause(api: TestClient, expr: str, clause: str) -> None:
    r = api.get(BASE, params={"filter": expr})
    assert r.status_code == 400, r.text
    assert repr(clause[:200]) in r.json()["detail"]
    assert ids(api) == ["r-d", "r-c", "r-b", "r-a"]  # nothing was dropped


def test_nul_characters_are_400(api: TestClient) -> None:
    for params in ({"filter": "name = a\x00b"}, {"search": "a\x00"}, {"sort": "name\x00"}):
        r = api.get(BASE, params=params)
        assert r.status_code == 400, params
        assert "NUL" in r.json()["detail"]


@pytest.mark.parametrize("sort", ["bogus", "-", "config.", "summary..x", "--name"])
def test_bad_sort_is_400(api: TestClient, sort: str) -> None:
    r = api.get(BASE, params={"sort": sort})
    assert r.status_code == 400
    assert "cannot sort by" in r.json()["detail"]


def test_search_and_pagination(api: TestClient) -> None:
    assert ids(api, search="alp") == ["r-a"]
    assert ids(api, search="R-C") == ["r-c"]
    assert ids(api, search="%") == ["r-d"]
    body = api.get(BASE, params={"sort": "created_at", "limit": 2, "offset": 1}).json()
    assert [r["id"] for r in body["runs"]] == ["r-b", "r-c"]
    assert body["total"] == 4
    assert ids(api, offset=10) == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": "x"}):
        r = api.get(BASE, params=bad)
        assert r.status_code == 400, bad
        assert "invalid request" in r.json()["detail"]


def test_patch_edits_and_survives_new_uploads(api: TestClient, logs: dict[str, bytes]) -> None:
    r = api.patch(f"{BASE}/r-a", json={"name": "renamed", "tags": ["best"], "notes": "good"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["tags"], r.json()["notes"]) == ("renamed", ["best"], "good")
    # a later upload (here a heartbeat and a re-sent chunk) does not undo the edit
    size = len(logs["r-a"])
    assert api.post(f"{BASE}/r-a/log", params={"offset": size}, content=b"").status_code == 200
    assert api.post(f"{BASE}/r-a/log", params={"offset": 0}, content=logs["r-a"]).status_code == 200
    run = api.get(f"{BASE}/r-a").json()
    assert (run["name"], run["tags"], run["notes"]) == ("renamed", ["best"], "good")
    assert ids(api, filter="tags = best") == ["r-a"]
    assert ids(api, filter="name = renamed") == ["r-a"]
    r = api.patch(f"{BASE}/r-b", json={"notes": None})
    assert r.status_code == 200
    assert r.json()["name"] == "beta"


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"tags": "x"},
        {"unknown": 1},
        {"name": None},
        {"tags": [1]},
        {"name": "x" * 300},
    ],
)
def test_bad_patch_is_400(api: TestClient, body: dict[str, Any]) -> None:
    r = api.patch(f"{BASE}/r-a", json=body)
    assert r.status_code == 400, r.text
    r = api.patch(f"{BASE}/r-a", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_delete(api: TestClient, logs: dict[str, bytes]) -> None:
    ctx = api.app.state.ctx  # type: ignore[attr-defined]
    assert len(list((ctx.config.store_dir / "runs").glob("*/r-b/run.fwlog"))) == 1
    assert api.delete(f"{BASE}/r-b").json() == {"id": "r-b", "deleted": True}
    assert api.get(f"{BASE}/r-b").status_code == 404
    assert api.delete(f"{BASE}/r-b").status_code == 404
    assert list((ctx.config.store_dir / "runs").glob("*/r-b")) == []
    assert api.get(BASE).json()["total"] == 3
    projects = api.get("/api/v1/projects").json()["projects"]
    assert [(p["name"], p["run_count"]) for p in projects] == [(PROJECT, 3)]
    # the client may upload it again from scratch
    upload(api, "admin", PROJECT, "r-b", logs["r-b"])
    assert api.get(f"{BASE}/r-b").json()["state"] == "failed"
