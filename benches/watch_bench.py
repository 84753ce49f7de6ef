"""What `watch()` costs a training loop: `fwtrack.watch(model, log="all", log_freq=100)`
against no tracker and against `wandb.watch` (offline) with the same arguments.

    python benches/watch_bench.py              # 5 repetitions (about 5 minutes quiet)
    python benches/watch_bench.py --quick      # a short pass while iterating

Each repetition starts one fresh process (this file with `--worker`) that runs every
configuration, in an order rotated between repetitions so a drift of the machine's load
spreads over all of them. A configuration trains a fresh MLP (784-512-512-10, torch on one
thread, the same seed and batches for all) for `--steps` SGD steps of batch 64, each step
ending with `log({"loss": ...})` (no tracker: a function doing nothing). The tracker's run is
started before the clock and finished after it (the finish is timed apart). The run's capture
is off in both trackers (fwtrack: `console=False, system_interval=0`; wandb: `console="off"`,
`x_disable_stats=True`) and so is the code snapshot, so the loop time is logging + watch only.

Figures: the loop time per step (median over repetitions), the overhead against no tracker,
and the part due to `watch()` alone (against the same tracker logging the loss without
watch); the same for the CPU time of the training thread (`time.thread_time()`: what the loop
itself computed, the tracker's hooks included, its other threads not), which load on a shared
machine blurs much less than the wall time. With `log_freq=100` and 6 parameter tensors,
every 100th step bins 12 tensors (about 670,000 values) into 64-bin histograms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine, num, table  # the helpers of benches/run.py

REPO = Path(__file__).resolve().parent.parent
CONFIGS = {
    "noop": "no tracker: log() is a function doing nothing",
    "fwtrack": "fwtrack, log() only",
    "fwtrack-watch": 'fwtrack + watch(log="all", log_freq=100)',
    "wandb": "wandb (offline), log() only",
    "wandb-watch": 'wandb (offline) + wandb.watch(log="all", log_freq=100)',
}
REFS = {"fwtrack-watch": "fwtrack", "wandb-watch": "wandb"}
WORKER_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_DISABLE_GIT": "true",
    "WANDB_DISABLE_CODE": "true",
    "DO_NOT_TRACK": "true",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    "FWTRACK_SAVE_CODE": "false",
    "FWTRACK_CAPTURE_ENV": "false",
}
LOG_FREQ = 100


# -- the worker -----------------------------------------------------------------------------


def _model() -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    )


def _one(config: str, steps: int, root: str) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(64, 784, generator=gen), torch.randint(0, 10, (64,))) for _ in range(8)]
    loss_fn = torch.nn.CrossEntropyLoss()
    run: Any = None

    def noop(_data: dict[str, Any]) -> None:
        pass

    log = noop
    if config.startswith("fwtrack"):
        import fwtrack

        run = fwtrack.init(
            project="watch-bench",
            dir=os.path.join(root, "fwtrack"),
            settings={"console": False, "system_interval": 0},
        )
        if config.endswith("-watch"):
            run.watch(model, log="all", log_freq=LOG_FREQ)
        log = run.log
    elif config.startswith("wandb"):
        import wandb

        run = wandb.init(
            project="watch-bench",
            dir=root,
            settings=wandb.Settings(console="off", x_disable_stats=True, save_code=False),
        )
        if config.endswith("-watch"):
            run.watch(model, log="all", log_freq=LOG_FREQ)
        log = run.log
    # Warm-up outside the clock (the first steps allocate).
    for x, y in batches[:2]:
        opt.zero_grad()
        loss_fn(model(x), y).backward()
    t0 = time.perf_counter()
    c0 = time.thread_time()
    for i in range(steps):
        x, y = batches[i % len(batches)]
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log({"loss": loss.item()})
    loop = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    t1 = time.perf_counter()
    if run is not None:
        run.finish()
    return {"loop_s": loop, "cpu_s": cpu, "finish_s": time.perf_counter() - t1}


def worker(order: list[str], steps: int) -> None:
    out = {}
    for config in order:
        with tempfile.TemporaryDirectory(prefix="watch-bench-") as root:
            out[config] = _one(config, steps, root)
    print("RESULT " + json.dumps(out), flush=True)


# -- the driver -----------------------------------------------------------------------------


def render(data: dict[str, Any]) -> str:
    med = data["median"]
    steps = data["steps"]
    rows = []
    for config, what in CONFIGS.items():
        loop = med[config]["loop_s"]
        cpu = med[config]["cpu_s"]
        over = loop / med["noop"]["loop_s"] - 1
        cpu_over = cpu / med["noop"]["cpu_s"] - 1
        ref = REFS.get(config)
        watch = f"{(loop / med[ref]['loop_s'] - 1) * 100:+.1f} %" if ref else "—"
        cpu_watch = f"{(cpu / med[ref]['cpu_s'] - 1) * 100:+.1f} %" if ref else "—"
        rows.append(
            [
                what,
                num(loop / steps * 1e3) + " ms",
                "—" if config == "noop" else f"{over * 100:+.1f} %",
                watch,
                num(cpu / steps * 1e3) + " ms",
                "—" if config == "noop" else f"{cpu_over * 100:+.1f} %",
                cpu_watch,
                "—" if config == "noop" else num(med[config]["finish_s"]),
            ]
        )
    head = (
        f"{data['reps']} repetitions x {steps} steps (medians); {data['when']}; "
        f"{data['machine']}; torch {data['versions']['torch']}, wandb "
        f"{data['versions']['wandb']}; 1-minute load {data['load'][0]:.1f} -> "
        f"{data['load_end'][0]:.1f}"
    )
    return (
        head
        + "\n\n"
        + table(
            [
                "configuration",
                "wall per step",
                "vs no tracker",
                "watch() alone",
                "CPU per step",
                "vs no tracker",
                "watch() alone",
                "finish s",
            ],
            rows,
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="2 repetitions of 300 steps")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "watch")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker.split(","), args.steps)
        return
    if args.quick:
        args.reps, args.steps = 2, 300
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FWTRACK_", "WANDB_"))}
    env.update(WORKER_ENV)
    names = list(CONFIGS)
    results: list[dict[str, Any]] = []
    load = os.getloadavg()
    for rep in range(args.reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", ",".join(order), "--steps", str(args.steps)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"worker failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        results.append(json.loads(lines[-1][len("RESULT ") :]))
        print(
            f"repetition {rep + 1}/{args.reps}: "
            + ", ".join(f"{c} {r['loop_s']:.2f} s" for c, r in results[-1].items()),
            flush=True,
        )
    median = {
        c: {k: statistics.median(r[c][k] for r in results) for k in ("loop_s", "cpu_s", "finish_s")}
        for c in names
    }
    info = machine()
    data = {
        "reps": args.reps,
        "steps": args.steps,
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{info.get('cpu')}, {info.get('cores', os.cpu_count())} cores",
        "versions": {p: metadata.version(p) for p in ("torch", "wandb")},
        "load": load,
        "load_end": os.getloadavg(),
        "median": median,
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(data, indent=1))
    text = render(data)
    (args.out / "results.md").write_text(text + "\n")
    print()
    print(text)


if __name__ == "__main__":
    main()
