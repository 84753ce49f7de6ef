"""`run.config` and `run.summary`, recorded by the real writer and read back."""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import fwtrack
from fwtrack import _core
from fwtrack.errors import FwTrackWarning

pytestmark = pytest.mark.usefixtures("tmp_dir")


def meta(run: fwtrack.Run) -> dict[str, Any]:
    return _core.RunReader(run.dir).meta()


# -- config ----------------------------------------------------------------------------------


def test_config_access_and_snapshots() -> None:
    run = fwtrack.init(config={"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "layers": [8, 4]})
    c = run.config
    assert c["lr"] == 0.1
    assert c.lr == 0.1
    assert c["opt"]["beta"] == 0.9
    assert c.opt.name == "adam"
    assert c.layers == [8, 4]
    assert "lr" in c
    assert len(c) == 3
    assert sorted(c) == ["layers", "lr", "opt"]
    assert c == {"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "layers": [8, 4]}
    with pytest.raises(KeyError):
        _ = c["missing"]
    with pytest.raises(AttributeError, match="missing"):
        _ = c.missing

    c["epochs"] = 3
    c.batch = 32
    c.opt.beta = 0.95
    c["opt"]["eps"] = 1e-8
    c.update({"lr": 0.2}, seed=1)
    del c["layers"]
    del c.seed
    expected = {
        "lr": 0.2,
        "opt": {"name": "adam", "beta": 0.95, "eps": 1e-8},
        "epochs": 3,
        "batch": 32,
    }
    assert c.as_dict() == expected
    run.flush()
    assert meta(run)["config"] == expected  # readable while running
    run.finish()
    assert meta(run)["config"] == expected
    assert fwtrack.Api().run(f"{run.project}/{run.id}").config == expected


def test_as_dict_is_a_copy() -> None:
    run = fwtrack.init(config={"opt": {"beta": 0.9}})
    d = run.config.as_dict()
    d["opt"]["beta"] = 0.0
    assert run.config.opt.beta == 0.9


def test_config_from_namespace_and_dataclass_values() -> None:
    @dataclasses.dataclass
    class Opt:
        name: str = "sgd"
        momentum: float = 0.9

    run = fwtrack.init()
    run.config.update(argparse.Namespace(lr=0.1, data=Path("/data/x")))
    run.config.opt = Opt()
    run.config.update(
        {
            "np_scalar": np.float32(0.5),
            "np_int": np.int64(4),
            "np_arr": np.arange(3),
            "tensor": torch.tensor([1.0, 2.0]),
            "tuple": (1, 2),
            "nested_ns": argparse.Namespace(a=1),
        }
    )
    run.finish()
    assert meta(run)["config"] == {
        "lr": 0.1,
        "data": "/data/x",
        "opt": {"name": "sgd", "momentum": 0.9},
        "np_scalar": 0.5,
        "np_int": 4,
        "np_arr": [0, 1, 2],
        "tensor": [1.0, 2.0],
        "tuple": [1, 2],
        "nested_ns": {"a": 1},
    }


def test_non_serializable_config_values_are_stored_as_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing>"

    with pytest.warns(FwTrackWarning, match=r"'model'.*repr") as record:
        run = fwtrack.init(config={"model": Thing(), "lr": 0.1})
    assert len(record) == 1
    assert record[0].filename == __file__
    assert run.config.model == "<Thing>"

    with pytest.warns(FwTrackWarning, match=r"'opt.fn'") as record:
        run.config.opt = {"fn": len, "x": 1}
    assert len(record) == 1
    with pytest.warns(FwTrackWarning, match=r"'nan'"):
        run.config["nan"] = float("nan")
    run.finish()
    assert meta(run)["config"] == {
        "model": "<Thing>",
        "lr": 0.1,
        "opt": {"fn": repr(len), "x": 1},
        "nan": "nan",
    }


def test_config_keys_must_be_strings() -> None:
    run = fwtrack.init()
    with pytest.raises(TypeError, match="config keys must be str"):
        run.config.update({1: "a"})
    with pytest.raises(TypeError, match="config keys"):
        fwtrack.init(config={2: "b"})
    with pytest.raises(AttributeError, match="'_private'"):
        run.config._private = 1


def test_config_kept_across_snapshots_without_duplicates() -> None:
    run = fwtrack.init(config={"a": 1})
    for i in range(50):
        run.config[f"k{i}"] = i
    run.finish()
    config = meta(run)["config"]
    assert config == {"a": 1, **{f"k{i}": i for i in range(50)}}


# -- summary ---------------------------------------------------------------------------------


def test_summary_defaults_to_the_last_value() -> None:
    run = fwtrack.init()
    for i, loss in enumerate([3.0, 1.0, 2.0]):
        run.log({"loss": loss, "phase": f"p{i}", "nested": {"acc": i / 10}})
    assert run.summary["loss"] == 2.0
    assert run.summary["phase"] == "p2"
    assert run.summary["nested/acc"] == 0.2
    assert set(run.summary) >= {"loss", "phase", "nested/acc"}
    assert "loss" in run.summary
    run.finish()
    assert meta(run)["summary"]["loss"] == 2.0


def test_define_metric_glob_and_each_aggregation() -> None:
    run = fwtrack.init()
    run.define_metric("train/*", summary="min,max")
    run.define_metric("eval/acc", summary="mean")
    run.define_metric("eval/first", summary="first")
    run.define_metric("eval/last", summary="last")
    run.define_metric("eval/all", summary=" min , max,mean,first,last")
    for v in [3.0, 1.0, 2.0]:
        run.log(
            {
                "train/loss": v,
                "train/lr": v / 10,
                "eval/acc": v,
                "eval/first": v,
                "eval/last": v,
                "eval/all": v,
                "other": v,
            }
        )
    s = run.summary
    assert s["train/loss"] == {"min": 1.0, "max": 3.0}
    assert s["train/lr"] == {"min": 0.1, "max": 0.3}
    assert s["eval/acc"] == {"mean": 2.0}
    assert s["eval/first"] == {"first": 3.0}
    assert s["eval/last"] == {"last": 2.0}
    assert s["eval/all"] == {"min": 1.0, "max": 3.0, "mean": 2.0, "first": 3.0, "last": 2.0}
    assert s["other"] == 2.0
    run.finish()
    m = meta(run)
    assert m["summary"]["train/loss"] == {"min": 1.0, "max": 3.0}
    defs = {d["name"]: d for d in m["metrics"]}
    assert defs["train/*"]["summary"] == ["min", "max"]
    assert defs["eval/all"]["summary"] == ["min", "max", "mean", "first", "last"]


def test_define_metric_step_metric() -> None:
    run = fwtrack.init()
    run.define_metric("epoch")
    run.define_metric("val/*", step_metric="epoch")
    run.finish()
    defs = {d["name"]: d for d in meta(run)["metrics"]}
    assert defs["val/*"]["step_metric"] == "epoch"
    assert defs["epoch"]["step_metric"] is None
    assert defs["epoch"]["summary"] == []


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"summary": "median"}, "'median'"),
        ({"summary": "min,avg"}, "'avg'"),
        ({"summary": "min,"}, "''"),
        ({"step_metric": "a*"}, "'a*'"),
        ({"step_metric": ""}, "''"),
    ],
)
def test_define_metric_rejects_bad_values(kwargs: dict[str, Any], named: str) -> None:
    run = fwtrack.init()
    with pytest.raises(ValueError, match=named.replace("*", r"\*")) as e:
        run.define_metric("loss", **kwargs)
    assert "min" in str(e.value) or "step_metric" in str(e.value)


@pytest.mark.parametrize("name", ["", "a*b", "*x"])
def test_define_metric_rejects_bad_names(name: str) -> None:
    run = fwtrack.init()
    with pytest.raises(ValueError, match="invalid metric name"):
        run.define_metric(name)


def test_explicit_summary_overrides_computed() -> None:
    run = fwtrack.init()
    run.define_metric("acc", summary="max")
    run.log({"loss": 1.0, "acc": 0.5})
    run.summary["loss"] = 0.1
    run.summary["acc"] = 0.99
    run.summary.update({"best_epoch": 3, "notes": {"a": [1, 2]}})
    run.summary["np"] = np.float64(2.5)
    run.summary["t"] = torch.tensor(4)
    run.log({"loss": 5.0, "acc": 0.7})  # the explicit values still win
    assert run.summary["loss"] == 0.1
    assert run.summary["acc"] == 0.99
    assert run.summary["best_epoch"] == 3
    assert run.summary["notes"] == {"a": [1, 2]}
    assert (run.summary["np"], run.summary["t"]) == (2.5, 4)

    del run.summary["loss"]  # gone until logged again, then the computed value
    assert "loss" not in run.summary
    run.log({"loss": 6.0})
    assert run.summary["loss"] == 6.0
    del run.summary["best_epoch"]
    assert "best_epoch" not in run.summary
    with pytest.raises(KeyError):
        del run.summary["never-there"]
    run.finish()
    s = meta(run)["summary"]
    assert s["loss"] == 6.0
    assert s["acc"] == 0.99
    assert "best_epoch" not in s


def test_summary_non_finite_explicit_values() -> None:
    run = fwtrack.init()
    run.summary["nan"] = float("nan")
    run.summary["inf"] = math.inf
    assert math.isnan(run.summary["nan"])
    assert run.summary["inf"] == math.inf


def test_summary_keys_must_be_strings() -> None:
    run = fwtrack.init()
    with pytest.raises(ValueError, match="summary keys"):
        run.summary.update({1: 2})
    with pytest.raises(ValueError, match="summary keys"):
        run.summary[""] = 1


def test_summary_stays_readable_after_finish() -> None:
    run = fwtrack.init()
    run.define_metric("loss", summary="min")
    for x in (3.0, 1.0, 2.0):
        run.log({"loss": x, "acc": x / 4})
    run.summary["best"] = "epoch-2"
    run.finish()
    expected = {"loss": {"min": 1.0}, "acc": 0.5, "best": "epoch-2"}
    assert dict(run.summary) == expected
    assert fwtrack.Api().run(f"{run.project}/{run.id}").summary == expected
