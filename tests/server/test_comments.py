"""Comments and mentions on SQLite and PostgreSQL: two users of a team talk on a run, a
report and a registered model (threads with replies, markdown kept as text), mentions reach
the inbox of the person named (not of outsiders or unknown names, which the answer lists) and
are marked read; only the author edits, the author or a team admin deletes, a deleted comment
with replies stays as "deleted"; a team viewer comments but does not write elsewhere; an
outsider gets 403 and an unknown target 404; `fwtrack ui`'s one user comments too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from fwtrack.server.comments import MAX_BODY, mentions_in
from fwtrack.server.db import Project, Report, TeamMember, User

from .apputil import BACKENDS, make_run, open_client, upload
from .harness import Ui

TEAM = "lab"
PROJECT = "vision"
RUN = "run-1"
REPORT = "rep0000001"
MODEL = "resnet"
RUN_THREAD = f"/api/v1/comments/{TEAM}/run/{PROJECT}/{RUN}"
REPORT_THREAD = f"/api/v1/comments/{TEAM}/report/{REPORT}"
MODEL_THREAD = f"/api/v1/comments/{TEAM}/model/{MODEL}"


class As:
    """Requests as one user's API key."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, headers=self.headers, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(path, headers=self.headers, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(path, headers=self.headers, json=body)

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self.headers)


class World:
    """Team `lab`: alice (its admin), bob (member), vera (viewer); carol outside it. A run of
    `lab/vision`, a report of that project and a registered model of `lab`."""

    def __init__(self, client: TestClient, tmp_path: Path) -> None:
        self.client = client
        people = {}
        for name in ("alice", "bob", "vera", "carol"):
            r = client.post("/api/v1/users", json={"name": name})
            assert r.status_code == 200, r.text
            people[name] = As(client, r.json()["api_key"])
        self.alice, self.bob, self.vera, self.carol = (
            people["alice"],
            people["bob"],
            people["vera"],
            people["carol"],
        )
        assert self.alice.post("/api/v1/teams", {"name": TEAM}).status_code == 200
        for name in ("bob", "vera"):
            r = self.alice.post(f"/api/v1/teams/{TEAM}/members", {"user": name})
            assert r.status_code == 200, r.text
        db = client.app.state.ctx.db  # type: ignore[attr-defined]
        with db.write() as session:
            vera_id = session.scalar(sa.select(User.id).where(User.name == "vera"))
            session.execute(
                sa.update(TeamMember).where(TeamMember.user_id == vera_id).values(role="viewer")
            )
        log = make_run(tmp_path / "client", PROJECT, RUN, steps=3, name="baseline")
        upload(client, TEAM, PROJECT, RUN, log.read_bytes())
        with db.write() as session:
            project_id = session.scalar(
                sa.select(Project.id).where(Project.entity == TEAM, Project.name == PROJECT)
            )
            assert project_id is not None
            session.add(
                Report(
                    report_id=REPORT,
                    project_id=project_id,
                    title="Weekly results",
                    blocks=[],
                    created_by="alice",
                    updated_by="alice",
                )
            )
        r = client.post(f"/api/v1/registry/{TEAM}/models", json={"name": MODEL})
        assert r.status_code == 201, r.text


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    for client in open_client(request, tmp_path, request.param):
        yield World(client, tmp_path)


def _comment(who: As, thread: str, body: str, parent: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body}
    if parent is not None:
        payload["parent_id"] = parent
    r = who.post(thread, payload)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_threads_on_every_target_keep_markdown_as_text(world: World) -> None:
    body = "**Loss** drops after `step 3`:\n\n- lr 0.1\n- $x^2$\n\n<script>x</script>"
    for thread in (RUN_THREAD, REPORT_THREAD, MODEL_THREAD):
        top = _comment(world.alice, thread, body)
        assert top["author"] == "alice"
        assert top["body"] == body
        reply = _comment(world.bob, thread, "agreed", top["id"])
        nested = _comment(world.alice, thread, "thanks", reply["id"])
        second = _comment(world.bob, thread, "another topic")
        r = world.vera.get(thread)
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["count"] == 4
        assert [c["id"] for c in got["comments"]] == [top["id"], second["id"]]
        first = got["comments"][0]
        assert first["body"] == body  # stored and answered as the text sent
        assert [c["id"] for c in first["replies"]] == [reply["id"]]
        assert [c["id"] for c in first["replies"][0]["replies"]] == [nested["id"]]
    r = world.bob.get(RUN_THREAD)
    assert r.json()["target"] == {
        "entity": TEAM,
        "kind": "run",
        "key": f"{PROJECT}/{RUN}",
        "project": PROJECT,
        "label": "baseline",
        "link": f"#/p/{TEAM}/{PROJECT}/r/{RUN}",
    }
    assert world.bob.get(REPORT_THREAD).json()["target"]["link"] == (
        f"#/p/{TEAM}/{PROJECT}/reports/{REPORT}"
    )
    assert world.bob.get(MODEL_THREAD).json()["target"]["link"] == (
        f"#/registry/{TEAM}/models/{MODEL}"
    )


def test_mentions_reach_the_inbox_and_are_marked_read(world: World) -> None:
    c1 = _comment(world.alice, RUN_THREAD, "@bob look at this, and @vera. cc @carol @nobody")
    assert c1["mentions"] == ["bob", "vera"]
    assert c1["not_notified"] == ["carol", "nobody"]
    c2 = _comment(world.alice, MODEL_THREAD, "`@bob` in code is no mention; @bob- is")
    assert c2["mentions"] == ["bob"]
    assert c2["not_notified"] == []
    c3 = _comment(world.alice, REPORT_THREAD, "self @alice is not notified")
    assert c3["mentions"] == []
    assert c3["not_notified"] == []

    inbox = world.bob.get("/api/v1/mentions").json()
    assert inbox["unread"] == 2
    assert [m["id"] for m in inbox["mentions"]] == [c2["id"], c1["id"]]  # newest first
    newest = inbox["mentions"][0]
    assert newest["unread"] is True
    assert newest["read_at"] is None
    assert newest["author"] == "alice"
    assert newest["link"] == f"#/registry/{TEAM}/models/{MODEL}"
    assert newest["comment"]["body"] == c2["body"]
    assert inbox["mentions"][1]["link"] == f"#/p/{TEAM}/{PROJECT}/r/{RUN}"
    assert inbox["mentions"][1]["target"]["label"] == "baseline"
    assert world.carol.get("/api/v1/mentions").json() == {"mentions": [], "unread": 0}
    assert world.vera.get("/api/v1/mentions", limit=0).json() == {"mentions": [], "unread": 1}

    r = world.bob.post("/api/v1/mentions/read", {"ids": [c1["id"]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"updated": 1, "unread": 1}
    ordered = world.bob.get("/api/v1/mentions", unread_first="true").json()["mentions"]
    assert [(m["id"], m["unread"]) for m in ordered] == [(c2["id"], True), (c1["id"], False)]
    only = world.bob.get("/api/v1/mentions", unread="true").json()["mentions"]
    assert [m["id"] for m in only] == [c2["id"]]
    assert world.bob.post("/api/v1/mentions/read", {"all": True}).json()["unread"] == 0
    again = world.bob.post("/api/v1/mentions/read", {"ids": [c2["id"]], "read": False})
    assert again.json() == {"updated": 1, "unread": 1}
    # marking someone else's mention is a no-op for them
    world.bob.post("/api/v1/mentions/read", {"all": True})
    assert world.vera.get("/api/v1/mentions").json()["unread"] == 1
    bad = world.bob.post("/api/v1/mentions/read", {})
    assert bad.status_code == 400
    assert "ids" in bad.json()["detail"]
    # an id beyond any row is refused as input, not answered with a server error
    huge = world.bob.post("/api/v1/mentions/read", {"ids": [c1["id"], -(10**21)]})
    assert huge.status_code == 400, huge.text

    # an edit that drops a name drops its mention; one that adds a name notifies it
    r = world.alice.patch(f"/api/v1/comments/{c1['id']}", {"body": "only @vera now"})
    assert r.status_code == 200, r.text
    assert r.json()["mentions"] == ["vera"]
    assert r.json()["edited_at"] is not None
    assert [m["id"] for m in world.bob.get("/api/v1/mentions").json()["mentions"]] == [c2["id"]]
    # a deleted comment leaves the inbox
    assert world.alice.delete(f"/api/v1/comments/{c2['id']}").status_code == 200
    assert world.bob.get("/api/v1/mentions").json() == {"mentions": [], "unread": 0}

    people = world.vera.get("/api/v1/mentions/people", entity=TEAM).json()["people"]
    assert people == ["alice", "bob", "vera"]


def test_only_the_author_edits_and_deleted_comments_with_replies_stay(world: World) -> None:
    top = _comment(world.alice, RUN_THREAD, "first")
    reply = _comment(world.bob, RUN_THREAD, "a reply", top["id"])

    r = world.bob.patch(f"/api/v1/comments/{top['id']}", {"body": "hijacked"})
    assert r.status_code == 403
    assert "alice" in r.json()["detail"]
    r = world.bob.delete(f"/api/v1/comments/{top['id']}")
    assert r.status_code == 403
    assert "alice" in r.json()["detail"]
    r = world.alice.patch(f"/api/v1/comments/{top['id']}", {"body": "first (edited)"})
    assert r.status_code == 200
    assert r.json()["body"] == "first (edited)"

    r = world.alice.delete(f"/api/v1/comments/{top['id']}")
    assert r.status_code == 200
    assert r.json() == {"id": top["id"], "deleted": True, "kept": True}
    got = world.bob.get(RUN_THREAD).json()
    assert got["count"] == 1
    gone = got["comments"][0]
    assert gone["deleted"] is True
    assert gone["body"] == ""
    assert gone["author"] is None
    assert [c["id"] for c in gone["replies"]] == [reply["id"]]
    assert world.alice.patch(f"/api/v1/comments/{top['id']}", {"body": "x"}).status_code == 404
    r = world.bob.post(RUN_THREAD, {"body": "late", "parent_id": top["id"]})
    assert r.status_code == 400
    assert "deleted" in r.json()["detail"]

    # the last reply goes: so does its deleted parent
    r = world.bob.delete(f"/api/v1/comments/{reply['id']}")
    assert r.json() == {"id": reply["id"], "deleted": True, "kept": False}
    assert world.bob.get(RUN_THREAD).json() == {**got, "comments": [], "count": 0}

    # a team admin deletes a member's comment; the viewer cannot delete it
    mine = _comment(world.bob, MODEL_THREAD, "bob's")
    assert world.vera.delete(f"/api/v1/comments/{mine['id']}").status_code == 403
    assert world.alice.delete(f"/api/v1/comments/{mine['id']}").status_code == 200


def test_viewer_comments_but_does_not_write(world: World) -> None:
    c = _comment(world.vera, RUN_THREAD, "a viewer's question for @alice")
    assert c["mentions"] == ["alice"]
    r = world.vera.patch(f"/api/v1/comments/{c['id']}", {"body": "rephrased"})
    assert r.status_code == 200, r.text
    _comment(world.vera, MODEL_THREAD, "and on the model")
    r = world.vera.patch(f"/api/v1/runs/{TEAM}/{PROJECT}/{RUN}", {"tags": ["viewer-was-here"]})
    assert r.status_code == 403, r.text
    assert "viewer" in r.json()["detail"]


def test_outsiders_unknown_targets_and_bad_bodies(world: World) -> None:
    c = _comment(world.alice, RUN_THREAD, "team only")
    for call in (
        lambda: world.carol.get(RUN_THREAD),
        lambda: world.carol.post(RUN_THREAD, {"body": "let me in"}),
        lambda: world.carol.patch(f"/api/v1/comments/{c['id']}", {"body": "x"}),
        lambda: world.carol.delete(f"/api/v1/comments/{c['id']}"),
        lambda: world.carol.get("/api/v1/mentions/people", entity=TEAM),
    ):
        r = call()
        assert r.status_code == 403, r.text
        assert "carol" in r.json()["detail"]

    for path, needle in (
        (f"/api/v1/comments/{TEAM}/run/{PROJECT}/missing", "no run 'missing'"),
        (f"/api/v1/comments/{TEAM}/run/nope/{RUN}", "nope"),
        (f"/api/v1/comments/{TEAM}/report/zzzzzzzzzz", "no report 'zzzzzzzzzz'"),
        (f"/api/v1/comments/{TEAM}/model/ghost", "no model 'ghost'"),
    ):
        for r in (world.bob.get(path), world.bob.post(path, {"body": "hi"})):
            assert r.status_code == 404, r.text
            assert needle in r.json()["detail"]
    r = world.bob.get(f"/api/v1/comments/{TEAM}/sweep/abc")
    assert r.status_code == 400
    assert "run, a report or a model" in r.json()["detail"]
    r = world.bob.post(RUN_THREAD, {"body": "x" * (MAX_BODY + 1)})
    assert r.status_code == 400, r.text
    assert f"the limit is {MAX_BODY}" in r.json()["detail"]
    assert world.bob.post(RUN_THREAD, {"body": "  \n"}).status_code == 400
    other = _comment(world.bob, MODEL_THREAD, "elsewhere")
    r = world.bob.post(RUN_THREAD, {"body": "wrong thread", "parent_id": other["id"]})
    assert r.status_code == 400
    assert "same thread" in r.json()["detail"]
    assert world.bob.patch("/api/v1/comments/999999", {"body": "x"}).status_code == 404


def test_mentions_in_reads_names_as_the_dashboard() -> None:
    text = "@alice and @bob, thanks @alice. mail me at x@y.org `@carol`\n```\n@dave\n```\n@e.-"
    assert mentions_in(text) == ["alice", "bob", "e"]


def test_local_ui_user_comments(ui: Ui, tmp_path: Path) -> None:
    """`fwtrack ui`: the local user comments on a local run; a name is nobody to notify."""
    make_run(tmp_path / "fwtrack", "local-proj", "r1", steps=2)
    ui.wait_for("the run", lambda: ui.get("/runs/local/local-proj/r1")[0] == 200)
    with httpx.Client(base_url=ui.url, timeout=30) as http:
        r = http.post("/comments/local/run/local-proj/r1", json={"body": "note to self @bob"})
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["author"] == "local"
        assert out["not_notified"] == ["bob"]
        r = http.patch(f"/comments/{out['id']}", json={"body": "edited"})
        assert r.status_code == 200, r.text
    status, got = ui.get("/comments/local/run/local-proj/r1")
    assert status == 200
    assert [c["body"] for c in got["comments"]] == ["edited"]
