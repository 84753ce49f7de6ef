"""The public API as W&B users call it, on a local run directory: `Api().runs(filters=...,
order=...)` with W&B's MongoDB-style filters, `history(samples=, keys=, x_axis=, pandas=,
stream=)`, `scan_history(keys=, min_step=, max_step=)`, `Runs.histories()`, and the edit
surface (`run.summary[k] = v; run.summary.update()`, `run.update()`)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import fwtrack
from fwtrack.api import Api, Run, Runs, RunSummary
from fwtrack.errors import FwTrackError

PROJECT = "wb"

# id: (config, tags, group, job_type, exit code, rows)
SPECS: dict[str, tuple[dict[str, Any], list[str], str | None, str | None, int]] = {
    "ra": ({"lr": 0.1, "opt": {"name": "adam"}, "layers": 2}, ["base", "best"], "g1", "train", 0),
    "rb": ({"lr": 0.01, "opt": {"name": "sgd"}, "layers": 4}, ["base"], "g1", "eval", 1),
    "rc": ({"lr": 0.001, "opt": {"name": "adam"}, "layers": "deep"}, [], "g2", "train", 0),
    "rd": ({"lr": "auto"}, ["other"], None, None, 0),
}


def make_runs(root: Path, project: str = PROJECT) -> dict[str, float]:
    """The four runs of SPECS under `root`, each logging `loss` every step (10 steps) and
    `acc` every other step; returns each run's final `loss`."""
    final: dict[str, float] = {}
    for n, (run_id, (config, tags, group, job_type, code)) in enumerate(SPECS.items()):
        run = fwtrack.init(
            project=project,
            id=run_id,
            dir=root,
            name=f"name-{run_id}",
            config=config,
            tags=tags,
            group=group,
            job_type=job_type,
            mode="offline",
            settings={"console": False, "capture_env": False, "save_code": False},
        )
        for step in range(10):
            row: dict[str, Any] = {"loss": (n + 1) / (step + 1)}
            if step % 2 == 0:
                row["acc"] = step / 10 + n
            fwtrack.log(row)
        final[run_id] = (n + 1) / 10
        run.finish(exit_code=code)
    return final


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wb") / "fwtrack"
    make_runs(path)
    return path


def ids(api: Api, filters: dict[str, Any] | None = None, **kw: Any) -> list[str]:
    return [r.id for r in api.runs(PROJECT, filters=filters, **kw)]


# The filters of the parity test (tests/server/test_api_wb.py) and what they keep.
CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"config.lr": {"$gt": 0.005}}, {"ra", "rb"}),
    ({"config.lr": {"$gte": 0.01, "$lt": 0.1}}, {"rb"}),
    ({"config.lr": {"$lte": 0.01}}, {"rb", "rc"}),
    ({"config.lr.value": 0.001}, {"rc"}),  # W&B's `.value` form
    ({"config.lr": "auto"}, {"rd"}),
    ({"config.opt.name": "adam"}, {"ra", "rc"}),
    ({"config.layers": {"$in": [2, "deep"]}}, {"ra", "rc"}),
    ({"config.layers": {"$nin": [2, "deep"]}}, {"rb", "rd"}),  # a missing key is not in it
    ({"config.layers": {"$ne": 4}}, {"ra", "rc", "rd"}),
    ({"config.layers": {"$exists": False}}, {"rd"}),
    ({"config.layers": {"$exists": True}}, {"ra", "rb", "rc"}),
    ({"tags": "base"}, {"ra", "rb"}),
    ({"tags": {"$in": ["best", "other"]}}, {"ra", "rd"}),
    ({"tags": {"$nin": ["base"]}}, {"rc", "rd"}),
    ({"state": "finished"}, {"ra", "rc", "rd"}),
    ({"state": {"$ne": "finished"}}, {"rb"}),
    ({"state": {"$in": ["failed", "crashed"]}}, {"rb"}),
    ({"display_name": {"$regex": "^name-r[ab]$"}}, {"ra", "rb"}),
    ({"name": "rc"}, {"rc"}),
    ({"group": "g1", "jobType": "train"}, {"ra"}),
    ({"summary_metrics.loss": {"$lt": 0.25}}, {"ra", "rb"}),
    ({"summary_metrics.acc": {"$gte": 2}}, {"rc", "rd"}),
    ({"created_at": {"$gt": "2000-01-01T00:00:00"}}, {"ra", "rb", "rc", "rd"}),
    ({"created_at": {"$lt": datetime(2000, 1, 1, tzinfo=timezone.utc)}}, set()),
    ({"$or": [{"config.lr": {"$gt": 0.05}}, {"tags": "other"}]}, {"ra", "rd"}),
    ({"$and": [{"tags": "base"}, {"config.layers": {"$gt": 3}}]}, {"rb"}),
    ({"$nor": [{"tags": "base"}, {"group": "g2"}]}, {"rd"}),
    ({"config.lr": {"$not": {"$gt": 0.005}}}, {"rc", "rd"}),
    ({"sweep": {"$exists": False}}, {"ra", "rb", "rc", "rd"}),
]


@pytest.mark.parametrize(("filters", "expected"), CASES, ids=[str(f) for f, _ in CASES])
def test_runs_filters_as_wandb(root: Path, filters: dict[str, Any], expected: set[str]) -> None:
    assert set(ids(Api(root), filters)) == expected


def test_runs_accepts_entity_project_and_path(root: Path) -> None:
    api = Api(root)
    every = {"ra", "rb", "rc", "rd"}
    assert set(ids(api)) == every
    assert {r.id for r in api.runs(f"someone/{PROJECT}")} == every  # no entities locally
    assert {r.id for r in api.runs(path=PROJECT, per_page=2)} == every
    runs = api.runs(PROJECT, per_page=2, include_sweeps=False, lazy=False)
    assert isinstance(runs, Runs)
    assert isinstance(runs, list)
    assert runs.per_page == 2


def test_runs_order(root: Path) -> None:
    api = Api(root)
    assert ids(api, order="+config.lr") == ["rc", "rb", "ra", "rd"]  # strings after numbers
    assert ids(api, order="-config.lr") == ["ra", "rb", "rc", "rd"]
    assert ids(api, order="config.lr.value") == ["rc", "rb", "ra", "rd"]
    assert ids(api, order="+summary_metrics.loss") == ["ra", "rb", "rc", "rd"]
    assert ids(api, order="+created_at") == ["ra", "rb", "rc", "rd"]
    assert ids(api, order="-created_at") == ["rd", "rc", "rb", "ra"] == ids(api)
    assert ids(api, order="display_name") == ["ra", "rb", "rc", "rd"]


def test_runs_filters_and_order_name_what_is_wrong(root: Path) -> None:
    api = Api(root)
    for op in ("$elemMatch", "$size", "$where", "$all"):
        with pytest.raises(
            ValueError, match=rf"unsupported filter operator '\{op}'.*\$gt.*\$regex"
        ):
            api.runs(PROJECT, filters={"config.lr": {op: 1}})
    with pytest.raises(ValueError, match=r"unsupported filter operator '\$xor'.*\$and, \$or"):
        api.runs(PROJECT, filters={"$xor": [{"tags": "a"}]})
    with pytest.raises(ValueError, match=r"unknown run filter 'bogus'.*config\.<key>"):
        api.runs(PROJECT, filters={"bogus": 1})
    with pytest.raises(ValueError, match="unknown run state 'done'"):
        api.runs(PROJECT, filters={"state": {"$in": ["done"]}})
    with pytest.raises(TypeError, match=r"filters\['tags'\]\['\$in'\] must be a list"):
        api.runs(PROJECT, filters={"tags": {"$in": "base"}})
    with pytest.raises(ValueError, match="is not a regular expression"):
        api.runs(PROJECT, filters={"display_name": {"$regex": "("}})
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        api.runs(PROJECT, filters={"created_at": {"$gt": "yesterday"}})
    with pytest.raises(ValueError, match="cannot order runs by 'bogus'"):
        api.runs(PROJECT, order="bogus")
    with pytest.raises(ValueError, match="per_page must be a positive int"):
        api.runs(PROJECT, per_page=0)


def test_history_samples_keys_x_axis_pandas(root: Path) -> None:
    run = Api(root).run(f"{PROJECT}/rb")
    full = run.history()
    assert len(full) == 10
    assert list(full["_step"]) == list(range(10))
    sampled = run.history(samples=4)
    assert list(sampled["_step"]) == [0, 3, 6, 9]  # evenly spaced, first and last kept
    assert len(run.history(samples=500)) == 10
    assert list(run.history(["acc"]).columns) == ["_step", "_timestamp", "_runtime", "acc"]
    on_acc = run.history(keys=["loss"], x_axis="acc")
    assert list(on_acc["_step"]) == [0, 2, 4, 6, 8]  # rows without the x axis left out
    assert list(on_acc.columns) == ["_step", "_timestamp", "_runtime", "loss", "acc"]
    rows = run.history(keys=["acc"], pandas=False)
    assert isinstance(rows, list)
    assert len(rows) == 10
    assert rows[0]["acc"] == 1.0
    assert "acc" not in rows[1]
    assert rows[1]["_step"] == 1
    assert "loss" not in rows[1]
    system = run.history(stream="system")
    assert isinstance(system, pd.DataFrame)
    with pytest.raises(ValueError, match="samples must be a positive int"):
        run.history(samples=0)
    with pytest.raises(ValueError, match="stream must be 'default' or 'system'"):
        run.history(stream="events")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stream='system' takes no keys"):
        run.history(keys=["loss"], stream="system")
    with pytest.raises(TypeError, match="keys must be a list"):
        run.history(keys="loss")  # type: ignore[arg-type]


def test_scan_history_keeps_rows_holding_every_key(root: Path) -> None:
    run = Api(root).run(f"{PROJECT}/ra")
    assert [r["_step"] for r in run.scan_history()] == list(range(10))
    both = list(run.scan_history(keys=["loss", "acc"]))
    assert [r["_step"] for r in both] == [0, 2, 4, 6, 8]
    assert all(set(r) == {"_step", "_timestamp", "_runtime", "loss", "acc"} for r in both)
    assert list(run.scan_history(keys=["acc", "never"])) == []
    bounded = run.scan_history(keys=["acc"], page_size=2, min_step=2, max_step=8)
    assert [r["_step"] for r in bounded] == [2, 4, 6]  # min inclusive, max exclusive
    assert [r["_step"] for r in run.scan_history(min_step=8)] == [8, 9]
    assert [r["_step"] for r in run.scan_history(max_step=1)] == [0]
    with pytest.raises(ValueError, match="page_size must be a positive int"):
        run.scan_history(page_size=0)
    with pytest.raises(TypeError, match="min_step must be an int"):
        run.scan_history(min_step=1.5)  # type: ignore[arg-type]


def test_runs_histories_formats(root: Path) -> None:
    runs = Api(root).runs(PROJECT, filters={"tags": "base"}, order="+created_at")
    rows = runs.histories(keys=["loss"])
    assert isinstance(rows, list)
    assert len(rows) == 20
    assert [r["run_id"] for r in rows[:1] + rows[-1:]] == ["ra", "rb"]
    frame = runs.histories(samples=3, keys=["acc"], format="pandas")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == sorted(frame.columns)
    assert frame.groupby("run_id").size().to_dict() == {"ra": 3, "rb": 3}
    with pytest.raises(ValueError, match="invalid format 'csv'"):
        runs.histories(format="csv")  # type: ignore[arg-type]
    with pytest.raises(ModuleNotFoundError, match="pip install polars"):
        runs.histories(format="polars")


def test_summary_is_a_dict_whose_edits_stay_until_saved(root: Path) -> None:
    run = Api(root).run(f"{PROJECT}/ra")
    summary = run.summary
    assert isinstance(summary, RunSummary)
    assert isinstance(summary, dict)
    assert summary["loss"] == pytest.approx(0.1)
    summary["best"] = 1.5
    assert run.summary is summary
    assert run.summary["best"] == 1.5
    assert run.summary_metrics["best"] == 1.5
    run.config["lr"] = 0.5
    assert run.config["lr"] == 0.5
    run.tags.append("new")
    assert run.tags == ["base", "best", "new"]
    run.name = "renamed"
    run.notes = "some notes"
    assert (run.name, run.display_name, run.notes) == ("renamed", "renamed", "some notes")
    with pytest.raises(ValueError, match="run name must be a non-empty str"):
        run.name = ""


def test_local_edits_are_saved_in_the_run_log(tmp_path: Path) -> None:
    """`summary.update()` and `update()` append the edits to a finished local run's log:
    every reader sees them, the run stays finished with its history, and a resume carries
    them on."""
    make_runs(tmp_path)
    api = Api(tmp_path)
    run = api.run(f"{PROJECT}/ra")
    state, rows = run.state, run.row_count
    run.summary["best"] = 2.0
    del run.summary["acc"]
    run.summary.update()
    run.config["lr"] = 0.5
    del run.config["layers"]
    run.tags = ["x", "y"]
    run.name = "renamed"
    run.notes = "edited"
    run.update()
    for fresh in (run, Api(tmp_path).run(f"{PROJECT}/ra")):
        assert fresh.summary["best"] == 2.0
        assert "acc" not in fresh.summary
        assert fresh.summary["loss"] == 0.1
        assert fresh.config == {"lr": 0.5, "opt": {"name": "adam"}}
        assert (fresh.name, fresh.tags, fresh.notes) == ("renamed", ["x", "y"], "edited")
        assert (fresh.state, fresh.row_count, len(fresh.starts)) == (state, rows, 1)
    # The filters see the edit.
    assert [r.id for r in api.runs(PROJECT, filters={"tags": {"$in": ["y"]}})] == ["ra"]
    # A resume continues from the edited run.
    resumed = fwtrack.init(project=PROJECT, id="ra", dir=tmp_path, resume="must", mode="offline")
    assert (resumed.name, list(resumed.tags)) == ("renamed", ["x", "y"])
    assert resumed.summary["best"] == 2.0
    resumed.finish()
    assert Api(tmp_path).run(f"{PROJECT}/ra").summary["best"] == 2.0


def test_a_running_local_run_is_not_edited_by_the_api(tmp_path: Path) -> None:
    live = fwtrack.init(project="live", dir=tmp_path, mode="offline", settings={"console": False})
    fwtrack.log({"x": 1.0})
    live.flush()
    handle = Api(tmp_path).run(f"live/{live.id}")
    handle.summary["best"] = 1.0
    with pytest.raises(FwTrackError, match=r"cannot save the edits of the local run .* while it"):
        handle.summary.update()
    assert handle.summary["best"] == 1.0  # kept on the handle for another try
    live.finish()
    handle.summary.update()
    assert Api(tmp_path).run(f"live/{live.id}").summary["best"] == 1.0


def test_nan_summary_values_compare_as_equal(tmp_path: Path) -> None:
    """Reading a summary holding NaN and saving it unchanged sends nothing."""
    run = fwtrack.init(project="nan", dir=tmp_path, mode="offline", settings={"console": False})
    fwtrack.log({"x": math.nan})
    run.finish()
    handle = Api(tmp_path).run(f"nan/{run.id}")
    assert math.isnan(handle.summary["x"])
    handle.update()  # no change, so no error
    assert isinstance(handle, Run)


def test_more_wandb_run_names(root: Path) -> None:
    run = Api(root).run(f"{PROJECT}/ra")
    assert run.lastHistoryStep == 9
    assert json.loads(run.json_config)["lr"] == {"value": 0.1}
    run.wait_until_finished(poll=0.01, timeout=5)  # finished already: returns at once
    with pytest.raises(KeyError, match=r"has no file 'nope\.txt'"):
        run.file("nope.txt")
