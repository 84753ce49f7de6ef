"""Alerts on a real server process (SQLite and PostgreSQL): a run's alerts stored as its log is
uploaded (in pieces, and again without duplicates), listed by `GET .../alerts`, and sent as
`run.alert` to the team's webhooks (a real HTTP receiver, signatures checked); `fwtrack ui`
lists a local run's alerts from its index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import fwtrack
from fwtrack import _core
from fwtrack.server.db import Project

from .accessutil import Http
from .apputil import BACKENDS, database, open_client
from .harness import ServerProcess, Ui
from .webhook_receiver import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=BACKENDS)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with database(request, request.param) as url:
        server = ServerProcess(tmp_path_factory.mktemp("alerts") / "data", db_url=url)
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[Http]:
    http = Http(srv, srv.admin_key)
    try:
        yield http
    finally:
        http.close()


@pytest.fixture
def team(api: Http) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    r = api.post("/teams", {"name": name})
    assert r.status_code == 200, r.text
    return name


def _open_run(root: Path, run_id: str) -> fwtrack.Run:
    return fwtrack.init(
        project="alerting",
        id=run_id,
        dir=root,
        mode="offline",
        settings={"save_code": False, "capture_env": False, "system_interval": 0},
    )


def _upload_from(api: Http, team: str, run: fwtrack.Run, offset: int) -> int:
    data = Path(run.dir, _core.LOG_FILE_NAME).read_bytes()
    r = api._client.post(
        f"/runs/{team}/alerting/{run.id}/log",
        params={"offset": offset},
        content=data[offset:],
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    size: int = r.json()["offset"]
    assert size == len(data)
    return size


def _listed(api: Http, team: str, run_id: str, query: str = "") -> dict[str, Any]:
    r = api.get(f"/runs/{team}/alerting/{run_id}/alerts{query}")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _deliveries(api: Http, team: str, hook: int) -> list[dict[str, Any]]:
    r = api.get(f"/webhooks/{team}/{hook}/deliveries?limit=500")
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = r.json()
    return out


def test_alerts_are_stored_listed_and_sent_to_the_teams_webhooks(
    api: Http, team: str, tmp_path: Path
) -> None:
    secret = uuid.uuid4().hex
    with Receiver() as receiver, Receiver() as registry_only:
        r = api.post(f"/webhooks/{team}", {"url": receiver.url, "secret": secret})
        assert r.status_code == 201, r.text
        assert "run.alert" in r.json()["events"]  # every event by default
        hook = r.json()["id"]
        r = api.post(
            f"/webhooks/{team}", {"url": registry_only.url, "events": ["registry.alias_moved"]}
        )
        assert r.status_code == 201, r.text
        other = r.json()["id"]

        run = _open_run(tmp_path, "r1")
        run.log({"loss": 1.0})
        run.alert("Loss rising", "loss 1.0 > 0.5", level="WARN", wait_duration=300)
        run.alert("Loss rising", "suppressed by the rate limit", level="WARN", wait_duration=300)
        run.flush()
        offset = _upload_from(api, team, run, 0)  # the first part: one alert
        assert [a["title"] for a in _listed(api, team, run.id)["alerts"]] == ["Loss rising"]
        run.alert("NaN", "loss is NaN\nat step 2", level="ERROR")
        run.alert("Done", "finished early")
        run.finish()
        _upload_from(api, team, run, offset)

        listed = _listed(api, team, run.id)
        assert (listed["total"], listed["next"]) == (3, None)
        assert [(a["seq"], a["title"], a["text"], a["level"]) for a in listed["alerts"]] == [
            (0, "Loss rising", "loss 1.0 > 0.5", "WARN"),
            (1, "NaN", "loss is NaN\nat step 2", "ERROR"),
            (2, "Done", "finished early", "INFO"),
        ]
        local = _core.RunReader(run.dir).alerts()
        assert [a["ts"] for a in listed["alerts"]] == [a["ts"] for a in local]
        page = _listed(api, team, run.id, "?offset=1&limit=1")
        assert ([a["title"] for a in page["alerts"]], page["next"]) == (["NaN"], 2)

        got = receiver.wait_count(3)
        assert all(g.headers["x-fwtrack-event"] == "run.alert" for g in got)
        assert all(g.verifies(secret) for g in got)
        bodies = sorted((g.json() for g in got), key=lambda b: b["alert"]["seq"])
        assert [b["alert"]["title"] for b in bodies] == ["Loss rising", "NaN", "Done"]
        first = bodies[0]
        assert (first["event"], first["entity"], first["project"], first["run"]) == (
            "run.alert",
            team,
            "alerting",
            "r1",
        )
        assert first["alert"]["level"] == "WARN"
        assert first["alert"]["text"] == "loss 1.0 > 0.5"

        # Sending the whole log again stores and sends nothing more (a delivery is recorded
        # in the upload's transaction: the delivery log is the whole story).
        _upload_from(api, team, run, 0)
        assert _listed(api, team, run.id)["total"] == 3
        assert [d["event"] for d in _deliveries(api, team, hook)] == ["run.alert"] * 3
        assert _deliveries(api, team, other) == []
        assert registry_only.requests == []


def test_a_run_without_alerts_lists_none_and_unknown_runs_are_404(
    api: Http, team: str, tmp_path: Path
) -> None:
    run = _open_run(tmp_path, "quiet")
    run.log({"loss": 1.0})
    run.finish()
    _upload_from(api, team, run, 0)
    assert _listed(api, team, "quiet") == {"alerts": [], "total": 0, "next": None}
    r = api.get(f"/runs/{team}/alerting/missing/alerts")
    assert r.status_code == 404
    assert "missing" in r.json()["detail"]
    r = api.as_(None).get(f"/runs/{team}/alerting/quiet/alerts")
    assert r.status_code == 401


def test_fwtrack_ui_lists_a_local_runs_alerts(ui: Ui, tmp_path: Path) -> None:
    run = _open_run(tmp_path / "fwtrack", "local-run")
    run.alert("Checkpoint", "saved epoch 3")
    run.alert("Diverged", "loss 1e9", level="ERROR")
    run.finish()

    def listed() -> list[tuple[str, str]] | None:
        status, body = ui.get("/runs/local/alerting/local-run/alerts")
        if status != 200 or body["total"] != 2:
            return None
        return [(a["title"], a["level"]) for a in body["alerts"]]

    assert ui.wait_for("the local run's alerts", listed) == [
        ("Checkpoint", "INFO"),
        ("Diverged", "ERROR"),
    ]


@pytest.fixture(params=BACKENDS)
def app_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    yield from open_client(request, tmp_path, request.param)


def test_alerts_appended_before_a_crash_are_stored_when_healed(
    app_api: TestClient, tmp_path: Path
) -> None:
    """Bytes appended without their SQL update (the server died in between) hold an alert:
    the next look at the stored offset heals the run and stores it, once."""
    run = _open_run(tmp_path / "client", "healed")
    run.alert("Before", "in the first upload")
    run.flush()
    first = Path(run.dir, _core.LOG_FILE_NAME).read_bytes()
    run.alert("Lost", "appended, then the server died")
    run.finish()
    data = Path(run.dir, _core.LOG_FILE_NAME).read_bytes()
    base = "/api/v1/runs/admin/alerting/healed"
    r = app_api.post(
        f"{base}/log",
        params={"offset": 0},
        content=first,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    ctx = app_api.app.state.ctx  # type: ignore[attr-defined]
    with ctx.db.read() as session:
        project_id = session.scalar(sa.select(Project.id).where(Project.name == "alerting"))
    stored = Path(ctx.config.data_dir, "store", "runs", str(project_id), "healed", "run.fwlog")
    assert stored.stat().st_size == len(first)
    with open(stored, "ab") as fh:  # as if the server died after the append
        fh.write(data[len(first) :])
    assert [a["title"] for a in app_api.get(f"{base}/alerts").json()["alerts"]] == ["Before"]
    assert app_api.get(f"{base}/log/offset").json() == {"offset": len(data)}
    titles = [a["title"] for a in app_api.get(f"{base}/alerts").json()["alerts"]]
    assert titles == ["Before", "Lost"]
    assert app_api.get(f"{base}/log/offset").json() == {"offset": len(data)}
    assert app_api.get(f"{base}/alerts").json()["total"] == 2
