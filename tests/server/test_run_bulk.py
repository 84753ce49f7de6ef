"""Bulk actions on runs (`POST /api/v1/runs/{entity}/{project}/bulk`): tag, untag, move and
delete against a real `fwtrack server` on SQLite and on PostgreSQL with runs uploaded by real
`fwtrack.init` processes (their files, media and history readable at the new project after a
move, their blobs kept), and against a real `fwtrack ui` whose runs are directories written by
real processes (a run still being written refused). Viewers and outsiders get 403; bulk
deletes and moves are in the audit log."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .apputil import BACKENDS
from .conftest import ServerFactory
from .harness import REPO, ServerProcess, child_env, free_port, spawn_ui, stop_process_group

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # real server and run processes

PROGRAM = REPO / "tests" / "programs" / "bulk_run.py"
TEAM = "lab"
DEADLINE = 120.0


def _run_program(mode: str, entity: str, project: str, run_id: str, cwd: Path, **env: str) -> None:
    done = subprocess.run(
        [sys.executable, str(PROGRAM), mode, entity, project, run_id],
        cwd=cwd,
        env=child_env(**env),
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()


def _hold_program(mode: str, project: str, run_id: str, cwd: Path, **env: str) -> Any:
    proc = subprocess.Popen(
        [sys.executable, str(PROGRAM), mode, "-", project, run_id, "--hold"],
        cwd=cwd,
        env=child_env(**env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == b"holding", line + proc.stdout.read()
    return proc


@dataclass
class Lab:
    server: ServerProcess
    admin: httpx.Client
    mem: httpx.Client
    vie: httpx.Client
    outsider: httpx.Client


def _user(admin: httpx.Client, name: str, url: str) -> httpx.Client:
    r = admin.post("/api/v1/users", json={"name": name})
    assert r.status_code == 200, r.text
    key = r.json()["api_key"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


@pytest.fixture(params=BACKENDS)
def lab(
    request: pytest.FixtureRequest, server_factory: ServerFactory, tmp_path: Path
) -> Iterator[Lab]:
    """A server where team `lab` has `mem` (member, who uploaded runs r1..r3 into `lab/proj`
    and r3 into `lab/dest`), `vie` (viewer) and an `outsider`."""
    db_url = request.getfixturevalue("fresh_postgres_db") if request.param == "postgresql" else None
    srv = server_factory(db_url=db_url)
    with httpx.Client(base_url=srv.url, headers=srv.headers, timeout=60) as admin:
        mem = _user(admin, "mem", srv.url)
        vie = _user(admin, "vie", srv.url)
        outsider = _user(admin, "outsider", srv.url)
        r = admin.post("/api/v1/teams", json={"name": TEAM})
        assert r.status_code == 200, r.text
        for who, role in (("mem", "member"), ("vie", "viewer")):
            r = admin.post(f"/api/v1/teams/{TEAM}/members", json={"user": who, "role": role})
            assert r.status_code == 200, r.text
        key = mem.headers["Authorization"].split()[1]
        env = {"FWTRACK_BASE_URL": srv.url, "FWTRACK_API_KEY": key}
        work = tmp_path / "client"
        work.mkdir()
        for project, run_id in (("proj", "r1"), ("proj", "r2"), ("proj", "r3"), ("dest", "r3")):
            _run_program("online", TEAM, project, run_id, work, **env)
        try:
            yield Lab(srv, admin, mem, vie, outsider)
        finally:
            for client in (mem, vie, outsider):
                client.close()


def _bulk(client: httpx.Client, project: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/api/v1/runs/{TEAM}/{project}/bulk", json=body)


def _outcomes(r: httpx.Response) -> dict[str, int]:
    assert r.status_code == 200, r.text
    return {x["id"]: x["status"] for x in r.json()["results"]}


def _what_a_run_holds(client: httpx.Client, base: str) -> dict[str, Any]:
    """Everything a user reads of a run: its files' bytes, history, media and metadata."""
    files = client.get(f"{base}/files")
    assert files.status_code == 200, files.text
    out: dict[str, Any] = {}
    for f in files.json()["files"]:
        got = client.get(f"{base}/files/{f['path']}")
        assert got.status_code == 200, got.text
        out[f["path"]] = got.content
    history = client.get(f"{base}/history", params={"keys": "loss"})
    assert history.status_code == 200, history.text
    out["history"] = history.json()
    media = client.get(f"{base}/media", params={"key": "sample"})
    assert media.status_code == 200, media.text
    out["media"] = media.json()["items"]
    run = client.get(base).json()
    out["config"] = run["config"]
    out["summary"] = run["summary"]
    return out


def test_bulk_actions_on_the_server(lab: Lab) -> None:
    srv, mem = lab.server, lab.mem
    r1 = f"/api/v1/runs/{TEAM}/proj/r1"
    before = _what_a_run_holds(mem, r1)
    assert b"notes of r1\n" in before.values()
    assert len(before["media"]) == 6
    blobs = srv.stored_blob_names(TEAM)
    assert blobs

    # readers may not act: 403, nothing changed
    for who in (lab.vie, lab.outsider):
        r = _bulk(who, "proj", {"action": "delete", "run_ids": ["r1"]})
        assert r.status_code == 403, r.text
    assert mem.get(r1).status_code == 200

    r = _bulk(mem, "proj", {"action": "tag", "run_ids": ["r1", "r2", "nope"], "tags": ["a", "b"]})
    assert _outcomes(r) == {"r1": 200, "r2": 200, "nope": 404}
    assert "nope" in r.json()["results"][2]["error"]
    assert (r.json()["succeeded"], r.json()["failed"]) == (2, 1)
    assert mem.get(r1).json()["tags"] == ["seed", "a", "b"]
    listed = mem.get(f"/api/v1/runs/{TEAM}/proj", params={"filter": "tags = b"}).json()
    assert sorted(x["id"] for x in listed["runs"]) == ["r1", "r2"]
    r = _bulk(mem, "proj", {"action": "untag", "run_ids": ["r1", "r2"], "tags": ["a", "seed"]})
    assert _outcomes(r) == {"r1": 200, "r2": 200}
    assert [x["run"]["tags"] for x in r.json()["results"]] == [["b"], ["b"]]

    # move: r3 is already in lab/dest (409 naming it), the others move with everything
    r = _bulk(mem, "proj", {"action": "move", "run_ids": ["r1", "r2", "r3"], "to_project": "dest"})
    assert _outcomes(r) == {"r1": 200, "r2": 200, "r3": 409}
    assert "'r3'" in r.json()["results"][2]["error"]
    assert r.json()["results"][0]["run"]["project"] == "dest"
    assert mem.get(r1).status_code == 404
    moved = f"/api/v1/runs/{TEAM}/dest/r1"
    assert _what_a_run_holds(mem, moved) == before
    assert srv.stored_blob_names(TEAM) == blobs  # every blob kept, under the same entity
    assert mem.get(moved).json()["tags"] == ["b"]  # the edit moved with it
    assert sorted(x["id"] for x in mem.get(f"/api/v1/runs/{TEAM}/dest").json()["runs"]) == [
        "r1",
        "r2",
        "r3",
    ]
    assert [x["id"] for x in mem.get(f"/api/v1/runs/{TEAM}/proj").json()["runs"]] == ["r3"]
    # into a project that did not exist yet: created
    r = _bulk(mem, "dest", {"action": "move", "run_ids": ["r2"], "to_project": "fresh"})
    assert _outcomes(r) == {"r2": 200}
    assert mem.get(f"/api/v1/runs/{TEAM}/fresh/r2").status_code == 200

    # refused requests
    for body, status, words in (
        ({"action": "move", "run_ids": ["r1"], "to_project": "mem/x"}, 400, "another entity"),
        ({"action": "move", "run_ids": ["r1"], "to_project": "dest"}, 400, "already in"),
        ({"action": "move", "run_ids": ["r1"]}, 400, "to_project"),
        ({"action": "tag", "run_ids": ["r1"]}, 400, "tags"),
        ({"action": "delete", "run_ids": [f"x{i}" for i in range(1001)]}, 400, "1000"),
        ({"action": "archive", "run_ids": ["r1"]}, 400, "action"),
    ):
        r = _bulk(mem, "dest", body)
        assert r.status_code == status, (body, r.text)
        assert words in r.text, (body, r.text)

    # delete: the moved run and its row go; blobs shared with no other run become the
    # collector's, the others' stay
    r = _bulk(mem, "dest", {"action": "delete", "run_ids": ["r1", "ghost"]})
    assert _outcomes(r) == {"r1": 200, "ghost": 404}
    assert mem.get(moved).status_code == 404
    assert _what_a_run_holds(mem, f"/api/v1/runs/{TEAM}/dest/r3")["media"]
    assert _what_a_run_holds(mem, f"/api/v1/runs/{TEAM}/fresh/r2")["media"]

    events = lab.admin.get("/api/v1/audit", params={"entity": TEAM, "action": "runs."}).json()
    got = [(e["actor"], e["action"], e["target"], e["detail"]) for e in events["events"]]
    assert got == [
        ("mem", "runs.delete", "dest", {"project": "dest", "runs": ["r1"]}),
        ("mem", "runs.move", "dest", {"project": "dest", "runs": ["r2"], "to_project": "fresh"}),
        (
            "mem",
            "runs.move",
            "proj",
            {"project": "proj", "runs": ["r1", "r2"], "to_project": "dest"},
        ),
    ]


class UiServer:
    """A real `fwtrack ui` over `runs_dir`."""

    def __init__(self, tmp_path: Path, runs_dir: Path) -> None:
        self.port = free_port()
        self.out = tmp_path / "ui.out"
        self.proc = spawn_ui(runs_dir, self.port, self.out)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)

    def wait(self, what: str, check: Any) -> Any:
        deadline = time.monotonic() + DEADLINE
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.out.read_text()
            try:
                last = check()
            except (httpx.HTTPError, KeyError, AssertionError) as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; last: {last!r}")

    def stop(self) -> None:
        self.http.close()
        stop_process_group(self.proc)


def test_bulk_actions_under_fwtrack_ui(tmp_path: Path) -> None:
    runs_dir = tmp_path / "fwtrack"
    runs_dir.mkdir()
    env = {"FWTRACK_DIR": str(runs_dir)}
    for run_id in ("r1", "r2"):
        _run_program("offline", "-", "proj", run_id, tmp_path, **env)
    live = _hold_program("offline", "proj", "r3", tmp_path, **env)
    ui = UiServer(tmp_path, runs_dir)
    try:
        http = ui.http

        def listed(project: str) -> list[str]:
            r = http.get(f"/api/v1/runs/local/{project}")
            return sorted(x["id"] for x in r.json()["runs"]) if r.status_code == 200 else []

        ui.wait("the runs", lambda: listed("proj") == ["r1", "r2", "r3"])
        r1 = "/api/v1/runs/local/proj/r1"
        ui.wait("r1 finished", lambda: http.get(r1).json()["state"] == "finished")
        before = _what_a_run_holds(http, r1)

        r = http.post(
            "/api/v1/runs/local/proj/bulk",
            json={"action": "tag", "run_ids": ["r1", "r2", "r3"], "tags": ["keep"]},
        )
        assert _outcomes(r) == {"r1": 200, "r2": 200, "r3": 200}
        r = http.post(
            "/api/v1/runs/local/proj/bulk",
            json={"action": "untag", "run_ids": ["r2"], "tags": ["seed"]},
        )
        assert _outcomes(r) == {"r2": 200}
        assert http.get("/api/v1/runs/local/proj/r2").json()["tags"] == ["keep"]

        # the run being written is refused (move and delete); the others move
        r = http.post(
            "/api/v1/runs/local/proj/bulk",
            json={"action": "move", "run_ids": ["r1", "r3"], "to_project": "other"},
        )
        assert _outcomes(r) == {"r1": 200, "r3": 409}
        assert "still being written" in r.json()["results"][1]["error"]
        assert not (runs_dir / "proj" / "r1").exists()
        assert (runs_dir / "other" / "r1" / "run.fwlog").is_file()
        assert (runs_dir / "proj" / "r3" / "run.fwlog").is_file()
        moved = "/api/v1/runs/local/other/r1"
        assert _what_a_run_holds(http, moved) == before
        assert http.get(r1).status_code == 404
        # the scanner keeps the moved run (and its edit) across its next passes
        ui.wait("a scan after the move", lambda: listed("other") == ["r1"])
        time.sleep(2.5)
        assert listed("other") == ["r1"]
        assert http.get(moved).json()["tags"] == ["seed", "keep"]
        r = http.post(
            "/api/v1/runs/local/proj/bulk", json={"action": "delete", "run_ids": ["r3", "r2"]}
        )
        assert _outcomes(r) == {"r3": 409, "r2": 200}
        assert not (runs_dir / "proj" / "r2").exists()

        # once finished, the run moves
        assert live.stdin is not None
        live.stdin.write(b"go\n")
        live.stdin.close()
        assert live.wait(timeout=DEADLINE) == 0
        ui.wait("r3 finished", lambda: http.get("/api/v1/runs/local/proj/r3").json()["state"])
        ui.wait(
            "r3 finished",
            lambda: http.get("/api/v1/runs/local/proj/r3").json()["state"] == "finished",
        )
        r = http.post(
            "/api/v1/runs/local/proj/bulk",
            json={"action": "move", "run_ids": ["r3"], "to_project": "other"},
        )
        assert _outcomes(r) == {"r3": 200}
        ui.wait("r3 listed in other", lambda: listed("other") == ["r1", "r3"])
        assert _what_a_run_holds(http, "/api/v1/runs/local/other/r3")["media"]
        assert listed("proj") == []
    finally:
        ui.stop()
        if live.poll() is None:
            live.kill()
            live.wait()
        if live.stdout is not None:
            live.stdout.close()
