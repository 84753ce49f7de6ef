"""Import speed: points per second of `fwtrack import wandb|tensorboard|mlflow` against reading
the same source with the tracker's own library.

    python benches/import_bench.py                 # 20,000 steps x 5 metrics per source
    python benches/import_bench.py --steps 2000    # a short pass while iterating

Sources are made once per invocation by the trackers themselves, in fresh processes: a W&B
offline run (`wandb.log` of 5 scalars per step), TensorBoard event files (torch's
`SummaryWriter.add_scalar`, 5 tags per step) and an MLflow SQLite store (`log_batch` of 5
metrics per step). Then, `--reps` times each, interleaved:

- the importer: `import_wandb` / `import_tensorboard` / `import_mlflow` into a fresh
  directory (reading, converting and writing a finished fwtrack run, fsynced);
- the tracker's own reading of the same points: the `.wandb` records decoded with wandb's
  `Record` message (wandb 0.31 has no Python reader of its own any more; the framing is the
  importer's), TensorBoard's `EventAccumulator` (`Reload()` and `Scalars(tag)` of every tag),
  MLflow's `MlflowClient.get_metric_history` of every metric.

Points/s is points / wall time; the table gives the median over repetitions and the importer's
time over the library's read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

METRICS = 5

_WANDB = """
import os, sys, wandb
run = wandb.init(project="bench", dir=sys.argv[1], mode="offline", settings=wandb.Settings(
    x_disable_stats=True, console="off"))
for step in range(int(sys.argv[2])):
    run.log({f"m{i}": step * 0.001 + i for i in range(5)})
run.finish()
"""
_TB = """
import sys
from torch.utils.tensorboard import SummaryWriter
w = SummaryWriter(sys.argv[1] + "/run")
for step in range(int(sys.argv[2])):
    for i in range(5):
        w.add_scalar(f"m{i}", step * 0.001 + i, step)
w.close()
"""
_MLFLOW = """
import sys, time, mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
mlflow.set_tracking_uri(sys.argv[1])
c = MlflowClient()
exp = c.create_experiment("bench")
run = c.create_run(exp)
now = int(time.time() * 1000)
n = int(sys.argv[2])
for start in range(0, n, 200):
    ms = [Metric(f"m{i}", s * 0.001 + i, now + s, s) for s in range(start, min(n, start + 200))
          for i in range(5)]
    c.log_batch(run.info.run_id, metrics=ms)
c.set_terminated(run.info.run_id)
"""


def _make(code: str, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "FWTRACK_"))}
    env.update(WANDB_SILENT="true", WANDB_MODE="offline", TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", code, *args], check=True, env=env)


def _read_wandb(src: Path) -> int:
    from fwtrack.importers.wandb import find_runs, read_records

    n = 0
    for log in find_runs(src):
        for record in read_records(log):
            if record.WhichOneof("record_type") == "history":
                for item in record.history.item:
                    name = item.nested_key[0] if item.nested_key else item.key
                    n += not name.startswith("_")
                    json.loads(item.value_json)
    return n


def _read_tensorboard(src: Path) -> int:
    from tensorboard.backend.event_processing import event_accumulator  # type: ignore[import-untyped]

    acc = event_accumulator.EventAccumulator(str(src / "run"), size_guidance={"scalars": 0})
    acc.Reload()
    return sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])


def _read_mlflow(uri: str) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    n = 0
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id]):
            for key in run.data.metrics:
                n += len(client.get_metric_history(run.info.run_id, key))
    return n


def _import(kind: str, src: str, out: Path) -> int:
    from fwtrack.importers import import_mlflow, import_tensorboard, import_wandb

    if kind == "wandb":
        report = import_wandb(src, dir=out, mode="offline")
    elif kind == "tensorboard":
        report = import_tensorboard(src, dir=out, mode="offline")
    else:
        report = import_mlflow(src, dir=out, mode="offline")
    assert not report.failed, report.failed
    return report.points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default="benches/out/import")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="import-bench-"))
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        steps = str(args.steps)
        (work / "wandb").mkdir()
        _make(_WANDB, str(work / "wandb"), steps)
        _make(_TB, str(work / "tb"), steps)
        uri = f"sqlite:///{work / 'mlflow.db'}"
        _make(_MLFLOW, uri, steps)
        sources: dict[str, tuple[str, Any]] = {
            "wandb": (str(work / "wandb"), lambda: _read_wandb(work / "wandb")),
            "tensorboard": (str(work / "tb"), lambda: _read_tensorboard(work / "tb")),
            "mlflow": (uri, lambda: _read_mlflow(uri)),
        }
        times: dict[str, dict[str, list[float]]] = {k: {"import": [], "read": []} for k in sources}
        points: dict[str, dict[str, int]] = {k: {} for k in sources}
        for rep in range(args.reps):
            for kind, (src, read) in sources.items():
                dest = work / f"fw-{kind}-{rep}"
                t0 = time.perf_counter()
                points[kind]["import"] = _import(kind, src, dest)
                times[kind]["import"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                points[kind]["read"] = read()
                times[kind]["read"].append(time.perf_counter() - t0)
                shutil.rmtree(dest)
        rows = []
        print(f"{args.steps} steps x {METRICS} metrics, median of {args.reps}")
        print(f"{'source':<12} {'import pts/s':>14} {'library read pts/s':>20} {'import/read':>12}")
        for kind in sources:
            imp = statistics.median(times[kind]["import"])
            rd = statistics.median(times[kind]["read"])
            row = {
                "source": kind,
                "points": points[kind]["import"],
                "library_points": points[kind]["read"],
                "import_s": imp,
                "read_s": rd,
                "import_pts_per_s": points[kind]["import"] / imp,
                "read_pts_per_s": points[kind]["read"] / rd,
            }
            rows.append(row)
            print(
                f"{kind:<12} {row['import_pts_per_s']:>14,.0f} {row['read_pts_per_s']:>20,.0f} "
                f"{imp / rd:>11.2f}x"
            )
        (out / "results.json").write_text(json.dumps(rows, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
