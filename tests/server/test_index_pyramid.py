"""The history index's min/max pyramid on a real run: downsampled reads of any range equal
downsampling every point of it, the index built while the run is written equals one built
after, and an index written before pyramids gets its pyramid from the next update."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import fwtrack
from fwtrack import _core

STEPS = 20_000  # more than 64² rows: a column with one pyramid level


def files(idx: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(idx.iterdir()) if ".p" in p.name}


def assert_reads_equal_every_point(idx: Path) -> None:
    rng = np.random.default_rng(3)
    ranges: list[tuple[float | None, float | None]] = [(None, None), (0.0, 19_999.0)]
    ranges += [(None, 15_000.0), (9_000.5, None)]
    for _ in range(12):
        lo = float(rng.integers(0, STEPS))
        ranges.append((lo, lo + float(rng.integers(1, STEPS))))
    for key in ("train/loss", "eval/acc"):
        for lo, hi in ranges:
            full = _core.read_series(str(idx), [key], 0, lo, hi)[key]
            for samples in (5, 37, 200):
                got = _core.read_series(str(idx), [key], samples, lo, hi)[key]
                want = _core.downsample(full["step"], full["value"], full["timestamp"], samples)
                assert set(got) == set(want), (key, lo, hi, samples)
                for k in want:
                    np.testing.assert_array_equal(got[k], want[k], err_msg=f"{key} {lo} {hi}")


@pytest.mark.usefixtures("tmp_dir")
def test_pyramid_reads_equal_every_point_and_upgrade_old_manifests(tmp_path: Path) -> None:
    run = fwtrack.init(project="p", id="long")
    log = str(Path(run.dir) / _core.LOG_FILE_NAME)
    live = tmp_path / "live"
    rng = np.random.default_rng(0)
    values = rng.normal(size=STEPS)
    for step in range(STEPS):
        loss = math.nan if step % 997 == 5 else float(values[step])
        if step % 4999 == 11:
            loss = 1e6  # a spike
        row = {"train/loss": loss}
        if step % 3 == 0:
            row["eval/acc"] = step / STEPS
        fwtrack.log(row, step=step)
        if step % 7 == 0:
            fwtrack.log({"train/loss": loss - 0.5}, step=step)  # same step: replaces the row
        if step % 6_000 == 0:
            run.flush()
            _core.index_update(log, str(live))  # indexed while the run is written
    fwtrack.finish()
    _core.index_update(log, str(live))

    idx = tmp_path / "index"
    u = _core.index_update(log, str(idx))
    assert u["rows_added"] > STEPS
    manifest = json.loads((idx / "manifest.json").read_text())
    assert {c["levels"] for c in manifest["columns"].values()} == {1}
    assert files(live) == files(idx)
    assert_reads_equal_every_point(idx)
    whole = _core.read_series(str(idx), None, 100)
    assert whole["train/loss"]["max"].max() == 1e6  # the spike survives downsampling

    # An index written before pyramids: no "levels", no level files.
    built = files(idx)
    for c in manifest["columns"].values():
        del c["levels"]
        (idx / c["file"].replace(".col", ".p1")).unlink()
    (idx / "manifest.json").write_text(json.dumps(manifest))
    assert_reads_equal_every_point(idx)  # from the rows meanwhile
    again = _core.index_update(log, str(idx))
    assert again["rows_added"] == 0
    assert files(idx) == built
    assert_reads_equal_every_point(idx)
