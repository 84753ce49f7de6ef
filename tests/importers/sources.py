"""Real source data for the importer tests: the programs in programs/ run in fresh
interpreters (real wandb offline, torch's SummaryWriter, tf.summary, MLflow stores)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROGRAMS = Path(__file__).resolve().parent / "programs"


def source_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a source program: no FWTRACK_*, W&B offline and kept under `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FWTRACK_", "WANDB_"))}
    env.update(
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DATA_DIR=str(tmp / "wandb-data"),
        WANDB_CACHE_DIR=str(tmp / "wandb-cache"),
        WANDB_CONFIG_DIR=str(tmp / "wandb-config"),
        MLFLOW_ALLOW_FILE_STORE="true",
        TF_CPP_MIN_LOG_LEVEL="3",
        OMP_NUM_THREADS="1",
        **extra,
    )
    return env


def run_program(name: str, *args: str, tmp: Path, timeout: float = 600) -> Any:
    """Run programs/<name> with `args`; the JSON of its last stdout line (None without)."""
    proc = subprocess.run(
        [sys.executable, str(PROGRAMS / name), *args],
        cwd=tmp,
        env=source_env(tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None


def run_cli(*args: str, tmp: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """`python -m fwtrack ARGS` in a fresh interpreter (no server configured)."""
    env = source_env(tmp, FWTRACK_CONFIG_DIR=str(tmp / "fwtrack-config"))
    return subprocess.run(
        [sys.executable, "-m", "fwtrack", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
