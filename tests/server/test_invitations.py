"""Invitations by one-time link, on SQLite and PostgreSQL: created by team admins only (the
token shown once, stored as its SHA-256), described without a key, accepted by a signed-in
user or used to create an account that is signed in; used, revoked and expired links answer
410 naming which, an unknown one 404; each step audited."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fwtrack.server.db import Invitation

from .apputil import BACKENDS
from .team_util import PROJECT, TEAM, As, Lab, lab_client


@pytest.fixture(params=BACKENDS)
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    yield from lab_client(request, tmp_path, request.param)


def _invite(lab: Lab, role: str = "viewer", note: str = "for the eval work") -> dict[str, str]:
    r = lab.lead.post(f"/teams/{TEAM}/invitations", {"role": role, "note": note})
    assert r.status_code == 201, r.text
    out: dict[str, str] = r.json()
    return out


def test_an_admin_invites_and_a_new_person_signs_up_through_the_link(lab: Lab) -> None:
    made = _invite(lab)
    token = made["token"]
    assert made["url"].endswith(f"/#/invite/{token}")
    assert made["role"] == "viewer"
    assert made["created_by"] == "lead"
    week = made["expires_at"] - made["created_at"]  # type: ignore[operator]
    assert week == 7 * 86400
    # Only the token's SHA-256 is kept.
    with lab.client.app.state.ctx.db.read() as session:  # type: ignore[attr-defined]
        row = session.scalar(sa.select(Invitation))
        assert row is not None
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (row.note, row.created_by, row.token_hash)
    # Whoever holds the link reads what it offers, without a key.
    anyone = As(lab.client, None)
    r = anyone.get(f"/invitations/{token}")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "team": TEAM,
        "role": "viewer",
        "inviter": "lead",
        "note": "for the eval work",
        "expires_at": made["expires_at"],
    }
    # The password rules of user creation.
    r = anyone.post(f"/invitations/{token}/signup", {"name": "newbie", "password": "short"})
    assert r.status_code == 400
    assert "password" in r.json()["detail"]
    r = anyone.post(f"/invitations/{token}/signup", {"name": "mem", "password": "long enough"})
    assert r.status_code == 409  # the name is taken; the link stays usable
    r = anyone.post(f"/invitations/{token}/signup", {"name": "newbie", "password": "long enough"})
    assert r.status_code == 201, r.text
    answer = r.json()
    assert (answer["name"], answer["team"], answer["role"]) == ("newbie", TEAM, "viewer")
    newbie = As(lab.client, answer["api_key"], "newbie")
    me = newbie.get("/viewer").json()
    assert (me["teams"], me["read_only"], me["roles"]) == ([TEAM], [TEAM], {TEAM: "viewer"})
    assert newbie.get(f"/runs/{TEAM}/{PROJECT}").status_code == 200
    assert newbie.patch(f"/runs/{TEAM}/{PROJECT}/run1", {"tags": ["x"]}).status_code == 403
    # The password works for signing in.
    r = anyone.post("/login", {"username": "newbie", "password": "long enough"})
    assert r.status_code == 200, r.text
    # Once only.
    r = anyone.get(f"/invitations/{token}")
    assert r.status_code == 410
    assert "already used (by 'newbie')" in r.json()["detail"]
    r = anyone.post(f"/invitations/{token}/signup", {"name": "second", "password": "long enough"})
    assert r.status_code == 410
    assert lab.admin.get("/users/second").status_code == 404
    # Audited: the invitation and the join.
    events = lab.lead.get("/audit", {"entity": TEAM, "action": "invitation."}).json()["events"]
    assert [(e["actor"], e["action"], e["target"]) for e in events] == [
        ("newbie", "invitation.accept", "newbie"),
        ("lead", "invitation.create", f"invitation {made['id']}"),
    ]
    assert events[0]["detail"]["new_user"] is True
    assert events[0]["detail"]["inviter"] == "lead"


def test_a_signed_in_user_accepts_with_the_role(lab: Lab) -> None:
    made = _invite(lab, role="member")
    r = lab.outsider.post(f"/invitations/{made['token']}/accept")
    assert r.status_code == 200, r.text
    assert r.json() == {"team": TEAM, "role": "member"}
    assert lab.role_of("outsider") == "member"
    assert lab.outsider.patch(f"/runs/{TEAM}/{PROJECT}/run1", {"tags": ["ok"]}).status_code == 200
    # Someone in the team already: refused, the link stays unused.
    again = _invite(lab)
    r = lab.mem.post(f"/invitations/{again['token']}/accept")
    assert r.status_code == 409
    assert "already in team 'lab' (role member)" in r.json()["detail"]
    assert As(lab.client, None).get(f"/invitations/{again['token']}").status_code == 200
    # Accepting needs a key.
    assert As(lab.client, None).post(f"/invitations/{again['token']}/accept").status_code == 401


def test_only_team_admins_create_list_and_revoke(lab: Lab) -> None:
    path = f"/teams/{TEAM}/invitations"
    for who in (lab.mem, lab.vie, lab.outsider):
        r = who.post(path, {"role": "member"})
        assert r.status_code == 403, (who.name, r.text)
        assert who.get(path).status_code == 403
    assert "only admins of team 'lab'" in lab.mem.post(path, {}).json()["detail"]
    # A server admin may, as the team's admins.
    r = lab.admin.post(path, {"role": "admin", "expires_in": 3600})
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["expires_at"] - first["created_at"] == 3600
    second = _invite(lab, note="second")
    listed = lab.lead.get(path).json()["invitations"]
    assert [i["id"] for i in listed] == [second["id"], first["id"]]
    assert all("token" not in i for i in listed)
    assert lab.mem.delete(f"{path}/{first['id']}").status_code == 403
    r = lab.lead.delete(f"{path}/{first['id']}")
    assert r.status_code == 200, r.text
    assert [i["id"] for i in lab.lead.get(path).json()["invitations"]] == [second["id"]]
    r = As(lab.client, None).get(f"/invitations/{first['token']}")
    assert r.status_code == 410
    assert "revoked" in r.json()["detail"]
    assert lab.outsider.post(f"/invitations/{first['token']}/accept").status_code == 410
    assert lab.lead.delete(f"{path}/999").status_code == 404
    assert lab.lead.post(path, {"role": "owner"}).status_code == 400
    assert lab.lead.post("/teams/nosuch/invitations", {}).status_code in (403, 404)
    assert lab.admin.post("/teams/nosuch/invitations", {}).status_code == 404
    actions = [e["action"] for e in lab.lead.get("/audit", {"entity": TEAM}).json()["events"]]
    assert actions[:3] == ["invitation.revoke", "invitation.create", "invitation.create"]


def test_expired_and_unknown_links(lab: Lab) -> None:
    made = _invite(lab)
    # Make it expire (the server compares with its clock; no waiting in a test).
    with lab.client.app.state.ctx.db.write() as session:  # type: ignore[attr-defined]
        session.execute(sa.update(Invitation).values(expires_at=Invitation.created_at - 1))
    anyone = As(lab.client, None)
    r = anyone.get(f"/invitations/{made['token']}")
    assert r.status_code == 410
    assert "expired" in r.json()["detail"]
    assert "hint: ask an admin of team 'lab'" in r.json()["detail"]
    body = {"name": "late", "password": "long enough"}
    assert anyone.post(f"/invitations/{made['token']}/signup", body).status_code == 410
    assert lab.lead.get(f"/teams/{TEAM}/invitations").json()["invitations"] == []
    r = anyone.get("/invitations/" + "x" * 43)
    assert r.status_code == 404
    assert "no such invitation" in r.json()["detail"]
