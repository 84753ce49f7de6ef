"""`fwtrack ui` serving the local sweep store (`<dir>/.sweeps/sweeps.db`, written by local
agents through `open_local`) through the sweep routes, as entity `local`: the list, a sweep,
its trials joined with the runs the ui indexed (a stopped one read back as `stopped`), the runs
filter `sweep = <id>`, and controls (a pause through the ui is seen by the local agents)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from fwtrack.sweeps.config import load_config
from fwtrack.sweeps.local import local_database, open_local

from .harness import Ui
from .sweep_util import grid, trial_log

pytestmark = pytest.mark.slow


def test_ui_serves_the_local_sweeps(ui: Ui, tmp_path: Path) -> None:
    runs_dir = tmp_path / "fwtrack"
    http = httpx.Client(base_url=ui.url, timeout=60)
    try:
        # No local store yet: an empty list, and reading does not create one.
        assert ui.get("/sweeps/local/demo") == (200, {"sweeps": []})
        assert ui.get("/sweep-ids/abcd1234")[0] == 404
        assert not local_database(runs_dir).exists()

        # Local agents at work: a grid of 3, one trial finished, one stopped early.
        ctrl = open_local(runs_dir)
        sweep = ctrl.create("local", "demo", load_config({**grid(3), "name": "local-grid"}))
        sid = sweep["id"]
        agent = ctrl.register_agent(sid, "laptop", 1234)["agent_id"]
        other = ctrl.register_agent(sid, "laptop", 1235)["agent_id"]
        first = ctrl.next_trial(sid, agent)["trial"]
        second = ctrl.next_trial(sid, other)["trial"]
        for trial, reason, state, value in (
            (first, None, "finished", 0.25),
            (second, "stopped", "stopped", 0.75),
        ):
            trial_log(
                runs_dir,
                "demo",
                trial["run_id"],
                sweep_id=sid,
                config=trial["params"],
                losses=[1.0, value],
                reason=reason,
            )
            owner = agent if trial is first else other
            ctrl.finish_trial(sid, owner, trial["id"], state, value, [1.0, value], 0)

        status, body = ui.get("/sweeps/local/demo")
        assert status == 200, body
        assert [(s["id"], s["name"], s["entity"]) for s in body["sweeps"]] == [
            (sid, "local-grid", "local")
        ]
        status, one = ui.get(f"/sweeps/local/demo/{sid}")
        assert status == 200, one
        assert one["counts"]["finished"] == 1
        assert one["counts"]["stopped"] == 1
        assert one["best"]["id"] == first["id"]
        located = {"entity": "local", "project": "demo", "id": sid}
        assert ui.get(f"/sweep-ids/{sid}") == (200, located)

        # The trials, once the ui indexed their runs (to their ends), carry them.
        def joined() -> list[dict[str, Any]] | None:
            status, out = ui.get(f"/sweeps/local/demo/{sid}/trials")
            assert status == 200, out
            trials: list[dict[str, Any]] = out["trials"]
            ended = all(t["run"] is not None and t["run"]["state"] != "running" for t in trials)
            return trials if ended else None

        trials = ui.wait_for("the trials' runs", joined)
        assert [t["run"]["state"] for t in trials] == ["finished", "stopped"]
        assert trials[0]["run"]["summary"] == {"loss": 0.25}
        assert trials[1]["run"]["name"] == f"trial-{second['run_id']}"

        r = http.get("/runs/local/demo", params={"filter": f"sweep = {sid}"})
        assert r.status_code == 200, r.text
        assert sorted(run["id"] for run in r.json()["runs"]) == sorted(
            [first["run_id"], second["run_id"]]
        )
        r = http.get("/runs/local/demo", params={"filter": "state = stopped"})
        assert [run["id"] for run in r.json()["runs"]] == [second["run_id"]]
        assert r.json()["runs"][0]["sweep_id"] == sid

        status, importance = ui.get(f"/sweeps/local/demo/{sid}/importance")
        assert status == 200, importance
        assert importance["metric"] == "loss"

        # The store's folder is not a project.
        status, projects = ui.get("/projects")
        assert status == 200, projects
        assert [p["name"] for p in projects["projects"]] == ["demo"]

        # Another entity is not served here.
        assert ui.get(f"/sweeps/someone/demo/{sid}")[0] == 404

        # Controls through the ui reach the local agents.
        r = http.patch(f"/sweeps/local/demo/{sid}", json={"action": "pause"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "paused"
        assert ctrl.get(sid)["state"] == "paused"
        assert set(ctrl.next_trial(sid, agent)) == {"wait"}
        r = http.patch(f"/sweeps/local/demo/{sid}", json={"action": "pause"})
        assert r.status_code == 409, r.text

        # A sweep created through the ui lands in the local store.
        r = http.post("/sweeps/local/other", json={"config": grid(2)})
        assert r.status_code == 201, r.text
        assert r.json()["entity"] == "local"
        assert ctrl.locate(r.json()["id"]) == ("local", "other")
    finally:
        http.close()
