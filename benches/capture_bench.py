"""What automatic capture (system metrics and console output) costs a training loop: fwtrack
with capture on and off, against no tracker at all and wandb (offline) with its own capture on
and off.

    python benches/capture_bench.py                  # 7 repetitions (about 5 minutes)
    python benches/capture_bench.py --quick          # a short pass while iterating

Each repetition starts two fresh processes (this file with `--worker`): one for fwtrack's
configurations, one for wandb's. A worker builds a small MLP (torch on one thread) and warms it
up, then runs every configuration of its family in blocks of `--block` training steps, in a
palindromic order rotated between repetitions (c1 c2 ... cn cn ... c2 c1), so a slow drift of
the machine's load cancels out. For each block it starts a run with that configuration (not
timed), waits 0.2 s so that the sampler's first sample (taken at once when a run starts) lands
before the clock starts, times the block's loop, then `finish()`es the run (timed apart). Each
step logs `train/loss` and `train/lr`, and every `--print-every` steps prints a progress line
(flushed, as a progress line would be). The workers' stdout and stderr go to a file, as a
training job's output to a log file would.

The figure that counts is the paired overhead: within one process, a configuration's loop time
over its reference's (capture off for fwtrack's configurations, wandb with its capture off for
wandb's, no tracker for the capture-off ones) minus 1, then the median over repetitions.
`fw-off-b` repeats `fw-off` exactly: its paired "overhead" against `fw-off` is the noise of
the estimate on this machine. The workers also report the CPU time the process spent outside
the training thread during the loop (the tracker's threads: writer, sampler, console readers;
not child processes such as fwtrack's console tee or wandb's service), which load on the
machine blurs less, and read each run back after `finish()` to count the system samples and
console lines it recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # the helpers of benches/run.py
    machine,
    num,
    save_results,
    spawn_worker,
    table,
    worker_main,
)
from trackers import wandb_records  # the `.wandb` log reader

REPO = Path(__file__).resolve().parent.parent
PROJECT = "bench"
TARGET_PCT = 0.5  # the target: capture not measurable above noise, at most +0.5 %
SETTLE_S = 0.2  # between a run's start and the block's clock

# Everything off the network and quiet; torch (and its BLAS) on one thread, as in run.py's
# training-loop figure: on a shared 2-core machine more threads swing the loop time by 10x.
WORKER_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_DISABLE_GIT": "true",
    "DO_NOT_TRACK": "true",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    # The code/environment snapshot is a one-off at init(), not capture: off in every run.
    "FWTRACK_SAVE_CODE": "false",
    "FWTRACK_CAPTURE_ENV": "false",
}
# fwtrack's defaults must be its own, whatever the caller's environment says.
UNSET = ("FWTRACK_SYSTEM_INTERVAL", "FWTRACK_SYSTEM_METRICS", "FWTRACK_CONSOLE", "FWTRACK_MODE")


class Config(NamedTuple):
    family: str  # the worker process that runs it: "fwtrack" or "wandb"
    tracker: str  # "noop", "fwtrack" or "wandb"
    settings: dict[str, Any] | None  # the tracker's settings (None: its defaults)
    ref: str | None  # the reference of the paired overhead
    what: str


FW_OFF = {"system_interval": 0, "console": False}
CONFIGS: dict[str, Config] = {
    "noop": Config("fwtrack", "noop", None, None, "no tracker: log() is a function doing nothing"),
    "fw-off": Config("fwtrack", "fwtrack", FW_OFF, "noop", "fwtrack, capture off"),
    "fw-off-b": Config("fwtrack", "fwtrack", FW_OFF, "fw-off", "the same again (the noise)"),
    "fw-sys1": Config(
        "fwtrack",
        "fwtrack",
        {"system_interval": 1, "console": False},
        "fw-off",
        "system metrics every 1 s, console off",
    ),
    "fw-console": Config(
        "fwtrack",
        "fwtrack",
        {"system_interval": 0, "console": True},
        "fw-off",
        "console capture, system metrics off",
    ),
    "fw-default": Config(
        "fwtrack", "fwtrack", None, "fw-off", "defaults: system metrics every 10 s + console"
    ),
    "fw-all1": Config(
        "fwtrack",
        "fwtrack",
        {"system_interval": 1, "console": True},
        "fw-off",
        "system metrics every 1 s + console",
    ),
    "w-noop": Config("wandb", "noop", None, None, "no tracker (in the wandb process)"),
    "wandb-off": Config(
        "wandb",
        "wandb",
        {"console": "off", "x_disable_stats": True},
        "w-noop",
        'wandb, `console="off"`, `x_disable_stats=True`',
    ),
    "wandb": Config(
        "wandb", "wandb", None, "wandb-off", 'wandb defaults (`console="wrap"`, stats every 15 s)'
    ),
    "wandb-all1": Config(
        "wandb",
        "wandb",
        {"console": "wrap", "x_stats_sampling_interval": 1.0},
        "wandb-off",
        'wandb, `console="wrap"`, stats every 1 s',
    ),
}

# The fwtrack configurations whose paired overhead is held to the target.
TARGETED = ("fw-default", "fw-all1")


# ----------------------------------------------------------------------------------------------
# The worker: every configuration of a family, in blocks, in this process


class Loop:
    """The training loop: a 64-256-256-10 MLP on synthetic data, torch on one thread."""

    def __init__(self, steps_hint: int) -> None:
        import torch
        from torch import nn

        self.torch = torch
        torch.set_num_threads(1)
        torch.manual_seed(0)
        self.model = nn.Sequential(
            nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=steps_hint)
        self.xs = torch.randn(32, 128, 64)
        self.ys = torch.randint(0, 10, (32, 128))
        self.loss_fn = nn.CrossEntropyLoss()
        self.i = 0
        for _ in range(100):  # warm up torch before any tracker starts
            self.step()

    def step(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        k = self.i % 32
        loss = self.loss_fn(self.model(self.xs[k]), self.ys[k])
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.i += 1
        return float(loss.item())

    def block(self, log: Any, steps: int, print_every: int) -> dict[str, Any]:
        clock = time.perf_counter_ns
        in_log = 0
        prints: list[int] = []
        get_lr = self.sched.get_last_lr
        wall0, cpu0, thread0 = clock(), time.process_time(), time.thread_time()
        for i in range(steps):
            value = self.step()
            row = {"train/loss": value, "train/lr": get_lr()[0]}
            l0 = clock()
            log(row)
            l1 = clock()
            in_log += l1 - l0
            if i % print_every == 0:
                print(f"step {self.i:7d}  loss {value:.4f}  lr {row['train/lr']:.6f}", flush=True)
                prints.append(clock() - l1)
        loop_ns = clock() - wall0
        cpu_s = time.process_time() - cpu0
        thread_s = time.thread_time() - thread0
        return {
            "steps": steps,
            "loop_s": loop_ns / 1e9,
            "in_log_s": in_log / 1e9,
            "in_print_s": sum(prints) / 1e9,
            "print_us": [t / 1000 for t in prints],
            "printed": len(prints),
            "thread_cpu_s": thread_s,
            "other_cpu_s": cpu_s - thread_s,
        }


def noop_log(row: dict[str, float]) -> None:
    pass


def run_block(
    name: str, loop: Loop, workdir: Path, steps: int, print_every: int, index: int
) -> dict[str, Any]:
    cfg = CONFIGS[name]
    data = workdir / f"data-{index}"
    config = {"lr": 0.05, "batch_size": 128, "config": name}
    t0 = time.perf_counter()
    run: Any = None
    if cfg.tracker == "fwtrack":
        import fwtrack

        run = fwtrack.init(
            project=PROJECT, dir=str(data), mode="offline", config=config, settings=cfg.settings
        )
        settings = {
            "system_interval": run.settings.system_interval,
            "console": run.settings.console,
        }
        log = run.log
    elif cfg.tracker == "wandb":
        import wandb

        run = wandb.init(
            project=PROJECT,
            dir=str(data),
            mode="offline",
            config=config,
            settings=wandb.Settings(**(cfg.settings or {})),
        )
        settings = {
            "console": run.settings.console,
            "x_disable_stats": run.settings.x_disable_stats,
            "x_stats_sampling_interval": run.settings.x_stats_sampling_interval,
        }
        log = run.log
    else:
        settings = {}
        log = noop_log
    init_s = time.perf_counter() - t0
    time.sleep(SETTLE_S)
    res = loop.block(log, steps, print_every)
    t1 = time.perf_counter()
    if run is not None:
        run.finish()
    res.update(config=name, init_s=init_s, finish_s=time.perf_counter() - t1, settings=settings)
    if cfg.tracker == "fwtrack":
        from fwtrack import _core

        reader = _core.RunReader(run.dir)
        res["system_samples"] = len(reader.system()["_timestamp"])
        res["console_lines"] = sum(1 for line in reader.console() if line[2].startswith("step "))
    elif cfg.tracker == "wandb":
        res.update(wandb_counts(data))
    return res


def wandb_counts(data: Path) -> dict[str, Any]:
    """System samples (`stats` records) and progress lines (`output_raw` records)."""
    (path,) = data.glob("wandb/*run-*/run-*.wandb")
    samples = lines = 0
    for rec in wandb_records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "stats":
            samples += 1
        elif kind == "output_raw":
            lines += rec.output_raw.line.count("step ")
    return {"system_samples": samples, "console_lines": lines}


def sample_cost(workdir: Path, repeat: int = 200) -> dict[str, Any]:
    """CPU time of one fwtrack system sample (`Sampler.sample()`), in this thread."""
    from fwtrack.sdk import system

    sampler = system.Sampler(lambda values: None, interval=3600, run_dir=str(workdir))
    sampler.sample()
    times = []
    for _ in range(repeat):
        c0 = time.thread_time()
        sampler.sample()
        times.append(time.thread_time() - c0)
    return {"sample_cpu_ms": statistics.median(times) * 1000, "keys": len(sampler.sample())}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    order: list[str] = args.order.split(",")
    blocks = order + order[::-1]
    workdir: Path = args.workdir
    if "wandb" in {CONFIGS[n].tracker for n in order}:
        for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
            os.environ[var] = str(workdir / "wandb-home")
    loop = Loop(steps_hint=len(blocks) * args.block + 100)
    out: dict[str, Any] = {"blocks": []}
    for index, name in enumerate(blocks):
        out["blocks"].append(run_block(name, loop, workdir, args.block, args.print_every, index))
    if "fw-off" in order:
        out["sample_cost"] = sample_cost(workdir)
    return out


# ----------------------------------------------------------------------------------------------
# The driver


def run_worker(
    family: str, order: list[str], args: argparse.Namespace, workroot: Path
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{family}-", dir=workroot)).resolve()
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(WORKER_ENV)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--order", ",".join(order)]
    cmd += ["--workdir", str(workdir), "--block", str(args.block)]
    cmd += ["--print-every", str(args.print_every)]
    res = spawn_worker(cmd, workdir, env)
    res["family"] = family
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def per_process(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{config: sums over its blocks} for one worker, with the paired overhead."""
    sums: dict[str, dict[str, Any]] = {}
    for b in res["blocks"]:
        s = sums.setdefault(b["config"], {"blocks": 0, "settings": b["settings"]})
        s["blocks"] += 1
        s.setdefault("print_list", []).extend(b["print_us"])
        for key, value in b.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                s[key] = s.get(key, 0) + value
    for name, s in sums.items():
        ref = CONFIGS[name].ref
        if ref in sums:
            s["paired_pct"] = (s["loop_s"] / sums[ref]["loop_s"] - 1) * 100
            s["paired_cpu_pct"] = (s["thread_cpu_s"] / sums[ref]["thread_cpu_s"] - 1) * 100
        s["step_us"] = s["loop_s"] / s["steps"] * 1e6
        s["in_log_us"] = s["in_log_s"] / s["steps"] * 1e6
        s["in_print_us"] = s["in_print_s"] / max(s["printed"], 1) * 1e6
        s["print_median_us"] = statistics.median(s.pop("print_list") or [0])
        s["thread_cpu_us"] = s["thread_cpu_s"] / s["steps"] * 1e6
        s["other_cpu_ms_per_s"] = s["other_cpu_s"] / s["loop_s"] * 1000
        s["init_ms"] = s["init_s"] / s["blocks"] * 1000
        s["finish_ms"] = s["finish_s"] / s["blocks"] * 1000
    return sums


def aggregate(results: list[dict[str, Any]], configs: list[str]) -> dict[str, dict[str, Any]]:
    procs = [per_process(r) for r in results if r.get("status") == "ok"]
    out: dict[str, dict[str, Any]] = {}
    for name in configs:
        runs = [p[name] for p in procs if name in p]
        agg: dict[str, Any] = {"reps": len(runs)}
        fields = (
            "paired_pct",
            "paired_cpu_pct",
            "step_us",
            "thread_cpu_us",
            "print_median_us",
            "in_log_us",
            "in_print_us",
            "other_cpu_ms_per_s",
            "init_ms",
            "finish_ms",
            "loop_s",
            "steps",
            "printed",
            "system_samples",
            "console_lines",
        )
        for key in fields:
            vals = [r[key] for r in runs if r.get(key) is not None]
            agg[key] = statistics.median(vals) if vals else None
        pairs = sorted(r["paired_pct"] for r in runs if r.get("paired_pct") is not None)
        if len(pairs) >= 2:
            q = statistics.quantiles(pairs, n=4)
            agg["paired_q1_pct"], agg["paired_q3_pct"] = q[0], q[2]
            agg["paired_all"] = pairs
        if runs:
            agg["settings"] = runs[0]["settings"]
        out[name] = agg
    return out


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.2f} %"


def render(data: dict[str, Any]) -> str:
    agg: dict[str, dict[str, Any]] = data["aggregate"]
    p = data["params"]
    noise = agg.get("fw-off-b", {})
    spread = (
        f"{noise['paired_q1_pct']:+.2f} … {noise['paired_q3_pct']:+.2f} %"
        if noise.get("paired_q1_pct") is not None
        else "—"
    )
    # Half the quartile range of the noise pairs: what a paired median can resolve.
    noise_band = (
        (noise["paired_q3_pct"] - noise["paired_q1_pct"]) / 2
        if noise.get("paired_q1_pct") is not None
        else 0.0
    )
    targets = []
    for name in TARGETED:
        a = agg.get(name, {})
        val = a.get("paired_pct")
        if val is None:
            verdict = "—"
        elif noise_band > TARGET_PCT:
            # The noise of a paired figure is larger than the target: no verdict either way.
            verdict = f"not resolved: noise ±{noise_band:.1f} %"
        elif val <= TARGET_PCT:
            verdict = "PASS"
        else:
            verdict = "**MISS**"
        targets.append(
            [
                f"capture overhead, {CONFIGS[name].what} (`{name}` vs `fw-off`)",
                f"<= +{TARGET_PCT} %",
                pct(val),
                f"{pct(noise.get('paired_pct'))} (quartiles {spread})",
                pct(a.get("paired_cpu_pct")),
                pct(noise.get("paired_cpu_pct")),
                verdict,
            ]
        )
    rows = []
    for name, a in agg.items():
        if not a["reps"]:
            continue
        ref = CONFIGS[name].ref
        quart = (
            f"{a['paired_q1_pct']:+.2f} … {a['paired_q3_pct']:+.2f}"
            if a.get("paired_q1_pct") is not None
            else ""
        )
        rows.append(
            [
                f"**{name}**",
                CONFIGS[name].what,
                num(a["step_us"]),
                f"{pct(a['paired_pct'])} vs {ref}" if ref else "",
                quart,
                num(a["thread_cpu_us"]),
                pct(a["paired_cpu_pct"]) if ref else "",
                num(a["in_log_us"]),
                f"{num(a['in_print_us'])} / {num(a['print_median_us'])}",
                num(a["other_cpu_ms_per_s"]),
                "—" if a.get("system_samples") is None else f"{a['system_samples']:.0f}",
                "—"
                if a.get("console_lines") is None
                else f"{a['console_lines']:.0f} of {a['printed']:.0f}",
                num(a["init_ms"]),
                num(a["finish_ms"]),
            ]
        )
    head = [
        "config",
        "what",
        "mean step µs",
        "paired overhead, wall (median)",
        "paired wall, quartiles (%)",
        "training thread CPU µs/step",
        "paired overhead, training thread CPU (median)",
        "in log() µs/step",
        "in print() µs/line, mean / median",
        "CPU outside the training thread, ms/s",
        "system samples recorded (per process)",
        "progress lines recorded",
        "init() ms",
        "finish() ms",
    ]
    sc = data.get("sample_cost") or {}
    cost = sc.get("sample_cpu_ms")
    steps = p["block"] * 2
    lines = [
        f"Per process and configuration: 2 blocks of {p['block']:,} steps ({steps:,} steps), "
        f"`log()` of 2 scalars at every step, a progress line every {p['print_every']} steps; "
        f"medians of {p['reps']} repetitions.",
        "",
        table(
            [
                "measure",
                "target",
                "median paired (wall)",
                "noise: `fw-off-b` vs `fw-off` (wall)",
                "training thread CPU",
                "noise (CPU)",
                "",
            ],
            targets,
        ),
        "",
        table(head, rows),
    ]
    off = agg.get("fw-off", {})
    direct = []
    for name in ("fw-console", "fw-default", "fw-all1"):
        a = agg.get(name, {})
        if a.get("print_median_us") is None or off.get("print_median_us") is None:
            continue
        extra = a["print_median_us"] - off["print_median_us"]
        extra_mean = a["in_print_us"] - off["in_print_us"]
        share = extra_mean / (p["print_every"] * off["step_us"]) * 100
        cpu = a["other_cpu_ms_per_s"] - off["other_cpu_ms_per_s"]
        direct.append(
            f"`{name}` {num(extra)} µs per line at the median, {num(extra_mean)} µs on average "
            f"({share:+.2f} % of the loop), and {num(cpu)} ms of CPU per second on its threads "
            f"({cpu / 10:.2f} % of a core)"
        )
    if direct:
        lines += [
            "",
            "Direct costs against `fw-off`, which load on the machine blurs less than the "
            "loop time: on the training thread, the time in `print()` minus `fw-off`'s (median "
            "and mean; the mean spread over the steps between two lines gives the share of the "
            "loop); off it, the CPU time of the process outside the "
            "training thread (the capture threads) minus `fw-off`'s: " + "; ".join(direct),
        ]
    if cost is not None:
        lines += [
            "",
            f"One fwtrack system sample ({sc['keys']} keys, `Sampler.sample()`) takes "
            f"{num(cost)} ms of CPU on the sampler thread (median of 200): "
            f"{num(cost / 10 / 10)} % of one core at the default 10 s interval, "
            f"{num(cost / 10)} % at 1 s.",
        ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--order", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--block", type=int, default=None, help="steps per block (500; 200 quick)")
    ap.add_argument("--print-every", type=int, default=10, help="steps between progress lines")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (7; 3 with --quick)")
    ap.add_argument("--quick", action="store_true", help="blocks of 200 steps, 3 repetitions")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma list of configurations")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "capture")
    ap.add_argument("--keep", action="store_true", help="keep the workers' directories")
    ap.add_argument("--render", type=Path, help="print the tables of a saved results.json")
    args = ap.parse_args()

    if args.worker:
        return worker_main(args.workdir, lambda: worker(args))

    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0

    args.block = args.block or (200 if args.quick else 500)
    args.reps = args.reps or (3 if args.quick else 7)
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CONFIGS]
    if unknown:
        ap.error(f"unknown configurations {unknown}; choose from {', '.join(CONFIGS)}")
    for c in list(wanted):  # a reference runs with the configuration that refers to it
        ref = CONFIGS[c].ref
        while ref is not None and ref not in wanted:
            wanted.append(ref)
            ref = CONFIGS[ref].ref
    configs = [c for c in CONFIGS if c in wanted]
    families = {f: [c for c in configs if CONFIGS[c].family == f] for f in ("fwtrack", "wandb")}
    families = {f: cs for f, cs in families.items() if cs}
    args.out.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="capture-bench-"))
    start, load_start = time.time(), os.getloadavg()
    results: list[dict[str, Any]] = []
    try:
        for rep in range(args.reps):
            fams = list(families.items())
            if rep % 2:
                fams.reverse()
            for family, cs in fams:
                by = rep % len(cs)
                order = cs[by:] + cs[:by]
                res = run_worker(family, order, args, workroot)
                res["rep"] = rep
                results.append(res)
                if res.get("status") == "ok":
                    sums = per_process(res)
                    state = "  ".join(
                        f"{c} {s['paired_pct']:+.2f}%" for c, s in sums.items() if "paired_pct" in s
                    )
                else:
                    state = res.get("error", "?")
                print(
                    f"rep {rep + 1}/{args.reps} {family} ({res['wall_s']:.0f} s): {state}",
                    flush=True,
                )
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
    sample = next((r["sample_cost"] for r in results if "sample_cost" in r), None)
    versions: dict[str, str | None] = {}
    for dist in ("fwtrack", "wandb", "torch", "psutil"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    data: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions,
        "params": {"block": args.block, "print_every": args.print_every, "reps": args.reps},
        "load_start": load_start,
        "load_end": os.getloadavg(),
        "wall_s": time.time() - start,
        "sample_cost": sample,
        "aggregate": aggregate(results, configs),
        "results": results,
    }
    save_results(data, args.out, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
