"""docs/env.md is generated from the declarations in fwtrack.sdk.settings and
fwtrack.server.env."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fwtrack.sdk.settings import ENV_VARS, render_env_docs

REPO = Path(__file__).resolve().parent.parent
REGENERATE = "python -m fwtrack.sdk.envdocs > docs/env.md"


def test_env_docs_are_in_sync() -> None:
    committed = (REPO / "docs" / "env.md").read_text(encoding="utf-8")
    assert committed == render_env_docs(), f"docs/env.md is stale; regenerate it: {REGENERATE}"


def test_regenerate_command_prints_the_docs() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    out = subprocess.run(
        [sys.executable, "-W", "error", "-m", "fwtrack.sdk.envdocs"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    assert out.stdout == render_env_docs()


def test_docs_need_none_of_the_server_dependencies() -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    program = REPO / "tests" / "programs" / "envdocs_without_server.py"
    out = subprocess.run(
        [sys.executable, "-W", "error", str(program)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == render_env_docs()
    assert "| `FWTRACK_SERVER_DATA` |" in out.stdout


def test_every_variable_is_declared_once_and_documented() -> None:
    names = [v.name for v in ENV_VARS]
    assert len(names) == len(set(names))
    assert set(names) >= {
        "FWTRACK_DIR",
        "FWTRACK_MODE",
        "FWTRACK_PROJECT",
        "FWTRACK_RUN_ID",
        "FWTRACK_NAME",
        "FWTRACK_TAGS",
        "FWTRACK_FLUSH_INTERVAL",
    }
    for var in ENV_VARS:
        assert var.name.startswith("FWTRACK_")
        assert var.doc.strip()


def test_every_variable_used_in_the_package_is_declared() -> None:
    declared = {v.name for v in ENV_VARS}
    used: set[str] = set()
    for path in (REPO / "python" / "fwtrack").rglob("*.py"):
        used |= set(re.findall(r"[\"'](FWTRACK_[A-Z0-9_]+)[\"']", path.read_text()))
    assert used <= declared
