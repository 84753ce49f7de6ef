"""Saved files of an online run on a real server: a `policy="live"` file uploaded again while
the run goes on, `"end"` files and what the program wrote into `run.dir` uploaded at finish."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import fwtrack
from fwserver import Server

pytestmark = pytest.mark.slow

DEADLINE = 90.0


def _server_file(server: Server, run_id: str, name: str) -> bytes | None:
    status, body = server.request(f"/runs/admin/files-online/{run_id}/files/{name}")
    return body if status == 200 else None


def _wait_file(server: Server, run_id: str, name: str, want: bytes) -> None:
    deadline = time.monotonic() + DEADLINE
    got = None
    while time.monotonic() < deadline:
        got = _server_file(server, run_id, name)
        if got == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"the server never had {want!r} as {name}; last: {got!r}")


def test_live_file_is_uploaded_again_and_end_files_at_finish(
    server: Server, client_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    (client_dirs / "metrics.csv").write_text("step,loss\n")
    (client_dirs / "final.txt").write_text("not yet")
    run = fwtrack.init(project="files-online", settings={"save_code": False, "capture_env": False})
    assert run.mode == "online"
    run.save("metrics.csv")  # policy="live"
    run.save("final.txt", policy="end")
    _wait_file(server, run.id, "metrics.csv", b"step,loss\n")
    (client_dirs / "metrics.csv").write_text("step,loss\n0,1.5\n")
    run.log({"loss": 1.5})
    # Uploaded again while the run goes on (no finish yet).
    _wait_file(server, run.id, "metrics.csv", b"step,loss\n0,1.5\n")
    assert _server_file(server, run.id, "final.txt") is None
    (client_dirs / "final.txt").write_text("the end")
    Path(run.dir, "predictions.json").write_text("[0.1, 0.9]")
    run.finish()
    assert _server_file(server, run.id, "final.txt") == b"the end"
    assert _server_file(server, run.id, "predictions.json") == b"[0.1, 0.9]"
    names = {f["path"] for f in server.get(f"/runs/admin/files-online/{run.id}/files")["files"]}
    assert names == {"metrics.csv", "final.txt", "predictions.json"}
