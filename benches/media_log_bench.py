"""What logging an image costs the training thread: this checkout against an earlier revision.

    python benches/media_log_bench.py --base 9c00cf5          # side by side
    python benches/media_log_bench.py --base 9c00cf5 --quick  # 2 repetitions, fewer images

Before, `log({"img": fwtrack.Image(x)})` encoded the PNG, hashed it and wrote the file on the
calling thread; now the run's media worker does that, and `log()` only queues the value. Both
revisions run with this checkout's compiled core (`--base` is a `git worktree` of that
revision with the core copied in: the core still takes the older Python side's media values),
each measurement in a fresh process, the revisions interleaved, and a cell is the median over
repetitions.

Measured, on 256x256 RGB uint8 images (a smooth pattern with a little noise, about what PNG
finds in a photo), in a training loop: a small MLP trained on the CPU with torch (one
thread), one step taking a few milliseconds:

- `new`: the calling thread's time in `log({"img": fwtrack.Image(x)})` (the `Image` made in
  the call, as a training script does), distinct images logged back to back (as
  `benches/media_bench.py` times them): median and 90th percentile over the images, and the
  time `finish()` then takes (what was left to store);
- `same`: the same, logging the same pixels every time;
- `new-between`, `same-between`: the same calls with 10 training steps before each, which
  leave the caches cold for them (the step evicts what `log()` touches);
- `loop`: the overhead of logging one image every 10 steps on the loop's time, against the
  same loop logging only its scalars, the two loops alternating in one process (median of 3
  each). From `/proc/thread-self/schedstat`, the training thread's own CPU time and the time
  it waited for a CPU: on a machine whose cores are busy (other processes), the media
  worker's CPU comes out of the training thread's share, which a free core would not; the
  last column takes that wait out.

Results go to `<out>/results.json` and `<out>/results.md`.
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
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from run import machine, num, table, worktree  # noqa: E402

SIDE = 256
EVERY = 10  # training steps per logged image
WIDTH, BATCH = 1024, 128  # the MLP trained between logs: a step of a few milliseconds
WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    "FWTRACK_SYSTEM_METRICS": "false",
    "FWTRACK_CONSOLE": "off",
    "FWTRACK_SAVE_CODE": "false",
    "FWTRACK_CAPTURE_ENV": "false",
}
CASES = ("new", "same", "new-between", "same-between", "loop")


# ----------------------------------------------------------------------------------------------
# The worker (imports fwtrack from the tree named on its command line)


def _images(n: int) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    out = []
    for i in range(n):
        f, phase = 1.0 + (i % 7), i * 0.37
        chans = [
            np.sin(2 * np.pi * (f * xx + phase)) * np.cos(2 * np.pi * (0.5 * f * yy - phase)),
            np.sin(2 * np.pi * ((xx + yy) * (1 + i % 3) + phase * 0.5)),
            np.cos(2 * np.pi * (f * 0.5 * (xx - yy) + phase * 1.5)),
        ]
        base = (np.stack(chans, axis=-1) * 0.4 + 0.5) * 255
        base += rng.normal(0, 4, base.shape).astype(np.float32)
        out.append(np.clip(base, 0, 255).astype(np.uint8))
    return out


class _Trainer:
    """One optimisation step of a small MLP on the CPU: what runs between two `log()` calls."""

    def __init__(self) -> None:
        import torch

        torch.manual_seed(0)
        torch.set_num_threads(1)
        self.torch = torch
        self.model = torch.nn.Sequential(
            torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU(), torch.nn.Linear(WIDTH, 10)
        )
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)
        self.x = torch.randn(BATCH, WIDTH)
        self.y = torch.randint(0, 10, (BATCH,))

    def step(self) -> float:
        self.opt.zero_grad()
        loss = self.torch.nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return float(loss.detach())


def _schedstat() -> tuple[float, float]:
    """This thread's CPU time and time spent waiting for a CPU (runnable, not running), s."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            run_ns, wait_ns, _ = f.read().split()
    except OSError:
        return 0.0, 0.0
    return int(run_ns) / 1e9, int(wait_ns) / 1e9


def _percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def worker(case: str, images: int, steps: int, workdir: Path) -> dict[str, Any]:
    import fwtrack

    data = workdir / "data"
    run = fwtrack.init(project="bench-media-log", dir=str(data), mode="offline")
    clock = time.perf_counter
    trainer = _Trainer()
    for _ in range(20):  # warm up torch, the allocator, Pillow's import
        trainer.step()
    run.log({"warm": fwtrack.Image(_images(1)[0])})
    run.flush()
    out: dict[str, Any] = {"fwtrack": fwtrack.__file__}
    if case != "loop":
        arrays = _images(images) if case.startswith("new") else _images(1) * images
        between = EVERY if case.endswith("between") else 0
        costs = []
        loss = 0.0
        for x in arrays:
            for _ in range(between):
                loss = trainer.step()
            t = clock()
            run.log({"img": fwtrack.Image(x), "loss": loss})
            costs.append(clock() - t)
        out.update(median_us=statistics.median(costs) * 1e6, p90_us=_percentile(costs, 0.9) * 1e6)
    else:
        per_loop = steps // EVERY
        arrays = _images(3 * per_loop)  # distinct in every loop: none is known already
        plain: list[tuple[float, float, float]] = []
        with_images: list[tuple[float, float, float]] = []
        for rep in range(3):
            for images_on in (rep % 2 == 0, rep % 2 == 1):
                run.flush()  # start each loop with nothing pending
                cpu0, queued0 = _schedstat()
                t = clock()
                for i in range(steps):
                    loss = trainer.step()
                    if images_on and i % EVERY == 0:
                        x = arrays[rep * per_loop + i // EVERY]
                        run.log({"img": fwtrack.Image(x), "loss": loss})
                    else:
                        run.log({"loss": loss})
                wall = clock() - t
                cpu1, queued1 = _schedstat()
                (with_images if images_on else plain).append((wall, cpu1 - cpu0, queued1 - queued0))

        def med(xs: list[tuple[float, float, float]], i: int) -> float:
            return statistics.median(x[i] for x in xs)

        base, img = med(plain, 0), med(with_images, 0)
        # Time the training thread waited for a CPU (other processes, the media worker on a
        # busy machine) taken out: the loop's time where a core is free for the worker.
        base_own = statistics.median(w - q for w, _, q in plain)
        img_own = statistics.median(w - q for w, _, q in with_images)
        out.update(
            plain_s=base,
            images_s=img,
            overhead_pct=(img / base - 1) * 100,
            step_ms=base / steps * 1e3,
            cpu_overhead_pct=(med(with_images, 1) / med(plain, 1) - 1) * 100,
            queued_s=med(with_images, 2) - med(plain, 2),
            overhead_free_core_pct=(img_own / base_own - 1) * 100,
        )
    t = clock()
    run.finish()
    out["finish_ms"] = (clock() - t) * 1e3
    from fwtrack import _core

    out["media_records"] = len(_core.RunReader(run.dir).media())
    return out


# ----------------------------------------------------------------------------------------------
# The driver


def _spawn(tree: Path, case: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{case}-", dir=work))
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(tree / "python")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case]
    cmd += ["--images", str(args.images), "--steps", str(args.steps), "--workdir", str(workdir)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    result = workdir / "result.json"
    if proc.returncode != 0 or not result.exists():
        raise RuntimeError(f"worker {case} in {tree} failed:\n{proc.stdout}\n{proc.stderr}")
    res: dict[str, Any] = json.loads(result.read_text())
    expected = str(tree / "python" / "fwtrack")
    if not res["fwtrack"].startswith(expected):
        raise RuntimeError(f"worker imported {res['fwtrack']}, not from {expected}")
    shutil.rmtree(workdir, ignore_errors=True)
    return res


def _render(data: dict[str, Any]) -> str:
    med = data["medians"]
    m = data["machine"]
    base = data["base"]
    head = ["", f"base {base}", "this checkout", "x base"]

    def row(label: str, case: str, field: str, unit: str, digits: int = 3) -> list[str] | None:
        if case not in med["base"]:
            return None
        b, t = med["base"][case][field], med["this"][case][field]
        return [label, f"{num(b, digits)} {unit}", f"{num(t, digits)} {unit}", f"{t / b:.3g}x"]

    n = data["images"]
    maybe = [
        row(
            f"`log()` of a new 256x256 RGB image ({n} back to back), median",
            "new",
            "median_us",
            "µs",
        ),
        row("... 90th percentile", "new", "p90_us", "µs"),
        row("`finish()` after them", "new", "finish_ms", "ms"),
        row("the same pixels again, median", "same", "median_us", "µs"),
        row("... 90th percentile", "same", "p90_us", "µs"),
        row(
            f"a new image after {EVERY} training steps (cold caches), median",
            "new-between",
            "median_us",
            "µs",
        ),
        row("... 90th percentile", "new-between", "p90_us", "µs"),
        row(
            f"the same pixels after {EVERY} training steps, median",
            "same-between",
            "median_us",
            "µs",
        ),
        row("... 90th percentile", "same-between", "p90_us", "µs"),
    ]
    rows = [r for r in maybe if r is not None]
    loop = [
        [
            side,
            f"{num(med[side]['loop']['step_ms'])} ms",
            f"{num(med[side]['loop']['plain_s'])} s",
            f"{num(med[side]['loop']['images_s'])} s",
            f"{med[side]['loop']['overhead_pct']:+.2f} %",
            f"{med[side]['loop'].get('cpu_overhead_pct', float('nan')):+.2f} %",
            f"{med[side]['loop'].get('queued_s', float('nan')):+.3f} s",
            f"{med[side]['loop'].get('overhead_free_core_pct', float('nan')):+.2f} %",
            f"{num(med[side]['loop']['finish_ms'])} ms",
        ]
        for side in ("base", "this")
        if "loop" in med[side]
    ]
    loop_head = [
        "",
        "training step",
        f"{data['steps']} steps, scalars only",
        f"... and an image every {EVERY} steps",
        "overhead",
        "training thread's CPU",
        "more time waiting for a CPU",
        "overhead without that wait",
        "`finish()` after",
    ]
    return (
        f"{data['stamp']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
        f"{data['reps']} repetitions (revisions interleaved, fresh process each), medians; "
        f"1-minute load {data['load'][0]:.2f} at the start, {data['load'][1]:.2f} at the end\n\n"
        + table(head, rows)
        + "\n\n"
        + table(loop_head, loop)
        + "\n"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--base", default="9c00cf5", help="the revision to compare against")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "media_log")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--images", type=int, default=200, help="images per new/same run")
    ap.add_argument("--steps", type=int, default=1000, help="training steps per loop")
    ap.add_argument("--quick", action="store_true", help="2 repetitions, 40 images, 300 steps")
    ap.add_argument("--cases", default=",".join(CASES), help="which measurements, comma-separated")
    ap.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--render", type=Path, help="print the tables of a results.json again")
    args = ap.parse_args()
    if args.worker:
        workdir = args.workdir
        os.chdir(workdir)
        res = worker(args.worker, args.images, args.steps, workdir)
        (workdir / "result.json").write_text(json.dumps(res))
        return 0
    if args.render:
        print(_render(json.loads(args.render.read_text())))
        return 0
    if args.quick:
        args.reps, args.images, args.steps = 2, 40, 300
    work = Path(tempfile.mkdtemp(prefix="fwtrack-media-log-bench-"))
    load_start = os.getloadavg()[0]
    try:
        trees = {"this": REPO, "base": worktree(args.base, work / "base")}
        raw: dict[str, dict[str, list[dict[str, Any]]]] = {
            side: {case: [] for case in args.cases.split(",")} for side in trees
        }
        for rep in range(args.reps):
            for case in args.cases.split(","):
                order = ("this", "base") if rep % 2 == 0 else ("base", "this")
                for side in order:
                    res = _spawn(trees[side], case, args, work)
                    raw[side][case].append(res)
                    print(f"rep {rep} {case:5} {side:4} {json.dumps(res)}", flush=True)
        medians = {
            side: {
                case: {
                    field: statistics.median(r[field] for r in runs)
                    for field in runs[0]
                    if isinstance(runs[0][field], int | float)
                }
                for case, runs in cases.items()
            }
            for side, cases in raw.items()
        }
        data = {
            "stamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "base": args.base,
            "reps": args.reps,
            "images": args.images,
            "steps": args.steps,
            "load": [load_start, os.getloadavg()[0]],
            "medians": medians,
            "raw": raw,
        }
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(data, indent=1))
        text = _render(data)
        (args.out / "results.md").write_text(text)
        print()
        print(text)
    finally:
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(work / "base")],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
