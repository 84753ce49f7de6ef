"""The package carries the dashboard, however it is built from a clean clone.

A clean clone of this checkout's HEAD has no built dashboard (`python/fwtrack/ui/dist` is
git-ignored) and no `target/`. From such clones, as a user would: `python -m build --sdist`,
`pip wheel .` and `pip install .`; each result goes into a fresh `python -m venv`, whose
`fwtrack ui` must serve the dashboard page and the hashed script it loads. The sdist is installed
with a `node` and an `npm` on PATH that fail the install if called: it carries the dashboard.
Building from a clone with too old a Node.js stops with one line naming the fix.

Commit first: the clones hold HEAD, not the working tree. The builds share npm's and pip's
caches and one CARGO_TARGET_DIR kept in the user's cache directory (`CARGO_TARGET`): only
fwtrack's own crates compile again, in every build and every later run (cargo names a
workspace crate's output by its path inside the workspace, so clones elsewhere reuse the same
files rather than add to them). Nothing is resolved unpinned: requirements/dev.txt constrains
every pip install, the build backend's maturin included (pip's isolated build environments read
PIP_CONSTRAINT too). `make test` runs this module beside the browser tests (`make packaging`),
not in the main pytest run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from server.harness import free_port, stop_process_group

REPO = Path(__file__).resolve().parent.parent
DIST = Path("python/fwtrack/ui/dist")
CONSTRAINTS = REPO / "requirements" / "dev.txt"
CARGO_TARGET = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "fwtrack-tests" / "target"
)
STEP_TIMEOUT = 900
"""Seconds one build or install may take (a cold Rust release build included)."""
SCRIPT = re.compile(r'<script[^>]*\ssrc="\./(assets/index-[A-Za-z0-9_-]{8,}\.js)"')


@dataclass
class Builds:
    """A scratch directory shared by the builds of this module, and their environment."""

    root: Path
    env: dict[str, str]

    def run(
        self, *cmd: str | Path, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`cmd` in `cwd`, its stdout and stderr together in `.stdout`."""
        return subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=env or self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )

    def ok(self, *cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
        """`run`, which must succeed; its output."""
        done = self.run(*cmd, cwd=cwd, env=env)
        assert done.returncode == 0, (
            f"`{' '.join(map(str, cmd))}` exited with {done.returncode}:\n{done.stdout[-6000:]}"
        )
        return done.stdout

    def clean_clone(self, name: str) -> Path:
        """A clone of the checkout's HEAD: no built dashboard, no node_modules, no target/."""
        dest = self.root / name
        self.ok("git", "clone", "--quiet", REPO, dest, cwd=self.root)
        for generated in (DIST, Path("web/node_modules"), Path("target")):
            assert not (dest / generated).exists(), f"{generated} in a clean clone"
        return dest

    def venv(self, name: str) -> Path:
        """A fresh `python -m venv`; its bin directory."""
        self.ok(sys.executable, "-m", "venv", self.root / name, cwd=self.root)
        return self.root / name / "bin"

    def shims(self, name: str, node_version: str | None = None) -> tuple[dict[str, str], Path]:
        """An environment whose `node` and `npm` only write their command line to a log (the
        second value) and fail; `node --version` answers `node_version` when given."""
        shims = self.root / name
        shims.mkdir()
        log = shims / "calls.log"
        for tool in ("node", "npm"):
            answer = ""
            if tool == "node" and node_version:
                answer = f'[ "$1" = --version ] && echo {node_version} && exit 0\n'
            (shims / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n{answer}exit 1\n')
            (shims / tool).chmod(0o755)
        return {**self.env, "PATH": f"{shims}{os.pathsep}{self.env['PATH']}"}, log


@pytest.fixture(scope="module")
def builds() -> Iterator[Builds]:
    """Scratch space (removed afterwards: the venvs and node_modules weigh GBs) and a user's
    environment: no variable or PATH entry from this checkout or its venv."""
    with tempfile.TemporaryDirectory(prefix="fwtrack-packaging-") as scratch:
        root = Path(scratch)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("FWTRACK_", "MATURIN_", "PYTHON", "PIP_CONSTRAINT"))
            and k not in {"VIRTUAL_ENV", "CARGO_TARGET_DIR"}
        }
        env["PATH"] = os.pathsep.join(
            p for p in env["PATH"].split(os.pathsep) if p and not Path(p).is_relative_to(REPO)
        )
        env["CARGO_TARGET_DIR"] = str(CARGO_TARGET)
        env["PIP_CONSTRAINT"] = str(CONSTRAINTS)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        yield Builds(root, env)


def _installed_dashboard(builds: Builds, bin_dir: Path) -> Path:
    """The `fwtrack/ui/dist` the venv imports, which must lie inside the venv."""
    out = builds.ok(
        bin_dir / "python",
        "-c",
        "import fwtrack, pathlib; print(pathlib.Path(fwtrack.__file__).resolve().parent)",
        cwd=builds.root,
    )
    package = Path(out.strip().splitlines()[-1])
    assert package.is_relative_to(bin_dir.parent), f"fwtrack imported from {package}"
    return package / "ui" / "dist"


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def assert_serves_dashboard(builds: Builds, bin_dir: Path) -> None:
    """`fwtrack ui` of the venv `bin_dir`, on an empty directory, answers `/` with the
    dashboard page and the hashed script that page loads with the installed file's bytes."""
    dashboard = _installed_dashboard(builds, bin_dir)
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=builds.root))
    port = free_port()
    out = runs.parent / f"{runs.name}-ui.out"
    with open(out, "wb") as fh:
        proc = subprocess.Popen(
            [bin_dir / "fwtrack", "ui", "--dir", runs, "--port", str(port)],
            cwd=runs,
            env=builds.env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"fwtrack ui exited:\n{out.read_text()}"
            try:
                status, kind, body = _get(base + "/")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, f"fwtrack ui never answered:\n{out.read_text()}"
                time.sleep(0.2)
        page = body.decode()
        assert status == 200
        assert kind.startswith("text/html")
        assert "not built" not in page, page
        assert '<div id="app">' in page, page
        match = SCRIPT.search(page)
        assert match, f"no hashed script in the page:\n{page}"
        status, kind, script = _get(f"{base}/{match[1]}")
        assert status == 200
        assert "javascript" in kind
        assert script == (dashboard / match[1]).read_bytes()
        # the report export's viewer, which an exported HTML file embeds
        for name in ("static-report.js", "static-report.css"):
            status, _, data = _get(f"{base}/{name}")
            assert status == 200, name
            assert data == (dashboard / name).read_bytes(), name
    finally:
        stop_process_group(proc, signal.SIGINT)


# --------------------------------------------------------------------------------------------
# Built and installed as a user does (minutes: each install compiles fwtrack's crates)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_building_from_a_clone_with_old_node_stops_with_one_line(builds: Builds) -> None:
    clone = builds.clean_clone("src-old-node")
    bin_dir = builds.venv("venv-old-node")
    env, calls = builds.shims("shims-old-node", node_version="v18.19.0")

    done = builds.run(
        bin_dir / "pip", "wheel", "--no-deps", "-w", builds.root / "none", ".", cwd=clone, env=env
    )

    assert done.returncode != 0
    said = [line.strip() for line in done.stdout.splitlines() if "Node.js >=" in line]
    assert said == [
        "error: the fwtrack dashboard is not built (python/fwtrack/ui/dist/index.html is "
        "missing) and building it needs Node.js >= 20 with npm (found Node.js 18.19.0): install "
        "Node.js >= 20, or install fwtrack from a wheel or an sdist, which carry the built "
        "dashboard"
    ], done.stdout
    assert calls.read_text() == "node --version\n"  # npm never ran
    assert "Compiling" not in done.stdout  # stopped before the Rust build


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_sdist_carries_the_dashboard_and_installs_without_node(builds: Builds) -> None:
    clone = builds.clean_clone("src-sdist")
    out = builds.root / "sdist"
    builds.ok(sys.executable, "-m", "build", "--sdist", "--outdir", out, ".", cwd=clone)
    (sdist,) = out.glob("fwtrack-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.partition("/")[2] for name in tar.getnames()}
    assert str(DIST / "index.html") in names
    assert str(DIST / "static-report.js") in names
    assert any(re.fullmatch(rf"{DIST}/assets/index-[\w-]{{8,}}\.js", n) for n in names)
    assert "build_backend/fwtrack_build.py" in names
    assert not any(name.startswith("web/") for name in names)

    bin_dir = builds.venv("venv-sdist")
    env, calls = builds.shims("shims-sdist")
    builds.ok(bin_dir / "pip", "install", "--quiet", f"{sdist}[server]", cwd=builds.root, env=env)

    assert not calls.exists(), f"installing the sdist ran {calls.read_text()}"
    assert_serves_dashboard(builds, bin_dir)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_wheel_from_a_clean_clone_carries_the_dashboard(builds: Builds) -> None:
    clone = builds.clean_clone("src-wheel")
    bin_dir = builds.venv("venv-wheel")
    out = builds.root / "wheel"
    builds.ok(bin_dir / "pip", "wheel", "--no-deps", "-w", out, ".", cwd=clone)
    (wheel,) = out.glob("fwtrack-*.whl")
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
    assert "fwtrack/ui/dist/index.html" in names
    assert "fwtrack/ui/dist/static-report.js" in names
    assert any(re.fullmatch(r"fwtrack/ui/dist/assets/index-[\w-]{8,}\.js", n) for n in names)

    builds.ok(bin_dir / "pip", "install", "--quiet", f"{wheel}[server]", cwd=builds.root)

    assert_serves_dashboard(builds, bin_dir)


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_pip_install_of_a_clean_clone_serves_the_dashboard(builds: Builds) -> None:
    clone = builds.clean_clone("src-install")
    bin_dir = builds.venv("venv-install")

    builds.ok(bin_dir / "pip", "install", "--quiet", ".[server]", cwd=clone)

    assert_serves_dashboard(builds, bin_dir)


# --------------------------------------------------------------------------------------------
# The build backend's decision, in process (no Node.js on PATH at all)


def _backend() -> ModuleType:
    path = REPO / "build_backend" / "fwtrack_build.py"
    spec = importlib.util.spec_from_file_location("fwtrack_build", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds one empty directory; returns a source tree root under `tmp_path`."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / "src").mkdir()
    return tmp_path / "src"


def test_a_built_dashboard_is_used_without_node(no_node: Path) -> None:
    (no_node / DIST).mkdir(parents=True)
    (no_node / DIST / "index.html").write_text("<!doctype html>")
    (no_node / "web").mkdir()
    (no_node / "web" / "package-lock.json").write_text("{}")

    _backend().ensure_dashboard(no_node)  # returns: nothing to build, Node.js not needed


def test_without_node_the_build_stops_with_one_line(
    no_node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (no_node / "web").mkdir()
    (no_node / "web" / "package-lock.json").write_text("{}")

    with pytest.raises(SystemExit) as stopped:
        _backend().ensure_dashboard(no_node)

    assert stopped.value.code == 1
    assert capsys.readouterr().err == (
        "error: the fwtrack dashboard is not built (python/fwtrack/ui/dist/index.html is missing) "
        "and building it needs Node.js >= 20 with npm (found none on PATH): install Node.js >= 20, "
        "or install fwtrack from a wheel or an sdist, which carry the built dashboard\n"
    )
    assert not (no_node / DIST).exists()


def test_without_web_sources_the_build_stops_with_one_line(
    no_node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        _backend().ensure_dashboard(no_node)

    assert stopped.value.code == 1
    assert capsys.readouterr().err == (
        "error: the fwtrack dashboard is not built (python/fwtrack/ui/dist/index.html is missing) "
        "and this source tree has no web/ to build it from: build from a clone of fwtrack with "
        "Node.js >= 20, or install fwtrack from a wheel or an sdist, which carry the built "
        "dashboard\n"
    )
