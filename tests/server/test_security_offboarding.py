"""Offboarding against a real server process, over HTTP and through `fwtrack.Api`: admins
revoke anyone's key, disable and enable users, reset passwords and remove team members, each
taking effect at once; keys expire; an admin cannot lock themself out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fwtrack
from fwtrack.api import (
    AuthenticationError,
    InvalidRequestError,
    NameTakenError,
    NotFoundError,
    PermissionDeniedError,
    ServerRequiredError,
)

from .accessutil import Http, admin_http, start_server
from .apputil import BACKENDS, make_run
from .conftest import ServerFactory
from .harness import ServerProcess

PASSWORD = "correct horse battery"


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, server_factory: ServerFactory) -> ServerProcess:
    return start_server(request, server_factory, request.param)


@pytest.fixture
def admin(server: ServerProcess) -> Iterator[Http]:
    yield from admin_http(server)


def test_admin_revokes_another_users_key_and_it_stops_working_at_once(admin: Http) -> None:
    alice = admin.as_(admin.new_user("alice"))
    second = alice.post("/keys", {"description": "laptop"}).json()["api_key"]
    assert alice.get("/viewer").json()["name"] == "alice"

    keys = admin.get("/users/alice/keys").json()["keys"]
    assert [k["description"] for k in keys] == ["first key", "laptop"]
    assert set(keys[0]) >= {
        "id", "prefix", "description", "created_at", "last_used_at", "expires_at",
        "revoked", "expired",
    }  # fmt: skip
    assert keys[0]["last_used_at"] is not None  # alice used it above
    assert keys[1]["last_used_at"] is None
    assert not keys[0]["revoked"]
    assert not keys[0]["expired"]

    r = admin.delete(f"/keys/{keys[0]['id']}")
    assert r.status_code == 200, r.text
    r = alice.get("/viewer")
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]
    assert alice.as_(second).get("/viewer").status_code == 200
    assert [k["revoked"] for k in admin.get("/users/alice/keys").json()["keys"]] == [True, False]

    # others may neither see nor revoke alice's keys; she sees her own
    bob = admin.as_(admin.new_user("bob"))
    assert bob.get("/users/alice/keys").status_code == 403
    assert bob.delete(f"/keys/{keys[1]['id']}").status_code == 404
    assert alice.as_(second).get("/users/alice/keys").status_code == 200
    assert bob.get("/users").status_code == 403
    assert admin.get("/users/ghost/keys").status_code == 404


def test_disabled_user_keys_and_password_stop_working_until_enabled(admin: Http) -> None:
    key = admin.new_user("alice", PASSWORD)
    login = admin.login("alice", PASSWORD)
    assert login.status_code == 200, login.text
    login_key = login.json()["api_key"]

    r = admin.patch("/users/alice", {"disabled": True})
    assert r.status_code == 200, r.text
    assert r.json()["disabled"] is True
    for k in (key, login_key):
        r = admin.as_(k).get("/viewer")
        assert r.status_code == 401
        assert "user 'alice' is disabled" in r.json()["detail"]
        assert "ask an admin" in r.json()["detail"]
    assert admin.login("alice", PASSWORD).status_code == 401
    listed = {u["name"]: u for u in admin.get("/users").json()["users"]}
    assert listed["alice"]["disabled"] is True
    assert listed["alice"]["has_password"] is True

    r = admin.patch("/users/alice", {"disabled": False})
    assert r.json()["disabled"] is False
    assert admin.as_(key).get("/viewer").status_code == 200
    assert admin.as_(login_key).get("/viewer").status_code == 200
    assert admin.login("alice", PASSWORD).status_code == 200


def test_users_list_and_password_reset(admin: Http) -> None:
    admin.new_user("carol")
    admin.new_user("alice", PASSWORD)
    users = admin.get("/users").json()["users"]
    assert [u["name"] for u in users] == ["admin", "alice", "carol"]
    assert users[0] == {
        "name": "admin",
        "is_admin": True,
        "disabled": False,
        "disabled_at": None,
        "has_password": False,
        "created_at": users[0]["created_at"],
        "teams": [],
    }
    r = admin.patch("/users/alice", {"password": "a new secret phrase"})
    assert r.status_code == 200, r.text
    assert admin.login("alice", PASSWORD).status_code == 401
    assert admin.login("alice", "a new secret phrase").status_code == 200
    r = admin.patch("/users/carol", {"password": "carols secret"})
    assert r.json()["has_password"] is True
    assert admin.login("carol", "carols secret").status_code == 200
    assert admin.patch("/users/carol", {"password": "short"}).status_code == 400
    assert admin.patch("/users/ghost", {"disabled": True}).status_code == 404
    carol = admin.as_(admin.post("/keys", {}).json()["api_key"])
    assert carol.patch("/users/alice", {"disabled": True}).status_code == 200  # an admin key
    bob = admin.as_(admin.new_user("bob"))
    assert bob.patch("/users/alice", {"disabled": False}).status_code == 403


def test_removed_team_member_loses_the_teams_projects_at_once(admin: Http, tmp_path: Path) -> None:
    alice = admin.as_(admin.new_user("alice"))
    bob = admin.as_(admin.new_user("bob"))
    carol = admin.as_(admin.new_user("carol"))
    alice.post("/teams", {"name": "vision"})
    assert alice.post("/teams/vision/members", {"user": "bob"}).json()["members"] == [
        "alice",
        "bob",
    ]
    data = make_run(tmp_path / "c", "shared", "r1", steps=3).read_bytes()
    bob.upload("vision", "shared", "r1", data)
    assert bob.get("/runs/vision/shared/r1").status_code == 200
    assert bob.get("/teams").json() == {
        "teams": [
            {
                "name": "vision",
                "members": ["alice", "bob"],
                "admins": ["alice"],
                "roles": {"alice": "admin", "bob": "member"},
            }
        ]
    }

    assert carol.delete("/teams/vision/members/bob").status_code == 403  # not a member
    r = alice.delete("/teams/vision/members/bob")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "name": "vision",
        "members": ["alice"],
        "admins": ["alice"],
        "roles": {"alice": "admin"},
    }
    r = bob.get("/runs/vision/shared/r1")
    assert r.status_code == 403
    assert "cannot reach entity 'vision'" in r.json()["detail"]
    assert bob.get("/teams").json() == {"teams": []}
    assert bob.get("/viewer").json()["teams"] == []
    assert alice.delete("/teams/vision/members/bob").status_code == 404  # not a member now
    assert admin.delete("/teams/nope/members/bob").status_code == 404
    carol.post("/teams", {"name": "audio"})
    assert [t["name"] for t in admin.get("/teams").json()["teams"]] == ["audio", "vision"]
    assert [t["name"] for t in alice.get("/teams").json()["teams"]] == ["vision"]


def test_an_admin_cannot_disable_themself_or_drop_their_admin_flag(admin: Http) -> None:
    for change in ({"disabled": True}, {"is_admin": False}):
        r = admin.patch("/users/admin", change)
        assert r.status_code == 400
        assert "hint: ask another admin" in r.json()["detail"]
    assert admin.get("/viewer").json() == {
        "name": "admin",
        "is_admin": True,
        "teams": [],
        "read_only": [],
        "roles": {},
    }
    # another admin may take the flag away, and give it back
    alice = admin.as_(admin.new_user("alice"))
    admin.patch("/users/alice", {"is_admin": True})
    assert alice.patch("/users/admin", {"is_admin": False}).json()["is_admin"] is False
    assert admin.get("/users").status_code == 403
    assert alice.patch("/users/admin", {"is_admin": True}).json()["is_admin"] is True
    assert admin.get("/users").status_code == 200


def test_keys_with_an_expiry(admin: Http) -> None:
    assert admin.post("/keys", {"expires_in": 59}).status_code == 400
    assert admin.post("/keys", {"expires_in": 10 * 365 * 86400 + 1}).status_code == 400
    before = time.time()
    r = admin.post("/keys", {"description": "ci", "expires_in": 60})
    assert r.status_code == 200, r.text
    expires_at = r.json()["expires_at"]
    assert before + 60 <= expires_at <= time.time() + 60
    assert admin.as_(r.json()["api_key"]).get("/viewer").status_code == 200
    listed = {k["description"]: k for k in admin.get("/keys").json()["keys"]}
    assert listed["ci"]["expires_at"] == expires_at
    assert listed["ci"]["expired"] is False
    r = admin.post("/keys", {"description": "forever"})
    assert r.json()["expires_at"] is None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_login_keys_expire_after_the_servers_ttl(
    request: pytest.FixtureRequest, server_factory: ServerFactory, backend: str
) -> None:
    server = start_server(request, server_factory, backend, "--login-key-ttl", "2s")
    for admin in admin_http(server):
        admin.new_user("alice", PASSWORD)
        before = time.time()
        r = admin.login("alice", PASSWORD)
        assert r.status_code == 200, r.text
        key, expires_at = r.json()["api_key"], r.json()["expires_at"]
        assert before + 2 <= expires_at <= time.time() + 2
        assert admin.as_(key).get("/viewer").status_code in (200, 401)  # 2 s is short
        deadline = time.monotonic() + 30
        while (r := admin.as_(key).get("/viewer")).status_code == 200:
            assert time.monotonic() < deadline, "the login key never expired"
            time.sleep(0.2)
        assert r.status_code == 401
        detail = r.json()["detail"]
        assert detail.startswith("API key expired on ")
        assert "hint: log in again" in detail
        (listed,) = admin.get("/users/alice/keys").json()["keys"][1:]
        assert listed["expired"] is True
        assert listed["revoked"] is False


# -- the same through fwtrack.Api ------------------------------------------------------------


def test_offboarding_through_the_python_api(server: ServerProcess, tmp_path: Path) -> None:
    api = fwtrack.Api(base_url=server.url, api_key=server.admin_key)
    alice_user, alice_key = api.create_user("alice", password=PASSWORD)
    assert alice_user.name == "alice"
    assert not alice_user.is_admin
    assert not alice_user.disabled
    assert alice_key.api_key.startswith("fwk_")
    assert [u.name for u in api.users()] == ["admin", "alice"]
    with pytest.raises(NameTakenError, match="the name 'ALICE' is taken"):
        api.create_user("ALICE")

    as_alice = fwtrack.Api(base_url=server.url, api_key=alice_key.api_key)
    laptop = as_alice.create_api_key("laptop", expires_in=3600)
    assert laptop.expires_at is not None
    with pytest.raises(ValueError, match="expires_in"):
        as_alice.create_api_key(expires_in=59)
    assert "fwk_" not in repr(laptop)[30:]  # the secret is not printed whole

    # an admin revokes alice's key: it is refused at once, her other key still works
    user = api.user("alice")
    assert [k.description for k in user.api_keys()] == ["first key", "laptop"]
    user.revoke_key(alice_key.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        as_alice.user("alice")
    as_laptop = fwtrack.Api(base_url=server.url, api_key=laptop.api_key)
    assert as_laptop.user("alice").name == "alice"
    with pytest.raises(PermissionDeniedError):
        as_laptop.users()

    # disable, enable
    assert user.disable().disabled is True
    with pytest.raises(AuthenticationError) as err:
        as_laptop.user("alice")
    assert err.value.status == 401
    assert "user 'alice' is disabled" in err.value.detail
    assert user.enable().disabled is False
    assert as_laptop.api_keys()[1].description == "laptop"

    # password, admin flag
    user.set_password("another long phrase")
    assert user.has_password
    assert user.set_admin(True).is_admin is True
    assert user.set_admin(False).is_admin is False
    with pytest.raises(InvalidRequestError, match="ask another admin"):
        api.user("admin").disable()

    # teams: a removed member loses the team's projects at once
    team = as_laptop.create_team("vision")
    _, bob_key = api.create_user("bob")
    assert team.add_member("bob").members == ["alice", "bob"]
    assert [t.name for t in api.teams()] == ["vision"]
    assert api.team("vision").members == ["alice", "bob"]
    log = make_run(tmp_path / "c", "shared", "r1", steps=3).read_bytes()
    Http(server, bob_key.api_key).upload("vision", "shared", "r1", log)
    bob = fwtrack.Api(base_url=server.url, api_key=bob_key.api_key)
    assert [r.id for r in bob.runs("vision/shared")] == ["r1"]
    assert team.remove_member("bob").members == ["alice"]
    with pytest.raises(PermissionDeniedError, match="cannot reach entity 'vision'"):
        bob.runs("vision/shared")
    assert bob.teams() == []
    with pytest.raises(NotFoundError):
        api.user("ghost")
    with pytest.raises(NotFoundError):
        api.team("nope")

    # an admin revokes a key by id
    spare = api.create_api_key("spare")
    api.revoke_api_key(spare.id)
    with pytest.raises(AuthenticationError):
        fwtrack.Api(base_url=server.url, api_key=spare.api_key).users()

    with pytest.raises(ServerRequiredError, match="base_url"):
        fwtrack.Api(dir=tmp_path).users()
