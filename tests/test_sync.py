"""`fwtrack sync` against a real `fwtrack server` process: offline runs, a run still being
written (with and without `--follow`), re-running (nothing is sent again), and failures.
"""

from __future__ import annotations

import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import fwtrack
from fwserver import Server, client_env, free_port, run_cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]


def _offline_run(project: str, steps: int) -> fwtrack.Run:
    run = fwtrack.init(project=project, mode="offline")
    for step in range(steps):
        run.log({"loss": 1.0 / (step + 1)})
    run.finish()
    return run


def _assert_on_server(srv: Server, run_dir: Path, steps: int) -> None:
    project, run_id = run_dir.parent.name, run_dir.name
    local = (run_dir / "run.fwlog").read_bytes()
    assert srv.stored_log("admin", project, run_id) == local
    history = srv.get(f"/runs/admin/{project}/{run_id}/history", samples=0, keys="loss")
    assert history["series"]["loss"]["step"] == list(range(steps))
    assert srv.get(f"/runs/admin/{project}/{run_id}")["state"] == "finished"


def test_offline_runs_sync_and_a_second_sync_sends_nothing(server: Server, tmp_path: Path) -> None:
    runs = [_offline_run("offline", 100 + 50 * i) for i in range(3)]
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key)
    first = run_cli(
        "sync", str(tmp_path / "fwtrack" / "offline"), "--base-url", server.url, env=env
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 uploaded, 0 already up to date, 0 failed" in first.stdout
    for i, run in enumerate(runs):
        _assert_on_server(server, Path(run.dir), 100 + 50 * i)
    states = {r.id: (Path(r.dir) / "upload.json").stat().st_mtime_ns for r in runs}
    updated = {r.id: server.get(f"/runs/admin/offline/{r.id}")["updated_at"] for r in runs}

    again = run_cli("sync", "--all", "--base-url", server.url, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 uploaded, 3 already up to date, 0 failed" in again.stdout
    assert states == {r.id: (Path(r.dir) / "upload.json").stat().st_mtime_ns for r in runs}
    assert updated == {r.id: server.get(f"/runs/admin/offline/{r.id}")["updated_at"] for r in runs}


WRITER = """
import pathlib, time
import fwtrack

run = fwtrack.init(project="live", id="live1", mode="offline")
for step in range(100):
    fwtrack.log({"loss": 1.0 / (step + 1)})
run.flush()
pathlib.Path("ready").touch()
deadline = time.monotonic() + 90
while not pathlib.Path("go").exists() and time.monotonic() < deadline:
    time.sleep(0.02)
for step in range(100, 250):
    fwtrack.log({"loss": 1.0 / (step + 1)})
run.finish()
"""


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        output = (path.parent / "writer.out").read_text()
        assert proc.poll() is None, f"the writer exited early:\n{output}"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _first_line(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no output from fwtrack sync --follow"
    return proc.stdout.readline()


def test_a_run_being_written_syncs_as_far_as_written_then_follows(
    server: Server, tmp_path: Path
) -> None:
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key, FWTRACK_BASE_URL=server.url)
    with (tmp_path / "writer.out").open("w") as out:
        writer = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER)],
            cwd=tmp_path,
            env=client_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    follow: subprocess.Popen[str] | None = None
    try:
        _wait_for(tmp_path / "ready", writer)
        run_dir = tmp_path / "fwtrack" / "live" / "live1"
        log = run_dir / "run.fwlog"

        partial = run_cli("sync", str(run_dir), env=env)
        assert partial.returncode == 0, partial.stdout + partial.stderr
        assert "1 uploaded" in partial.stdout
        # Uploaded as far as written (the writer is idle and flushed).
        assert server.stored_log("admin", "live", "live1") == log.read_bytes()
        assert server.get("/runs/admin/live/live1")["state"] == "running"

        follow = subprocess.Popen(
            [sys.executable, "-m", "fwtrack", "sync", str(run_dir), "--follow"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert "following the live run" in _first_line(follow)
        (tmp_path / "go").touch()
        out, err = follow.communicate(timeout=90)
        assert follow.returncode == 0, out + err
        assert writer.wait(timeout=60) == 0
        _assert_on_server(server, run_dir, 250)
    finally:
        for proc in (writer, follow):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        if follow is not None:
            for pipe in (follow.stdout, follow.stderr):
                if pipe is not None:
                    pipe.close()


def test_sync_failures_exit_non_zero_with_a_hint(server: Server, tmp_path: Path) -> None:
    run = _offline_run("failing", 10)
    bare = client_env(tmp_path)

    no_server = run_cli("sync", "--all", env=bare)
    assert no_server.returncode == 1
    assert "no server to sync to" in no_server.stderr
    assert "fwtrack login" in no_server.stderr

    no_key = run_cli("sync", "--all", "--base-url", server.url, env=bare)
    assert no_key.returncode == 1
    assert f"fwtrack login {server.url}" in no_key.stderr

    nothing = run_cli("sync", "--base-url", server.url, env=bare)
    assert nothing.returncode == 1
    assert "name the runs to sync" in nothing.stderr

    missing = run_cli("sync", str(tmp_path / "nope"), "--base-url", server.url, env=bare)
    assert missing.returncode == 1
    assert "is not a directory" in missing.stderr

    bad_key = client_env(tmp_path, FWTRACK_API_KEY="fwk_" + "x" * 40)
    refused = run_cli("sync", run.dir, "--base-url", server.url, env=bad_key)
    assert refused.returncode == 1
    assert "FAILED" in refused.stdout
    assert "401" in refused.stdout + refused.stderr
    assert "1 failed" in refused.stdout

    dead = f"http://127.0.0.1:{free_port()}"
    down = run_cli("sync", run.dir, "--base-url", dead, "--timeout", "1", env=bad_key)
    assert down.returncode == 1
    assert "FAILED" in down.stdout
    assert f"fwtrack sync {run.dir}" in down.stderr
    assert not (Path(run.dir) / "upload.json").exists()
