"""The writer's records for what happened at a given time (importers), alerts, and the extra
fields of metric definitions, read back through `RunReader`; and the `mean` summary of a
resumed run, which continues over the values logged before the resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fwtrack
from fwtrack import _core

T0 = 1_700_000_000.0


def writer(run_dir: Path, **info: object) -> _core.RunWriter:
    return _core.RunWriter(
        str(run_dir),
        json.dumps({"id": "r1", "project": "p", **info}),
        converter=lambda key, value: None,
        warn=lambda message: None,
    )


def test_history_system_console_and_finish_keep_the_times_given(tmp_path: Path) -> None:
    w = writer(tmp_path, started_at=T0)
    w.log_at({"loss": 1.0}, step=0, ts=T0 + 1)
    w.log_at({"loss": 0.5, "acc": 0.7}, step=5, ts=T0 + 2, rt=1.75)
    w.log_system([("cpu", 12.0)], ts=T0 + 1.5)
    w.log_console("stdout", ["epoch 0", "epoch 1"], ts=T0 + 1.25)
    w.finish(0, ts=T0 + 10)
    r = _core.RunReader(str(tmp_path))
    h = r.history()
    assert list(h["_step"]) == [0, 5]
    assert list(h["_timestamp"]) == [T0 + 1, T0 + 2]
    # The run time is the time since `started_at` unless given.
    assert list(h["_runtime"]) == [1.0, 1.75]
    system = r.system()
    assert list(system["_timestamp"]) == [T0 + 1.5]
    assert list(system["_runtime"]) == [1.5]
    assert r.console() == [(T0 + 1.25, "stdout", "epoch 0"), (T0 + 1.25, "stdout", "epoch 1")]
    finish = r.meta()["finish"]
    assert (finish["timestamp"], finish["runtime"]) == (T0 + 10, 10.0)


def test_log_at_refuses_a_step_below_the_current_one_and_bad_times(tmp_path: Path) -> None:
    w = writer(tmp_path, started_at=T0)
    w.log_at({"x": 1}, step=3, ts=T0 + 1)
    with pytest.raises(ValueError, match=r"log_at\(step=2\) is below the run's current step"):
        w.log_at({"x": 2}, step=2, ts=T0 + 2)
    with pytest.raises(ValueError, match="ts=NaN is not a Unix time"):
        w.log_at({"x": 2}, step=4, ts=float("nan"))
    with pytest.raises(ValueError, match="rt=-1 is not a run time"):
        w.log_at({"x": 2}, step=4, ts=T0 + 2, rt=-1.0)
    with pytest.raises(ValueError, match='stream="log" is not a console stream'):
        w.log_console("log", ["x"], ts=T0)
    w.finish()
    assert list(_core.RunReader(str(tmp_path)).history()["x"]) == [1]


def test_alerts_are_records_in_log_order(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.log({"loss": 1.0})
    w.log_alert("loss is NaN", "at step 7", "WARN")
    w.log_alert("done", "", "INFO")
    with pytest.raises(ValueError, match='alert level "LOUD" is unknown; use one of INFO, WARN'):
        w.log_alert("t", "x", "LOUD")
    with pytest.raises(ValueError, match="an alert needs a title"):
        w.log_alert("", "x", "INFO")
    w.finish()
    r = _core.RunReader(str(tmp_path))
    alerts = r.alerts()
    assert [(a["title"], a["text"], a["level"]) for a in alerts] == [
        ("loss is NaN", "at step 7", "WARN"),
        ("done", "", "INFO"),
    ]
    assert all(isinstance(a["ts"], float) for a in alerts)
    assert r.meta()["alerts"] == alerts


def test_metric_definitions_keep_goal_hidden_and_step_sync(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.define_metric("val/acc", None, ["max"], goal="maximize", hidden=True, step_sync=False)
    w.define_metric("loss", "epoch", ["min"])
    with pytest.raises(ValueError, match='define_metric goal "up" is unknown'):
        w.define_metric("x", None, [], goal="up")  # type: ignore[arg-type]
    w.finish()
    metrics = {m["name"]: m for m in _core.RunReader(str(tmp_path)).meta()["metrics"]}
    assert metrics["val/acc"] == {
        "name": "val/acc",
        "step_metric": None,
        "summary": ["max"],
        "goal": "maximize",
        "hidden": True,
        "step_sync": False,
    }
    assert (metrics["loss"]["goal"], metrics["loss"]["hidden"], metrics["loss"]["step_sync"]) == (
        None,
        False,
        None,
    )


def test_the_mean_continues_after_a_resume(tmp_dir: Path) -> None:
    fwtrack.init(project="p", id="mean", resume="allow")
    fwtrack.define_metric("loss", summary="mean")
    for x in (1.0, 2.0, 3.0):
        fwtrack.log({"loss": x})
    fwtrack.finish()
    run = fwtrack.init(project="p", id="mean", resume="allow")
    fwtrack.log({"loss": 10.0})
    assert run.summary["loss"]["mean"] == 4.0
    fwtrack.finish()
    assert fwtrack.Api().run("p/mean").summary["loss"]["mean"] == 4.0


def test_name_tags_and_notes_set_on_a_live_run_are_in_its_log(tmp_dir: Path) -> None:
    run = fwtrack.init(project="p", id="edit", name="first", tags=["a"])
    run.name = "second"
    run.tags = ["b", "c"]
    run.notes = "why"
    with pytest.raises(ValueError, match="run name must be a non-empty str"):
        run.name = " "
    with pytest.raises(TypeError, match=r"run\.tags must be a list of str"):
        run.tags = "b"  # type: ignore[assignment]
    fwtrack.finish()
    back = fwtrack.Api().run("p/edit")
    assert (back.name, back.tags, back.notes) == ("second", ["b", "c"], "why")
    # A resume carries the edited values on.
    resumed = fwtrack.init(project="p", id="edit", resume="must")
    assert (resumed.name, resumed.tags, resumed.notes) == ("second", ("b", "c"), "why")
    fwtrack.finish()
