"""`fwtrack ui` never follows a symbolic link out of its run directory: a run whose `files/`
is a link (to a folder holding a secret), links among a run's files, a `run.fwlog` that is a
link, a run or project directory that is a link. Listings leave them out, downloads answer
404, a linked log is never indexed or served, and the secret's bytes never come back over
HTTP. Real runs on disk, a real `fwtrack ui` process."""

from __future__ import annotations

import json
import secrets
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import fwtrack

from .harness import Ui

PROJECT = "proj"


def offline_run(runs_dir: Path, project: str, run_id: str) -> Path:
    """A finished run written by the real SDK under `runs_dir/project/run_id`."""
    run = fwtrack.init(
        project=project,
        id=run_id,
        dir=str(runs_dir),
        mode="offline",
        settings={"capture_env": False, "save_code": False},
    )
    run.log({"loss": 0.5})
    run.finish()
    return Path(run.dir)


@dataclass
class Browsed:
    """The ui, and every body it answered (to check the secret never came back)."""

    ui: Ui
    token: bytes
    bodies: list[bytes] = field(default_factory=list)

    def fetch(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.ui.url + path, timeout=10) as resp:
                status, body = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            with exc:
                status, body = exc.code, exc.read()
        self.bodies.append(body)
        return status, body

    def json(self, path: str) -> tuple[int, object]:
        status, body = self.fetch(path)
        return status, json.loads(body)

    def run_ids(self, project: str = PROJECT) -> list[str]:
        status, body = self.json(f"/runs/local/{project}")
        if status == 404:
            return []
        assert status == 200, body
        assert isinstance(body, dict)
        return [r["id"] for r in body["runs"]]

    def files(self, run_id: str) -> list[str]:
        status, body = self.json(f"/runs/local/{PROJECT}/{run_id}/files")
        assert status == 200, body
        assert isinstance(body, dict)
        return [f["path"] for f in body["files"]]

    def assert_not_found(self, *paths: str) -> None:
        for path in paths:
            status, _ = self.fetch(path)
            assert status == 404, path

    def assert_metadata_without_secret(self, run_id: str) -> None:
        """The run's metadata answers, without the linked `metadata.json`'s key."""
        status, metadata = self.json(f"/runs/local/{PROJECT}/{run_id}/metadata")
        assert status == 200
        assert isinstance(metadata, dict)
        assert "api_key" not in metadata


@pytest.fixture
def browsed(tmp_path: Path) -> Iterator[Browsed]:
    """Runs with links planted to a secret outside, browsed by a real `fwtrack ui` once its
    first scan is through (the last run in scan order is listed)."""
    token = f"fwk_{secrets.token_hex(20)}".encode()
    secret_dir = tmp_path / "home" / ".fwtrack"
    secret_dir.mkdir(parents=True)
    (secret_dir / "credentials").write_bytes(token + b"\n")
    (secret_dir / "metadata.json").write_bytes(b'{"api_key": "' + token + b'"}')

    runs_dir, outside = tmp_path / "fwtrack", tmp_path / "outside"
    # files/ is a link to the secret's folder
    run = offline_run(runs_dir, PROJECT, "files-linked")
    (run / "files").symlink_to(secret_dir, target_is_directory=True)
    # links among the run's files, beside a regular one
    run = offline_run(runs_dir, PROJECT, "file-links")
    files = run / "files"
    files.mkdir()
    (files / "notes.txt").write_text("kept\n")
    (files / "creds").symlink_to(secret_dir / "credentials")
    (files / "home").symlink_to(secret_dir, target_is_directory=True)
    (files / "same.txt").symlink_to(files / "notes.txt")
    (files / "metadata.json").symlink_to(secret_dir / "metadata.json")
    (files / "t.table.json").symlink_to(secret_dir / "credentials")
    # run.fwlog is a link to a genuine log outside
    genuine = offline_run(outside, "elsewhere", "genuine")
    run = offline_run(runs_dir, PROJECT, "log-linked")
    (run / "run.fwlog").unlink()
    (run / "run.fwlog").symlink_to(genuine / "run.fwlog")
    # a run directory, and a project directory, that are links to runs outside
    (runs_dir / PROJECT / "dir-linked").symlink_to(genuine, target_is_directory=True)
    (runs_dir / "linked-project").symlink_to(genuine.parent, target_is_directory=True)
    # a run with nothing linked, and the last run in scan order
    offline_run(runs_dir, PROJECT, "plain")
    offline_run(runs_dir, "zz-last", "last")

    ui = Ui(tmp_path, runs_dir)
    try:
        b = Browsed(ui, token)
        ui.wait_for("health", lambda: b.fetch("/health")[0] == 200)
        ui.wait_for("the first scan", lambda: b.run_ids("zz-last") == ["last"])
        yield b
        assert [body for body in b.bodies if token in body] == []
    finally:
        ui.stop()


def test_a_linked_files_folder_lists_nothing_and_serves_nothing(browsed: Browsed) -> None:
    assert "files-linked" in browsed.run_ids()
    assert browsed.files("files-linked") == []
    base = f"/runs/local/{PROJECT}/files-linked"
    browsed.assert_not_found(f"{base}/files/credentials", f"{base}/files/metadata.json")
    browsed.assert_metadata_without_secret("files-linked")


def test_links_among_a_runs_files_are_left_out_and_answer_404(browsed: Browsed) -> None:
    assert browsed.files("file-links") == ["notes.txt"]
    base = f"/runs/local/{PROJECT}/file-links"
    assert browsed.fetch(f"{base}/files/notes.txt") == (200, b"kept\n")
    linked = ("creds", "home/credentials", "same.txt", "metadata.json", "t.table.json")
    browsed.assert_not_found(
        *(f"{base}/files/{name}" for name in linked), f"{base}/table?path=t.table.json"
    )
    browsed.assert_metadata_without_secret("file-links")


def test_a_linked_log_run_dir_or_project_dir_is_never_indexed(browsed: Browsed) -> None:
    assert sorted(browsed.run_ids()) == ["file-links", "files-linked", "plain"]
    status, body = browsed.json("/projects")
    assert status == 200
    assert isinstance(body, dict)
    assert sorted(p["name"] for p in body["projects"]) == [PROJECT, "zz-last"]
    browsed.assert_not_found(
        *(
            f"/runs/local/{PROJECT}/{run_id}{tail}"
            for run_id in ("log-linked", "dir-linked")
            for tail in ("", "/log", "/files", "/media/keys", "/logs")
        ),
        "/runs/local/linked-project/genuine/log",
    )
    assert "is a symbolic link" in browsed.ui.out.read_text()


def test_a_log_swapped_for_a_link_stops_being_served_at_once(
    browsed: Browsed, tmp_path: Path
) -> None:
    base = f"/runs/local/{PROJECT}/plain"
    status, log = browsed.fetch(f"{base}/log")
    assert status == 200
    assert log.startswith(b"FWTRKLOG")
    run_dir = tmp_path / "fwtrack" / PROJECT / "plain"
    swapped = tmp_path / "outside" / "swapped.fwlog"
    shutil.copyfile(tmp_path / "home" / ".fwtrack" / "credentials", swapped)
    (run_dir / "run.fwlog").unlink()
    (run_dir / "run.fwlog").symlink_to(swapped)
    # Before the next scan notices: the log, and what is decoded from it, answer 404.
    tails = ("/log", "/histograms?key=loss", "/logs", "/media/keys", "/system")
    browsed.assert_not_found(*(base + tail for tail in tails))
    browsed.ui.wait_for("the run to be dropped", lambda: "plain" not in browsed.run_ids())
    assert browsed.fetch(base)[0] == 404
