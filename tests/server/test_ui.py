"""`fwtrack ui`: local runs appear live, their history grows while they run, and their state
follows the writer (running, finished, crashed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .harness import Ui, child_env

WRITER = textwrap.dedent(
    """
    import os, sys, time
    import fwtrack
    gate = sys.argv[1]
    run = fwtrack.init(project="live", id=sys.argv[2], dir=sys.argv[3], config={"lr": 0.5},
                       tags=["ui"], mode="offline")
    step = 0
    for phase in (1, 2):
        for _ in range(25):
            fwtrack.log({"loss": 1.0 / (step + 1), "text": "x"})
            step += 1
        run.flush()
        while not os.path.exists(f"{gate}.{phase}"):
            time.sleep(0.05)
    if sys.argv[4] == "crash":
        os.kill(os.getpid(), 9)
    fwtrack.finish()
    """
)


def start_writer(tmp_path: Path, run_id: str, mode: str) -> tuple[subprocess.Popen[bytes], Path]:
    gate = tmp_path / f"gate-{run_id}"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(gate), run_id, str(tmp_path / "fwtrack"), mode],
        env=child_env(),
    )
    return proc, gate


def steps(ui: Ui, run_id: str) -> list[int]:
    status, body = ui.get(f"/runs/local/live/{run_id}/history?samples=0&keys=loss")
    assert status == 200, body
    result: list[int] = body["series"]["loss"]["step"]
    return result


def test_a_live_run_appears_and_grows(ui: Ui, tmp_path: Path) -> None:
    writer, gate = start_writer(tmp_path, "r1", "finish")
    try:
        run = ui.wait_for(
            "the run to appear",
            # the run may be indexed between its start and its config record: wait for both
            lambda: next((r for r in ui.get("/runs/local/live")[1]["runs"] if r["config"]), None),
        )
        assert run["id"] == "r1"
        assert run["entity"] == "local"
        assert run["config"] == {"lr": 0.5}
        assert run["tags"] == ["ui"]
        assert run["state"] == "running"
        ui.wait_for("25 steps", lambda: steps(ui, "r1") == list(range(25)))
        gate.with_suffix(".1").touch()
        ui.wait_for("50 steps", lambda: steps(ui, "r1") == list(range(50)))
        assert ui.get("/runs/local/live/r1")[1]["state"] == "running"
        gate.with_suffix(".2").touch()
        assert writer.wait(timeout=60) == 0
        ui.wait_for("finished", lambda: ui.get("/runs/local/live/r1")[1]["state"] == "finished")
        run = ui.get("/runs/local/live/r1")[1]
        assert run["exit_code"] == 0
        assert run["summary"]["loss"] == pytest.approx(1 / 50)
        assert run["keys"] == ["loss"]
        projects = ui.get("/projects")[1]["projects"]
        assert [(p["entity"], p["name"], p["run_count"]) for p in projects] == [
            ("local", "live", 1)
        ]
        log = (tmp_path / "fwtrack" / "live" / "r1" / "run.fwlog").read_bytes()
        with urllib.request.urlopen(ui.url + "/runs/local/live/r1/log", timeout=10) as resp:
            assert resp.read() == log
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=10)


def test_a_killed_run_is_crashed(ui: Ui, tmp_path: Path) -> None:
    writer, gate = start_writer(tmp_path, "r2", "crash")
    ui.wait_for("running", lambda: ui.get("/runs/local/live/r2")[1]["state"] == "running")
    gate.with_suffix(".1").touch()
    gate.with_suffix(".2").touch()
    assert writer.wait(timeout=60) == -9
    ui.wait_for("crashed", lambda: ui.get("/runs/local/live/r2")[1]["state"] == "crashed")
    assert steps(ui, "r2") == list(range(50))


def test_the_ui_needs_no_key_and_takes_no_uploads(ui: Ui, tmp_path: Path) -> None:
    assert ui.get("/viewer") == (
        200,
        {"name": "local", "is_admin": True, "teams": [], "read_only": [], "roles": {}},
    )
    req = urllib.request.Request(
        ui.url + "/runs/local/live/x/log?offset=0", data=b"", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    info.value.close()
    assert info.value.code == 405
    # a deleted run directory disappears from the list
    writer, gate = start_writer(tmp_path, "r3", "finish")
    gate.with_suffix(".1").touch()
    gate.with_suffix(".2").touch()
    assert writer.wait(timeout=60) == 0
    ui.wait_for("finished", lambda: ui.get("/runs/local/live/r3")[1]["state"] == "finished")
    assert ui.get("/runs/local/live/r3")[0] == 200
    req = urllib.request.Request(ui.url + "/runs/local/live/r3", method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert not (tmp_path / "fwtrack" / "live" / "r3").exists()
    ui.wait_for("gone", lambda: ui.get("/runs/local/live")[1]["total"] == 0)


def test_hidden_metrics_and_edits_of_a_finished_run(ui: Ui, tmp_path: Path) -> None:
    """A metric defined with `hidden=True` is left out of the keys the dashboard charts, and
    an edit saved through the public API after the run finished shows in `fwtrack ui`."""
    script = tmp_path / "hidden.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            import fwtrack
            fwtrack.init(project="live", id="hid", dir=sys.argv[1], name="before",
                         mode="offline")
            fwtrack.define_metric("debug/*", hidden=True)
            for step in range(3):
                fwtrack.log({"loss": 1.0 / (step + 1), "debug/grad": 0.5})
            fwtrack.finish()
            api = fwtrack.Api(sys.argv[1])
            run = api.run("live/hid")
            run.name = "after"
            run.summary["best"] = 7
            run.update()
            """
        )
    )
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / "fwtrack")], env=child_env(), check=True
    )
    run = ui.wait_for(
        "the edited run",
        lambda: next(
            (r for r in ui.get("/runs/local/live")[1]["runs"] if r["name"] == "after"), None
        ),
    )
    assert run["summary"]["best"] == 7
    assert run["state"] == "finished"
    assert ui.get("/runs/local/live/hid")[1]["keys"] == ["loss"]
