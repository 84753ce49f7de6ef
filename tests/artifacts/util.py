"""Helpers of the artifact tests: quick runs, trees of files, reading a directory back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fwtrack

REPO = Path(__file__).resolve().parents[2]
PROGRAMS = REPO / "tests" / "programs"
QUIET = {"console": False, "system_interval": 0, "save_code": False, "capture_env": False}


def start(project: str = "p", **kwargs: object) -> fwtrack.Run:
    """An offline run without the capture threads (console, system metrics, snapshot)."""
    return fwtrack.init(project=project, mode="offline", settings=QUIET, **kwargs)  # type: ignore[arg-type]


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    """Create `files` (relative path → content) under `root`; returns `root`."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
    return root


def read_tree(root: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file under `root`: relative `/` path → bytes."""
    base = Path(root)
    return {
        p.relative_to(base).as_posix(): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def blob_files(fwtrack_dir: Path) -> set[str]:
    """The names of the blobs in the local registry's blob dir."""
    blobs = fwtrack_dir / ".artifacts" / "blobs"
    return {p.name for p in blobs.glob("??/*") if p.is_file()}


def program_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a test program: this checkout's package, the test's directories."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["FWTRACK_DIR"] = str(tmp_path / "fwtrack")
    env["FWTRACK_CONFIG_DIR"] = str(tmp_path / ".fwtrack-config")
    env["FWTRACK_CACHE_DIR"] = str(tmp_path / ".fwtrack-cache")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    return env


def spawn(
    tmp_path: Path, program: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `tests/programs/<program>` with `args` (its output piped); `env` adds variables."""
    return subprocess.Popen(
        [sys.executable, str(PROGRAMS / program), *args],
        cwd=tmp_path,
        env={**program_env(tmp_path), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
