"""Grouped runs for `grouping.spec.ts`, logged online by real processes.

grouping_fixtures.py server --url URL --key KEY --work DIR --out seeded.json
    starts one `run` process per (lr, seed) of 2 learning rates x 3 seeds, each logging
    online to project `admin/grouping-e2e` of the server at URL as KEY (config lr and seed,
    `group=lr-<lr>`, `job_type=train`), waits for them, then reads every run's history back
    through `fwtrack.Api().run(...).history()` and computes, with pandas, per group and per
    step over the runs that logged `train/loss` there: mean, median, min, max and the
    population standard deviation (ddof=0). Writes them as JSON (see `expected()`).
grouping_fixtures.py run --lr LR --seed SEED
    one run: `train/loss` over STEPS steps, `loss(lr, seed, step)`; the seed-3 runs skip
    `train/loss` at every 7th step (logging `train/acc` alone there), so some steps are
    aggregated over two runs only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT = "grouping-e2e"
ENTITY = "admin"
STEPS = 30
LRS = [0.01, 0.1]
SEEDS = [1, 2, 3]
KEY = "train/loss"


def loss(lr: float, seed: int, step: int) -> float:
    """A decaying loss with per-seed noise (deterministic for a seed and step)."""
    noise = random.Random(seed * 1000 + step).gauss(0.0, 0.05)
    return 2.0 * math.exp(-lr * 5.0 * step) + 0.1 + noise


def skips(seed: int, step: int) -> bool:
    return seed == 3 and step % 7 == 3


def cmd_run(args: argparse.Namespace) -> int:
    import fwtrack

    lr = float(args.lr)
    seed = int(args.seed)
    run = fwtrack.init(
        project=PROJECT,
        name=f"lr{lr}-seed{seed}",
        group=f"lr-{lr}",
        job_type="train",
        config={"lr": lr, "seed": seed},
        settings={"console": False, "save_code": False, "capture_env": False, "system_interval": 0},
    )
    for step in range(STEPS):
        if skips(seed, step):
            fwtrack.log({"train/acc": 0.5}, step=step)
        else:
            fwtrack.log({KEY: loss(lr, seed, step)}, step=step)
    run.finish()
    return 0


def stats(frames: list[Any]) -> dict[str, Any]:
    """Per step over the runs with a value there: the aggregates the chart must draw."""
    import pandas as pd

    cols = [f[["_step", KEY]].dropna(subset=[KEY]) for f in frames]
    df = pd.concat(cols, ignore_index=True)
    g = df.groupby("_step")[KEY]
    mean = g.mean()
    std = g.std(ddof=0)
    return {
        "x": [float(s) for s in mean.index],
        "count": [int(c) for c in g.count()],
        "mean": [float(v) for v in mean],
        "median": [float(v) for v in g.median()],
        "min": [float(v) for v in g.min()],
        "max": [float(v) for v in g.max()],
        "std_lower": [float(v) for v in mean - std],
        "std_upper": [float(v) for v in mean + std],
    }


def expected(api: Any, runs: dict[tuple[float, int], str]) -> dict[str, Any]:
    histories = {k: api.run(f"{ENTITY}/{PROJECT}/{rid}").history() for k, rid in runs.items()}
    by_lr: dict[str, Any] = {}
    for lr in LRS:
        keys = [(lr, s) for s in SEEDS]
        by_lr[str(lr)] = {
            "group": f"lr-{lr}",
            "runs": [runs[k] for k in keys],
            "names": [f"lr{lr}-seed{s}" for s in SEEDS],
            **stats([histories[k] for k in keys]),
        }
    return by_lr


def cmd_server(args: argparse.Namespace) -> int:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        FWTRACK_BASE_URL=args.url,
        FWTRACK_API_KEY=args.key,
        FWTRACK_ENTITY=ENTITY,
        FWTRACK_MODE="online",
        FWTRACK_DIR=str(work / "client-runs"),
        FWTRACK_CONFIG_DIR=str(work / "config"),
        FWTRACK_CACHE_DIR=str(work / "cache"),
        FWTRACK_FLUSH_INTERVAL="0.2",
    )
    procs = {
        (lr, seed): subprocess.Popen(
            [sys.executable, __file__, "run", "--lr", str(lr), "--seed", str(seed)],
            env=env,
            cwd=work,
        )
        for lr in LRS
        for seed in SEEDS
    }
    for key, p in procs.items():
        if p.wait(timeout=180) != 0:
            raise SystemExit(f"run {key} exited with {p.returncode}")

    import fwtrack

    api = fwtrack.Api(base_url=args.url, api_key=args.key)
    found = {r.name: r.id for r in api.runs(f"{ENTITY}/{PROJECT}")}
    runs = {(lr, s): found[f"lr{lr}-seed{s}"] for lr in LRS for s in SEEDS}
    seeded = {"entity": ENTITY, "project": PROJECT, "key": KEY, "by_lr": expected(api, runs)}
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    server = sub.add_parser("server")
    server.add_argument("--url", required=True)
    server.add_argument("--key", required=True)
    server.add_argument("--work", required=True)
    server.add_argument("--out", required=True)
    run = sub.add_parser("run")
    run.add_argument("--lr", required=True)
    run.add_argument("--seed", required=True)
    args = parser.parse_args()
    return {"server": cmd_server, "run": cmd_run}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
