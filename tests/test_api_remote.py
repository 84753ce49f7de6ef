"""`fwtrack.Api(base_url=...)` against a real `python -m fwtrack server`: the same runs read
locally and through the server give the same objects, fields, DataFrames and histograms."""

from __future__ import annotations

import math
import os
import secrets
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fwtrack
from fwtrack import _core, credentials
from fwtrack._http import HttpClient
from fwtrack.api import (
    AmbiguousRunError,
    Api,
    AuthenticationError,
    MissingApiKeyError,
    NotFoundError,
    PermissionDeniedError,
    Project,
    Run,
    RunNotFoundError,
    ServerConnectionError,
)

REPO = Path(__file__).resolve().parent.parent
_BASE62 = string.ascii_letters + string.digits


# -- a real server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _new_key() -> str:
    return "fwk_" + "".join(secrets.choice(_BASE62) for _ in range(40))


class Server:
    """`python -m fwtrack server` on a free port with SQLite in `data`, admin key seeded."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_key = _new_key()
        self.log_path = data.parent / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
        env["FWTRACK_SERVER_ADMIN_KEY"] = self.admin_key
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
        )
        data.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "fwtrack", "server", "--host", "127.0.0.1"),
                    *("--port", str(self.port), "--data", str(data)),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=data.parent,
                start_new_session=True,
            )
        self._wait_healthy(timeout=60)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited during start:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer /api/v1/health in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)

    def client(self, key: str | None) -> HttpClient:
        return HttpClient(self.url, key, timeout=30)

    def new_user(self, name: str) -> str:
        """Create a user; returns its API key."""
        answer = self.client(self.admin_key).post_json("/users", {"name": name})
        key = answer.get("api_key") or answer.get("key", {}).get("api_key")
        assert isinstance(key, str), answer
        return key


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("server") / "data")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def alice(server: Server) -> str:
    return server.new_user("alice")


@pytest.fixture(scope="module")
def bob(server: Server) -> str:
    return server.new_user("bob")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Remote logs are mirrored under the test's own directory."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(cache))
    return cache


def upload(server: Server, key: str, run_dir: Path, entity: str, project: str) -> int:
    """POST what the server does not have yet of a run log (whole frames, as written after a
    flush); returns the server's offset."""
    client = server.client(key)
    path = f"/runs/{entity}/{project}/{run_dir.name}/log"
    try:
        offset = int(client.get_json(f"{path}/offset")["offset"])
    except NotFoundError:
        offset = 0
    data = (run_dir / _core.LOG_FILE_NAME).read_bytes()
    answer = client.request(
        "POST",
        path,
        params={"offset": offset},
        body=data[offset:],
        headers={"Content-Type": "application/octet-stream"},
    ).json()
    assert answer["offset"] == len(data), answer
    return int(answer["offset"])


# -- runs to compare -----------------------------------------------------------------------


def log_runs(root: Path) -> list[str]:
    """Three finished runs (and a failed one) of project `cmp` under `root`; returns ids."""
    ids = []
    run = fwtrack.init(
        project="cmp",
        dir=str(root),
        name="rich",
        config={"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}},
        tags=["baseline", "cpu"],
        notes="a note",
        group="g1",
        job_type="train",
    )
    rng = np.random.default_rng(0)
    for step in range(300):
        data: dict[str, Any] = {
            "train/loss": 1.0 / (step + 1),
            "phase": "warm" if step < 9 else "main",
        }
        if step % 3 == 0:
            data["eval/acc"] = step / 300
        if step == 7:
            data["train/loss"] = math.nan
        if step == 299:
            data["grad_norm"] = math.inf
            data["eval/nan"] = math.nan
        if step % 50 == 0:
            data["weights"] = rng.normal(size=1000)
            data["grads"] = fwtrack.Histogram(rng.uniform(size=500), num_bins=16)
        run.log(data)
    run.define_metric("eval/acc", summary="max")
    run.summary["best"] = 3
    ids.append(run.id)
    run.finish()

    run = fwtrack.init(project="cmp", dir=str(root), config={"seed": 1})
    for step in range(0, 100, 10):
        run.log({"x": float(step)}, step=step)
    ids.append(run.id)
    run.finish(exit_code=3)

    run = fwtrack.init(project="cmp", dir=str(root))
    ids.append(run.id)
    run.finish()
    return ids


def _same(a: Any, b: Any) -> bool:
    """Equality with NaN equal to NaN, through dicts and lists."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def assert_same_run(local: Run, remote: Run) -> None:
    for field in (
        "id", "project", "name", "tags", "notes", "group", "job_type", "state", "exit_code",
        "last_step", "row_count", "tail_error", "starts", "metrics",
    ):  # fmt: skip
        assert _same(getattr(local, field), getattr(remote, field)), field
    for field in ("config", "summary", "metadata"):
        assert _same(getattr(local, field), getattr(remote, field)), field
    assert remote.created_at == local.created_at
    assert remote.runtime == pytest.approx(local.runtime)

    pd.testing.assert_frame_equal(local.history(), remote.history())
    keys = ["eval/acc", "never-logged", "train/loss"]
    pd.testing.assert_frame_equal(local.history(keys=keys), remote.history(keys=keys))
    assert _same(list(local.scan_history()), list(remote.scan_history()))

    assert local.histogram_keys() == remote.histogram_keys()
    for key in local.histogram_keys():
        mine, theirs = local.histograms(key), remote.histograms(key)
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs, strict=True):
            assert (a.step, a.nan_count, a.pos_inf_count, a.neg_inf_count) == (
                b.step, b.nan_count, b.pos_inf_count, b.neg_inf_count,
            )  # fmt: skip
            np.testing.assert_array_equal(a.counts, b.counts)
            np.testing.assert_array_equal(a.edges, b.edges)
    # The mirrored log is the client's log, byte for byte.
    assert remote.log_path.read_bytes() == local.log_path.read_bytes()


# -- tests ---------------------------------------------------------------------------------


def test_remote_runs_read_the_same_as_local(
    server: Server, alice: str, tmp_path: Path, cache: Path
) -> None:
    root = tmp_path / "runs"
    ids = log_runs(root)
    for run_id in ids:
        upload(server, alice, root / "cmp" / run_id, "alice", "cmp")
        files = _core.Uploader(server.url, alice, "cmp", run_id, str(root / "cmp" / run_id))
        assert files.finish(60)["files_done"]

    local, remote = Api(root), Api(base_url=server.url, api_key=alice)
    assert repr(remote) == f"Api(base_url={server.url!r})"
    assert remote.base_url == server.url
    assert local.base_url is None

    projects = remote.projects()
    assert [str(p) for p in projects] == ["alice/cmp"]
    assert isinstance(projects[0], Project)
    assert (projects[0].entity, projects[0].name, projects[0].run_count) == ("alice", "cmp", 3)

    local_runs, remote_runs = local.runs("cmp"), remote.runs("alice/cmp")
    assert [r.id for r in remote_runs] == [r.id for r in local_runs]
    assert [r.id for r in remote.runs("cmp")] == [r.id for r in local_runs]  # own entity
    assert [r.id for r in remote.runs(projects[0])] == [r.id for r in local_runs]
    assert [r.id for r in remote.runs()] == [r.id for r in local_runs]
    for lr, rr in zip(local_runs, remote_runs, strict=True):
        assert isinstance(rr, Run)
        assert_same_run(lr, rr)
    assert {r.state for r in remote_runs} == {"finished", "failed"}

    rich = remote.run(f"alice/cmp/{ids[0]}")
    assert rich.path == f"alice/cmp/{ids[0]}"
    assert rich.dir == cache / f"127.0.0.1_{server.port}" / "alice" / "cmp" / ids[0]
    assert rich.summary["best"] == 3
    assert rich.summary["eval/acc"] == {"max": pytest.approx(297 / 300)}
    assert remote.run(f"cmp/{ids[0]}") == rich
    assert remote.run(ids[0]) == rich
    assert rich in set(remote_runs)
    assert ids[0] in repr(rich)
    assert server.url in repr(rich)


def test_online_run_reads_the_same_through_the_server(
    server: Server, alice: str, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    settings = fwtrack.Settings(base_url=server.url, api_key=alice)
    run = fwtrack.init(
        project="online", dir=str(root), mode="online", settings=settings, config={"k": 2}
    )
    for step in range(500):
        run.log({"loss": 1.0 / (step + 1), "hist": np.arange(step % 7 + 2)})
    run.finish()  # waits for the upload

    remote = Api(base_url=server.url, api_key=alice).run(f"alice/online/{run.id}")
    assert_same_run(Api(root).run(f"online/{run.id}"), remote)


def test_listing_downloads_no_log(server: Server, alice: str, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = fwtrack.init(project="list", dir=str(root), config={"a": 1})
    run.log({"loss": 1.0})
    run.finish()
    upload(server, alice, root / "list" / run.id, "alice", "list")

    (listed,) = Api(base_url=server.url, api_key=alice).runs("list")
    assert (listed.id, listed.name, listed.config, listed.state) == (
        run.id, run.name, {"a": 1}, "finished",
    )  # fmt: skip
    assert listed.summary == {"loss": 1.0}
    assert not listed.log_path.exists()  # fields came from the JSON API
    assert len(listed.history()) == 1
    assert listed.log_path.exists()


def test_growing_run_fetches_only_new_bytes(server: Server, alice: str, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = fwtrack.init(project="grow", dir=str(root))
    run_dir = root / "grow" / run.id
    for step in range(100):
        run.log({"loss": float(step)})
    run.flush()
    upload(server, alice, run_dir, "alice", "grow")

    remote = Api(base_url=server.url, api_key=alice).run(f"alice/grow/{run.id}")
    assert remote.state == "running"
    assert len(remote.history()) == 100
    mirror = remote.log_path
    first = mirror.stat()
    assert first.st_size == (run_dir / _core.LOG_FILE_NAME).stat().st_size

    assert len(remote.history()) == 100  # nothing new: the mirror is left alone
    assert mirror.stat().st_mtime_ns == first.st_mtime_ns

    for step in range(100, 250):
        run.log({"loss": float(step), "acc": 0.5})
    run.flush()
    upload(server, alice, run_dir, "alice", "grow")
    df = remote.history()
    assert len(df) == 250
    assert df["loss"].tolist() == [float(s) for s in range(250)]
    grown = mirror.stat()
    assert grown.st_ino == first.st_ino  # appended in place, not downloaded again
    assert mirror.read_bytes() == (run_dir / _core.LOG_FILE_NAME).read_bytes()
    assert remote.summary["loss"] == 249.0  # fields refreshed with the new bytes
    assert remote.last_step == 249

    run.finish()
    upload(server, alice, run_dir, "alice", "grow")
    assert remote.state == "running"  # the fields are those of the last answer ...
    remote.refresh()
    assert (remote.state, remote.exit_code) == ("finished", 0)  # ... until refreshed
    pd.testing.assert_frame_equal(Api(root).run(f"grow/{run.id}").history(), remote.history())


def test_a_mirror_of_another_log_is_replaced(server: Server, alice: str, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = fwtrack.init(project="swap", dir=str(root))
    run.log({"loss": 1.0})
    run.finish()
    upload(server, alice, root / "swap" / run.id, "alice", "swap")
    remote = Api(base_url=server.url, api_key=alice).run(f"swap/{run.id}")
    # A longer stale mirror (as left by a deleted run of the same id) is fetched again.
    remote.dir.mkdir(parents=True)
    remote.log_path.write_bytes(b"x" * (remote.log_size + 100))
    pd.testing.assert_frame_equal(Api(root).run(f"swap/{run.id}").history(), remote.history())


def test_errors_name_the_problem_and_the_fix(
    server: Server, alice: str, bob: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "runs"
    run = fwtrack.init(project="private", dir=str(root))
    run.finish()
    upload(server, alice, root / "private" / run.id, "alice", "private")

    with pytest.raises(AuthenticationError, match=f"fwtrack login {server.url}") as auth:
        Api(base_url=server.url, api_key=_new_key()).projects()
    assert auth.value.status == 401

    as_bob = Api(base_url=server.url, api_key=bob)
    with pytest.raises(PermissionDeniedError, match="not a member") as denied:
        as_bob.runs("alice/private")
    assert denied.value.status == 403
    assert denied.value.detail  # the server's own explanation is kept
    with pytest.raises(PermissionDeniedError):
        as_bob.run(f"alice/private/{run.id}")
    assert as_bob.projects() == []

    as_alice = Api(base_url=server.url, api_key=alice)
    with pytest.raises(NotFoundError, match="hint: ") as missing:
        as_alice.run("alice/private/nope")
    assert missing.value.status == 404
    assert isinstance(missing.value, RunNotFoundError)  # caught like a missing local run
    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        as_alice.run("nope")
    with pytest.raises(ValueError, match="invalid run id"):
        as_alice.run("alice/private/bad id")

    monkeypatch.setenv("FWTRACK_CONFIG_DIR", str(tmp_path / "config"))
    with pytest.raises(MissingApiKeyError, match=f"fwtrack login {server.url}"):
        Api(base_url=server.url)
    dead = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ServerConnectionError, match="is the server running") as down:
        Api(base_url=dead, api_key=alice, timeout=5).projects()
    assert isinstance(down.value, ConnectionError)


def test_ambiguous_bare_id(server: Server, tmp_path: Path) -> None:
    key = server.new_user("carol")
    root = tmp_path / "runs"
    for project in ("one", "two"):
        run = fwtrack.init(project=project, dir=str(root), id="same")
        run.finish()
        upload(server, key, root / project / "same", "carol", project)
    with pytest.raises(AmbiguousRunError, match="carol/one/same, carol/two/same"):
        Api(base_url=server.url, api_key=key).run("same")


def test_environment_chooses_the_server(
    server: Server, alice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url + "/")
    monkeypatch.setenv("FWTRACK_API_KEY", alice)
    api = Api()
    assert api.base_url == server.url
    assert all(p.entity == "alice" for p in api.projects())
    assert Api(tmp_path).base_url is None  # a directory wins over the environment

    with pytest.raises(ValueError, match="not both"):
        Api(tmp_path, base_url=server.url)
    with pytest.raises(ValueError, match="pass base_url"):
        Api(tmp_path, api_key=alice)
    with pytest.raises(ValueError, match="not a server address"):
        Api(base_url="localhost:8080", api_key=alice)


def test_key_stored_by_fwtrack_login(
    server: Server, alice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FWTRACK_CONFIG_DIR", str(tmp_path / "config"))
    credentials.save(server.url + "/api/v1/", alice)
    assert Api(base_url=server.url).projects() == Api(base_url=server.url, api_key=alice).projects()
    # The environment beats the stored key, and the argument beats both.
    monkeypatch.setenv("FWTRACK_API_KEY", _new_key())
    with pytest.raises(AuthenticationError):
        Api(base_url=server.url).projects()
    Api(base_url=server.url, api_key=alice).projects()


def test_cache_dir_defaults_to_xdg_cache_home(
    server: Server, alice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FWTRACK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    api = Api(base_url=server.url, api_key=alice)
    assert api.dir == tmp_path / "xdg" / "fwtrack" / f"127.0.0.1_{server.port}"
