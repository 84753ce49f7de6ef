"""Config, summary and run info reach the run log as records without JSON text in between:
each value type stores exactly what the JSON path (`json.dumps` in Python, parsed in the
core) stored, and a resumed run reads its log back once for the info and the writer state."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fwtrack
from fwtrack import _core
from fwtrack.sdk.values import jsonable, warn

pytestmark = pytest.mark.usefixtures("tmp_dir")

VALUES: dict[str, Any] = {
    "nested": {"a": {"b": {"c": [1, 2, {"d": None}]}}, "e": "f"},
    "list": [1, 2.5, "x", None, True, [3, [4]]],
    "tuple": (1, (2, 3), "t"),
    "np": {
        "f64": np.float64(0.1),
        "f32": np.float32(1.5),
        "i64": np.int64(-7),
        "u8": np.uint8(200),
        "b": np.bool_(True),
        "arr": np.arange(3),
    },
    "bool": False,
    "none": None,
    "big": 2**63 + 5,
    "bigger": 2**70,
    "negative_big": -(2**63),
    "float": -0.0,
    "tiny": 5e-324,
    "unicode": "héllo ✓ 日本 🚀",
    "empty": {"dict": {}, "list": []},
}


def _stored_through_json(value: dict[str, Any], *, finite: bool) -> dict[str, Any]:
    """What the config/summary path stored before: the cleaned value as JSON text, parsed in
    the core (the core still accepts a JSON object's text)."""
    run_dir = Path("json-path")
    writer = _core.RunWriter(str(run_dir), "{}", converter=lambda k, v: v, warn=warn)
    clean = jsonable(value, "", [], finite=finite)
    writer.log_config(json.dumps(clean, allow_nan=not finite))
    writer.update_summary(json.dumps(clean), [])
    writer.finish()
    meta: dict[str, Any] = _core.RunReader(str(run_dir)).meta()
    return meta


def test_config_and_summary_store_what_the_json_path_stored() -> None:
    run = fwtrack.init(config=VALUES)
    run.summary.update(VALUES)
    run.finish()
    got = _core.RunReader(run.dir).meta()
    want = _stored_through_json(VALUES, finite=True)
    assert got["config"] == want["config"]
    assert got["summary"] == want["summary"]
    assert got["config"]["np"] == {
        "f64": 0.1,
        "f32": 1.5,
        "i64": -7,
        "u8": 200,
        "b": True,
        "arr": [0, 1, 2],
    }
    assert got["config"]["tuple"] == [1, [2, 3], "t"]
    assert got["config"]["big"] == 2**63 + 5
    assert got["config"]["bigger"] == float(2**70)
    assert got["config"]["unicode"] == "héllo ✓ 日本 🚀"
    assert math.copysign(1.0, got["config"]["float"]) == -1.0


def test_non_finite_values_as_before() -> None:
    """Config stores NaN/Inf as their repr (with a warning); the summary keeps them."""
    values = {"nan": float("nan"), "inf": float("inf"), "np_inf": np.float64("-inf")}
    with pytest.warns(fwtrack.FwTrackWarning, match="repr"):
        run = fwtrack.init(config=values)
    run.summary.update(values)
    run.finish()
    got = _core.RunReader(run.dir).meta()
    assert got["config"] == {"nan": "nan", "inf": "inf", "np_inf": "-inf"}
    assert math.isnan(got["summary"]["nan"])
    assert got["summary"]["inf"] == math.inf
    assert got["summary"]["np_inf"] == -math.inf


def test_core_converts_numpy_scalars_without_json() -> None:
    writer = _core.RunWriter("core-np", {"id": "x"}, converter=lambda k, v: v, warn=warn)
    writer.log_config({"i": np.int32(3), "f": np.float16(0.5), "b": np.bool_(False)})
    writer.finish()
    meta = _core.RunReader("core-np").meta()
    assert meta["config"] == {"i": 3, "f": 0.5, "b": False}
    assert type(meta["config"]["i"]) is int
    assert meta["starts"][0]["id"] == "x"


def test_unsupported_keys_and_values_raise_as_before() -> None:
    run = fwtrack.init()
    with pytest.raises(TypeError, match="config keys must be str"):
        run.config.update({1: "a"})
    with pytest.raises(ValueError, match="summary keys must be non-empty strings"):
        run.summary.update({2: "b"})
    run.finish()


def test_resume_reads_back_info_config_metrics_and_summary() -> None:
    run = fwtrack.init(id="r1", name="first", tags=["a"], notes="n", config={"lr": 0.1})
    run.define_metric("loss", summary="min")
    run.log({"loss": 2.0})
    run.log({"loss": 1.0})
    run.summary["best"] = np.int64(4)
    run.finish()

    again = fwtrack.init(id="r1", resume="allow", config={"bs": 8})
    assert again.resumed
    assert again.name == "first"
    assert again.tags == ("a",)
    assert again.notes == "n"
    assert again.step == 2
    assert dict(again.config) == {"lr": 0.1, "bs": 8}
    assert again.summary["best"] == 4
    assert again.summary["loss"] == {"min": 1.0}
    again.log({"loss": 0.5})
    again.finish()
    meta = _core.RunReader(again.dir).meta()
    assert [s["resumed"] for s in meta["starts"]] == [False, True]
    assert meta["starts"][1]["created_at"] == meta["starts"][0]["created_at"]
    assert meta["config"] == {"lr": 0.1, "bs": 8}
    assert meta["summary"]["loss"] == {"min": 0.5}


def test_info_callable_gets_the_resumed_meta_once() -> None:
    seen: list[dict[str, Any] | None] = []

    def info(meta: dict[str, Any] | None) -> dict[str, Any]:
        seen.append(meta)
        return {"id": "c", "n": len(seen)}

    w = _core.RunWriter("cb", info, converter=lambda k, v: v, warn=warn)
    w.log({"x": 1})
    w.finish()
    w = _core.RunWriter("cb", info, resume=True, converter=lambda k, v: v, warn=warn)
    w.finish()
    assert seen[0] is None
    prior = seen[1]
    assert prior is not None
    assert prior["starts"] == [{"id": "c", "n": 1}]
    assert prior["last_step"] == 0
    assert len(seen) == 2

    def broken(meta: dict[str, Any] | None) -> dict[str, Any]:
        raise KeyError("no info")

    with pytest.raises(KeyError, match="no info"):
        _core.RunWriter("cb", broken, resume=True, converter=lambda k, v: v, warn=warn)
    assert _core.RunReader("cb").meta()["starts"][-1] == {"id": "c", "n": 2}
