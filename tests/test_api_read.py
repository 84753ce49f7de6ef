"""Reading local runs with the typed decoder: filters give exactly the filtered full result,
mixed types, NaN/inf, keys appearing mid-run and repeated steps read as logged, and opening
runs reads their metadata without their history."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fwtrack
from fwtrack import _core
from fwtrack.api import Api

pytestmark = pytest.mark.usefixtures("tmp_dir")


def mixed_run() -> str:
    """A run with floats, ints, NaN/inf, a string and a bool, keys appearing mid-run and
    steps logged in several calls."""
    run = fwtrack.init(project="p", config={"lr": 0.5})
    for step in range(40):
        run.log({"loss": 1.0 / (step + 1), "n": step}, step=step, commit=False)
        if step >= 10:
            run.log({"late": float("nan") if step % 3 == 0 else math.inf}, step=step, commit=False)
        if step == 25:
            run.log({"n": "text", "flag": True}, step=step, commit=False)
        run.log({"loss": -1.0 / (step + 1)}, step=step)  # the same step again: merged
    run_id = run.id
    run.finish()
    return run_id


def frame_eq(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_history_holds_every_type_as_logged() -> None:
    run = Api().run(f"p/{mixed_run()}")
    h = run.history()
    assert list(h["_step"]) == list(range(40))
    assert list(h["loss"]) == [-1.0 / (s + 1) for s in range(40)]  # the later value wins
    n = list(h["n"])
    assert n[25] == "text"
    assert n[24] == 24
    assert isinstance(n[24], int)
    assert h["flag"].tolist()[25] is True
    assert h["flag"].tolist()[0] is None
    late = h["late"].to_numpy()
    assert np.isnan(late[:10]).all()
    assert np.isnan(late[12])
    assert late[11] == math.inf
    assert run.row_count == len(h) == 40
    assert run.last_step == 39


@pytest.mark.parametrize(
    "keys", [["loss"], ["late"], ["n", "flag"], ["never"], [], ["late", "loss"]]
)
def test_history_of_some_keys_is_the_full_history_cut_down(keys: list[str]) -> None:
    run = Api().run(f"p/{mixed_run()}")
    full = run.history()
    part = run.history(keys=keys)
    for key in keys:
        if key not in full.columns:
            full[key] = np.nan
    frame_eq(part, full[["_step", "_timestamp", "_runtime", *keys]])
    # The reader's own columns: only the wanted keys are decoded.
    cols = _core.RunReader(str(run.dir)).history(keys)
    assert set(cols) == {"_step", "_timestamp", "_runtime", *(k for k in keys if k != "never")}


@pytest.mark.parametrize(
    ("keys", "lo", "hi"),
    [(None, None, None), (None, 5, 30), (["late"], None, 20), (["n"], 20, None), (None, 50, 60)],
)
def test_step_and_key_filters_give_the_filtered_rows(
    keys: list[str] | None, lo: int | None, hi: int | None
) -> None:
    run = Api().run(f"p/{mixed_run()}")
    rows = list(run.scan_history(keys=keys, min_step=lo, max_step=hi))
    everything = list(run.scan_history())
    want = [
        r
        for r in everything
        if (lo is None or r["_step"] >= lo)
        and (hi is None or r["_step"] < hi)
        and (keys is None or all(k in r for k in keys))
    ]
    if keys is not None:
        meta = ("_step", "_timestamp", "_runtime")
        want = [{k: v for k, v in r.items() if k in meta or k in keys} for r in want]
    assert [repr(r) for r in rows] == [repr(r) for r in want]
    cols = _core.RunReader(str(run.dir)).history(keys, lo, hi)
    assert list(cols["_step"]) == [
        s for s in range(40) if (lo is None or s >= lo) and (hi is None or s < hi)
    ]


def test_many_runs_list_with_their_metadata(tmp_dir: Path) -> None:
    ids = []
    for i in range(12):
        run = fwtrack.init(project="many", config={"i": i}, tags=[f"t{i % 3}"])
        for step in range(i + 1):
            run.log({"x": step * i})
        run.summary["best"] = i
        ids.append(run.id)
        run.finish()
    runs = Api().runs("many")
    assert sorted(r.id for r in runs) == sorted(ids)
    for r in runs:
        i = int(r.config["i"])
        assert r.row_count == i + 1
        assert r.last_step == i
        assert r.summary["best"] == i
        assert r.tags == [f"t{i % 3}"]
        assert r.state == "finished"
        # the metadata the reader folds matches the history it decodes on demand
        assert len(r.history()) == r.row_count


def test_a_run_still_being_written_reads_what_was_flushed() -> None:
    run = fwtrack.init(project="p")
    for step in range(5):
        run.log({"a": step})
    run.flush()
    reader = _core.RunReader(str(Path(run.dir)))
    for step in range(5, 9):
        run.log({"a": step})
    run.flush()
    # the reader is a snapshot: rows flushed after it was made are not in its history
    assert list(reader.history()["_step"]) == list(range(5))
    assert reader.meta()["rows"] == 5
    assert list(Api().run(f"p/{run.id}").history()["a"]) == list(range(9))
    run.finish()


def test_a_torn_tail_reads_up_to_the_last_whole_frame(tmp_dir: Path) -> None:
    run_id = mixed_run()
    api = Api()
    log = api.run(f"p/{run_id}").log_path
    whole = log.read_bytes()
    log.write_bytes(whole[: len(whole) - 7])
    run = api.run(f"p/{run_id}")
    assert run.tail_error is not None
    h = run.history()
    assert len(h) == run.row_count
    scanned: list[dict[str, Any]] = list(run.scan_history())
    assert [r["_step"] for r in scanned] == list(h["_step"])
