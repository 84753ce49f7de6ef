"""Symbolic links in a run directory are never followed on the way to a server: `fwtrack sync`
and an online run's file uploads leave out every link among the run's files (to a secret
outside the run, to a folder, even to a file of the run itself) with one warning naming it,
and `fwtrack sync` refuses a run whose `run.fwlog` is a link. Real runs, a real
`fwtrack server` process; the secret's bytes must appear nowhere in what the server stores.
"""

from __future__ import annotations

import secrets
import warnings
from pathlib import Path

import pytest

import fwtrack
from fwserver import Server, client_env, run_cli
from fwtrack import FwTrackWarning

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]


def _secret(tmp_path: Path) -> tuple[Path, bytes]:
    """`<tmp_path>/home/.fwtrack/credentials` outside every run, holding a fresh key."""
    token = f"fwk_{secrets.token_hex(20)}".encode()
    path = tmp_path / "home" / ".fwtrack" / "credentials"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"http://server": "' + token + b'"}\n')
    return path, token


def _stored_anywhere(srv: Server, token: bytes) -> list[Path]:
    """Every file of the server's data directory (database, logs, blobs) holding `token`."""
    return [p for p in srv.data_dir.rglob("*") if p.is_file() and token in p.read_bytes()]


def _server_files(srv: Server, project: str, run_id: str) -> list[str]:
    return [f["path"] for f in srv.get(f"/runs/admin/{project}/{run_id}/files")["files"]]


def _offline_run(project: str) -> Path:
    run = fwtrack.init(
        project=project, mode="offline", settings={"capture_env": False, "save_code": False}
    )
    run.log({"loss": 1.0})
    run.finish()
    return Path(run.dir)


def _plant_links(run_dir: Path, secret: Path) -> None:
    """A regular file, and links to the secret, to its folder and to a file of the run."""
    files = run_dir / "files"
    files.mkdir(exist_ok=True)
    (files / "notes.txt").write_text("kept\n")
    (files / "creds.json").symlink_to(secret)
    (files / "home").symlink_to(secret.parent, target_is_directory=True)
    (files / "nested").mkdir()
    (files / "nested" / "key").symlink_to(secret)
    (files / "same-run.txt").symlink_to(files / "notes.txt")


LINKS = ["files/creds.json", "files/home", "files/nested/key", "files/same-run.txt"]


def test_sync_leaves_out_every_link_in_a_runs_files_with_one_warning_each(
    server: Server, tmp_path: Path
) -> None:
    secret, token = _secret(tmp_path)
    run_dir = _offline_run("linked-files")
    _plant_links(run_dir, secret)
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key)

    done = run_cli("sync", str(run_dir), "--base-url", server.url, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in LINKS:
        assert done.stderr.count(f"{run_dir / name} is a symbolic link") == 1, done.stderr
    assert "never follows links" in done.stderr
    assert _server_files(server, "linked-files", run_dir.name) == ["notes.txt"]
    assert _stored_anywhere(server, token) == []

    # A second sync neither sends the links nor repeats anything it already sent.
    again = run_cli("sync", str(run_dir), "--base-url", server.url, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _server_files(server, "linked-files", run_dir.name) == ["notes.txt"]
    assert _stored_anywhere(server, token) == []


def test_sync_leaves_out_a_files_folder_that_is_a_link(server: Server, tmp_path: Path) -> None:
    secret, token = _secret(tmp_path)
    run_dir = _offline_run("linked-folder")
    (run_dir / "files").symlink_to(secret.parent, target_is_directory=True)
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key)

    done = run_cli("sync", str(run_dir), "--base-url", server.url, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{run_dir / 'files'} is a symbolic link" in done.stderr
    assert _server_files(server, "linked-folder", run_dir.name) == []
    assert _stored_anywhere(server, token) == []


def test_sync_refuses_a_run_whose_log_is_a_link(server: Server, tmp_path: Path) -> None:
    # The link leads to a genuine run log outside the run directory: refused for being a
    # link, not for its content.
    elsewhere = _offline_run("elsewhere")
    run_dir = _offline_run("linked-log")
    outside = tmp_path / "outside" / "run.fwlog"
    outside.parent.mkdir()
    outside.write_bytes((elsewhere / "run.fwlog").read_bytes())
    (run_dir / "run.fwlog").unlink()
    (run_dir / "run.fwlog").symlink_to(outside)
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key)

    done = run_cli("sync", str(run_dir), "--base-url", server.url, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{run_dir / 'run.fwlog'} is a symbolic link" in done.stdout
    assert "hint:" in done.stdout
    assert "1 failed" in done.stdout
    status, _ = server.request(f"/runs/admin/linked-log/{run_dir.name}")
    assert status == 404
    status, _ = server.request(f"/runs/admin/elsewhere/{elsewhere.name}")
    assert status == 404


def test_an_online_run_uploads_no_link_among_its_files(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, token = _secret(tmp_path)
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    run = fwtrack.init(project="online-links", settings={"capture_env": False, "save_code": False})
    run.log({"loss": 1.0})
    run_dir = Path(run.dir)
    _plant_links(run_dir, secret)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.finish()
    messages = [str(w.message) for w in caught if issubclass(w.category, FwTrackWarning)]
    for name in LINKS:
        naming = [m for m in messages if f"{run_dir / name} is a symbolic link" in m]
        assert len(naming) == 1, messages
    assert _server_files(server, "online-links", run.id) == ["notes.txt"]
    assert _stored_anywhere(server, token) == []
