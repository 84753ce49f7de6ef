"""The audit of admin actions, on SQLite and PostgreSQL: what is recorded (users, teams,
roles, members, an admin revoking another's key) and who reads it (server admins all, team
admins their team's, others 403), with the filters and paging of `GET /audit`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .apputil import BACKENDS
from .team_util import TEAM, Lab, lab_client


@pytest.fixture(params=BACKENDS)
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    yield from lab_client(request, tmp_path, request.param)


def _events(lab: Lab, **params: Any) -> list[tuple[str, str, str | None, str]]:
    r = lab.admin.get("/audit", params)
    assert r.status_code == 200, r.text
    return [(e["actor"], e["action"], e["entity"], e["target"]) for e in r.json()["events"]]


def test_admin_actions_are_recorded(lab: Lab) -> None:
    # The setup: users made by the server admin, a team and its members by its admin.
    events = list(reversed(_events(lab)))
    assert events == [
        ("admin", "user.create", None, "lead"),
        ("admin", "user.create", None, "mem"),
        ("admin", "user.create", None, "vie"),
        ("admin", "user.create", None, "other"),
        ("admin", "user.create", None, "outsider"),
        ("lead", "team.create", TEAM, TEAM),
        ("lead", "team.member.add", TEAM, "mem"),
        ("lead", "team.member.add", TEAM, "vie"),
        ("lead", "team.member.add", TEAM, "other"),
    ]
    assert lab.lead.patch(f"/teams/{TEAM}/members/vie", {"role": "member"}).status_code == 200
    assert lab.lead.patch(f"/teams/{TEAM}/members/vie", {"role": "member"}).status_code == 200
    assert lab.lead.delete(f"/teams/{TEAM}/members/other").status_code == 200
    assert lab.mem.delete(f"/teams/{TEAM}/members/mem").status_code == 200
    assert lab.admin.patch("/users/outsider", {"disabled": True}).status_code == 200
    assert lab.admin.patch("/users/outsider", {"disabled": False}).status_code == 200
    assert lab.admin.patch("/users/outsider", {"is_admin": True}).status_code == 200
    assert lab.admin.patch("/users/outsider", {"password": "a new password"}).status_code == 200
    # Keys: revoking one's own is not an admin action; an admin revoking another's is.
    own = lab.mem.post("/keys", {"description": "laptop"}).json()["id"]
    assert lab.mem.delete(f"/keys/{own}").status_code == 200
    theirs = lab.vie.post("/keys", {"description": "ci"}).json()["id"]
    assert lab.admin.delete(f"/keys/{theirs}").status_code == 200
    r = lab.admin.get("/audit", {"limit": 8})
    newest = r.json()["events"]
    assert [(e["actor"], e["action"], e["target"]) for e in reversed(newest)] == [
        ("lead", "team.role", "vie"),  # once: the second was no change
        ("lead", "team.member.remove", "other"),
        ("mem", "team.member.leave", "mem"),
        ("admin", "user.disable", "outsider"),
        ("admin", "user.enable", "outsider"),
        ("admin", "user.admin", "outsider"),
        ("admin", "user.password", "outsider"),
        ("admin", "key.revoke", "vie"),
    ]
    assert newest[0]["detail"]["key_id"] == theirs
    role = next(e for e in newest if e["action"] == "team.role")
    assert role["detail"] == {"from": "viewer", "to": "member"}
    assert role["entity"] == TEAM
    assert all("password" not in str(e["detail"]) or e["action"] == "user.create" for e in newest)


def test_who_reads_the_audit(lab: Lab) -> None:
    assert lab.lead.get("/audit").status_code == 403  # the whole audit: server admins
    r = lab.lead.get("/audit", {"entity": TEAM})
    assert r.status_code == 200, r.text
    assert {e["entity"] for e in r.json()["events"]} == {TEAM}
    for who in (lab.mem, lab.vie, lab.outsider):
        r = who.get("/audit", {"entity": TEAM})
        assert r.status_code == 403, who.name
        assert "only admins of team 'lab'" in r.json()["detail"]
    # Nobody reads another user's entity through their own name.
    assert lab.mem.get("/audit", {"entity": "mem"}).status_code == 403
    assert lab.admin.get("/audit", {"entity": "bad name!"}).status_code == 400


def test_filters_and_paging(lab: Lab) -> None:
    everything = lab.admin.get("/audit").json()
    assert everything["next"] is None
    ids = [e["id"] for e in everything["events"]]
    assert ids == sorted(ids, reverse=True)
    page = lab.admin.get("/audit", {"limit": 4}).json()
    assert [e["id"] for e in page["events"]] == ids[:4]
    rest = lab.admin.get("/audit", {"limit": 100, "before": page["next"]}).json()
    assert [e["id"] for e in rest["events"]] == ids[4:]
    assert [a for _, a, _, _ in _events(lab, action="team.create")] == ["team.create"]
    assert {a for _, a, _, _ in _events(lab, action="team.")} == {
        "team.create",
        "team.member.add",
    }
    assert _events(lab, action="user.") == [
        ("admin", "user.create", None, name) for name in ("outsider", "other", "vie", "mem", "lead")
    ]
    assert lab.admin.get("/audit", {"limit": 0}).status_code == 400
