"""`mode="disabled"`: every call works and costs next to nothing; nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fwtrack
from fwtrack.errors import RunFinishedError


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*"))


def test_disabled_run_writes_nothing(tmp_dir: Path) -> None:
    before = files_under(tmp_dir)
    run = fwtrack.init(project="p", mode="disabled", config={"lr": 0.1}, tags=["x"])
    assert fwtrack.run is run
    assert run.disabled
    assert run.mode == "disabled"
    assert run.project == "p"
    assert run.tags == ("x",)
    assert run.id
    assert run.name
    fwtrack.define_metric("loss", summary="min")
    run.define_metric("acc", step_metric="epoch")
    for i in range(100):
        fwtrack.log({"loss": i, "arr": np.arange(10), "nested": {"a": object()}})
    run.log({"x": 1}, step=5, commit=False)
    run.flush()
    assert run.step == 0
    assert run.config.lr == 0.1
    run.config.update({"batch": 8})
    run.config.opt = {"beta": 0.9}
    assert run.config.as_dict() == {"lr": 0.1, "batch": 8, "opt": {"beta": 0.9}}
    run.summary["best"] = 3
    assert run.summary["best"] == 3
    assert dict(run.summary) == {"best": 3}
    del run.summary["best"]
    assert len(run.summary) == 0
    with run:
        pass
    assert run.finished
    assert fwtrack.run is None
    assert files_under(tmp_dir) == before
    with pytest.raises(RunFinishedError):
        run.log({"x": 1})


def test_disabled_through_the_environment(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_MODE", "disabled")
    run = fwtrack.init(project="p")
    fwtrack.log({"a": 1})
    fwtrack.finish()
    assert run.mode == "disabled"
    assert not (tmp_dir / "fwtrack").exists()


def test_disabled_still_validates_arguments(tmp_dir: Path) -> None:
    with pytest.raises(ValueError, match="invalid project name"):
        fwtrack.init(project="a/b", mode="disabled")
    with pytest.raises(ValueError, match="invalid summary 'median'"):
        fwtrack.init(mode="disabled").define_metric("x", summary="median")


def test_disabled_init_replaces_an_active_run(tmp_dir: Path) -> None:
    real = fwtrack.init(project="p")
    fake = fwtrack.init(mode="disabled", reinit="finish_previous")
    assert real.finished
    assert fwtrack.run is fake
