"""Reports on the server (SQLite and PostgreSQL): create, list and read; the document's
checks; saves merged per block (two editors at once, last writer wins with a conflict);
versions and restore; freezing run sets and history cut at the frozen moment; images;
access (a team viewer reads but never writes, an outsider is refused)."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import fwtrack
from fwtrack.server.db import Blob, Team, TeamMember, User

from .apputil import BACKENDS, frame_boundaries, open_client, upload

PROJECT = "rep"
BASE = f"/api/v1/reports/admin/{PROJECT}"
LRS = {"a": 0.005, "b": 0.02, "c": 0.05}


def _png(width: int = 2, height: int = 1) -> bytes:
    """A real PNG of `width` x `height` grey pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("client")
    for run_id, lr in LRS.items():
        tags = ["baseline"] if run_id != "c" else []
        fwtrack.init(
            project=PROJECT, id=run_id, dir=root, config={"lr": lr}, tags=tags, mode="offline"
        )
        for i in range(5):
            fwtrack.log({"train/loss": lr / (i + 1)})
        fwtrack.finish()
    return root


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path, client_dir: Path) -> Iterator[TestClient]:
    for client in open_client(request, tmp_path, request.param):
        for run_id in LRS:
            data = (client_dir / PROJECT / run_id / "run.fwlog").read_bytes()
            upload(client, "admin", PROJECT, run_id, data, chunks=1)
        yield client


def _user(api: TestClient, name: str) -> dict[str, str]:
    r = api.post("/api/v1/users", json={"name": name})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


def _line(block_id: str, runs: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": block_id,
        "type": "line",
        "runs": runs or {"filter": "config.lr > 0.01"},
        "y": ["train/loss"],
        **fields,
    }


def _md(block_id: str, text: str) -> dict[str, Any]:
    return {"id": block_id, "type": "markdown", "text": text}


def _create(api: TestClient, blocks: list[dict[str, Any]], **headers: str) -> dict[str, Any]:
    r = api.post(BASE, json={"title": "Sweep notes", "blocks": blocks}, headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _patch(
    api: TestClient, report: str, base: int, ops: list[dict[str, Any]], **headers: str
) -> dict[str, Any]:
    r = api.patch(f"{BASE}/{report}", json={"base_version": base, "ops": ops}, headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _texts(report: dict[str, Any]) -> dict[str, str]:
    return {b["id"]: b.get("text", "") for b in report["blocks"]}


# -- create, list, read --------------------------------------------------------------------


def test_create_list_get(api: TestClient) -> None:
    made = _create(api, [_md("intro", "# Results\n$x^2$"), _line("loss", smoothing=0.6)])
    assert len(made["id"]) == 10
    assert made["id"].isalnum()
    assert made["id"].islower()
    assert made["version"] == 1
    assert made["frozen_at"] is None
    assert made["created_by"] == made["updated_by"] == "admin"
    assert made["url"].endswith(f"/#/p/admin/{PROJECT}/reports/{made['id']}")
    assert [b["rev"] for b in made["blocks"]] == [1, 1]
    assert made["blocks"][1]["smoothing"] == 0.6

    listed = api.get(BASE).json()["reports"]
    assert [(r["id"], r["title"], r["version"]) for r in listed] == [(made["id"], "Sweep notes", 1)]
    assert listed[0]["url"] == made["url"]
    got = api.get(f"{BASE}/{made['id']}").json()
    assert got == made
    assert api.get(f"/api/v1/report-ids/{made['id']}").json() == {
        "entity": "admin",
        "project": PROJECT,
    }
    assert api.get(f"{BASE}/zzzzzzzzzz").status_code == 404
    assert api.get("/api/v1/report-ids/zzzzzzzzzz").status_code == 404
    # a report of a project without runs makes the project
    r = api.post("/api/v1/reports/admin/fresh", json={"title": "Plan"})
    assert r.status_code == 200, r.text
    assert r.json()["blocks"] == []

    r = api.delete(f"{BASE}/{made['id']}")
    assert r.status_code == 200, r.text
    assert api.get(f"{BASE}/{made['id']}").status_code == 404
    assert api.get(BASE).json()["reports"] == []


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"blocks": []}, "title"),
        ({"title": ""}, "title"),
        ({"title": "t", "color": 1}, "color"),
        ({"title": "t", "blocks": [{"id": "a", "type": "chart"}]}, "blocks[0].type"),
        ({"title": "t", "blocks": [{"id": "a b", "type": "markdown", "text": ""}]}, "blocks[0].id"),
        ({"title": "t", "blocks": [{"id": "a", "type": "markdown"}]}, "blocks[0].text"),
        (
            {"title": "t", "blocks": [{"id": "a", "type": "markdown", "text": "", "size": 3}]},
            "size",
        ),
        ({"title": "t", "blocks": [{"id": "a", "type": "line", "runs": {"filter": ""}}]}, ".y"),
        ({"title": "t", "blocks": [_line("a", y=[])]}, "blocks[0].y"),
        ({"title": "t", "blocks": [_line("a", smoothing=1.5)]}, "blocks[0].smoothing"),
        ({"title": "t", "blocks": [_line("a", runs={"filter": "", "ids": []})]}, "runs"),
        ({"title": "t", "blocks": [_line("a", runs={"ids": ["../x"]})]}, "runs.ids[0]"),
        ({"title": "t", "blocks": [_line("a", runs={"filter": "lr >> 1"})]}, "runs.filter"),
        ({"title": "t", "blocks": [_line("a", runs={"filter": "", "limit": 501})]}, "runs.limit"),
        ({"title": "t", "blocks": [_line("a", group={"by": "seed"})]}, "group.by"),
        ({"title": "t", "blocks": [_line("a", group={"by": "group", "agg": "sum"})]}, "group.agg"),
        (
            {"title": "t", "blocks": [{"id": "a", "type": "image", "src": "http://x/a.png"}]},
            "blocks[0].src",
        ),
        (
            {"title": "t", "blocks": [{"id": "p", "type": "parallel", "columns": ["config.lr"]}]},
            "blocks[0].columns",
        ),
        (
            {"title": "t", "blocks": [{"id": "s", "type": "scalar", "key": "loss"}]},
            "blocks[0].key",
        ),
        (
            {"title": "t", "blocks": [{"id": "l", "type": "lineage", "artifact": "model"}]},
            "blocks[0].artifact",
        ),
        ({"title": "t", "blocks": [_md("a", "x"), _md("a", "y")]}, "blocks[1].id"),
    ],
)
def test_invalid_documents_are_refused_naming_the_field(
    api: TestClient, body: dict[str, Any], names: str
) -> None:
    r = api.post(BASE, json=body)
    assert r.status_code == 400, r.text
    assert names in r.json()["detail"]


def test_invalid_saves_are_refused_naming_the_field(api: TestClient) -> None:
    report = _create(api, [_md("a", "x")])["id"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ops": []}, "base_version"),
        ({"base_version": 9, "ops": []}, "base_version"),
        ({"base_version": 1, "ops": [{"op": "rename"}]}, "ops[0].op"),
        ({"base_version": 1, "ops": [{"op": "move", "id": "a"}]}, "ops[0].after"),
        ({"base_version": 1, "ops": [{"op": "upsert", "block": {"id": "b"}}]}, "ops[0].block.type"),
        ({"base_version": 1, "ops": [{"op": "set_title", "title": ""}]}, "ops[0].title"),
    ]
    for body, names in cases:
        r = api.patch(f"{BASE}/{report}", json=body)
        assert r.status_code == 400, (body, r.text)
        assert names in r.json()["detail"], (body, r.text)
    assert api.get(f"{BASE}/{report}").json()["version"] == 1


# -- saving: merged per block --------------------------------------------------------------


def test_two_editors_of_different_blocks_both_keep_their_edits(api: TestClient) -> None:
    report = _create(api, [_md("a", "a0"), _md("b", "b0")])["id"]
    start = threading.Barrier(2)

    def editor(block: str) -> None:
        start.wait()
        base = 1  # each editor keeps saving against the version it last saw
        for i in range(1, 6):
            out = _patch(api, report, base, [{"op": "upsert", "block": _md(block, f"{block}{i}")}])
            assert out["conflicts"] == []
            base = out["report"]["version"]  # the other editor's saves come in between

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(editor, "a"), pool.submit(editor, "b")]:
            future.result()
    got = api.get(f"{BASE}/{report}").json()
    assert _texts(got) == {"a": "a5", "b": "b5"}
    assert got["version"] == 11
    assert [v["version"] for v in api.get(f"{BASE}/{report}/versions").json()["versions"]] == list(
        range(11, 0, -1)
    )


def test_same_block_last_writer_wins_with_a_conflict(api: TestClient) -> None:
    bob = _user(api, "bob")
    r = api.post("/api/v1/teams", json={"name": "lab"})
    assert r.status_code == 200, r.text
    assert api.post("/api/v1/teams/lab/members", json={"user": "bob"}).status_code == 200
    lab = "/api/v1/reports/lab/shared"
    made = api.post(lab, json={"title": "T", "blocks": [_md("a", "a0"), _md("b", "b0")]}).json()
    report = made["id"]

    def patch(base: int, ops: list[dict[str, Any]], headers: dict[str, str]) -> dict[str, Any]:
        r = api.patch(f"{lab}/{report}", json={"base_version": base, "ops": ops}, headers=headers)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    first = patch(1, [{"op": "upsert", "block": _md("a", "by admin")}], {})
    assert first["conflicts"] == []
    assert first["report"]["version"] == 2
    second = patch(1, [{"op": "upsert", "block": _md("a", "by bob")}], bob)
    (conflict,) = second["conflicts"]
    assert conflict["block"] == "a"
    assert conflict["kind"] == "overwritten"
    assert conflict["by"] == "admin"
    assert conflict["at"] == first["report"]["updated_at"]
    assert _texts(second["report"])["a"] == "by bob"
    assert second["report"]["updated_by"] == "bob"

    # a block deleted by one editor and edited by another: the later save wins, and says so
    third = patch(3, [{"op": "delete", "id": "b"}], {})
    assert third["conflicts"] == []
    fourth = patch(3, [{"op": "upsert", "block": _md("b", "b edited"), "after": "a"}], bob)
    assert [(c["block"], c["kind"], c["by"]) for c in fourth["conflicts"]] == [
        ("b", "deleted_by_other", "admin")
    ]
    assert [b["id"] for b in fourth["report"]["blocks"]] == ["a", "b"]
    fifth = patch(4, [{"op": "delete", "id": "b"}], {})
    assert [(c["block"], c["kind"], c["by"]) for c in fifth["conflicts"]] == [
        ("b", "edited_after_delete", "bob")
    ]
    # a save that changes nothing makes no version
    assert patch(6, [{"op": "upsert", "block": _md("a", "by bob")}], {})["report"]["version"] == 6


def test_moves_and_order(api: TestClient) -> None:
    report = _create(api, [_md("a", "1"), _md("b", "2"), _md("c", "3")])["id"]
    out = _patch(api, report, 1, [{"op": "move", "id": "c", "after": None}])
    assert [b["id"] for b in out["report"]["blocks"]] == ["c", "a", "b"]
    out = _patch(
        api,
        report,
        2,
        [
            {"op": "upsert", "block": _md("d", "4"), "after": "a"},
            {"op": "set_title", "title": "Renamed"},
        ],
    )
    assert [b["id"] for b in out["report"]["blocks"]] == ["c", "a", "d", "b"]
    assert out["report"]["title"] == "Renamed"
    # moving a block keeps its rev: only content changes count
    revs = {b["id"]: b["rev"] for b in out["report"]["blocks"]}
    assert revs == {"c": 1, "a": 1, "d": 3, "b": 1}


# -- versions ------------------------------------------------------------------------------


def test_versions_and_restore(api: TestClient) -> None:
    report = _create(api, [_md("a", "first")])["id"]
    _patch(api, report, 1, [{"op": "upsert", "block": _md("a", "second")}])
    _patch(api, report, 2, [{"op": "upsert", "block": _md("b", "added")}])
    versions = api.get(f"{BASE}/{report}/versions").json()["versions"]
    assert [(v["version"], v["author"]) for v in versions] == [
        (3, "admin"),
        (2, "admin"),
        (1, "admin"),
    ]
    assert versions[-1]["note"] == "created"
    old = api.get(f"{BASE}/{report}/versions/1").json()
    assert old["version"] == 1
    assert _texts(old) == {"a": "first"}
    assert api.get(f"{BASE}/{report}/versions/9").status_code == 404

    r = api.post(f"{BASE}/{report}/versions/1/restore")
    assert r.status_code == 200, r.text
    restored = r.json()
    assert restored["version"] == 4
    assert _texts(restored) == {"a": "first"}
    assert restored["blocks"][0]["rev"] == 4
    latest = api.get(f"{BASE}/{report}/versions").json()["versions"][0]
    assert (latest["version"], latest["note"]) == (4, "restored v1")


# -- freezing ------------------------------------------------------------------------------


def test_freeze_resolves_filters_and_until_cuts_history(api: TestClient, tmp_path: Path) -> None:
    # a run that goes on logging after the report is frozen
    root = tmp_path / "late"
    run = fwtrack.init(project=PROJECT, id="d", dir=root, config={"lr": 0.03}, mode="offline")
    for i in range(3):
        fwtrack.log({"train/loss": 1.0 / (i + 1)})
    run.flush()
    log = root / PROJECT / "d" / "run.fwlog"
    sent = upload(api, "admin", PROJECT, "d", log.read_bytes(), chunks=1)

    made = _create(api, [_line("loss"), _md("m", "notes"), _line("fixed", runs={"ids": ["a"]})])
    r = api.post(f"{BASE}/{made['id']}/freeze")
    assert r.status_code == 200, r.text
    frozen = r.json()
    assert frozen["version"] == 2
    assert frozen["frozen_at"] is not None
    runs = frozen["blocks"][0]["runs"]
    assert sorted(runs["ids"]) == ["b", "c", "d"]
    assert runs["frozen_from"] == "config.lr > 0.01"
    assert "filter" not in runs
    assert frozen["blocks"][2]["runs"] == {"ids": ["a"]}
    assert api.post(f"{BASE}/{made['id']}/freeze").status_code == 409

    time.sleep(0.05)  # the next points are logged after the frozen moment
    for i in range(3, 6):
        fwtrack.log({"train/loss": 1.0 / (i + 1)})
    fwtrack.finish()
    data = log.read_bytes()
    assert frame_boundaries(data)[-1] == len(data)
    upload(api, "admin", PROJECT, "d", data, start=sent, chunks=1)
    fwtrack.init(project=PROJECT, id="e", dir=root, config={"lr": 0.04}, mode="offline")
    fwtrack.log({"train/loss": 1.0})
    fwtrack.finish()
    upload(api, "admin", PROJECT, "e", (root / PROJECT / "e" / "run.fwlog").read_bytes())

    history = f"/api/v1/runs/admin/{PROJECT}/d/history"
    live = api.get(history, params={"keys": "train/loss"}).json()["series"]["train/loss"]
    assert live["step"] == [0, 1, 2, 3, 4, 5]
    cut = api.get(history, params={"keys": "train/loss", "until": frozen["frozen_at"]}).json()
    assert cut["series"]["train/loss"]["step"] == [0, 1, 2]
    many = api.post(
        f"/api/v1/history/admin/{PROJECT}",
        json={"runs": ["d", "a"], "keys": ["train/loss"], "until": frozen["frozen_at"]},
    ).json()
    assert [(r["run"], r["series"]["train/loss"]["step"]) for r in many["runs"]] == [
        ("d", [0, 1, 2]),
        ("a", [0, 1, 2, 3, 4]),  # logged before the freeze: all of it
    ]

    r = api.post(f"{BASE}/{made['id']}/unfreeze")
    assert r.status_code == 200, r.text
    live_doc = r.json()
    assert live_doc["frozen_at"] is None
    assert live_doc["version"] == 3
    assert live_doc["blocks"][0]["runs"] == {"filter": "config.lr > 0.01"}
    assert live_doc["blocks"][2]["runs"] == {"ids": ["a"]}
    assert api.post(f"{BASE}/{made['id']}/unfreeze").status_code == 409
    # frozen again later: the run that arrived meanwhile is in
    again = api.post(f"{BASE}/{made['id']}/freeze").json()
    assert sorted(again["blocks"][0]["runs"]["ids"]) == ["b", "c", "d", "e"]


# -- images --------------------------------------------------------------------------------


def test_assets_upload_serve_and_refuse_svg(api: TestClient) -> None:
    report = _create(api, [])["id"]
    png = _png()
    r = api.post(f"{BASE}/{report}/assets", content=png, headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    src = r.json()["src"]
    assert src.startswith("asset:blake3:")
    address = src.removeprefix("asset:")
    got = api.get(f"{BASE}/{report}/assets/{address}")
    assert got.status_code == 200
    assert got.content == png
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    # the image block takes it
    out = _patch(
        api,
        report,
        1,
        [{"op": "upsert", "block": {"id": "img", "type": "image", "src": src, "caption": "grey"}}],
    )
    assert out["report"]["blocks"][0]["src"] == src

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    r = api.post(f"{BASE}/{report}/assets", content=svg, headers={"Content-Type": "image/svg+xml"})
    assert r.status_code == 415
    assert "SVG" in r.json()["detail"]
    r = api.post(f"{BASE}/{report}/assets", content=svg, headers={"Content-Type": "image/png"})
    assert r.status_code == 400
    assert "not a image/png" in r.json()["detail"]
    r = api.post(f"{BASE}/{report}/assets", content=b"x", headers={"Content-Type": "text/html"})
    assert r.status_code == 415
    other = _create(api, [])["id"]
    assert api.get(f"{BASE}/{other}/assets/{address}").status_code == 404

    # the image is a referenced blob: the collector's sweep keeps it; deleting the report
    # releases it
    db = api.app.state.ctx.db  # type: ignore[attr-defined]
    from fwtrack.server.collector import _referenced, sweep

    with db.read() as session:
        blob_id = session.scalar(sa.select(Blob.id).where(Blob.address == address))
    sweep(db)
    with db.read() as session:
        assert _referenced(session, [blob_id]) == {blob_id}
    assert api.delete(f"{BASE}/{report}").status_code == 200
    with db.read() as session:
        assert _referenced(session, [blob_id]) == set()
        assert session.get(Blob, blob_id).candidate is True


# -- access --------------------------------------------------------------------------------


def _make_viewer(api: TestClient, team: str, user: str) -> None:
    db = api.app.state.ctx.db  # type: ignore[attr-defined]
    with db.write() as session:
        team_id = session.scalar(sa.select(Team.id).where(Team.name == team))
        user_id = session.scalar(sa.select(User.id).where(User.name == user))
        member = session.get(TeamMember, (team_id, user_id))
        assert member is not None
        member.role = "viewer"


def test_team_viewer_reads_but_never_writes_and_outsiders_are_refused(api: TestClient) -> None:
    viewer = _user(api, "vera")
    outsider = _user(api, "otto")
    assert api.post("/api/v1/teams", json={"name": "crew"}).status_code == 200
    assert api.post("/api/v1/teams/crew/members", json={"user": "vera"}).status_code == 200
    _make_viewer(api, "crew", "vera")
    base = "/api/v1/reports/crew/proj"
    made = api.post(base, json={"title": "T", "blocks": [_md("a", "x")]}).json()
    rid = made["id"]
    png = _png()
    address = (
        api.post(f"{base}/{rid}/assets", content=png, headers={"Content-Type": "image/png"})
        .json()["src"]
        .removeprefix("asset:")
    )
    reads = [
        base,
        f"{base}/{rid}",
        f"{base}/{rid}/versions",
        f"{base}/{rid}/versions/1",
        f"{base}/{rid}/assets/{address}",
        f"/api/v1/report-ids/{rid}",
    ]
    for path in reads:
        assert api.get(path, headers=viewer).status_code == 200, path
    writes: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", base, {"json": {"title": "mine"}}),
        ("PATCH", f"{base}/{rid}", {"json": {"base_version": 1, "ops": []}}),
        ("DELETE", f"{base}/{rid}", {}),
        ("POST", f"{base}/{rid}/versions/1/restore", {}),
        ("POST", f"{base}/{rid}/freeze", {}),
        ("POST", f"{base}/{rid}/unfreeze", {}),
        (
            "POST",
            f"{base}/{rid}/assets",
            {"content": png, "headers": {"Content-Type": "image/png"}},
        ),
    ]
    for method, path, kwargs in writes:
        headers = {**viewer, **kwargs.pop("headers", {})}
        r = api.request(method, path, headers=headers, **kwargs)
        assert r.status_code == 403, (method, path, r.text)
        assert "viewer" in r.json()["detail"]
        r = api.request(method, path, headers={**outsider, **headers, **outsider}, **kwargs)
        assert r.status_code == 403, (method, path, r.text)
    for path in reads[:-1]:
        assert api.get(path, headers=outsider).status_code == 403, path
    assert api.get(f"/api/v1/report-ids/{rid}", headers=outsider).status_code == 404
    assert api.get(f"{base}/{rid}").json()["version"] == 1
