"""`fwtrack login` against a real `fwtrack server` process: the key is checked, stored in a
0600 file and then used by online runs and `fwtrack sync`; a bad key is refused clearly."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import fwtrack
from fwserver import Server, client_env, free_port, new_key, run_cli
from fwtrack import credentials

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_checks_the_key_and_stores_it_owner_only(server: Server, tmp_path: Path) -> None:
    done = run_cli("login", server.url + "/", stdin=server.key + "\n", env=client_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Logged in to {server.url} as admin (admin)" in done.stdout
    path = tmp_path / "config" / "credentials.json"
    assert f"stored in {path}" in done.stdout
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    data = json.loads(path.read_text())
    assert data == {"default_url": server.url, "keys": {server.url: server.key}}
    assert credentials.lookup(server.url + "/api/v1") == server.key
    assert credentials.default_url() == server.url
    assert not [p.name for p in path.parent.iterdir() if p.name != "credentials.json"]


def test_a_bad_key_is_refused_with_a_clear_message(server: Server, tmp_path: Path) -> None:
    refused = run_cli("login", server.url, "--key", new_key(), env=client_env(tmp_path))
    assert refused.returncode == 1
    assert f"the server at {server.url} refused the key (401" in refused.stderr
    assert "hint:" in refused.stderr
    assert not (tmp_path / "config" / "credentials.json").exists()

    empty = run_cli("login", server.url, stdin="\n", env=client_env(tmp_path))
    assert empty.returncode == 1
    assert "the API key is empty" in empty.stderr

    down = run_cli(
        "login", f"http://127.0.0.1:{free_port()}", "--key", new_key(), env=client_env(tmp_path)
    )
    assert down.returncode == 1
    assert "is the server running" in down.stderr

    no_url = run_cli("login", "--key", new_key(), env=client_env(tmp_path))
    assert no_url.returncode == 1
    assert "name the server" in no_url.stderr


def test_the_stored_key_serves_online_runs_and_sync(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = run_cli("login", server.url, "--key", server.key, env=client_env(tmp_path))
    assert done.returncode == 0, done.stderr
    # mode="online" with nothing in the environment: the default server and its stored key.
    online = fwtrack.init(project="stored", mode="online")
    online.log({"loss": 1.0})
    online.finish()
    local = (Path(online.dir) / "run.fwlog").read_bytes()
    assert server.stored_log("admin", "stored", online.id) == local

    offline = fwtrack.init(project="stored", mode="offline")
    offline.log({"loss": 2.0})
    offline.finish()
    synced = run_cli("sync", "--all", env=client_env(tmp_path))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "1 uploaded, 1 already up to date" in synced.stdout
    local = (Path(offline.dir) / "run.fwlog").read_bytes()
    assert server.stored_log("admin", "stored", offline.id) == local


def test_credentials_file_is_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = credentials.save("http://example.test:1/", "fwk_one")
        credentials.save("http://other.test:2", "fwk_two", make_default=False)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert credentials.lookup("http://example.test:1") == "fwk_one"
    assert credentials.lookup("http://other.test:2/") == "fwk_two"
    assert credentials.default_url() == "http://example.test:1"
    assert credentials.lookup("http://unknown.test") is None
    assert "fwk_" not in repr(credentials.load())
    path.write_text("{not json")
    assert credentials.lookup("http://example.test:1") is None
    with pytest.raises(ValueError, match="fwtrack login"):
        credentials.load()
