"""`import_mlflow` / `fwtrack import mlflow` on real MLflow stores (a file store and a SQLite
store), compared with what MlflowClient reads."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from sources import run_cli, run_program

from fwtrack import _core
from fwtrack.api import Api
from fwtrack.errors import ImportSourceError
from fwtrack.importers import import_mlflow

# Making the source data runs the real trackers (TensorFlow loads in tens of seconds).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module", params=["file", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp(f"mlflow-{request.param}")
    uri = str(tmp / "mlruns") if request.param == "file" else f"sqlite:///{tmp / 'mlflow.db'}"
    ids = run_program("mlflow_runs.py", uri, str(tmp), tmp=tmp)
    return {"uri": uri, **ids, "tmp": tmp}


def _client(uri: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    # SQLAlchemy's deprecation noise from MLflow's SQL store is not under test here.
    warnings.simplefilter("ignore", DeprecationWarning)
    return MlflowClient(tracking_uri=uri if "://" in uri else Path(uri).as_uri())


def test_mlflow_runs_import_point_for_point(
    store: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = import_mlflow(store["uri"], dir=tmp_path)
    assert report.failed == []
    assert len(report.imported) == 2
    good = _core.RunReader(str(tmp_path / "exp-a" / store["good"]))
    meta = good.meta()
    info = meta["starts"][0]
    assert (info["name"], info["notes"], info["tags"]) == ("good-run", "a note", ["team=vision"])
    assert meta["config"] == {"lr": 0.01, "optimizer": "adam", "epochs": 3, "nesterov": True}
    assert meta["finish"]["exit_code"] == 0
    client = _client(store["uri"], monkeypatch)
    run = client.get_run(store["good"])
    assert info["start_time"] == run.info.start_time / 1000
    assert meta["finish"]["timestamp"] == pytest.approx(run.info.end_time / 1000)
    points = [(r["_step"], r["_timestamp"], r["loss"]) for r in good.scan(["loss"]) if "loss" in r]
    mlflow_points = [
        (m.step, m.timestamp / 1000, m.value)
        for m in client.get_metric_history(run.info.run_id, "loss")
    ]
    # Every point, in step order; the two at step 19 are merged by the reader (the last wins).
    assert len(mlflow_points) == 21
    by_step = {s: (ts, v) for s, ts, v in sorted(mlflow_points, key=lambda p: (p[0], p[1]))}
    assert [(s, ts, v) for s, ts, v in points] == [(s, *by_step[s]) for s in sorted(by_step)]
    acc = [(r["_step"], r["val_acc"]) for r in good.scan(["val_acc"]) if "val_acc" in r]
    assert acc == [(m.step, m.value) for m in client.get_metric_history(store["good"], "val_acc")]
    assert meta["summary"]["loss"] == run.data.metrics["loss"]

    bad = _core.RunReader(str(tmp_path / "exp-b" / store["bad"])).meta()
    assert bad["finish"]["exit_code"] == 1

    arts = Api(str(tmp_path)).run(f"exp-a/{store['good']}").logged_artifacts()
    assert [(a.name, a.type) for a in arts] == [(f"mlflow-{store['good']}", "mlflow-artifacts")]
    folder = Path(arts[0].download(root=str(tmp_path / "dl")))
    assert (folder / "model" / "weights.txt").read_text() == "w = 1.5"


def test_experiment_filter_twice_and_errors(store: dict[str, Any], tmp_path: Path) -> None:
    first = import_mlflow(store["uri"], experiment="exp-b", project="only-b", dir=tmp_path)
    assert [Path(d).name for d in first.imported] == [store["bad"]]
    second = import_mlflow(store["uri"], experiment="exp-b", project="only-b", dir=tmp_path)
    assert second.imported == []
    assert second.skipped == first.imported
    with pytest.raises(ImportSourceError, match=r"no MLflow experiment .nope.*.exp-a."):
        import_mlflow(store["uri"], experiment="nope", dir=tmp_path)
    with pytest.raises(ImportSourceError, match="not an MLflow file store"):
        import_mlflow(str(tmp_path / "missing"), dir=tmp_path)
    with pytest.raises(ImportSourceError, match="no such SQLite database"):
        import_mlflow(f"sqlite:///{tmp_path / 'missing.db'}", dir=tmp_path)


def test_cli(store: dict[str, Any], tmp_path: Path) -> None:
    args = ["--dir", str(tmp_path / "fw"), "import", "mlflow", "--tracking-uri", store["uri"]]
    proc = run_cli(*args, "--experiment", "exp-a", tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"exp-a/{store['good']}  importing mlflow run" in proc.stderr
    assert "imported 1 run(s)" in proc.stdout
