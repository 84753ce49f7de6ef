"""Reading local runs back: history of a 10M-point run, one key of it, and the metadata of
1,000 runs, side by side with a no-op floor, MLflow and TensorBoard.

    .venv/bin/python benches/read_bench.py              # datasets cached under benches/out/read
    .venv/bin/python benches/read_bench.py --reps 5

Datasets (generated once, cached under `benches/out/read/`):
- `big`: one fwtrack run of `--keys` float metrics x `--steps` steps (default 100 x 100k =
  10M points), and the same values as a `.npy` file (the floor: `np.load` of them);
- `many`: `--runs` (1,000) small runs (10 keys x 100 steps, a config) in one project;
- `small`: the same 100k points (10 keys x 10k steps) logged by fwtrack, into an MLflow
  SQLite store (`log_batch`) and a TensorBoard event file (`SummaryWriter.add_scalar`): the
  other trackers read far slower, so they are compared at this smaller scale.

Figures, each the median of `--reps` interleaved repetitions (a fresh `Api` each time, so
nothing is cached between them): `Api().run().history()` of all keys and of one key,
`_core.RunReader(path).history()`, `Api().runs()` metadata; MLflow
`MlflowClient.get_metric_history` of every key, TensorBoard `EventAccumulator.Reload()` +
`Scalars` of every key. Ratios are to the floor (or to fwtrack at the same scale).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benches" / "out" / "read"

import numpy as np  # noqa: E402

for name, value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}.items():
    os.environ.setdefault(name, value)

SMALL_KEYS, SMALL_STEPS = 10, 10_000


def values(keys: int, steps: int) -> np.ndarray:
    """The logged values: row i, key j."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((steps, keys))


def log_fwtrack(root: Path, project: str, run_id: str, data: np.ndarray, config: bool) -> None:
    """Log `data` (steps x keys) as one fwtrack run in a child process (its own atexit)."""
    prog = f"""
import sys, numpy as np, fwtrack
data = np.load({str(root / ".tmp.npy")!r})
run = fwtrack.init(project={project!r}, id={run_id!r}, dir={str(root)!r},
                   config={{"lr": 0.1, "i": {run_id!r}}} if {config} else None,
                   settings={{"save_code": False, "capture_env": False, "console": False}})
keys = [f"m/k{{j:03d}}" for j in range(data.shape[1])]
for row in data.tolist():
    run.log(dict(zip(keys, row)))
run.finish()
"""
    np.save(root / ".tmp.npy", data)
    subprocess.run([sys.executable, "-c", prog], check=True, cwd=root)


def make_many(root: Path, runs: int) -> None:
    """`runs` small runs: a few distinct runs logged, copied under new ids."""
    seeds = min(runs, 10)
    src = root / "seed"
    for i in range(seeds):
        log_fwtrack(root, "seed", f"s{i}", values(10, 100) + i, config=True)
    dest = root / "many"
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(runs):
        target = dest / f"r{i:05d}"
        if not target.exists():
            shutil.copytree(src / f"s{i % seeds}", target)


def make_datasets(keys: int, steps: int, runs: int) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = OUT / f"ready-{keys}-{steps}-{runs}"
    if stamp.exists():
        return
    print(f"generating datasets under {OUT} (once) ...", flush=True)
    big = values(keys, steps)
    np.save(OUT / "big.npy", big)
    log_fwtrack(OUT, "read", "big", big, config=False)
    small = values(SMALL_KEYS, SMALL_STEPS)
    log_fwtrack(OUT, "small", "small", small, config=False)
    make_many(OUT, runs)
    make_mlflow(small)
    make_tensorboard(small)
    stamp.touch()


def make_mlflow(data: np.ndarray) -> None:
    try:
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ModuleNotFoundError:
        return
    uri = f"sqlite:///{OUT / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("read")
    run = client.create_run(exp)
    (OUT / "mlflow_run").write_text(run.info.run_id)
    now = int(time.time() * 1000)
    batch: list[Metric] = []
    for step, row in enumerate(data.tolist()):
        for j, x in enumerate(row):
            batch.append(Metric(f"m/k{j:03d}", x, now + step, step))
        if len(batch) >= 1000:
            client.log_batch(run.info.run_id, metrics=batch)
            batch = []
    if batch:
        client.log_batch(run.info.run_id, metrics=batch)


def make_tensorboard(data: np.ndarray) -> None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ModuleNotFoundError:
        return
    logdir = OUT / "tb"
    w = SummaryWriter(str(logdir))
    for step, row in enumerate(data.tolist()):
        for j, x in enumerate(row):
            w.add_scalar(f"m/k{j:03d}", x, step)
    w.close()


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--skip-others", action="store_true", help="no MLflow/TensorBoard")
    args = ap.parse_args()
    make_datasets(args.keys, args.steps, args.runs)

    import fwtrack
    from fwtrack import _core

    points = args.keys * args.steps
    small_points = SMALL_KEYS * SMALL_STEPS
    one_key = "m/k042" if args.keys > 42 else "m/k000"

    cases: dict[str, Callable[[], object]] = {
        "floor: np.load(.npy) of the 10M values": lambda: np.load(OUT / "big.npy"),
        "fwtrack Api().run().history()": lambda: fwtrack.Api(OUT).run("read/big").history(),
        "fwtrack RunReader(path).history()": lambda: _core.RunReader(
            str(OUT / "read" / "big")
        ).history(),
        "fwtrack history(keys=[one])": lambda: (
            fwtrack.Api(OUT).run("read/big").history(keys=[one_key])
        ),
        "fwtrack Api().run() (metadata only)": lambda: fwtrack.Api(OUT).run("read/big"),
        f"fwtrack Api().runs() over {args.runs} runs": lambda: len(fwtrack.Api(OUT).runs("many")),
        "floor: stat() of the 1,000 logs": lambda: [
            os.stat(p / "run.fwlog") for p in (OUT / "many").iterdir()
        ],
        "fwtrack 100k points: history()": lambda: fwtrack.Api(OUT).run("small/small").history(),
    }
    if not args.skip_others:
        mlflow_run = OUT / "mlflow_run"
        if mlflow_run.exists():
            from mlflow.tracking import MlflowClient

            def mlflow_read() -> int:
                client = MlflowClient(tracking_uri=f"sqlite:///{OUT / 'mlflow.db'}")
                rid = mlflow_run.read_text()
                return sum(
                    len(client.get_metric_history(rid, f"m/k{j:03d}")) for j in range(SMALL_KEYS)
                )

            cases["MLflow 100k points: get_metric_history (SQLite)"] = mlflow_read
        if (OUT / "tb").exists():
            from tensorboard.backend.event_processing.event_accumulator import (  # type: ignore[import-untyped]
                EventAccumulator,
            )

            def tb_read() -> int:
                acc = EventAccumulator(str(OUT / "tb"), size_guidance={"scalars": 0})
                acc.Reload()
                return sum(len(acc.Scalars(t)) for t in acc.Tags()["scalars"])

            cases["TensorBoard 100k points: EventAccumulator"] = tb_read

    times: dict[str, list[float]] = {k: [] for k in cases}
    for fn in cases.values():
        fn()  # warm-up (page cache, imports)
    for _ in range(args.reps):
        for name, fn in cases.items():
            times[name].append(timed(fn))

    med = {k: statistics.median(v) for k, v in times.items()}
    floor = med["floor: np.load(.npy) of the 10M values"]
    small = med["fwtrack 100k points: history()"]
    print(f"\nload: {os.getloadavg()}; reps {args.reps} (interleaved), medians\n")
    print(f"{'case':<52} {'median':>10} {'range':>19} {'rate':>14} {'ratio':>18}")
    for name, m in med.items():
        lo, hi = min(times[name]), max(times[name])
        n = small_points if "100k" in name else points
        rate = ""
        ratio = ""
        if "history" in name or "np.load" in name or "100k" in name:
            rate = f"{n / m / 1e6:8.1f} M pt/s"
        if "100k" in name and "fwtrack" not in name:
            ratio = f"{m / small:6.1f}x fwtrack"
        elif "np.load" not in name and "100k" not in name and "history" in name:
            ratio = f"{m / floor:6.1f}x floor"
        print(
            f"{name:<52} {m * 1e3:8.1f}ms {lo * 1e3:8.1f}-{hi * 1e3:8.1f}ms {rate:>14} {ratio:>18}"
        )
    all_keys = med["fwtrack Api().run().history()"]
    per_run = med[f"fwtrack Api().runs() over {args.runs} runs"] / args.runs
    print(
        f"\none key / all keys: {med['fwtrack history(keys=[one])'] / all_keys:.3f}; "
        f"Api().runs() per run: {per_run * 1e3:.3f} ms"
    )


if __name__ == "__main__":
    main()
