"""The runs list over a few thousand runs, on SQLite and PostgreSQL: every page of a sort,
filter or search is exactly the slice of the same runs sorted and filtered in Python; the
count of a filtered list follows edits and deletes; migration 0012 up and down."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fwtrack.server.db import Database, Project, Run

from .apputil import BACKENDS, database, open_client

N = 2000
PROJECT = "many"
BASE = f"/api/v1/runs/admin/{PROJECT}"
WORDS = ("calm", "bold", "dark", "swift")
THINGS = ("moon", "pine", "river", "star")
TAGS = ("baseline", "ablation", "sweep", "final")


def make_runs(n: int) -> list[dict[str, Any]]:
    """Runs with numbers, strings and missing keys where the sorts and filters look."""
    rng = random.Random(7)
    runs = []
    for i in range(n):
        config: dict[str, Any] = {
            "lr": rng.choice([0.1, 0.01, 0.001, 0.0001, rng.random()]),
            "opt": rng.choice(["adam", "sgd"]),
            "model": {"layers": rng.randint(1, 12)},
        }
        if i % 13 == 0:
            del config["lr"]
        summary: dict[str, Any] = {"loss": round(rng.random() * 3, 3)}
        if i % 7 == 0:
            del summary["loss"]
        elif i % 11 == 0:
            summary["loss"] = rng.choice(["diverged", "nan"])
        runs.append(
            {
                "id": i + 1,
                "run_id": f"r{i:05d}",
                "name": f"{rng.choice(WORDS)}{rng.choice(THINGS)}{rng.randint(0, 999)}",
                "tags": rng.sample(TAGS, rng.randint(0, 2)),
                "created_at": 1.7e9 + rng.randint(0, 5000) * 10.0,  # ties broken by row id
                "config": config,
                "summary": summary,
            }
        )
    return runs


RUNS = make_runs(N)


def insert_runs(db: Database) -> None:
    with db.write() as session:
        project = Project(entity="admin", name=PROJECT)
        session.add(project)
        session.flush()
        rows = [
            {
                **r,
                "project_id": project.id,
                "state": "finished",
                "updated_at": r["created_at"],
                "heartbeat_at": r["created_at"],
            }
            for r in RUNS
        ]
        session.execute(sa.insert(Run), rows)


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    for client in open_client(request, tmp_path, request.param):
        insert_runs(client.app.state.ctx.db)  # type: ignore[attr-defined]
        yield client


def get_path(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def stable(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any], desc: bool) -> Any:
    """Rows by `key` (stable; rows whose key is None last, in the order they came)."""
    have = [r for r in rows if key(r) is not None]
    return sorted(have, key=key, reverse=desc) + [r for r in rows if key(r) is None]


def python_order(rows: list[dict[str, Any]], sort: str) -> list[str]:
    """The server's order, in Python: the field (JSON numbers before strings, missing last),
    then the row id, both in the sort's direction."""
    desc = sort.startswith("-")
    field = sort.lstrip("-")
    out = sorted(rows, key=lambda r: r["id"], reverse=desc)
    if field in ("name", "created_at"):
        return [r["run_id"] for r in stable(out, lambda r: r[field], desc)]
    root, _, path = field.partition(".")

    def value(r: dict[str, Any]) -> Any:
        return get_path(r[root], path)

    def number(r: dict[str, Any]) -> Any:
        v = value(r)
        return v if isinstance(v, int | float) and not isinstance(v, bool) else None

    def text(r: dict[str, Any]) -> Any:
        v = value(r)
        return v if isinstance(v, str) else None

    out = stable(out, text, desc)
    out = stable(out, number, desc)
    return [r["run_id"] for r in out]


FILTERS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "": lambda r: True,
    "config.lr > 0.005 and tags ~ baseline": lambda r: (
        isinstance(r["config"].get("lr"), float)
        and r["config"]["lr"] > 0.005
        and "baseline" in r["tags"]
    ),
    "config.opt = sgd and config.model.layers >= 6": lambda r: (
        r["config"]["opt"] == "sgd" and r["config"]["model"]["layers"] >= 6
    ),
}
SEARCHES = ["", "MOON1"]
SORTS = ["name", "-created_at", "created_at", "-summary.loss", "summary.loss", "config.lr"]


def listing(api: TestClient, **params: Any) -> tuple[list[str], int]:
    r = api.get(BASE, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    return [run["id"] for run in body["runs"]], body["total"]


def matching(flt: str, search: str) -> list[dict[str, Any]]:
    s = search.lower()
    return [
        r
        for r in RUNS
        if FILTERS[flt](r) and (not s or s in r["name"].lower() or s in r["run_id"].lower())
    ]


def test_every_page_is_the_python_slice(api: TestClient) -> None:
    for flt in FILTERS:
        for search in SEARCHES:
            for sort in SORTS:
                expected = python_order(matching(flt, search), sort)
                n = len(expected)
                for offset, limit in ((0, 50), (50, 50), (max(n - 30, 0), 50)):
                    got, total = listing(
                        api, filter=flt, search=search, sort=sort, offset=offset, limit=limit
                    )
                    where = f"filter={flt!r} search={search!r} sort={sort} offset={offset}"
                    assert total == n, where
                    assert got == expected[offset : offset + limit], where
    # a search for an id; past the end: no runs, and the count still
    got, total = listing(api, search="r0012", limit=1000)
    assert sorted(got) == [r["run_id"] for r in matching("", "r0012")]
    assert total == len(got)
    got, total = listing(api, filter="tags != sweep", offset=10**6)
    assert (got, total) == ([], sum("sweep" not in r["tags"] for r in RUNS))


def test_a_filtered_count_follows_edits_and_deletes(api: TestClient) -> None:
    flt = "config.lr > 0.005 and tags ~ baseline"
    before = len(matching(flt, ""))
    assert listing(api, filter=flt, limit=5)[1] == before
    assert listing(api, filter=flt, limit=5, offset=5)[1] == before  # the remembered count
    target = next(r for r in RUNS if isinstance(r["config"].get("lr"), float)
                  and r["config"]["lr"] > 0.005 and "baseline" not in r["tags"])  # fmt: skip
    r = api.patch(f"{BASE}/{target['run_id']}", json={"tags": ["baseline"]})
    assert r.status_code == 200, r.text
    assert listing(api, filter=flt, limit=5)[1] == before + 1
    gone = next(r for r in RUNS if FILTERS[flt](r))
    assert api.delete(f"{BASE}/{gone['run_id']}").status_code == 200
    assert listing(api, filter=flt, limit=5)[1] == before
    assert listing(api, limit=5)[1] == N - 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0012_up_and_down(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from fwtrack.server.db import _MIGRATIONS_DIR, Base

    def name_index(db: Database) -> list[str | None]:
        with db.engine.connect() as connection:
            indexes = sa.inspect(connection).get_indexes("runs")
        return next(list(i["column_names"]) for i in indexes if i["name"] == "ix_runs_project_name")

    with database(request, backend) as url:
        db = Database(url or f"sqlite:///{tmp_path / 'fwtrack.db'}")
        try:
            with db.migration_lock() as connection:
                db.upgrade(connection, "0011")
            assert name_index(db) == ["project_id", "name"]
            insert_runs(db)
            db.migrate()
            assert name_index(db) == ["project_id", "name", "run_id"]
            with db.engine.connect() as connection:
                context = MigrationContext.configure(connection)
                assert context.get_current_revision() == "0012"
                assert compare_metadata(context, Base.metadata) == []
            with db.migration_lock() as connection:
                config = Config()
                config.set_main_option("script_location", str(_MIGRATIONS_DIR))
                config.attributes["connection"] = connection
                command.downgrade(config, "0011")
                connection.commit()
            assert name_index(db) == ["project_id", "name"]
            with db.read() as session:
                assert session.scalar(sa.select(sa.func.count()).select_from(Run)) == N
        finally:
            db.dispose()
