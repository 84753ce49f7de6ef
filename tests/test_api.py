"""`fwtrack.Api`: runs written by the real writer, read back from disk."""

from __future__ import annotations

import math
import os
import shutil
from datetime import timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fwtrack
from fwtrack import _core
from fwtrack.api import AmbiguousRunError, Api, HistogramEntry, Project, Run
from fwtrack.errors import FwTrackError, FwTrackWarning, RunNotFoundError

pytestmark = pytest.mark.usefixtures("tmp_dir")


def root() -> Path:
    return Path(os.environ["FWTRACK_DIR"])


def make_run(project: str = "p", rows: int = 3, **init: Any) -> str:
    """A finished run with `rows` rows of `loss` (and `acc` on even steps); returns its id."""
    run = fwtrack.init(project=project, **init)
    for step in range(rows):
        data: dict[str, object] = {"loss": 1.0 / (step + 1)}
        if step % 2 == 0:
            data["acc"] = step / 10
        run.log(data)
    run_id = run.id
    run.finish()
    return run_id


def test_round_trip_of_info_config_summary_and_history() -> None:
    run = fwtrack.init(
        project="p",
        name="first-try",
        config={"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}},
        tags=["baseline", "cpu"],
        notes="a note",
        group="g1",
        job_type="train",
    )
    run.log({"loss": 2.0, "phase": "warmup"})
    run.log({"loss": 1.0, "acc": 0.5})
    run.log({"loss": 0.5, "phase": "main", "nested": {"a": 1}})
    run_id = run.id
    run.finish()

    got = Api().run(f"p/{run_id}")
    assert isinstance(got, Run)
    assert (got.id, got.project, got.path, got.name) == (run_id, "p", f"p/{run_id}", "first-try")
    assert got.state == "finished"
    assert got.exit_code == 0
    assert got.config == {"lr": 0.1, "layers": [64, 32], "opt": {"name": "adam", "beta": 0.9}}
    assert got.tags == ["baseline", "cpu"]
    assert (got.notes, got.group, got.job_type) == ("a note", "g1", "train")
    assert got.created_at.tzinfo is timezone.utc
    assert got.runtime >= 0.0
    assert got.dir == root() / "p" / run_id
    assert got.log_path.name == _core.LOG_FILE_NAME
    assert got.tail_error is None
    assert got.metadata["pid"] == os.getpid()
    assert got.metadata["id"] == run_id
    assert {k: got.metadata[k] for k in got.starts[0]} == got.starts[0]
    assert got.summary["loss"] == 0.5
    assert got.summary["acc"] == 0.5
    assert got.summary["phase"] == "main"
    assert (got.row_count, got.last_step) == (3, 2)
    assert run_id in repr(got)
    assert "finished" in repr(got)

    df = got.history()
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns[:3]) == ["_step", "_timestamp", "_runtime"]
    assert set(df.columns) == {
        "_step",
        "_timestamp",
        "_runtime",
        "loss",
        "acc",
        "phase",
        "nested/a",
    }
    assert df["_step"].tolist() == [0, 1, 2]
    assert df["loss"].tolist() == [2.0, 1.0, 0.5]
    acc = df["acc"].tolist()
    assert math.isnan(acc[0])
    assert acc[1] == 0.5
    assert math.isnan(acc[2])
    phase = df["phase"].tolist()
    assert phase[0] == "warmup"
    assert phase[2] == "main"
    assert pd.isna(phase[1])
    assert df["_runtime"].is_monotonic_increasing

    rows = list(got.scan_history())
    assert [r["_step"] for r in rows] == [0, 1, 2]
    assert rows[1]["acc"] == 0.5
    assert "phase" not in rows[1]
    assert rows[2]["nested/a"] == 1


def test_history_keys_select_columns_and_fill_unknown_ones() -> None:
    run_id = make_run(rows=4)
    run = Api().run(run_id)

    df = run.history(keys=["acc", "never-logged", "_step"])
    assert list(df.columns) == ["_step", "_timestamp", "_runtime", "acc", "never-logged"]
    assert len(df) == 4
    assert df["never-logged"].isna().all()
    assert df["acc"].tolist()[::2] == [0.0, 0.2]

    only_meta = run.history(keys=[])
    assert list(only_meta.columns) == ["_step", "_timestamp", "_runtime"]
    assert [set(r) >= {"_step", "loss"} for r in run.scan_history(keys=["loss"])] == [True] * 4
    assert all("acc" not in r for r in run.scan_history(keys=["loss"]))

    with pytest.raises(TypeError, match=r"keys=\['loss'\]"):
        run.history(keys="loss")  # type: ignore[arg-type]


def test_runs_are_listed_newest_first_across_projects() -> None:
    first = make_run("alpha")
    second = make_run("beta")
    third = make_run("alpha")
    api = Api()

    assert [r.id for r in api.runs()] == [third, second, first]
    assert [r.id for r in api.runs("alpha")] == [third, first]
    assert api.runs("no-such-project") == []
    projects = api.projects()
    assert [p.name for p in projects] == ["alpha", "beta"]
    assert [p.run_count for p in projects] == [2, 1]
    assert all(isinstance(p, Project) for p in projects)
    assert str(projects[0]) == "alpha"
    assert [r.id for r in api.runs(projects[1])] == [second]
    assert api.runs()[0] == api.run(third)
    assert len({*api.runs(), *api.runs()}) == 3


def test_explicit_dir_beats_the_environment(tmp_path: Path) -> None:
    run_id = make_run("p")
    other = tmp_path / "elsewhere"
    assert Api(other).runs() == []
    assert Api(other).projects() == []
    with pytest.raises(RunNotFoundError, match="does not exist"):
        Api(other).run(run_id)
    shutil.copytree(root() / "p", other / "q")
    assert [r.path for r in Api(other).runs()] == [f"q/{run_id}"]
    assert Api(str(other)).dir == other


def test_bare_id_lookup_and_ambiguity() -> None:
    run_id = make_run("p")
    assert Api().run(run_id).path == f"p/{run_id}"
    shutil.copytree(root() / "p" / run_id, root() / "q" / run_id)

    with pytest.raises(AmbiguousRunError) as excinfo:
        Api().run(run_id)
    message = str(excinfo.value)
    assert f"p/{run_id}" in message
    assert f"q/{run_id}" in message
    assert isinstance(excinfo.value, ValueError)
    assert isinstance(excinfo.value, FwTrackError)
    assert Api().run(f"q/{run_id}").project == "q"


def test_run_by_directory_path() -> None:
    run_id = make_run("p")
    run_dir = root() / "p" / run_id
    assert Api().run(str(run_dir)).id == run_id
    assert Api().run(str(run_dir / _core.LOG_FILE_NAME)).path == f"p/{run_id}"


@pytest.mark.parametrize("spec", ["nope", "p/nope", "nope/x", "../p", "a/b/c", ""])
def test_unknown_run_names_the_id_and_how_to_list_runs(spec: str) -> None:
    make_run("p")
    with pytest.raises(RunNotFoundError) as excinfo:
        Api().run(spec)
    assert isinstance(excinfo.value, FwTrackError)
    assert repr(spec) in str(excinfo.value)
    assert "fwtrack runs" in str(excinfo.value)
    assert "projects: p" in str(excinfo.value)


def test_a_file_that_is_not_a_run_log(tmp_path: Path) -> None:
    good = make_run("p")
    bad_dir = root() / "p" / "notalog"
    bad_dir.mkdir()
    (bad_dir / _core.LOG_FILE_NAME).write_bytes(b"this is not a run log, not at all\n")

    with pytest.raises(_core.CorruptLogError) as excinfo:
        Api().run("p/notalog")
    assert str(bad_dir / _core.LOG_FILE_NAME) in str(excinfo.value)
    assert isinstance(excinfo.value, OSError)

    with pytest.warns(FwTrackWarning, match="notalog"):
        listed = Api().runs()
    assert [r.id for r in listed] == [good]

    # A future format version is refused the same way.
    log = (root() / "p" / good / _core.LOG_FILE_NAME).read_bytes()
    future = bytearray(log)
    future[8:10] = (_core.FORMAT_VERSION + 1).to_bytes(2, "little")
    (bad_dir / _core.LOG_FILE_NAME).write_bytes(bytes(future))
    with pytest.raises(_core.CorruptLogError, match="notalog"):
        Api().run("p/notalog")


def test_histograms_of_arrays_and_tensors() -> None:
    import torch

    run = fwtrack.init(project="p")
    values = np.array([0.0, 1.0, 2.0, 3.0, np.nan, np.inf, -np.inf, np.inf])
    run.log({"w": values, "loss": 1.0})
    run.log({"loss": 0.5})
    run.log({"w": torch.arange(100, dtype=torch.float32), "loss": 0.25})
    run_id = run.id
    run.finish()

    got = Api().run(run_id)
    assert got.histogram_keys() == ["w"]
    hists = got.histograms("w")
    assert [h.step for h in hists] == [0, 2]
    first, second = hists
    assert isinstance(first, HistogramEntry)
    assert (first.nan_count, first.pos_inf_count, first.neg_inf_count) == (1, 2, 1)
    assert int(first.counts.sum()) == 4
    assert first.total == len(values)
    assert len(first.edges) == len(first.counts) + 1
    assert first.edges[0] == 0.0
    assert first.edges[-1] == 3.0
    assert int(second.counts.sum()) == 100
    assert second.edges[-1] == 99.0
    assert "step=2" in repr(second)
    # Histograms are not history columns.
    assert "w" not in got.history().columns

    with pytest.raises(KeyError, match="histogram keys: w"):
        got.histograms("loss")


def test_a_live_run_reads_as_running_and_grows() -> None:
    run = fwtrack.init(project="p")
    run.log({"loss": 1.0})
    run.flush()

    handle = Api().run(run.id)
    assert handle.state == "running"
    assert handle.exit_code is None
    assert len(handle.history()) == 1

    run.log({"loss": 0.5})
    run.log({"loss": 0.25})
    run.flush()
    assert handle.history()["loss"].tolist() == [1.0, 0.5, 0.25]
    assert handle.row_count == 3
    assert [r["loss"] for r in handle.scan_history()] == [1.0, 0.5, 0.25]

    run.finish()
    assert handle.state == "finished"
    assert handle.summary["loss"] == 0.25


def test_define_metric_summary_reads_back() -> None:
    run = fwtrack.init(project="p")
    run.define_metric("acc", summary="max")
    for acc in (0.2, 0.9, 0.4):
        run.log({"acc": acc})
    run_id = run.id
    run.finish()
    got = Api().run(run_id)
    assert got.summary["acc"] == {"max": 0.9}
    assert [m["name"] for m in got.metrics] == ["acc"]


def test_a_nonzero_exit_code_reads_as_failed() -> None:
    run = fwtrack.init(project="p")
    run.log({"loss": 1.0})
    run_id = run.id
    run.finish(exit_code=2)
    got = Api().run(run_id)
    assert (got.state, got.exit_code) == ("failed", 2)
    assert "failed" in repr(got)


def test_scan_history_streams_a_long_run_in_order_and_merges_steps() -> None:
    run = fwtrack.init(project="p", settings={"flush_interval": 0.05})
    for step in range(30_000):
        run.log({"a": step}, step=step, commit=False)
        run.log({"b": -step}, step=step)  # the same step again: merged on read
    run.flush()
    handle = Api().run(f"p/{run.id}")
    rows = handle.scan_history()
    first = next(rows)
    assert first == {
        "_step": 0,
        "_timestamp": first["_timestamp"],
        "_runtime": first["_runtime"],
        "a": 0,
        "b": 0,
    }
    run.log({"a": 30_000, "b": -30_000})  # written while the scan is under way
    run.finish()
    steps = [first["_step"]] + [r["_step"] for r in rows]
    assert steps == list(range(30_001))
