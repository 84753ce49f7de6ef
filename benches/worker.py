"""Measure one figure for one tracker in this (fresh) process and print one JSON line.

    python benches/worker.py --tracker fwtrack --figure log2 --workdir DIR [--calls N] ...

Figures:
  init   import time, init() time, finish() of an empty run
  log2   N calls of log() with 2 scalars: per-call cost, finish(), read back + verify,
         bytes on disk, peak RSS
  log100 the same with 100 scalars per call: also the throughput ceiling (points/s)
  hist   histogram of `--size` float32 values: trackers floor (arr.sum()), numpy
         (np.histogram), fwtrack (fwtrack.Histogram), wandb (wandb.Histogram)
  train  a tiny MLP trained on CPU for `--steps` logged steps (loss + lr every step),
         interleaved with as many steps that do not log

The result line starts with RESULT_PREFIX so that anything a tracker prints is ignored. Only
the standard library is imported before the figure starts, so `init` times a cold import.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trackers import OFFLINE_ENV, TRACKERS, Tracker

RESULT_PREFIX = "@@fwbench "
HIST_TRACKERS = ("floor", "numpy", "fwtrack", "wandb")
HIST_MODULES = {"floor": "numpy", "numpy": "numpy", "fwtrack": "fwtrack", "wandb": "wandb"}
CONFIG = {"lr": 0.001, "batch_size": 128, "model": "mlp", "seed": 0}
POOL = 4096  # distinct rows cycled through by the log loops (a power of two)
TRAIN_BLOCK = 10  # training steps per block (train)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def children_rss_mb() -> float | None:
    """Current RSS of helper processes the tracker started (wandb's service), if psutil is
    available; None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total / 2**20


def make_rows(keys: int) -> list[dict[str, float]]:
    """POOL distinct rows of `keys` random floats, built before timing so that the loops
    measure log() and not the building of its argument."""
    rng = random.Random(0)
    names = ["train/loss", "train/lr"] if keys == 2 else [f"metrics/m{i:03d}" for i in range(keys)]
    return [{name: rng.gauss(0.0, 1.0) for name in names} for _ in range(POOL)]


def fig_init(tracker: Tracker) -> dict[str, Any]:
    t0 = time.perf_counter()
    tracker.load()
    t1 = time.perf_counter()
    tracker.init(CONFIG)
    t2 = time.perf_counter()
    tracker.finish()
    t3 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "init_s": t2 - t1,
        "import_init_s": t2 - t0,
        "finish_empty_s": t3 - t2,
        "rss_mb": peak_rss_mb(),
    }


CONFIG_1K = {f"group{i // 50}/param_{i}": i * 0.001 for i in range(1000)}
"""A 1,000-key config (figure finish_env)."""


def fig_finish_env(tracker: Tracker) -> dict[str, Any]:
    """init() with a 1,000-key config, then finish() of the empty run, the tracker's default
    captures on (fwtrack: code and environment snapshot, system metrics, console)."""
    tracker.load()
    t0 = time.perf_counter()
    tracker.init(CONFIG_1K)
    t1 = time.perf_counter()
    tracker.finish()
    t2 = time.perf_counter()
    return {"init_config_s": t1 - t0, "finish_env_s": t2 - t1}


def timed_calls(
    tracker: Tracker, rows: list[dict[str, float]], calls: int, budget: float
) -> dict[str, Any]:
    """Call `tracker.log` on `rows` cyclically `calls` times (or until `budget` seconds have
    gone), timing batches of calls; per-call figures are batch time / batch size."""
    log = tracker.log
    mask = len(rows) - 1
    batch = max(1, min(100, calls // 200))
    per_call: list[float] = []
    done = 0
    clock = time.perf_counter_ns
    start = clock()
    deadline = start + int(budget * 1e9)
    while done < calls:
        n = min(batch, calls - done)
        t0 = clock()
        for i in range(done, done + n):
            log(rows[i & mask])
        t1 = clock()
        per_call.append((t1 - t0) / n / 1000)
        done += n
        if t1 > deadline:
            break
    log_s = (clock() - start) / 1e9
    per_call.sort()
    return {
        "calls": done,
        "batch": batch,
        "log_s": log_s,
        "per_call_median_us": per_call[len(per_call) // 2],
        "per_call_p99_us": per_call[min(len(per_call) - 1, int(len(per_call) * 0.99))],
        "per_call_mean_us": log_s * 1e6 / done,
    }


def fig_log(tracker: Tracker, keys: int, calls: int, budget: float) -> dict[str, Any]:
    rows = make_rows(keys)
    tracker.load()
    tracker.init(CONFIG)
    res = timed_calls(tracker, rows, calls, budget)
    children = children_rss_mb()
    t0 = time.perf_counter()
    tracker.finish()
    finish_s = time.perf_counter() - t0
    rss = peak_rss_mb()
    points = res["calls"] * keys
    t0 = time.perf_counter()
    found = tracker.read_back()
    readback_s = time.perf_counter() - t0
    size = tracker.bytes_on_disk()
    res.update(
        keys=keys,
        points=points,
        finish_s=finish_s,
        points_per_s=points / (res["log_s"] + finish_s),
        readback_s=readback_s if found >= 0 else None,
        readback_points=found if found >= 0 else None,
        verified=(found == points) if found >= 0 else None,
        bytes=size,
        bytes_per_point=size / points,
        rss_mb=rss,
        children_rss_mb=children,
    )
    return res


def numpy_kernels() -> dict[str, Any]:
    """What numpy runs on: SIMD extensions, BLAS libraries (threadpoolctl), OpenBLAS env."""
    import numpy as np

    info: dict[str, Any] = {
        "numpy": np.__version__,
        "env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
    }
    try:
        from numpy._core import _multiarray_umath as mu

        info["simd_baseline"] = list(mu.__cpu_baseline__)
        info["simd_dispatch"] = [f for f in mu.__cpu_dispatch__ if mu.__cpu_features__.get(f)]
    except (ImportError, AttributeError):
        pass
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {
                k: p.get(k)
                for k in (
                    "user_api",
                    "internal_api",
                    "version",
                    "architecture",
                    "num_threads",
                    "threading_layer",
                )
            }
            for p in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = None
    return info


def fig_hist(name: str, workdir: Path, size: int, repeat: int) -> dict[str, Any]:
    import numpy as np

    arr = np.random.default_rng(0).standard_normal(size, dtype=np.float32)
    func: Any
    if name == "floor":
        func = arr.sum
    elif name == "numpy":

        def func() -> Any:
            return np.histogram(arr, bins=64)
    else:
        tracker = TRACKERS[name](workdir)
        tracker.load()
        hist = tracker.histogram  # type: ignore[attr-defined]

        def func() -> Any:
            return hist(arr, 64)

    func()  # warm up: page in, first-call setup
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "size": size,
        "repeat": repeat,
        "median_s": times[len(times) // 2],
        "min_s": times[0],
        "gb_per_s": arr.nbytes / times[len(times) // 2] / 1e9,
        "kernels": numpy_kernels(),
    }


def fig_train(tracker: Tracker, steps: int, threads: int) -> dict[str, Any]:
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    xs = torch.randn(32, 128, 64)
    ys = torch.randint(0, 10, (32, 128))
    loss_fn = nn.CrossEntropyLoss()

    def step(i: int) -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs[i % 32]), ys[i % 32])
        loss.backward()
        opt.step()
        return loss

    for i in range(100):  # warm up torch before the tracker starts
        step(i)
    blocks = -(-steps // TRAIN_BLOCK)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2 * blocks * TRAIN_BLOCK)

    t0 = time.perf_counter()
    tracker.load()
    t1 = time.perf_counter()
    tracker.init(CONFIG)
    t2 = time.perf_counter()

    def skip(data: dict[str, float]) -> None:
        pass

    # Blocks of steps that log to the tracker alternate (in A B B A order, so that a slow drift
    # cancels) with blocks that hand the same dict to a function that does nothing. The first
    # kind make the figure; their time against the second kind's is the overhead measured
    # inside one process, which the process-to-process spread (a few %) does not blur. The
    # time inside log() itself is the direct measure: after a training step the caches hold
    # torch's data, so a call costs more here than in a tight loop of calls.
    clock = time.perf_counter_ns
    per_step: list[int] = []
    in_log: list[int] = []  # time inside the tracker's log() (logged steps)
    spent = {True: 0, False: 0}
    i = 0
    for b in range(2 * blocks):
        logging = b % 4 in (0, 3)
        log = tracker.log if logging else skip
        block_start = clock()
        for _ in range(TRAIN_BLOCK):
            s0 = clock()
            loss = step(i)
            sched.step()
            row = {"train/loss": loss.item(), "train/lr": sched.get_last_lr()[0]}
            l0 = clock()
            log(row)
            l1 = clock()
            if logging:
                per_step.append(l1 - s0)
                in_log.append(l1 - l0)
            i += 1
        spent[logging] += clock() - block_start
    t3 = time.perf_counter()
    tracker.finish()
    finish_s = time.perf_counter() - t3
    per_step.sort()
    in_log.sort()
    return {
        "steps": blocks * TRAIN_BLOCK,
        "in_log_median_us": in_log[len(in_log) // 2] / 1000,
        "in_log_mean_us": sum(in_log) / len(in_log) / 1000,
        "in_log_pct": sum(in_log) / spent[True] * 100,
        "import_s": t1 - t0,  # with torch and numpy already imported, as in a training script
        "init_s": t2 - t1,
        "loop_s": spent[True] / 1e9,
        "unlogged_loop_s": spent[False] / 1e9,
        "paired_overhead_pct": (spent[True] / spent[False] - 1) * 100,
        "step_median_us": per_step[len(per_step) // 2] / 1000,
        "finish_s": finish_s,
        "torch_threads": torch.get_num_threads(),
        "rss_mb": peak_rss_mb(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tracker", required=True)
    p.add_argument(
        "--figure",
        required=True,
        choices=["init", "log2", "log100", "hist", "train", "finish_env"],
    )
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--calls", type=int, default=100_000, help="log() calls (log2, log100)")
    p.add_argument("--budget", type=float, default=10.0, help="seconds cap on the log loop")
    p.add_argument("--size", type=int, default=10_000_000, help="values (hist)")
    p.add_argument("--repeat", type=int, default=7, help="timed repetitions (hist)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (train)")
    p.add_argument("--torch-threads", type=int, default=0, help="0: torch's default (train)")
    args = p.parse_args()
    os.environ.update(OFFLINE_ENV)
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(args.workdir)
    out: dict[str, Any] = {"tracker": args.tracker, "figure": args.figure}
    try:
        if args.figure == "hist":
            if args.tracker not in HIST_TRACKERS:
                raise SystemExit(f"no histogram for tracker {args.tracker!r}")
            out.update(fig_hist(args.tracker, args.workdir, args.size, args.repeat))
        else:
            tracker = TRACKERS[args.tracker](args.workdir)
            if args.figure == "init":
                out.update(fig_init(tracker))
            elif args.figure == "log2":
                out.update(fig_log(tracker, 2, args.calls, args.budget))
            elif args.figure == "log100":
                out.update(fig_log(tracker, 100, args.calls, args.budget))
            elif args.figure == "finish_env":
                out.update(fig_finish_env(tracker))
            else:
                out.update(fig_train(tracker, args.steps, args.torch_threads))
        out["status"] = "ok"
    except ImportError as exc:
        out.update(status="not_installed", error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        out.update(status="error", error=f"{type(exc).__name__}: {exc}")
        traceback.print_exc()
    sys.stdout.flush()
    print(RESULT_PREFIX + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
