"""The server's history index: how fast a run log is indexed and one key is read back.

    .venv/bin/python benches/index_bench.py                 # 1M points, a few seconds
    .venv/bin/python benches/index_bench.py --points 200000 # a shorter pass

A run logs `--points` steps of `--keys` float metrics through `fwtrack.log` into a temporary
directory. Then:

- `index_update` over the whole log (points indexed per second, cold: a fresh index), and
  an incremental update after one more flushed block;
- `read_series` of one key: all `--points` rows downsampled to `--samples` points, full
  range and a 10% zoom, and the same key at full resolution;
- `downsample` of the same arrays already in memory (no file work), for comparison.

Times are the median of `--reps` repetitions after one warm-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))

import numpy as np  # noqa: E402

import fwtrack  # noqa: E402
from fwtrack import _core  # noqa: E402


def median_time(fn: Callable[[], object], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000, help="steps logged (default 1M)")
    ap.add_argument("--keys", type=int, default=1, help="float metrics per step (default 1)")
    ap.add_argument("--samples", type=int, default=1000, help="downsampling target")
    ap.add_argument("--reps", type=int, default=7, help="repetitions per timing")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FWTRACK_DIR"] = str(Path(tmp) / "fwtrack")
        keys = [f"train/m{i}" for i in range(args.keys)]
        rng = np.random.default_rng(0)
        values = rng.normal(size=args.points).tolist()
        t0 = time.perf_counter()
        run = fwtrack.init(project="bench", id="index")
        for v in values:
            fwtrack.log(dict.fromkeys(keys, v))
        fwtrack.finish()
        log_s = time.perf_counter() - t0
        log = str(Path(run.dir) / _core.LOG_FILE_NAME)
        size = os.path.getsize(log)
        points = args.points * args.keys
        print(f"logged {points:,} points ({size / 1e6:.1f} MB log) in {log_s:.1f} s")

        def cold() -> None:
            idx = Path(tmp) / f"index-{time.perf_counter_ns()}"
            _core.index_update(log, str(idx))

        t_update = median_time(cold, max(1, args.reps // 2))
        idx = str(Path(tmp) / "index")
        u = _core.index_update(log, idx)
        assert u["keys"] == keys, u["keys"]
        print(
            f"index_update, whole log:        {t_update * 1e3:8.1f} ms  "
            f"({points / t_update / 1e6:.1f} M points/s, {size / t_update / 1e6:.0f} MB/s)"
        )
        t_noop = median_time(lambda: _core.index_update(log, idx), args.reps)
        print(f"index_update, nothing new:      {t_noop * 1e3:8.3f} ms")

        key = keys[0]
        lo, hi = 0.45 * args.points, 0.55 * args.points
        t_ds = median_time(lambda: _core.read_series(idx, [key], args.samples), args.reps)
        t_zoom = median_time(lambda: _core.read_series(idx, [key], args.samples, lo, hi), args.reps)
        t_full = median_time(lambda: _core.read_series(idx, [key], 0), args.reps)
        full = _core.read_series(idx, [key], 0)[key]
        t_mem = median_time(
            lambda: _core.downsample(full["step"], full["value"], full["timestamp"], args.samples),
            args.reps,
        )
        n = len(full["step"])
        print(f"read_series {n:,} -> {args.samples}:     {t_ds * 1e3:8.2f} ms")
        print(f"read_series 10% zoom -> {args.samples}:  {t_zoom * 1e3:8.2f} ms")
        print(f"read_series {n:,} full res:  {t_full * 1e3:8.2f} ms")
        print(f"downsample in memory {n:,}:  {t_mem * 1e3:8.2f} ms")


if __name__ == "__main__":
    main()
