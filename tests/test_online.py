"""Online runs against a real `fwtrack server` process: the run lands on the server with every
point, `finish()` waits for the upload, a server that is down at `finish()` (or at `init()`)
never stops training, and `fwtrack sync` completes what `finish()` could not.
"""

from __future__ import annotations

import json
import os
import shlex
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwserver import Server, child_env, free_port, run_cli
from fwtrack import FwTrackWarning, _core

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]


def _online(monkeypatch: pytest.MonkeyPatch, srv: Server, timeout: float = 60) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", srv.url)
    monkeypatch.setenv("FWTRACK_API_KEY", srv.key)
    monkeypatch.setenv("FWTRACK_UPLOAD_TIMEOUT", str(timeout))


def _local(run: fwtrack.Run) -> bytes:
    return (Path(run.dir) / "run.fwlog").read_bytes()


def _upload_state(run: fwtrack.Run) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((Path(run.dir) / "upload.json").read_text())
    return state


def _wait_uploaded(run: fwtrack.Run) -> None:
    """Wait (bounded) until the server acknowledged everything in the local log."""
    uploader = run._uploader
    assert uploader is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = uploader.status()
        if status["acked"] == len(_local(run)):
            return
        time.sleep(0.05)
    raise AssertionError(f"the upload did not catch up: {uploader.status()}")


def _assert_on_server(srv: Server, run: fwtrack.Run, steps: int) -> None:
    """The server holds the run byte for byte, with every step once, finished."""
    assert srv.stored_log("admin", run.project, run.id) == _local(run)
    history = srv.get(f"/runs/admin/{run.project}/{run.id}/history", samples=0, keys="loss")
    series = history["series"]["loss"]
    assert series["step"] == list(range(steps))
    assert series["value"] == [1.0 / (s + 1) for s in range(steps)]
    detail = srv.get(f"/runs/admin/{run.project}/{run.id}")
    assert detail["state"] == "finished"
    assert detail["log_size"] == len(_local(run))


def test_online_run_lands_on_the_server_with_every_point(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _online(monkeypatch, server)
    run = fwtrack.init(project="online", config={"lr": 0.1})
    assert run.mode == "online"  # FWTRACK_BASE_URL alone makes the run online
    for step in range(500):
        run.log({"loss": 1.0 / (step + 1)})
        if step == 250:
            run.flush()
    run.finish()
    # finish() returned only after the upload: everything is there, without waiting here.
    _assert_on_server(server, run, 500)
    state = _upload_state(run)
    assert {k: v for k, v in state.items() if k != "files"} == {
        "base_url": server.url,
        "entity": "admin",
        "project": "online",
        "run_id": run.id,
        "offset": len(_local(run)),
    }
    # The run's files (its environment snapshot) are recorded under the same target.
    assert "requirements.txt" in state["files"]
    assert all(f["recorded"] for f in state["files"].values())
    detail = server.get(f"/runs/admin/online/{run.id}")
    assert detail["config"] == {"lr": 0.1}


def test_resumed_online_run_continues_its_upload(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _online(monkeypatch, server)
    run = fwtrack.init(project="online", id="resumed1")
    for step in range(100):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    first_size = len(_local(run))
    assert _upload_state(run)["offset"] == first_size
    run = fwtrack.init(project="online", id="resumed1", resume="allow")
    for step in range(100, 200):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    assert len(_local(run)) > first_size
    _assert_on_server(server, run, 200)


def test_offline_mode_wins_over_a_base_url(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    _online(monkeypatch, server)
    run = fwtrack.init(project="online", mode="offline")
    run.log({"loss": 1.0})
    run.finish()
    assert not (Path(run.dir) / "upload.json").exists()
    status, _ = server.request(f"/runs/admin/online/{run.id}")
    assert status == 404


def test_entity_setting_uploads_to_that_entity(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _online(monkeypatch, server)
    run = fwtrack.init(project="online", settings={"entity": "admin"})
    run.log({"loss": 1.0})
    run.finish()
    _assert_on_server(server, run, 1)


def test_a_refused_key_warns_at_init_and_training_goes_on(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _online(monkeypatch, server)
    monkeypatch.setenv("FWTRACK_API_KEY", "fwk_" + "x" * 40)
    with pytest.warns(FwTrackWarning, match="401") as record:
        run = fwtrack.init(project="online")
    message = str(record[0].message)
    assert "fwtrack login" in message
    assert f"fwtrack sync {run.dir}" in message
    for step in range(10):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()  # no second warning: the refusal was reported once
    assert _core.RunReader(run.dir).meta()["rows"] == 10


def test_no_key_for_the_server_warns_and_logs_locally(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    with pytest.warns(FwTrackWarning, match="no API key for the server") as record:
        run = fwtrack.init(project="online")
    assert "fwtrack login" in str(record[0].message)
    run.log({"loss": 1.0})
    run.finish()
    assert _local(run)


def test_online_mode_without_any_server_logs_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.warns(FwTrackWarning, match="no fwtrack server is configured"):
        run = fwtrack.init(project="online", mode="online")
    run.log({"loss": 1.0})
    run.finish()
    assert not (Path(run.dir) / "upload.json").exists()


def test_server_down_at_finish_returns_in_time_then_sync_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = Server(tmp_path / "data").start()
    try:
        _online(monkeypatch, srv, timeout=1)
        run = fwtrack.init(project="down")
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1)})
        run.flush()
        _wait_uploaded(run)
        srv.kill9()
        for step in range(50, 300):
            run.log({"loss": 1.0 / (step + 1)})
        with pytest.warns(FwTrackWarning) as record:
            run.finish()
        messages = [str(w.message) for w in record]
        timeout_message = [m for m in messages if "did not complete within 1 s" in m]
        assert len(timeout_message) == 1, messages
        assert f"fwtrack sync {shlex.quote(run.dir)}" in timeout_message[0]
        # The run is complete locally; the server lacks (at least) its end.
        assert _core.RunReader(run.dir).meta()["finish"]["exit_code"] == 0
        assert _upload_state(run)["offset"] < len(_local(run))

        srv.start()
        env = child_env(
            FWTRACK_BASE_URL=srv.url,
            FWTRACK_API_KEY=srv.key,
            FWTRACK_CONFIG_DIR=str(tmp_path / "config"),
        )
        done = run_cli("sync", run.dir, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "1 uploaded" in done.stdout
        _assert_on_server(srv, run, 300)
    finally:
        srv.stop()


def test_server_unreachable_at_init_then_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = Server(tmp_path / "data", port=free_port())
    try:
        _online(monkeypatch, srv, timeout=60)
        with pytest.warns(FwTrackWarning, match="retrying in the background"):
            run = fwtrack.init(project="later")
        for step in range(100):
            run.log({"loss": 1.0 / (step + 1)})
        srv.start()
        run.finish()
        _assert_on_server(srv, run, 100)
    finally:
        srv.stop()


def test_forked_child_does_not_upload_or_block(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _online(monkeypatch, server)
    run = fwtrack.init(project="online")
    run.log({"loss": 1.0})
    pid = os.fork()
    if pid == 0:  # the child: every tracker call is a cheap no-op
        code = 4
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run.log({"loss": 2.0})
                run.flush()
                uploader = run._uploader
                assert uploader is not None
                uploader.notify()
                outcome = uploader.finish(60)
                forked = outcome["done"] is False and "forked" in outcome["error"]
                code = 0 if forked and uploader.status()["state"] == "stopped" else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    run.log({"loss": 0.5})
    run.finish()
    _assert_on_server(server, run, 2)
