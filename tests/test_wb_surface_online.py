"""The run surface against a real `fwtrack server` process (issue 17): `run.url` and
`run.entity` of an online run, `fwtrack.login()` with wandb's arguments, and `fwtrack sync
PATH --all` taking the runs under PATH (not ./fwtrack).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import fwtrack
from fwserver import Server, client_env, run_cli
from fwtrack import credentials
from fwtrack.sdk.login import LoginError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]

QUIET = {"console": False, "system_interval": 0}


def test_an_online_runs_url_is_its_page_on_the_server(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    run = fwtrack.init(project="urls", settings=QUIET)
    assert run.mode == "online"
    run.log({"x": 1})
    run.finish()
    assert run.entity == "admin"  # the key's user, as the server answered
    assert run.url == f"{server.url}/#/p/admin/urls/r/{run.id}"
    assert run.project_url == f"{server.url}/#/p/admin/urls"
    assert run.path == f"admin/urls/{run.id}"
    back = fwtrack.Api(base_url=server.url, api_key=server.key).run(run.path)
    assert back.id == run.id


def test_login_with_wandbs_arguments(server: Server) -> None:
    assert fwtrack.login(host=server.url, key=server.key) is True
    assert credentials.lookup(server.url) == server.key
    assert credentials.default_url() == server.url
    # A key is known for the default server now: nothing to ask for.
    assert fwtrack.login() is True
    with pytest.raises(LoginError, match="refused the key"):
        fwtrack.login(host=server.url, key="not-a-key", relogin=True)


def test_sync_path_all_takes_the_runs_under_path(server: Server, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    ids = []
    for _ in range(2):
        run = fwtrack.init(project="syncall", dir=elsewhere, mode="offline", settings=QUIET)
        run.log({"loss": 1.0})
        run.finish()
        ids.append(run.id)
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key)
    assert not (tmp_path / "fwtrack").exists()  # ./fwtrack of the child: nothing there
    synced = run_cli("sync", str(elsewhere), "--all", "--base-url", server.url, env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "2 uploaded, 0 already up to date, 0 failed" in synced.stdout
    for run_id in ids:
        assert server.get(f"/runs/admin/syncall/{run_id}")["state"] == "finished"
    # Without PATH, --all still means every run under --dir / FWTRACK_DIR.
    env["FWTRACK_DIR"] = str(elsewhere)
    again = run_cli("sync", "--all", "--base-url", server.url, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 uploaded, 2 already up to date, 0 failed" in again.stdout
