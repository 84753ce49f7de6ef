"""The server's files on disk are private: its data directory `0700`, its SQLite database and
the database's `-wal`, `-shm` and `.lock` files `0600` (they hold key and password hashes),
whatever the umask; a data directory left looser by an older version is tightened at start."""

from __future__ import annotations

import os
import stat
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import ServerProcess, Ui

DB_FILES = ("fwtrack.db", "fwtrack.db-wal", "fwtrack.db-shm", "fwtrack.db.lock")


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Umask 000 for the processes the test starts: modes come from the server alone."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_data_dir_and_database_are_private_under_any_umask(
    server_factory: Callable[..., ServerProcess], tmp_path: Path, open_umask: None
) -> None:
    data = tmp_path / "srv" / "data"  # neither exists yet: the server makes both
    # The harness makes its --data dir itself; a later --data names the one the server uses.
    srv = server_factory(data_dir=tmp_path / "harness", extra_args=["--data", str(data)])
    assert srv.proc is not None
    assert srv.proc.poll() is None
    assert mode(data) == "0o700"
    assert mode(data.parent) == "0o700"
    assert mode(data / "store") == "0o700"
    for name in DB_FILES:
        assert mode(data / name) == "0o600", name
    # The server works in its private directory.
    req = urllib.request.Request(f"{srv.url}/api/v1/viewer", headers=srv.headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def test_an_older_looser_data_dir_is_tightened_at_start(
    server_factory: Callable[..., ServerProcess], tmp_path: Path, open_umask: None
) -> None:
    srv = server_factory()
    srv.stop()
    # What an older version left: 0755 directories, a 0644 database.
    os.chmod(srv.data_dir, 0o755)
    os.chmod(srv.data_dir / "store", 0o755)
    for name in DB_FILES:
        if (srv.data_dir / name).exists():
            os.chmod(srv.data_dir / name, 0o644)
    srv.start()
    assert mode(srv.data_dir) == "0o700"
    assert mode(srv.data_dir / "store") == "0o700"
    for name in DB_FILES:
        assert mode(srv.data_dir / name) == "0o600", name
    # It says what it changed.
    assert f"{srv.data_dir} was mode 755; set it to 700" in srv.log_text()


def test_the_ui_keeps_its_database_private(open_umask: None, ui: Ui, tmp_path: Path) -> None:
    state = tmp_path / "fwtrack" / ".fwtrack-ui"
    assert mode(state) == "0o700"
    for name in DB_FILES:
        assert mode(state / name) == "0o600", name
