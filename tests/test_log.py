"""`log()`: step semantics, key validation, atomicity, logging after finish."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import fwtrack
from fwtrack import _core
from fwtrack.errors import FwTrackError, FwTrackWarning, RunFinishedError

pytestmark = pytest.mark.usefixtures("tmp_dir")


def rows(run_dir: str) -> list[dict[str, Any]]:
    """The rows of a run as dicts without NaN placeholders."""
    return [
        {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
        for row in _core.RunReader(run_dir).scan()
    ]


def values(run_dir: str) -> list[dict[str, Any]]:
    """`rows` without `_timestamp`/`_runtime`."""
    return [
        {k: v for k, v in r.items() if k not in ("_timestamp", "_runtime")} for r in rows(run_dir)
    ]


def test_implicit_steps() -> None:
    run = fwtrack.init()
    for i in range(3):
        assert run.step == i
        run.log({"loss": float(i)})
    assert run.step == 3
    run.finish()
    assert values(run.dir) == [
        {"_step": 0, "loss": 0.0},
        {"_step": 1, "loss": 1.0},
        {"_step": 2, "loss": 2.0},
    ]
    h = _core.RunReader(run.dir).history()
    assert list(h["_step"]) == [0, 1, 2]
    assert len(h["_timestamp"]) == len(h["_runtime"]) == 3
    assert all(np.diff(h["_runtime"]) >= 0)
    assert all(h["_runtime"] >= 0)


def test_commit_false_accumulates_into_one_row() -> None:
    run = fwtrack.init()
    run.log({"a": 1}, commit=False)
    assert run.step == 0
    run.log({"b": 2}, commit=False)
    run.log({"c": 3})
    assert run.step == 1
    run.log({"a": 4})
    run.finish()
    assert values(run.dir) == [{"_step": 0, "a": 1, "b": 2, "c": 3}, {"_step": 1, "a": 4}]


def test_commit_false_later_value_wins() -> None:
    run = fwtrack.init()
    run.log({"a": 1}, commit=False)
    run.log({"a": 2})
    run.finish()
    assert values(run.dir) == [{"_step": 0, "a": 2}]


def test_pending_row_is_committed_by_finish() -> None:
    run = fwtrack.init()
    run.log({"a": 1})
    run.log({"b": 2}, commit=False)
    run.finish()
    assert values(run.dir) == [{"_step": 0, "a": 1}, {"_step": 1, "b": 2}]


def test_explicit_steps() -> None:
    run = fwtrack.init()
    run.log({"a": 1}, step=10)
    assert run.step == 11
    run.log({"b": 2}, step=10)  # equal to the last committed step: merged when read back
    run.log({"c": 3})  # implicit: continues after the explicit step
    run.log({"d": 4}, step=20)
    assert run.step == 21
    run.finish()
    assert values(run.dir) == [
        {"_step": 10, "a": 1, "b": 2},
        {"_step": 11, "c": 3},
        {"_step": 20, "d": 4},
    ]


def test_explicit_step_commits_a_lower_pending_row_first() -> None:
    run = fwtrack.init()
    run.log({"a": 1}, commit=False)  # pending at step 0
    run.log({"b": 2}, step=5)
    run.finish()
    assert values(run.dir) == [{"_step": 0, "a": 1}, {"_step": 5, "b": 2}]


def test_explicit_step_with_commit_false() -> None:
    run = fwtrack.init()
    run.log({"a": 1}, step=3, commit=False)
    run.log({"b": 2}, step=3, commit=False)
    run.log({"c": 3}, step=3)
    run.finish()
    assert values(run.dir) == [{"_step": 3, "a": 1, "b": 2, "c": 3}]


def test_lower_step_is_dropped_with_one_warning() -> None:
    run = fwtrack.init()
    run.log({"a": 1}, step=5)
    with pytest.warns(FwTrackWarning, match=r"step=2") as record:
        run.log({"late_key": 9}, step=2)
    assert len(record) == 1
    assert "late_key" in str(record[0].message)
    assert record[0].filename == __file__
    run.log({"late_key": 8}, step=1)  # a repeat drop does not warn again (filterwarnings=error)
    assert run._inner.dropped_steps == 2  # type: ignore[attr-defined]
    run.log({"a": 2})
    run.finish()
    assert values(run.dir) == [{"_step": 5, "a": 1}, {"_step": 6, "a": 2}]


def test_drop_warning_points_at_the_caller_of_module_log() -> None:
    fwtrack.init()
    fwtrack.log({"a": 1}, step=5)
    with pytest.warns(FwTrackWarning, match="step=1") as record:
        fwtrack.log({"a": 1}, step=1)
    assert record[0].filename == __file__


def test_nested_dicts_flatten_with_slash() -> None:
    run = fwtrack.init()
    run.log({"train": {"loss": 0.5, "opt": {"lr": 0.1}}, "epoch": 1})
    run.finish()
    assert values(run.dir) == [{"_step": 0, "train/loss": 0.5, "train/opt/lr": 0.1, "epoch": 1}]


def test_empty_log_still_commits_a_row() -> None:
    run = fwtrack.init()
    run.log({})
    run.log({"a": 1})
    assert run.step == 2
    run.finish()
    assert [r["_step"] for r in values(run.dir)] == [0, 1]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"": 1.0}, "''"),
        ({"k" * 257: 1.0}, "k" * 20),
        ({1: 1.0}, "1"),
        ({"ok": {3: 2.0}}, "3"),
    ],
)
def test_bad_keys_raise_value_error_naming_the_key(data: dict[Any, Any], named: str) -> None:
    run = fwtrack.init()
    run.log({"good": 1})
    with pytest.raises(ValueError, match="key") as e:
        run.log({"before": 1.0, **data})
    assert named in str(e.value)
    run.log({"good": 2})
    run.finish()
    # nothing of the bad call was recorded, nothing logged before or after it was lost
    assert values(run.dir) == [{"_step": 0, "good": 1}, {"_step": 1, "good": 2}]


def test_a_key_of_256_characters_is_fine() -> None:
    run = fwtrack.init()
    run.log({"k" * 256: 1.0})
    run.finish()
    assert values(run.dir) == [{"_step": 0, "k" * 256: 1.0}]


def test_unsupported_value_raises_type_error_and_loses_nothing() -> None:
    run = fwtrack.init()
    run.log({"a": 1})
    with pytest.raises(TypeError, match=r"'bad'.*object") as e:
        run.log({"a": 2, "bad": object()})
    assert "e.g." in str(e.value) or "log " in str(e.value)  # says how to fix it
    assert run.step == 1
    run.log({"a": 3})
    run.finish()
    assert values(run.dir) == [{"_step": 0, "a": 1}, {"_step": 1, "a": 3}]


def test_data_must_be_a_dict() -> None:
    run = fwtrack.init()
    with pytest.raises(TypeError):
        run.log([("a", 1)])  # type: ignore[arg-type]


def test_bad_step_values() -> None:
    run = fwtrack.init()
    with pytest.raises((TypeError, ValueError, OverflowError)):
        run.log({"a": 1}, step=-1)
    with pytest.raises(TypeError):
        run.log({"a": 1}, step="3")  # type: ignore[arg-type]


def test_logging_after_finish_raises() -> None:
    run = fwtrack.init()
    run.log({"a": 1})
    run.finish()
    with pytest.raises(RunFinishedError, match="finished") as e:
        run.log({"a": 2})
    assert isinstance(e.value, FwTrackError)
    with pytest.raises(RunFinishedError):
        run.define_metric("a", summary="min")
    with pytest.raises(RunFinishedError):
        run.config["x"] = 1
    with pytest.raises(RunFinishedError):
        run.summary["x"] = 1
    run.flush()  # nothing left to make durable: returns
    with pytest.raises(FwTrackError, match=r"fwtrack.init\(\)"):
        fwtrack.log({"a": 3})  # the finished run is no longer active
    assert values(run.dir) == [{"_step": 0, "a": 1}]


def test_flush_makes_rows_readable_while_running() -> None:
    run = fwtrack.init(settings={"flush_interval": 3600})
    for i in range(5):
        run.log({"i": i})
    run.flush()
    assert _core.is_locked(run.dir)
    r = _core.RunReader(run.dir)
    assert r.meta()["finish"] is None
    assert list(r.history()["i"]) == [0, 1, 2, 3, 4]
    run.finish()
