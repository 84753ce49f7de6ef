"""`fwtrack ui`: local runs appear live, their history grows while they run, and their state
follows the writer (running, finished, crashed)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import child_env, free_port, stop_process_group

DEADLINE = 60.0

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


class Ui:
    def __init__(self, tmp_path: Path, runs_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.out = tmp_path / "ui.out"
        with open(self.out, "wb") as fh:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fwtrack",
                    "ui",
                    "--dir",
                    str(runs_dir),
                    "--port",
                    str(self.port),
                ],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=child_env(),
                start_new_session=True,
            )

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def wait_for(self, what: str, check: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + DEADLINE
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ui exited:\n{self.out.read_text()}")
            try:
                last = check()
            except (OSError, KeyError, IndexError, AssertionError) as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(
            f"timed out waiting for {what}; last: {last!r}\n{self.out.read_text()}"
        )

    def stop(self) -> None:
        stop_process_group(self.proc, signal.SIGINT)


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[Ui]:
    runs_dir = tmp_path / "fwtrack"
    runs_dir.mkdir()
    server = Ui(tmp_path, runs_dir)
    try:
        server.wait_for("health", lambda: server.get("/health")[0] == 200)
        yield server
    finally:
        server.stop()


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
            lambda: ui.get("/runs/local/live")[1]["runs"][0],
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
    assert ui.get("/viewer") == (200, {"name": "local", "is_admin": True, "teams": []})
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
