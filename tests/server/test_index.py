"""The server's history index (`_core.index_update`, `read_series`) against the reader.

Real runs are logged with `fwtrack.init`/`log` (finished, resumed, crashed, and one still
being written by another process); the index must give the same points as
`fwtrack.Api().run(...).history()` and the same metadata as `RunReader.meta()`.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fwtrack
from fwtrack import _core

REPO = Path(__file__).resolve().parents[2]
_META_KEYS = {"_step", "_timestamp", "_runtime"}


def same(a: Any, b: Any) -> bool:
    """Deep equality where NaN equals NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(type(a) is type(b) and a == b)


def assert_meta_matches(meta: dict[str, Any], reader_meta: dict[str, Any], *, tail: bool) -> None:
    want = dict(reader_meta)
    got = dict(meta)
    if not tail:
        want.pop("tail_error")
        got.pop("tail_error")
    assert same(got, want), f"index meta {got}\nreader meta {want}"


def numeric(v: Any) -> float | None:
    """The value the index keeps for a logged value (bools as 0/1), None if not indexed."""
    if isinstance(v, bool | np.bool_ | int | float | np.integer | np.floating):
        return float(v)
    return None


def assert_index_matches(run_dir: Path, idx: Path, update: dict[str, Any]) -> None:
    """The index in `idx` holds exactly the numeric points of the run's history."""
    run = fwtrack.Api(str(run_dir.parent.parent)).run(f"{run_dir.parent.name}/{run_dir.name}")
    df = run.history()
    expected: dict[str, list[tuple[float, float]]] = {}
    for row in run.scan_history():
        for k, v in row.items():
            x = None if k in _META_KEYS else numeric(v)
            if x is not None:
                expected.setdefault(k, []).append((float(row["_step"]), x))
    series = _core.read_series(str(idx), None, 0)
    assert list(series) == update["keys"]
    assert sorted(series) == sorted(expected)
    by_step = df.set_index("_step")
    for key, points in expected.items():
        s = series[key]
        assert set(s) == {"step", "value", "timestamp"}
        np.testing.assert_array_equal(s["step"], [p[0] for p in points])
        np.testing.assert_array_equal(s["value"], [p[1] for p in points])
        # The same points through the DataFrame: the value in the key's column at that step
        # (a row's timestamp is its last record's, so never before the point's own).
        at = by_step.loc[s["step"].astype(np.int64)]
        cells = np.array([numeric(c) for c in at[key].tolist()], dtype=np.float64)
        np.testing.assert_array_equal(cells, s["value"], err_msg=key)
        assert (s["timestamp"] > 0).all()
        assert (s["timestamp"] <= at["_timestamp"].to_numpy()).all()


def log_path(run: fwtrack.Run) -> str:
    return str(Path(run.dir) / _core.LOG_FILE_NAME)


@pytest.mark.usefixtures("tmp_dir")
def test_index_of_a_finished_run_matches_history_and_meta(tmp_path: Path) -> None:
    run = fwtrack.init(project="p", id="done", config={"lr": 0.01, "layers": [1, 2]})
    fwtrack.define_metric("train/loss", summary=["min", "max", "mean"])
    rng = np.random.default_rng(0)
    for step in range(300):
        loss = [math.nan, math.inf, -math.inf][step % 3] if step % 50 == 7 else 1 / (step + 1)
        data: dict[str, Any] = {
            "train": {"loss": loss, "acc": step / 300},
            "epoch": step // 100,
            "is_best": step % 10 == 0,
            "phase": "warmup" if step < 20 else "main",
            "mixed": "n/a" if step % 4 == 0 else step * 0.5,
        }
        if step % 60 == 0:
            data["weights"] = fwtrack.Histogram(rng.normal(size=200), num_bins=8)
        fwtrack.log(data)
        if step % 25 == 0:
            fwtrack.log({"eval/score": step * 2.0}, step=step)  # same step: merged
    fwtrack.log({"late": 1.0}, commit=False)
    fwtrack.log({"late2": 2.0})
    run.summary["best"] = {"score": 0.9}
    fwtrack.finish()

    idx = tmp_path / "index"
    u = _core.index_update(log_path(run), str(idx))
    assert u["log_offset"] == os.path.getsize(log_path(run))
    assert "phase" not in u["keys"]
    assert "weights" not in u["keys"]
    assert u["keys"][:2] == ["train/loss", "train/acc"]
    assert u["rows_added"] > 0
    reader_meta = _core.RunReader(run.dir).meta()
    assert_meta_matches(u["meta"], reader_meta, tail=True)
    assert u["meta"]["summary"]["best"] == {"score": 0.9}
    assert set(u["meta"]["summary"]["train/loss"]) == {"min", "max", "mean"}
    assert_index_matches(Path(run.dir), idx, u)

    # Nothing new: nothing added, same answer; reading the metadata alone agrees.
    again = _core.index_update(log_path(run), str(idx))
    assert again["rows_added"] == 0
    assert same({**again, "rows_added": u["rows_added"]}, u)
    assert same(_core.index_read_meta(str(idx)), {**u, "rows_added": 0})

    # Downsampled reads equal downsampling the full series; min/max come with them.
    full = _core.read_series(str(idx), ["train/loss"], 0)["train/loss"]
    small = _core.read_series(str(idx), ["train/loss", "no/such/key"], 10)
    assert list(small) == ["train/loss"]
    want = _core.downsample(full["step"], full["value"], full["timestamp"], 10)
    assert set(small["train/loss"]) == {"step", "value", "timestamp", "min", "max"}
    for k in want:
        np.testing.assert_array_equal(small["train/loss"][k], want[k])
    assert small["train/loss"]["step"][-1] == full["step"][-1]
    ranged = _core.read_series(str(idx), ["epoch"], 0, 100.0, 199.0)["epoch"]
    assert ranged["step"].tolist() == [float(s) for s in range(100, 200)]
    assert set(ranged["value"].tolist()) == {1.0}


@pytest.mark.usefixtures("tmp_dir")
def test_a_resumed_run_is_indexed_incrementally(tmp_path: Path) -> None:
    first = fwtrack.init(project="p", id="res")
    fwtrack.define_metric("loss", summary=["min", "first"])
    for step in range(50):
        fwtrack.log({"loss": 10.0 - step * 0.1, "lr": 0.1})
    first.summary["note"] = "first part"
    fwtrack.finish()
    idx = tmp_path / "index"
    u1 = _core.index_update(log_path(first), str(idx))
    assert u1["meta"]["finish"]["exit_code"] == 0

    second = fwtrack.init(project="p", id="res", resume="must")
    for _ in range(30):
        fwtrack.log({"loss": 20.0, "lr": 0.01, "new": math.nan})
    fwtrack.finish(exit_code=3)
    u2 = _core.index_update(log_path(second), str(idx))
    assert u2["log_offset"] > u1["log_offset"]
    assert u2["rows_added"] == 30 * 3
    assert len(u2["meta"]["starts"]) == 2
    assert u2["meta"]["finish"]["exit_code"] == 3
    assert u2["meta"]["summary"]["loss"] == {"min": pytest.approx(5.1), "first": 10.0}
    assert_meta_matches(u2["meta"], _core.RunReader(second.dir).meta(), tail=True)
    assert_index_matches(Path(second.dir), idx, u2)
    assert u2["meta"]["last_step"] == 79

    # One update over the whole log gives the same index.
    whole = _core.index_update(log_path(second), str(tmp_path / "whole"))
    assert same({**whole, "rows_added": 0}, {**u2, "rows_added": 0})
    assert (idx / "manifest.json").read_text() == (tmp_path / "whole" / "manifest.json").read_text()


def _child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["FWTRACK_DIR"] = str(tmp_path / "fwtrack")
    env["FWTRACK_FLUSH_INTERVAL"] = "0.01"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    return env


_WRITER = """
    import math, os, sys, time, fwtrack
    stop = sys.argv[1]
    run = fwtrack.init(project="p", id="live")
    fwtrack.define_metric("x", summary=["max"])
    step = 0
    while not os.path.exists(stop):
        fwtrack.log({"x": math.sin(step / 50), "y": step, "s": "str", "b": step % 2 == 0})
        step += 1
        if step % 100 == 0:
            time.sleep(0.002)  # keep the history small enough to check in full
    {ending}
"""


def _start_writer(tmp_path: Path, ending: str) -> tuple[subprocess.Popen[str], Path, Path]:
    stop = tmp_path / "stop"
    source = textwrap.dedent(_WRITER).replace("{ending}", ending)
    proc = subprocess.Popen(
        [sys.executable, "-c", source, str(stop)],
        cwd=tmp_path,
        env=_child_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, stop, tmp_path / "fwtrack" / "p" / "live"


def _wait_for_log(run_dir: Path, proc: subprocess.Popen[str]) -> Path:
    log = run_dir / _core.LOG_FILE_NAME
    deadline = time.monotonic() + 60
    while not (log.exists() and log.stat().st_size > 16):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the writer never wrote its log"
        time.sleep(0.01)
    return log


def _check_prefix(log: Path, idx: Path, u: dict[str, Any], scratch: Path) -> None:
    """The index equals what the reader makes of the log's first `log_offset` bytes."""
    prefix_dir = scratch / "p" / "live"
    prefix_dir.mkdir(parents=True, exist_ok=True)
    with log.open("rb") as f:
        data = f.read(u["log_offset"])
    (prefix_dir / _core.LOG_FILE_NAME).write_bytes(data)
    assert_meta_matches(u["meta"], _core.RunReader(str(prefix_dir)).meta(), tail=False)
    assert_index_matches(prefix_dir, idx, u)


def test_the_index_follows_a_run_being_written(tmp_path: Path) -> None:
    proc, stop, run_dir = _start_writer(tmp_path, "fwtrack.finish()")
    try:
        log = _wait_for_log(run_dir, proc)
        idx = tmp_path / "index"
        offsets: list[int] = []
        while len(set(offsets)) < 4:
            assert proc.poll() is None, proc.communicate()
            u = _core.index_update(str(log), str(idx))
            assert not offsets or u["log_offset"] >= offsets[-1]
            offsets.append(u["log_offset"])
            assert u["meta"]["finish"] is None
            _check_prefix(log, idx, u, tmp_path / f"prefix{len(offsets)}")
        stop.touch()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        stop.touch()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    u = _core.index_update(str(log), str(idx))
    assert u["log_offset"] == log.stat().st_size
    assert u["meta"]["finish"]["exit_code"] == 0
    assert u["meta"]["tail_error"] is None
    assert u["keys"] == ["x", "y", "b"]
    assert_meta_matches(u["meta"], _core.RunReader(str(run_dir)).meta(), tail=True)
    assert_index_matches(run_dir, idx, u)
    # The live summary is the writer's.
    assert u["meta"]["summary"]["x"] == {"max": pytest.approx(1.0, abs=1e-3)}


def test_a_killed_run_is_indexed_up_to_its_last_whole_frame(tmp_path: Path) -> None:
    proc, stop, run_dir = _start_writer(tmp_path, "")
    try:
        log = _wait_for_log(run_dir, proc)
        idx = tmp_path / "index"
        while _core.index_update(str(log), str(idx))["meta"]["rows"] < 1000:
            assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        stop.touch()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # The start of a frame that never got written whole, as a kill mid-write leaves it.
    size = log.stat().st_size
    with log.open("ab") as f:
        f.write(b"\x10\x00\x00\x00partial")
    u = _core.index_update(str(log), str(idx))
    assert u["log_offset"] == size
    assert "torn tail" in u["meta"]["tail_error"]
    assert u["meta"]["finish"] is None
    assert_meta_matches(u["meta"], _core.RunReader(str(run_dir)).meta(), tail=True)
    assert_index_matches(run_dir, idx, u)


@pytest.mark.usefixtures("tmp_dir")
def test_a_replaced_log_is_reindexed(tmp_path: Path) -> None:
    run = fwtrack.init(project="p", id="a")
    for step in range(100):
        fwtrack.log({"v": float(step)})
    fwtrack.finish()
    idx = tmp_path / "index"
    _core.index_update(log_path(run), str(idx))
    other = fwtrack.init(project="p", id="b")
    for step in range(10):
        fwtrack.log({"w": -float(step)})
    fwtrack.finish()
    shutil.copy(log_path(other), log_path(run))
    u = _core.index_update(log_path(run), str(idx))
    assert u["keys"] == ["w"]
    assert u["meta"]["rows"] == 10
    assert_index_matches(Path(run.dir), idx, u)
    assert sorted(p.name for p in idx.glob("*.col")) == ["0.col"]


def test_an_empty_index_reads_as_empty(tmp_path: Path) -> None:
    got = _core.index_read_meta(str(tmp_path / "missing"))
    assert got["log_offset"] == 0
    assert got["keys"] == []
    assert got["rows_added"] == 0
    meta = got["meta"]
    assert (meta["starts"], meta["config"], meta["summary"]) == ([], {}, {})
    assert (meta["finish"], meta["last_step"], meta["rows"]) == (None, None, 0)
    assert _core.read_series(str(tmp_path / "missing"), None, 1000) == {}


@pytest.mark.usefixtures("tmp_dir")
def test_validate_frames_on_a_real_log() -> None:
    run = fwtrack.init(project="p", id="v")
    for step in range(200):
        fwtrack.log({"v": float(step)})
        if step % 50 == 0:
            run.flush()
    fwtrack.finish()
    data = Path(log_path(run)).read_bytes()
    frames = _core.validate_frames(data, True)
    assert frames >= 4
    assert _core.validate_frames(data[16:], False) == frames
    assert _core.validate_frames(b"", False) == 0
    with pytest.raises(ValueError, match=r"at byte \d+: incomplete frame"):
        _core.validate_frames(data[:-1], True)
    with pytest.raises(ValueError, match=r"at byte 0: .*magic"):
        _core.validate_frames(b"NOTALOG!" + data[8:], True)
    damaged = bytearray(data)
    damaged[40] ^= 0xFF
    with pytest.raises(ValueError, match=r"at byte 16: CRC mismatch"):
        _core.validate_frames(bytes(damaged), True)


def test_downsample_arguments() -> None:
    step = np.arange(1000, dtype=np.float64)
    value = np.sin(step / 10)
    value[500] = 99.0
    value[501] = np.nan
    out = _core.downsample(step, value, step + 0.5, 10)
    assert len(out["step"]) == 10
    assert out["step"][-1] == 999.0
    assert out["max"][5] == 99.0
    assert not np.isnan(out["min"]).any()
    # Strided input works the same as contiguous.
    strided = _core.downsample(np.repeat(step, 2)[::2], value, step + 0.5, 10)
    np.testing.assert_array_equal(strided["value"], out["value"])
    whole = _core.downsample(step, value, step, 0)
    assert set(whole) == {"step", "value", "timestamp"}
    assert len(whole["step"]) == 1000
    with pytest.raises(ValueError, match="same length"):
        _core.downsample(step, value[:10], step, 10)
    with pytest.raises(ValueError, match="samples must be >= 0"):
        _core.downsample(step, value, step, -1)
