"""Authentication and access: keys, passwords, users, teams, 401 vs 403 vs 404."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fwtrack.server.db import ApiKey, User

from .apputil import ADMIN_KEY, BACKENDS, frame_boundaries, make_run, open_client, upload


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    yield from open_client(request, tmp_path, request.param)


def as_key(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {"Authorization": ""}


def new_user(api: TestClient, name: str, **extra: object) -> str:
    r = api.post("/api/v1/users", json={"name": name, **extra})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name
    key: str = r.json()["api_key"]
    return key


def test_health_needs_no_key(api: TestClient) -> None:
    r = api.get("/api/v1/health", headers=as_key(None))
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["version"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer fwk_short",
        "Basic " + "x" * 44,
        "Bearer fwk_" + "Z" * 40,  # well formed, unknown
        "Bearer fwk_" + "!" * 40,
    ],
)
def test_missing_or_unknown_key_is_401(api: TestClient, header: str | None) -> None:
    r = api.get("/api/v1/viewer", headers={"Authorization": header or ""})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["detail"]
    # the same on entity routes: 401 is decided before anything else
    r = api.get("/api/v1/runs/nobody/p", headers={"Authorization": header or ""})
    assert r.status_code == 401


def test_viewer_and_first_admin(api: TestClient) -> None:
    assert api.get("/api/v1/viewer").json() == {
        "name": "admin",
        "is_admin": True,
        "teams": [],
        "read_only": [],
        "roles": {},
    }


def test_keys_are_stored_hashed(api: TestClient) -> None:
    key = new_user(api, "alice")
    db = api.app.state.ctx.db  # type: ignore[attr-defined]
    with db.read() as session:
        rows = session.scalars(sa.select(ApiKey)).all()
    assert {r.key_hash for r in rows} >= {
        hashlib.sha256(key.encode()).hexdigest(),
        hashlib.sha256(ADMIN_KEY.encode()).hexdigest(),
    }
    assert all(len(r.prefix) == 8 for r in rows)
    data_dir = api.app.state.ctx.config.data_dir  # type: ignore[attr-defined]
    for path in Path(data_dir).rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes()


def test_403_is_decided_on_the_entity_alone(api: TestClient, tmp_path: Path) -> None:
    alice = new_user(api, "alice")
    new_user(api, "bob")
    data = make_run(tmp_path / "c", "secret", "r1", steps=5).read_bytes()
    upload(api, "bob", "secret", "r1", data)
    # alice cannot tell bob's existing project or run from missing ones: 403 for all
    for path in (
        "/api/v1/runs/bob/secret",
        "/api/v1/runs/bob/missing",
        "/api/v1/runs/bob/secret/r1",
        "/api/v1/runs/bob/secret/nope",
        "/api/v1/runs/bob/secret/r1/history",
        "/api/v1/runs/bob/secret/r1/log",
        "/api/v1/runs/bob/secret/r1/files",
        "/api/v1/runs/nosuchentity/x/y",
    ):
        r = api.get(path, headers=as_key(alice))
        assert r.status_code == 403, path
        assert "cannot reach entity" in r.json()["detail"]
    r = api.post(
        "/api/v1/runs/bob/secret/r1/log", params={"offset": 0}, content=data, headers=as_key(alice)
    )
    assert r.status_code == 403
    # alice reaches her own entity: 404 for what is not there
    assert api.get("/api/v1/runs/alice/none", headers=as_key(alice)).status_code == 404
    # admins reach everything
    assert api.get("/api/v1/runs/bob/secret/r1").status_code == 200
    assert api.get("/api/v1/runs/bob/missing").status_code == 404
    projects = api.get("/api/v1/projects", headers=as_key(alice)).json()["projects"]
    assert projects == []


def test_user_uploads_to_own_entity(api: TestClient, tmp_path: Path) -> None:
    alice = new_user(api, "alice")
    data = make_run(tmp_path / "c", "mine", "r1", steps=5).read_bytes()
    client = {"Authorization": f"Bearer {alice}"}
    r = api.post(
        "/api/v1/runs/alice/mine/r1/log", params={"offset": 0}, content=data, headers=client
    )
    assert r.status_code == 200, r.text
    projects = api.get("/api/v1/projects", headers=client).json()["projects"]
    assert [(p["entity"], p["name"], p["run_count"]) for p in projects] == [("alice", "mine", 1)]


def test_uploading_to_a_missing_entity_is_404_for_admins(api: TestClient, tmp_path: Path) -> None:
    data = make_run(tmp_path / "c", "p", "r1", steps=2).read_bytes()
    r = api.post("/api/v1/runs/ghost/p/r1/log", params={"offset": 0}, content=data)
    assert r.status_code == 404
    assert "no user or team named 'ghost'" in r.json()["detail"]


def test_teams(api: TestClient, tmp_path: Path) -> None:
    alice = new_user(api, "alice")
    bob = new_user(api, "bob")
    carol = new_user(api, "carol")
    r = api.post("/api/v1/teams", json={"name": "vision"}, headers=as_key(alice))
    assert r.json() == {
        "name": "vision",
        "members": ["alice"],
        "admins": ["alice"],
        "roles": {"alice": "admin"},
    }
    r = api.post("/api/v1/teams/vision/members", json={"user": "bob"}, headers=as_key(alice))
    assert r.json()["members"] == ["alice", "bob"]
    assert r.json()["admins"] == ["alice"]
    r = api.post("/api/v1/teams/vision/members", json={"user": "carol"}, headers=as_key(carol))
    assert r.status_code == 403
    assert api.get("/api/v1/viewer", headers=as_key(bob)).json()["teams"] == ["vision"]
    data = make_run(tmp_path / "c", "shared", "r1", steps=3).read_bytes()
    r = api.post(
        "/api/v1/runs/vision/shared/r1/log", params={"offset": 0}, content=data, headers=as_key(bob)
    )
    assert r.status_code == 200
    assert api.get("/api/v1/runs/vision/shared/r1", headers=as_key(alice)).status_code == 200
    assert api.get("/api/v1/runs/vision/shared/r1", headers=as_key(carol)).status_code == 403
    # team and user names share one namespace
    assert api.post("/api/v1/teams", json={"name": "alice"}).status_code == 409
    assert api.post("/api/v1/users", json={"name": "vision"}).status_code == 409
    assert api.post("/api/v1/teams/nope/members", json={"user": "bob"}).status_code == 404
    assert api.post("/api/v1/teams/vision/members", json={"user": "zed"}).status_code == 404


def test_only_admins_create_users(api: TestClient) -> None:
    alice = new_user(api, "alice")
    r = api.post("/api/v1/users", json={"name": "mallory"}, headers=as_key(alice))
    assert r.status_code == 403
    assert api.post("/api/v1/users", json={"name": "alice"}).status_code == 409
    for bad in ({"name": "../x"}, {"name": ""}, {"name": "a" * 65}, {"name": "x", "extra": 1}):
        r = api.post("/api/v1/users", json=bad)
        assert r.status_code == 400, bad
        assert r.json()["detail"].startswith("invalid request")


def test_keys_list_create_revoke(api: TestClient) -> None:
    alice = new_user(api, "alice")
    r = api.post("/api/v1/keys", json={"description": "laptop"}, headers=as_key(alice))
    second = r.json()["api_key"]
    assert api.get("/api/v1/viewer", headers=as_key(second)).json()["name"] == "alice"
    keys = api.get("/api/v1/keys", headers=as_key(alice)).json()["keys"]
    assert [k["description"] for k in keys] == ["first key", "laptop"]
    assert keys[1]["prefix"] == second[:12]
    assert "api_key" not in keys[0]
    # no user but an admin revokes another user's key (tests/server/test_security_offboarding)
    bob = new_user(api, "bob")
    assert api.delete(f"/api/v1/keys/{keys[1]['id']}", headers=as_key(bob)).status_code == 404
    r = api.delete(f"/api/v1/keys/{keys[1]['id']}", headers=as_key(alice))
    assert r.status_code == 200
    assert api.get("/api/v1/viewer", headers=as_key(second)).status_code == 401
    assert api.get("/api/v1/viewer", headers=as_key(alice)).status_code == 200
    assert api.delete("/api/v1/keys/0").status_code == 400
    assert api.delete("/api/v1/keys/abc").status_code == 400


def test_login_with_password(api: TestClient) -> None:
    new_user(api, "alice", password="correct horse battery")
    new_user(api, "nopass")
    r = api.post(
        "/api/v1/login",
        json={"username": "alice", "password": "correct horse battery"},
        headers=as_key(None),
    )
    assert r.status_code == 200, r.text
    key = r.json()["api_key"]
    assert api.get("/api/v1/viewer", headers=as_key(key)).json()["name"] == "alice"
    for username, password in (("alice", "wrong"), ("nopass", "whatever"), ("ghost", "x")):
        r = api.post(
            "/api/v1/login", json={"username": username, "password": password}, headers=as_key(None)
        )
        assert r.status_code == 401, username
        assert "wrong username or password" in r.json()["detail"]
    db = api.app.state.ctx.db  # type: ignore[attr-defined]
    with db.read() as session:
        stored = session.scalar(sa.select(User.password_hash).where(User.name == "alice"))
    assert stored is not None
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert api.post("/api/v1/users", json={"name": "weak", "password": "short"}).status_code == 400


def test_invalid_names_are_400(api: TestClient) -> None:
    for path in (
        "/api/v1/runs/bad%20entity/p",
        "/api/v1/runs/admin/bad%24project",
        "/api/v1/runs/admin/p/..",
        "/api/v1/runs/admin/p/" + "x" * 65,
        "/api/v1/runs/" + "e" * 65 + "/p",
    ):
        r = api.get(path)
        assert r.status_code in (400, 404), path
        if r.status_code == 400:
            assert "invalid" in r.json()["detail"]
    r = api.get("/api/v1/runs/admin/p/..")
    # `..` as a path segment is normalized away by the HTTP client or refused by the server
    assert r.status_code in (400, 404)
    r = api.post("/api/v1/runs/admin/p/%2E%2E/log", params={"offset": 0}, content=b"")
    assert r.status_code == 400


def test_seeded_admin_key_survives_restart(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    for _ in range(2):
        gen = open_client(request, tmp_path, "sqlite")
        client = next(gen)
        try:
            assert client.get("/api/v1/viewer").json()["name"] == "admin"
        finally:
            gen.close()
    data = make_run(tmp_path / "c", "p", "r1", steps=3).read_bytes()
    assert frame_boundaries(data)[-1] == len(data)
