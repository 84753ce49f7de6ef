"""fwtrack's build backend: maturin's, plus the dashboard.

The dashboard (`web/`, TypeScript) is built into `python/fwtrack/ui/dist`, which git ignores, so
a clone does not have it. Before maturin builds a wheel, an editable wheel or an sdist, this
backend builds it when `python/fwtrack/ui/dist/index.html` is missing: `npm ci` and
`npm run build` in `web/`, which needs Node.js >= 20 on PATH. Without Node.js the build stops
with one line naming the fix. A dashboard already built is used as it is (`make web` rebuilds a
stale one).

maturin puts the built dashboard into wheels and sdists (`include` in pyproject.toml); this
backend checks that it did. An sdist therefore carries the dashboard and no `web/` sources, and a
wheel built from it needs no Node.js.

`make build` does not come through here: it builds the dashboard with `make web` and the
extension with `maturin develop`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import maturin
from maturin import (
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

NODE_MIN = 20
"""The oldest Node.js major version that builds the dashboard (Vite 8)."""

DASHBOARD = "python/fwtrack/ui/dist"
"""Where `npm run build` in `web/` writes the dashboard, relative to the source tree."""

PACKAGED_INDEX = "fwtrack/ui/dist/index.html"
"""The dashboard's page inside a wheel (and, below the source tree's root, inside an sdist)."""

FIX = "or install fwtrack from a wheel or an sdist, which carry the built dashboard"


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 517: the dashboard when missing, then maturin's wheel, checked to carry it."""
    ensure_dashboard()
    name: str = maturin.build_wheel(wheel_directory, config_settings, metadata_directory)
    with zipfile.ZipFile(Path(wheel_directory) / name) as wheel:
        _check_carried(name, wheel.namelist())
    return name


def build_sdist(sdist_directory: str, config_settings: Mapping[str, Any] | None = None) -> str:
    """PEP 517: the dashboard when missing, then maturin's sdist, checked to carry it."""
    ensure_dashboard()
    name: str = maturin.build_sdist(sdist_directory, config_settings)
    with tarfile.open(Path(sdist_directory) / name) as sdist:
        # Members are `<name>-<version>/<path in the source tree>`.
        _check_carried(name, [m.partition("/")[2] for m in sdist.getnames()], "python/")
    return name


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 517: the dashboard when missing (the editable install serves it from the source
    tree), then maturin's editable wheel."""
    ensure_dashboard()
    name: str = maturin.build_editable(wheel_directory, config_settings, metadata_directory)
    return name


def ensure_dashboard(root: Path | None = None) -> None:
    """Build the dashboard in the source tree `root` (default: the working directory, as PEP
    517 runs hooks) when its `index.html` is missing; exit with one line on stderr when it
    cannot be built."""
    root = Path.cwd() if root is None else root
    if (root / DASHBOARD / "index.html").is_file():
        return
    missing = f"the fwtrack dashboard is not built ({DASHBOARD}/index.html is missing)"
    web = root / "web"
    if not (web / "package-lock.json").is_file():
        _fail(
            f"{missing} and this source tree has no web/ to build it from: build from a "
            f"clone of fwtrack with Node.js >= {NODE_MIN}, {FIX}"
        )
    node, npm = shutil.which("node"), shutil.which("npm")
    version = _node_version(node) if node else None
    if node is None or npm is None or version is None or version[0] < NODE_MIN:
        if node is None:
            found = "none on PATH"
        elif version is None:
            found = f"{node}, whose version could not be read"
        elif npm is None:
            found = f"Node.js {'.'.join(map(str, version))} but no npm on PATH"
        else:
            found = f"Node.js {'.'.join(map(str, version))}"
        _fail(
            f"{missing} and building it needs Node.js >= {NODE_MIN} with npm (found {found}): "
            f"install Node.js >= {NODE_MIN}, {FIX}"
        )
    print(f"Building the fwtrack dashboard in {web} (npm ci, npm run build)", flush=True)
    for command in (
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        [npm, "run", "build"],
    ):
        done = subprocess.run(command, cwd=web, check=False)
        if done.returncode != 0:
            _fail(
                f"`{' '.join(['npm', *command[1:]])}` in {web} exited with status "
                f"{done.returncode} (its output is above)"
            )
    if not (root / DASHBOARD / "index.html").is_file():
        _fail(f"`npm run build` in {web} finished but did not write {DASHBOARD}/index.html")


def _node_version(node: str) -> tuple[int, ...] | None:
    """`node --version` as numbers (`v20.11.1` -> (20, 11, 1)), None when unreadable."""
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)\S*", out.strip())
    return tuple(int(part) for part in match.groups()) if match else None


def _check_carried(archive: str, names: list[str], prefix: str = "") -> None:
    """Exit with one line when the archive's member `names` lack the dashboard's page."""
    if prefix + PACKAGED_INDEX not in names:
        _fail(
            f"{archive} lacks {prefix}{PACKAGED_INDEX}: maturin did not apply the `include` "
            "of pyproject.toml's [tool.maturin]"
        )


def _fail(message: str) -> NoReturn:
    """One line on stderr, exit status 1 (maturin's own hooks end the same way)."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    sys.exit(1)
