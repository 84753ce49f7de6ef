"""Migration 0007 on a database an older server left (revision 0006, SQLite and PostgreSQL):
every existing team member becomes a team admin (before, every member managed the team),
members added afterwards are plain members, and the registry works on the upgraded
database, served by a real server process."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from fwtrack.server.auth import generate_key, hash_key
from fwtrack.server.db import Database

from .conftest import ServerFactory
from .registry_util import RegistryClient, run_log

pytestmark = pytest.mark.slow


def _old_database(url: str) -> dict[str, str]:
    """A database at revision 0006: users admin, alice, bob, carol, team `vision` with alice
    and bob; returns an API key per user besides admin."""
    keys = {name: generate_key() for name in ("alice", "bob", "carol")}
    db = Database(url)
    try:
        with db.migration_lock() as connection:
            db.upgrade(connection, "0006")
            users = ["admin", *keys]
            for uid, name in enumerate(users, start=1):
                connection.execute(
                    sa.text(
                        "INSERT INTO users (id, name, is_admin, created_at) "
                        "VALUES (:id, :name, :admin, 0)"
                    ),
                    {"id": uid, "name": name, "admin": name == "admin"},
                )
                connection.execute(
                    sa.text("INSERT INTO entity_names (name_key) VALUES (:n)"), {"n": name}
                )
                if name in keys:
                    connection.execute(
                        sa.text(
                            "INSERT INTO api_keys (user_id, key_hash, prefix, description, "
                            "created_at) VALUES (:uid, :hash, :prefix, '', 0)"
                        ),
                        {"uid": uid, "hash": hash_key(keys[name]), "prefix": keys[name][4:12]},
                    )
            connection.execute(
                sa.text("INSERT INTO teams (id, name, created_at) VALUES (1, 'vision', 0)")
            )
            connection.execute(sa.text("INSERT INTO entity_names (name_key) VALUES ('vision')"))
            for uid in (2, 3):
                connection.execute(
                    sa.text("INSERT INTO team_members (team_id, user_id) VALUES (1, :uid)"),
                    {"uid": uid},
                )
            connection.commit()
    finally:
        db.dispose()
    return keys


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_upgrade_makes_existing_members_admins_and_the_registry_works(
    request: pytest.FixtureRequest, server_factory: ServerFactory, tmp_path: Path, backend: str
) -> None:
    data = tmp_path / "data"
    if backend == "postgresql":
        url = request.getfixturevalue("fresh_postgres_db")
    else:
        data.mkdir()
        url = f"sqlite:///{data / 'fwtrack.db'}"
    keys = _old_database(url)
    srv = server_factory(data_dir=data, db_url=None if backend == "sqlite" else url)
    admin = RegistryClient(srv)
    alice, bob, carol = (admin.as_(keys[n]) for n in ("alice", "bob", "carol"))
    try:
        team = alice.get("/teams/vision")
        assert team.status_code == 200, team.text
        assert team.json() == {
            "name": "vision",
            "members": ["alice", "bob"],
            "admins": ["alice", "bob"],
            "roles": {"alice": "admin", "bob": "admin"},
        }
        r = bob.post("/teams/vision/members", {"user": "carol"})
        assert r.status_code == 200, r.text
        assert r.json()["admins"] == ["alice", "bob"]

        # The registry on the upgraded database: a member links, an old member (an admin
        # now) protects and moves, the new plain member is refused.
        carol.new_run(run_log(tmp_path, "models", "train"), "models", "train", entity="vision")
        art = carol.model_version("models", "train", "net", b"weights", entity="vision")
        r = carol.link("net", art, aliases=["staging"], entity="vision")
        assert r.status_code == 200, r.text
        assert r.json()["version"] == "v0"
        r = bob.patch("/registry/vision/models/net", {"protected_aliases": ["production"]})
        assert r.status_code == 200, r.text
        assert bob.move("net", "production", "v0", "vision").status_code == 200
        assert carol.move("net", "production", "v0", "vision").status_code == 403
        r = carol.delete("/registry/vision/models/net/aliases/production")
        assert r.status_code == 403
        assert [e["action"] for e in reversed(alice.audit("net", "vision"))] == [
            "link",
            "alias.set",
            "protect",
            "alias.set",
        ]
    finally:
        for client in (admin, alice, bob, carol):
            client.close()
