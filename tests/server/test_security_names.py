"""User and team names share one namespace, unique regardless of case, enforced by the
database (concurrent creates included, existing data migrated); a clash answers the same
409 whether the name is a user's or a team's."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fwtrack.server import ServerConfig, create_app

from .accessutil import Http, start_server
from .apputil import ADMIN_KEY, BACKENDS, db_url, open_client
from .conftest import ServerFactory
from .harness import ServerProcess


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    yield from open_client(request, tmp_path, request.param)


def test_names_differing_only_by_case_are_taken(api: TestClient) -> None:
    assert api.post("/api/v1/users", json={"name": "alice"}).status_code == 200
    assert api.post("/api/v1/teams", json={"name": "vision"}).status_code == 200
    details = []
    for taken, clash in (("alice", "Alice"), ("alice", "ALICE"), ("vision", "Vision")):
        for route in ("/api/v1/users", "/api/v1/teams"):
            r = api.post(route, json={"name": clash})
            assert r.status_code == 409, (route, clash, r.text)
            # the answer says neither whether a user or a team holds it, nor which spelling
            details.append(r.json()["detail"].replace(repr(clash), "<name>"))
            assert taken not in r.json()["detail"]
    assert len(set(details)) == 1
    (detail,) = set(details)
    assert detail.startswith("the name <name> is taken; hint:")
    assert "user" not in detail.split("hint:")[0]
    assert "team" not in detail.split("hint:")[0]
    # a team may not take a user's name, nor a user a team's, in the same case either
    assert api.post("/api/v1/teams", json={"name": "alice"}).status_code == 409
    assert api.post("/api/v1/users", json={"name": "vision"}).status_code == 409
    assert api.post("/api/v1/teams", json={"name": "admin"}).status_code == 409
    names = [u["name"] for u in api.get("/api/v1/users").json()["users"]]
    assert names == ["admin", "alice"]
    assert [t["name"] for t in api.get("/api/v1/teams").json()["teams"]] == ["vision"]


def create(server: ServerProcess, route: str, name: str) -> int:
    """POST a new user or team as the admin, on a connection of its own."""
    http = Http(server, server.admin_key)
    try:
        return http.post(route, {"name": name}).status_code
    finally:
        http.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_creates_of_one_name_in_two_cases_let_one_win(
    request: pytest.FixtureRequest, server_factory: ServerFactory, backend: str
) -> None:
    server = start_server(request, server_factory, backend, workers=2)
    for round_ in range(5):
        attempts = [
            ("/users", f"racer{round_}"),
            ("/teams", f"Racer{round_}"),
            ("/users", f"RACER{round_}"),
            ("/teams", f"rAcEr{round_}"),
        ]
        with ThreadPoolExecutor(len(attempts)) as pool:
            codes = sorted(pool.map(lambda a: create(server, *a), attempts))
        assert codes == [200, 409, 409, 409], (round_, codes)


def test_existing_names_migrate_into_the_shared_namespace(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A database from revision 0002 with names that differ only by case (allowed then) keeps
    them, and no new user or team can take any spelling of them."""
    from fwtrack.server.db import Database

    for backend in BACKENDS:
        url = db_url(request, backend, empty=True) or f"sqlite:///{tmp_path / 'old.db'}"
        config = ServerConfig(data_dir=tmp_path / backend, db_url=url, admin_key=ADMIN_KEY)
        db = Database(config.database_url)
        try:
            with db.engine.connect() as connection:
                db.upgrade(connection, "0002")
                for table, name in (("users", "admin"), ("users", "Alice"), ("teams", "alice")):
                    extra = ", is_admin" if table == "users" else ""
                    value = ", true" if table == "users" else ""
                    connection.execute(
                        sa.text(
                            f"INSERT INTO {table} (name, created_at{extra}) "
                            f"VALUES (:name, 0{value})"
                        ),
                        {"name": name},
                    )
                connection.commit()
        finally:
            db.dispose()
        with TestClient(create_app(config)) as client:
            client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
            names = [u["name"] for u in client.get("/api/v1/users").json()["users"]]
            assert names == ["Alice", "admin"]
            for route in ("/api/v1/users", "/api/v1/teams"):
                for name in ("alice", "ALICE", "Admin"):
                    assert client.post(route, json={"name": name}).status_code == 409
            assert client.post("/api/v1/users", json={"name": "carol"}).status_code == 200
