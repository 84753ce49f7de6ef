"""`import_wandb` / `fwtrack import wandb` on a real W&B offline run (a tiny torch loop)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sources import run_cli, run_program

from fwtrack import _core
from fwtrack.api import Api
from fwtrack.errors import ImportSourceError
from fwtrack.importers import import_wandb
from fwtrack.importers.wandb import read_records

# Making the source data runs the real trackers (TensorFlow loads in tens of seconds).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("wandb-source")
    out: dict[str, Any] = run_program("wandb_run.py", str(tmp), tmp=tmp)
    out["root"] = tmp
    out["log"] = next(Path(out["run_dir"]).parent.glob("run-*.wandb"))
    return out


def _wandb_rows(log: Path) -> dict[int, dict[str, Any]]:
    """The history rows as W&B recorded them (its Record messages), by step."""
    rows: dict[int, dict[str, Any]] = {}
    for record in read_records(log):
        if record.WhichOneof("record_type") != "history":
            continue
        row = {
            "/".join(item.nested_key) or item.key: json.loads(item.value_json)
            for item in record.history.item
        }
        rows[row["_step"]] = row
    return rows


def test_a_wandb_run_imports_point_for_point(source: dict[str, Any], tmp_path: Path) -> None:
    report = import_wandb(source["root"], dir=tmp_path / "fw")
    assert report.failed == []
    assert len(report.imported) == 1
    run_dir = tmp_path / "fw" / "wb-proj" / source["id"]
    assert report.imported == [str(run_dir)]
    reader = _core.RunReader(str(run_dir))
    meta = reader.meta()
    info = meta["starts"][0]
    assert (info["id"], info["name"], info["project"]) == (source["id"], "tiny-torch", "wb-proj")
    assert info["tags"] == ["baseline", "cpu"]
    assert info["notes"] == "a tiny torch loop"
    assert (info["group"], info["job_type"]) == ("g1", "train")
    assert info["imported_from"]["source"] == "wandb"
    assert meta["config"] == {"lr": 0.05, "model": {"layers": 1, "act": "relu"}}
    assert meta["finish"]["exit_code"] == 0

    # Every point at its W&B step, with W&B's timestamp and runtime.
    wb = _wandb_rows(source["log"])
    history = reader.history(["train/loss", "epoch"])
    steps = [int(s) for s in history["_step"]]
    assert steps[:30] == list(range(30))
    for i, row in enumerate(source["logged"]):
        assert history["train/loss"][i] == row["train/loss"]
        assert history["epoch"][i] == row["epoch"]
        assert history["_timestamp"][i] == pytest.approx(wb[i]["_timestamp"], abs=1e-6)
        assert history["_runtime"][i] == pytest.approx(wb[i]["_runtime"], abs=1e-6)
    summary = meta["summary"]
    assert summary["best_loss"] == min(r["train/loss"] for r in source["logged"])
    assert summary["train/loss"] == source["logged"][-1]["train/loss"]

    # The image from the run's files, the histogram with W&B's bins.
    media = reader.media("sample")
    assert [(step, key) for step, _, key, _ in media] == [(30, "sample")]
    assert media[0][3].get("caption") == "pixels"
    [(hstep, hist)] = reader.histograms("weights")
    assert hstep == 31
    assert int(np.sum(hist.counts)) == 101

    # Console lines and system metrics with their times.
    lines = [text for _, stream, text in reader.console() if stream == "stdout"]
    epochs = [line.split(" loss ")[0] for line in lines if line.startswith("epoch ")]
    assert epochs == ["epoch 0", "epoch 1", "epoch 2"]
    system = reader.system()
    assert any(k.startswith("system/") for k in system)

    # The artifact, its files in the local registry.
    arts = Api(str(tmp_path / "fw")).run(f"wb-proj/{source['id']}").logged_artifacts()
    assert [(a.name, a.type) for a in arts] == [("tiny-model", "model")]
    folder = Path(arts[0].download(root=str(tmp_path / "dl")))
    assert (folder / "model.bin").read_bytes() == b"tiny model weights"


def test_importing_twice_adds_nothing(source: dict[str, Any], tmp_path: Path) -> None:
    first = import_wandb(source["log"], project="moved", dir=tmp_path)
    log = Path(first.imported[0]) / _core.LOG_FILE_NAME
    size = log.stat().st_size
    second = import_wandb(source["root"], project="moved", dir=tmp_path)
    assert second.imported == []
    assert second.skipped == first.imported
    assert log.stat().st_size == size
    assert [p.name for p in (tmp_path / "moved").iterdir()] == [source["id"]]


def test_bad_paths_raise_import_source_error(tmp_path: Path) -> None:
    with pytest.raises(ImportSourceError, match="does not exist"):
        import_wandb(tmp_path / "missing", dir=tmp_path / "fw")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportSourceError, match="no W&B runs"):
        import_wandb(tmp_path / "empty", dir=tmp_path / "fw")
    bogus = tmp_path / "run-x.wandb"
    bogus.write_bytes(b"not a transaction log")
    report = import_wandb(bogus, dir=tmp_path / "fw")
    assert report.imported == []
    assert "bad header" in report.failed[0][1]
    with pytest.raises(ImportSourceError, match="project"):
        import_wandb(bogus, project="no spaces allowed", dir=tmp_path / "fw")


def test_cli_imports_with_progress_on_stderr(source: dict[str, Any], tmp_path: Path) -> None:
    args = ("--dir", str(tmp_path / "fw"), "import", "wandb", str(source["root"]))
    first = run_cli(*args, "--project", "cli", tmp=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"cli/{source['id']}  importing wandb run" in first.stderr
    assert first.stdout.startswith("imported 1 run(s) from wandb")
    again = run_cli(*args, "--project", "cli", tmp=tmp_path)
    assert again.returncode == 0
    assert "already imported" in again.stderr
    missing = run_cli("import", "wandb", str(tmp_path / "nope"), tmp=tmp_path)
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
