"""Who may do what in the model registry and in a team, on a real server (directory store with
SQLite, S3 with PostgreSQL): protected aliases refused to a plain team member (403, nothing
recorded) and allowed to a maintainer and a team admin; team roles (the creator is admin, a
new member is not, `PATCH .../members/{member}`); 401 without a key and 403 for outsiders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .apputil import REPRESENTATIVE
from .artifact_util import module_server
from .harness import ServerProcess
from .registry_util import RegistryClient, run_log, unique

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=REPRESENTATIVE)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    yield from module_server(request, tmp_path_factory, request.param)


@pytest.fixture
def admin(srv: ServerProcess) -> Iterator[RegistryClient]:
    client = RegistryClient(srv)
    try:
        yield client
    finally:
        client.close()


def _user(admin: RegistryClient, name: str) -> RegistryClient:
    r = admin.post("/users", {"name": name})
    assert r.status_code == 200, r.text
    return admin.as_(r.json()["api_key"])


class Team:
    """A team `name` made by `lead` (its admin) with plain members `bob` and `carol`, a
    project with a run, and a model with versions v0, v1 whose `production` alias is
    protected and names v0."""

    def __init__(self, admin: RegistryClient, tmp_path: Path) -> None:
        self.name = unique("team")
        self.lead = _user(admin, unique("lead"))
        self.bob = _user(admin, unique("bob"))
        self.carol = _user(admin, unique("carol"))
        self.outsider = _user(admin, unique("dave"))
        self.users: dict[str, str] = {}
        for who in ("lead", "bob", "carol", "outsider"):
            client: RegistryClient = getattr(self, who)
            self.users[who] = client.get("/viewer").json()["name"]
        r = self.lead.post("/teams", {"name": self.name})
        assert r.status_code == 200, r.text
        for who in ("bob", "carol"):
            r = self.lead.post(f"/teams/{self.name}/members", {"user": self.users[who]})
            assert r.status_code == 200, r.text
        self.project = "models"
        log = run_log(tmp_path, self.project, "train")
        self.bob.new_run(log, self.project, "train", entity=self.name)
        self.arts = [
            self.bob.model_version(self.project, "train", "net", c + self.name.encode(), self.name)
            for c in (b"a", b"b", b"c")
        ]
        self.model = "net"
        for art in self.arts[:2]:
            assert self.bob.link(self.model, art, entity=self.name).status_code == 200
        assert self.bob.move(self.model, "production", "v0", self.name).status_code == 200
        r = self.lead.patch(self.path, {"protected_aliases": ["production"]})
        assert r.status_code == 200, r.text

    @property
    def path(self) -> str:
        return f"/registry/{self.name}/models/{self.model}"

    def state(self) -> tuple[Any, ...]:
        """What a refused request must leave as it was."""
        detail = self.lead.get(self.path).json()
        trail = self.lead.audit(self.model, self.name)
        return detail["aliases"], detail["versions"], detail["maintainers"], len(trail)


@pytest.fixture
def team(admin: RegistryClient, tmp_path: Path) -> Iterator[Team]:
    made = Team(admin, tmp_path)
    try:
        yield made
    finally:
        for client in (made.lead, made.bob, made.carol, made.outsider):
            client.close()


def test_a_protected_alias_is_refused_to_a_plain_member_and_nothing_is_recorded(
    team: Team,
) -> None:
    before = team.state()
    r = team.bob.move(team.model, "production", "v1", team.name)
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert "'production'" in detail
    assert f"admins of {team.name!r}" in detail
    assert "maintainers" in detail
    assert team.bob.delete(f"{team.path}/aliases/production").status_code == 403
    # A link asking for the protected alias: refused whole (no new version either).
    r = team.bob.link(team.model, team.arts[2], aliases=["production"], entity=team.name)
    assert r.status_code == 403
    # The protection and the maintainers are the admins' and maintainers' to change.
    assert team.bob.patch(team.path, {"protected_aliases": []}).status_code == 403
    assert team.bob.patch(team.path, {"maintainers": [team.users["bob"]]}).status_code == 403
    assert team.bob.delete(team.path).status_code == 403
    assert team.state() == before
    # Unprotected aliases and descriptions stay open to every member.
    assert team.bob.move(team.model, "staging", "v1", team.name).status_code == 200
    assert team.bob.patch(team.path, {"description": "by bob"}).status_code == 200


def test_a_maintainer_and_a_team_admin_move_a_protected_alias(team: Team) -> None:
    r = team.lead.move(team.model, "production", "v1", team.name)
    assert r.status_code == 200, r.text
    r = team.lead.patch(team.path, {"maintainers": [team.users["carol"]]})
    assert r.status_code == 200, r.text
    assert r.json()["maintainers"] == [team.users["carol"]]
    r = team.carol.move(team.model, "production", "v0", team.name)
    assert r.status_code == 200, r.text
    r = team.carol.link(team.model, team.arts[2], aliases=["production"], entity=team.name)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "v2"
    assert team.bob.move(team.model, "production", "v1", team.name).status_code == 403
    trail = [
        (e["user"], e["from_version"], e["to_version"])
        for e in reversed(team.lead.audit(team.model, team.name))
        if e["action"] == "alias.set" and e["alias"] == "production"
    ]
    assert trail == [
        (team.users["bob"], None, "v0"),
        (team.users["lead"], "v0", "v1"),
        (team.users["carol"], "v1", "v0"),
        (team.users["carol"], "v0", "v2"),
    ]
    # A maintainer may delete the model too.
    assert team.carol.delete(team.path).status_code == 200


def test_team_roles(team: Team, admin: RegistryClient) -> None:
    got = team.bob.get(f"/teams/{team.name}").json()
    assert got["admins"] == [team.users["lead"]]
    assert sorted(got["members"]) == sorted(team.users[w] for w in ("lead", "bob", "carol"))
    member = f"/teams/{team.name}/members/{team.users['bob']}"
    # A plain member may not change roles; an outsider neither.
    r = team.carol.patch(member, {"role": "admin"})
    assert r.status_code == 403
    assert "admins of team" in r.json()["detail"]
    assert team.outsider.patch(member, {"role": "admin"}).status_code == 403
    assert team.lead.patch(member, {"role": "owner"}).status_code == 400
    missing = f"/teams/{team.name}/members/{team.users['outsider']}"
    assert team.lead.patch(missing, {"role": "admin"}).status_code == 404
    # The team's admin makes bob an admin: he may now move the protected alias.
    r = team.lead.patch(member, {"role": "admin"})
    assert r.status_code == 200, r.text
    assert r.json()["admins"] == sorted([team.users["lead"], team.users["bob"]])
    assert team.bob.move(team.model, "production", "v1", team.name).status_code == 200
    # A server admin sets roles of any team; back to member, bob is refused again.
    r = admin.patch(member, {"role": "member"})
    assert r.status_code == 200, r.text
    assert r.json()["admins"] == [team.users["lead"]]
    assert team.bob.move(team.model, "production", "v0", team.name).status_code == 403
    listed = [t for t in team.lead.get("/teams").json()["teams"] if t["name"] == team.name]
    assert listed[0]["admins"] == [team.users["lead"]]


def test_outsiders_get_403_and_no_key_401(team: Team, srv: ServerProcess) -> None:
    base = f"/registry/{team.name}/models"
    reads = [
        base,
        team.path,
        f"{team.path}/versions",
        f"{team.path}/versions/v0",
        f"{team.path}/versions/v0/card",
        f"{team.path}/audit",
    ]
    writes: list[tuple[str, str, Any]] = [
        ("POST", base, {"name": "x"}),
        ("PATCH", team.path, {"description": "x"}),
        ("DELETE", team.path, None),
        ("PUT", f"{team.path}/aliases/staging", {"version": "v0"}),
        ("DELETE", f"{team.path}/aliases/staging", None),
        (
            "POST",
            f"{team.path}/links",
            {"artifact": {"entity": team.name, "project": "models", "name": "net", "ref": "v0"}},
        ),
    ]
    before = team.state()
    with httpx.Client(base_url=f"{srv.url}/api/v1", timeout=60) as anonymous:
        for path in reads:
            assert anonymous.get(path).status_code == 401, path
            r = team.outsider.get(path)
            assert r.status_code == 403, path
            assert f"cannot reach entity {team.name!r}" in r.json()["detail"]
        for method, path, body in writes:
            assert anonymous.request(method, path, json=body).status_code == 401, path
            r = team.outsider.http.request(method, path, json=body)
            assert r.status_code == 403, (method, path)
    assert team.state() == before
    # Linking into one's own registry an artifact of an entity one does not reach: 403.
    own = team.users["outsider"]
    r = team.outsider.link("stolen", team.arts[0], entity=own)
    assert r.status_code == 403
    assert team.outsider.get(f"/registry/{own}/models").json() == []
