"""The `fwtrack` command line: `runs`, `show`, `export`, and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fwtrack
from fwtrack import _core
from fwtrack.api import Api
from fwtrack.cli import main

pytestmark = pytest.mark.usefixtures("tmp_dir")


def root() -> Path:
    return Path(os.environ["FWTRACK_DIR"])


def make_run(project: str = "p", rows: int = 5, **init: Any) -> str:
    run = fwtrack.init(project=project, config={"lr": 0.01, "model": {"depth": 3}}, **init)
    run.define_metric("acc", summary="max")
    for step in range(rows):
        data: dict[str, object] = {"train/loss": 1.0 / (step + 1), "phase": f"p{step % 2}"}
        if step % 2 == 0:
            data["acc"] = step / 10
        if step == rows - 1:
            data["w"] = np.arange(10.0)  # a histogram
        run.log(data)
    run_id = run.id
    run.finish()
    return run_id


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_runs_lists_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    first = make_run("alpha", name="first-run")
    second = make_run("beta", rows=3)

    status, out, err = cli(capsys, "runs")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID", "PROJECT", "NAME", "STATE", "CREATED", "RUNTIME", "STEP", "SUMMARY"
    ]  # fmt: skip
    assert lines[1].split()[:2] == [second, "beta"]  # newest first
    assert lines[2].split()[:4] == [first, "alpha", "first-run", "finished"]
    assert "train/loss=0.2" in lines[2]
    assert "acc.max=0.4" in lines[2]

    status, out, _ = cli(capsys, "runs", "--project", "beta")
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == [second]

    status, out, _ = cli(capsys, "runs", "--project", "gamma")
    assert status == 0
    assert "no runs" in out


def test_dir_option_beats_the_environment(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run_id = make_run("p")
    empty = tmp_path / "empty"
    status, out, _ = cli(capsys, "runs", "--dir", str(empty))
    assert status == 0
    assert "no runs" in out
    status, out, _ = cli(capsys, "--dir", str(root()), "show", run_id)
    assert status == 0
    assert run_id in out
    status, _, err = cli(capsys, "show", run_id, "--dir", str(empty))
    assert status == 1
    assert "does not exist" in err


def test_show_prints_info_config_summary_and_history(capsys: pytest.CaptureFixture[str]) -> None:
    run_id = make_run("p", tags=["t1"])
    status, out, err = cli(capsys, "show", f"p/{run_id}")
    assert (status, err) == (0, "")
    assert f"p/{run_id}" in out
    assert "finished" in out
    assert "t1" in out
    assert "lr" in out
    assert "0.01" in out
    assert "model.depth" in out
    assert "acc.max" in out
    assert "5 row(s), steps 0..4, 3 metric(s)" in out
    assert "acc, phase, train/loss" in out or "train/loss" in out
    assert "histograms" in out
    assert "w" in out

    status, out, _ = cli(capsys, "show", run_id, "--json")
    assert status == 0
    doc = json.loads(out)
    assert doc["id"] == run_id
    assert doc["state"] == "finished"
    assert doc["exit_code"] == 0
    assert doc["config"] == {"lr": 0.01, "model": {"depth": 3}}
    assert doc["summary"]["acc"] == {"max": 0.4}
    assert doc["history"]["rows"] == 5
    assert sorted(doc["history"]["keys"]) == ["acc", "phase", "train/loss"]
    assert doc["history"]["histogram_keys"] == ["w"]


def test_export_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_id = make_run("p")
    out_path = tmp_path / "h.csv"
    status, _, err = cli(capsys, "export", run_id, "--format", "csv", "--out", str(out_path))
    assert status == 0
    assert "5 row(s)" in err
    expected = Api().run(run_id).history()
    got = pd.read_csv(out_path)
    assert list(got.columns) == list(expected.columns)
    assert got["train/loss"].tolist() == expected["train/loss"].tolist()
    assert got["_step"].tolist() == [0, 1, 2, 3, 4]

    status, _, _ = cli(capsys, "export", run_id, "--out", str(tmp_path / "k.csv"), "--keys", "acc")
    assert status == 0
    assert list(pd.read_csv(tmp_path / "k.csv").columns) == [
        "_step",
        "_timestamp",
        "_runtime",
        "acc",
    ]

    status, out, _ = cli(capsys, "export", run_id, "--format", "csv", "--out", "-")
    assert status == 0
    assert out.splitlines()[0].startswith("_step,_timestamp,_runtime")
    assert len(out.splitlines()) == 6


def test_export_parquet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    run_id = make_run("p")
    out_path = tmp_path / "h.parquet"
    status, _, _ = cli(capsys, "export", f"p/{run_id}", "--out", str(out_path))
    assert status == 0
    got = pd.read_parquet(out_path)
    expected = Api().run(run_id).history()
    assert list(got.columns) == list(expected.columns)
    assert got["train/loss"].tolist() == expected["train/loss"].tolist()
    assert got["phase"].tolist() == ["p0", "p1", "p0", "p1", "p0"]
    assert pq.read_schema(out_path).metadata[b"fwtrack.run"] == f"p/{run_id}".encode()


def test_export_parquet_without_pyarrow(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = make_run("p")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out_path = tmp_path / "h.parquet"
    status, _, err = cli(capsys, "export", run_id, "--format", "parquet", "--out", str(out_path))
    assert status == 1
    assert "pip install 'fwtrack[parquet]'" in err
    assert not out_path.exists()


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run_id = make_run("p")
    with pytest.raises(SystemExit) as excinfo:
        main(["export", run_id, "--out", str(tmp_path / "h.txt")])
    assert excinfo.value.code == 2
    assert "--format" in capsys.readouterr().err
    with pytest.raises(SystemExit) as excinfo:
        main(["export", run_id, "--format", "parquet", "--out", "-"])
    assert excinfo.value.code == 2
    with pytest.raises(SystemExit) as excinfo:
        main([])
    assert excinfo.value.code == 2


def test_errors_are_one_line_without_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    make_run("p")
    status, out, err = cli(capsys, "show", "p/nope")
    assert status == 1
    assert out == ""
    assert err.startswith("fwtrack: error: no run 'p/nope'")
    assert "fwtrack runs" in err

    bad = root() / "p" / "broken"
    bad.mkdir()
    (bad / _core.LOG_FILE_NAME).write_bytes(b"\x00" * 64)
    status, _, err = cli(capsys, "show", "p/broken")
    assert status == 1
    assert str(bad / _core.LOG_FILE_NAME) in err

    status, out, err = cli(capsys, "runs")
    assert status == 0
    assert "fwtrack: warning: skipping" in err
    assert "broken" in err
    assert "broken" not in out


def test_python_dash_m_and_the_console_script() -> None:
    run_id = make_run("p")
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo / "python")}
    ok = subprocess.run(
        [sys.executable, "-m", "fwtrack", "show", run_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert run_id in ok.stdout

    missing = subprocess.run(
        [sys.executable, "-m", "fwtrack", "show", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr
    assert missing.stderr.startswith("fwtrack: error: no run 'nope'")

    script = Path(sys.executable).parent / "fwtrack"  # installed by `make build`
    listed = subprocess.run(
        [str(script), "runs"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout
