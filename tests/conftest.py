"""Shared fixtures: an isolated run directory, a clean environment, real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Tiny models train fastest on one thread, and two cores shared by several processes
# (subprocess tests, DataLoader workers) slow down sharply when each spins up a thread pool.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import fwtrack
from fwserver import Server
from seaweed import Seaweed, seaweed_running

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No `FWTRACK_*` variable leaks into a test, stored credentials and caches of the machine
    are out of reach, and no test leaves a run open."""
    for name in list(os.environ):
        if name.startswith("FWTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FWTRACK_CONFIG_DIR", str(tmp_path / ".fwtrack-config"))
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(tmp_path / ".fwtrack-cache"))
    yield
    fwtrack.finish()


@pytest.fixture
def tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in `tmp_path` with `FWTRACK_DIR=<tmp_path>/fwtrack`; returns `tmp_path`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FWTRACK_DIR", str(tmp_path / "fwtrack"))
    return tmp_path


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real `fwtrack server` process (tests/fwserver.py) shared by the tests of one module.

    tests/server/ and test_api_remote.py define their own `server`, which takes precedence.
    """
    srv = Server(tmp_path_factory.mktemp(request.module.__name__) / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def seaweed() -> Iterator[Seaweed]:
    """A real S3-compatible object store (SeaweedFS `weed mini`, tests/seaweed.py) for the whole
    session (one per xdist worker); stopped at the end, even on failure. Tests take a fresh
    bucket each with `seaweed.new_bucket()`."""
    with seaweed_running() as store:
        yield store


@pytest.fixture
def client_dirs(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tmp_dir`, with credentials in `<tmp_path>/config` (none from the home directory): a
    client of `server`. `fwserver.client_env(tmp_path)` gives a CLI child process the same."""
    monkeypatch.setenv("FWTRACK_CONFIG_DIR", str(tmp_dir / "config"))
    return tmp_dir


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """An empty `files/` directory, where media payloads are stored (`<files>/media/...`)."""
    d = tmp_path / "files"
    d.mkdir()
    return d


def fetcher(files_dir: Path, calls: list[str] | None = None) -> Callable[[str], bytes]:
    """A media `fetch` reading from `files_dir`, recording each path in `calls` when given."""

    def fetch(path: str) -> bytes:
        if calls is not None:
            calls.append(path)
        return (files_dir / path).read_bytes()

    return fetch


ScriptRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_script(tmp_path: Path) -> ScriptRunner:
    """Run Python source in a fresh interpreter (cwd `tmp_path`, `FWTRACK_DIR` under it).

    A hang fails through `subprocess.TimeoutExpired`. Extra keyword arguments become
    environment variables.
    """

    def run(
        source: str, *, timeout: float = 60, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
        full_env["FWTRACK_DIR"] = str(tmp_path / "fwtrack")
        full_env["FWTRACK_CONFIG_DIR"] = str(tmp_path / ".fwtrack-config")
        full_env["FWTRACK_CACHE_DIR"] = str(tmp_path / ".fwtrack-cache")
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
        )
        full_env.update(env)
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(source)],
            cwd=tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"script exited with {proc.returncode}\n--- stdout\n{proc.stdout}"
                f"\n--- stderr\n{proc.stderr}"
            )
        return proc

    return run
