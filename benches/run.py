"""Side-by-side benchmarks: fwtrack vs a no-op, wandb (offline), MLflow (SQLite, sync and
async) and TensorBoard (torch's SummaryWriter).

    python benches/run.py --out benches/out            # the full run (about 15 minutes)
    python benches/run.py --quick --reps 1             # a quick pass while iterating

For each repetition, for each figure, every tracker runs in a fresh process
(`benches/worker.py`), in an order rotated between repetitions and figures so that no tracker
always runs first or last. Figures are medians over repetitions. Results go to
`<out>/results.json` (every raw measurement) and `<out>/results.md` (the tables printed here).
Slow trackers get fewer log() calls (see CALLS) so that the whole run stays bounded; every
table says how many calls a figure is based on. A tracker that is not installed is reported
as such and the run goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trackers import OFFLINE_ENV, TRACKERS
from worker import HIST_TRACKERS, RESULT_PREFIX

WORKER = Path(__file__).resolve().parent / "worker.py"
ALL_TRACKERS = tuple(TRACKERS)
FIGURES = ("init", "log2", "log100", "hist", "train", "finish_env")  # the default run
# Also on request: "train-nt", the training loop with torch on every core. On a 2-core machine
# that anything else is also using, torch's OpenMP threads then wait on each other for whole
# scheduler slices and the loop time swings by 10x between runs, so it is not in the default.
EXTRA_FIGURES = ("train-nt",)
HIST_SIZES = (1_000_000, 10_000_000)

# log() calls per worker in a full run. The fast trackers get 100k calls (so the finish() figure
# is "after 100k calls"); the slow ones get what fits in a few seconds.
CALLS: dict[str, dict[str, int]] = {
    "log2": {
        "noop": 100_000,
        "fwtrack": 100_000,
        "wandb": 20_000,
        "mlflow-sync": 1_000,
        "mlflow-async": 1_000,
        "tensorboard": 10_000,
    },
    "log100": {
        "noop": 100_000,
        "fwtrack": 100_000,
        "wandb": 5_000,
        "mlflow-sync": 300,
        "mlflow-async": 300,
        "tensorboard": 1_000,
    },
}
BUDGET_S = 10.0  # and a time cap on every log loop, whatever the call count
# Training steps; MLflow (a SQLite transaction per synchronous call, a slow queue otherwise) gets
# fewer. The overhead is computed per step, so the figures stay comparable.
TRAIN_STEPS = {"mlflow-sync": 500, "mlflow-async": 500}
TRAIN_STEPS_DEFAULT = 2000
TIMEOUT_S = 600.0


class Target(NamedTuple):
    label: str
    figure: str
    field: str
    op: str  # "<=" or ">="
    limit: float
    unit: str


# fwtrack's targets on a 2-core machine, printed next to the measured medians (never fatal).
TARGETS = (
    Target("init() time", "init", "init_s", "<=", 0.050, "s"),
    Target("log() with 2 scalars, median per call", "log2", "per_call_median_us", "<=", 1.5, "us"),
    Target(
        "log() with 100 scalars, median per call", "log100", "per_call_median_us", "<=", 25, "us"
    ),
    Target(
        "sustained points/s (100-scalar rows, log + finish)",
        "log100",
        "points_per_s",
        ">=",
        5e6,
        "pts/s",
    ),
    Target("finish() after 100k 2-scalar calls", "log2", "finish_s", "<=", 0.100, "s"),
    Target(
        "finish() of an empty run, default captures", "finish_env", "finish_env_s", "<=", 0.05, "s"
    ),
    Target("histogram of 10M float32 / arr.sum() floor", "hist-10M", "floor_ratio", "<=", 2, "x"),
    Target(
        "training-loop overhead, torch on 1 thread",
        "train-1t",
        "paired_overhead_pct",
        "<=",
        1.0,
        "%",
    ),
    Target(
        "training-loop overhead, torch on all cores",
        "train-nt",
        "paired_overhead_pct",
        "<=",
        1.0,
        "%",
    ),
)


METHOD = """## How these are measured

- Every cell is the median over the repetitions; each measurement ran in a fresh process
  (`benches/worker.py`), trackers in a rotating order. wandb runs with `mode="offline"`,
  `WANDB_MODE=offline`, `WANDB_SILENT=true`; MLflow with a SQLite store (`sqlite:///...`)
  through `mlflow.log_metrics(..., synchronous=True/False)`; TensorBoard is torch's
  `SummaryWriter`, one `add_scalar` per key. Nothing touches the network.
- Import (cold): only the standard library is loaded before the import, so it includes
  whatever the tracker imports with it (torch, for TensorBoard). "torch loaded" is the same
  import inside the training script, after torch and numpy.
- log(): each call passes one of 4096 prebuilt dicts of random float64 values (built before the
  clock starts). Calls are timed in batches of up to 100; per-call figures are batch time /
  batch size: median and p99 over batches, mean = total time / calls. The no-op is a Python
  method that does nothing: the cost of the call itself. Slow trackers get fewer calls (the
  "calls" column) and every log loop is capped at a few seconds.
- Throughput: points = calls x scalars per call; points/s = points / (log time + finish()).
  After finish() the run is read back through the tracker's own reader (`fwtrack.Api` history,
  the `.wandb` file's protobuf records, `MlflowClient.get_metric_history`, TensorBoard's
  `EventAccumulator`) and every point is counted.
- Bytes on disk: every file of the run (wandb: the run directory with its logs; MLflow: the
  SQLite file; TensorBoard: the event file). Random values leave compression little to find.
- Peak RSS: `ru_maxrss` of the benchmark process right after finish() (before the read-back);
  wandb also runs a service process, shown as "helper processes" (its RSS before finish()).
- Histogram: the same standard-normal float32 array for every implementation, one warm-up call,
  then the median of the timed calls; the floor is `arr.sum()`.
- Training loop: a 64-256-256-10 MLP, batch 128, SGD with a cosine schedule, synthetic data,
  100 warm-up steps before the tracker starts; logged steps pass `train/loss` (`loss.item()`)
  and `train/lr` to log(). Blocks of 10 logged steps alternate (A B B A) with blocks of 10
  steps that pass the same dict to a function doing nothing; "overhead in-process (A/B)" is
  logged time / unlogged time - 1 within each process. The no-op's own A/B figure is the noise
  of that estimate. "in log()" is the time the training thread spent inside the log() call
  itself (timed around each call): the direct cost, free of load from other processes; it
  leaves out what background threads take from the training thread. "vs no-op process"
  compares the logged steps with those of the no-op tracker's processes, which also carries
  the process-to-process spread (a few %).
"""


# ----------------------------------------------------------------------------------------------
# Running the workers


def run_worker(
    tracker: str, figure: str, extra: list[str], workroot: Path, keep: bool, timeout: float
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{figure}-{tracker}-", dir=workroot)).resolve()
    fig = figure.split("-")[0]
    cmd = [sys.executable, str(WORKER), "--tracker", tracker, "--figure", fig]
    cmd += ["--workdir", str(workdir), *extra]
    env = {**os.environ, **OFFLINE_ENV}
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
        if lines:
            res: dict[str, Any] = json.loads(lines[-1][len(RESULT_PREFIX) :])
        else:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            res = {"status": "error", "error": f"exit {proc.returncode}: {last}"}
        if res.get("status") == "error" and proc.stderr:
            res["stderr"] = proc.stderr[-2000:]
    except subprocess.TimeoutExpired:
        res = {"status": "error", "error": f"timed out after {timeout:.0f} s"}
    res.update(tracker=tracker, figure=figure, wall_s=time.perf_counter() - t0, load1=load)
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def worker_args(figure: str, tracker: str, quick: bool) -> list[str]:
    scale = 10 if quick else 1
    if figure in CALLS:
        calls = max(100, CALLS[figure][tracker] // scale)
        return ["--calls", str(calls), "--budget", str(BUDGET_S / (5 if quick else 1))]
    if figure.startswith("hist"):
        size = 1_000_000 if figure == "hist-1M" else 10_000_000
        return ["--size", str(size), "--repeat", "3" if quick else "7"]
    if figure.startswith("train"):
        threads = "1" if figure == "train-1t" else "0"
        steps = TRAIN_STEPS.get(tracker, TRAIN_STEPS_DEFAULT) // (5 if quick else 1)
        return ["--steps", str(steps), "--torch-threads", threads]
    return []


def figure_trackers(figure: str, trackers: list[str]) -> list[str]:
    if figure.startswith("hist"):
        return [t for t in HIST_TRACKERS if t in ("floor", "numpy") or t in trackers]
    return trackers


def rotate(items: list[str], by: int) -> list[str]:
    if not items:
        return items
    by %= len(items)
    return items[by:] + items[:by]


# ----------------------------------------------------------------------------------------------
# Aggregating


def medians(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{figure: {tracker: {field: median over ok repetitions, "status", "reps", "error"}}}."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        grouped.setdefault((r["figure"], r["tracker"]), []).append(r)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (figure, tracker), runs in grouped.items():
        ok = [r for r in runs if r.get("status") == "ok"]
        agg: dict[str, Any] = {"reps": len(ok)}
        if ok:
            agg["status"] = "ok"
            for key, first in ok[0].items():
                values = [r.get(key) for r in ok]
                if all(isinstance(v, bool) for v in values):
                    agg[key] = all(values)
                elif isinstance(first, int | float | None) and key not in ("load1",):
                    nums = [v for v in values if isinstance(v, int | float)]
                    agg[key] = statistics.median(nums) if nums else None
                elif key == "kernels":
                    agg[key] = first
        elif any(r.get("status") == "not_installed" for r in runs):
            agg.update(status="not installed", error=runs[0].get("error"))
        else:
            agg.update(status="error", error=runs[0].get("error"))
        out.setdefault(figure, {})[tracker] = agg
    return out


def derive(med: dict[str, dict[str, dict[str, Any]]]) -> None:
    """Fields computed from medians: training overhead vs no-op, histogram vs floor."""
    for variant in ("1t", "nt"):
        train = med.get(f"train-{variant}", {})
        for agg in train.values():
            if agg.get("loop_s") is not None:
                agg["step_mean_us"] = agg["loop_s"] / agg["steps"] * 1e6
        base = train.get("noop", {})
        for agg in train.values():
            for field, out in (
                ("step_mean_us", "overhead_pct"),
                ("step_median_us", "step_overhead_pct"),
            ):
                if base.get(field) and agg.get(field) is not None:
                    agg[out] = (agg[field] / base[field] - 1) * 100
    for size in ("1M", "10M"):
        hist = med.get(f"hist-{size}", {})
        floor = hist.get("floor", {}).get("median_s")
        for agg in hist.values():
            if floor and agg.get("median_s") is not None:
                agg["floor_ratio"] = agg["median_s"] / floor


# ----------------------------------------------------------------------------------------------
# Formatting


def median_of(rows: list[dict[str, Any]], key: str) -> float | None:
    """The median of `key` over the rows that carry a number there (None when none does)."""
    vals = [r[key] for r in rows if isinstance(r.get(key), int | float)]
    return statistics.median(vals) if vals else None


def num(x: float | None, digits: int = 3) -> str:
    """`x` with `digits` significant digits, without exponent for everyday magnitudes."""
    if x is None:
        return "—"
    if x == 0:
        return "0"
    mag = abs(x)
    if mag >= 10 ** (digits - 1):
        return f"{x:,.0f}"
    decimals = digits - 1 - int(f"{mag:e}".split("e")[1])
    return f"{x:.{max(decimals, 0)}f}"


def big(x: float | None) -> str:
    if x is None:
        return "—"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{num(x / div)} {unit}"
    return num(x)


def ratio(value: float | None, ref: float | None, higher_is_better: bool = False) -> str:
    """'78x slower' / '2.1x faster' / '≈ same', `value` against `ref`."""
    if value is None or ref is None or value <= 0 or ref <= 0:
        return "—"
    r = ref / value if higher_is_better else value / ref
    if 0.95 <= r <= 1.05:
        return "≈ same"
    word = "slower" if r > 1 else "faster"
    r = r if r > 1 else 1 / r
    return f"{num(r, 2 if r < 10 else 3)}x {word}"


def table(header: list[str], rows: Iterable[list[str]]) -> str:
    rows = list(rows)
    if not rows:
        return ""  # nothing measured: the section is left out
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    def __init__(self, med: dict[str, dict[str, dict[str, Any]]], trackers: list[str]) -> None:
        self.med = med
        self.trackers = trackers

    def get(self, figure: str, tracker: str) -> dict[str, Any]:
        return self.med.get(figure, {}).get(tracker, {})

    def field(self, figure: str, tracker: str, key: str) -> Any:
        agg = self.get(figure, tracker)
        return agg.get(key) if agg.get("status") == "ok" else None

    def rows(
        self, figure: str, cells: Callable[[str, dict[str, Any]], list[str]], width: int
    ) -> list[list[str]]:
        """One row per tracker; a tracker that did not run gets its status across the row."""
        out = []
        for t in self.trackers if not figure.startswith("hist") else HIST_TRACKERS:
            agg = self.get(figure, t)
            if not agg:
                continue
            if agg.get("status") != "ok":
                out.append([f"**{t}**", agg["status"]] + [""] * (width - 2))
            else:
                out.append([f"**{t}**", *cells(t, agg)])
        return out

    def init(self) -> str:
        fw = self.field("init", "fwtrack", "import_init_s")

        def cells(t: str, a: dict[str, Any]) -> list[str]:
            return [
                num(a["import_s"] * 1e3),
                num(a["init_s"] * 1e3),
                num(a["import_init_s"] * 1e3),
                ratio(a["import_init_s"], fw) if t not in ("fwtrack", "noop") else "",
                num(pick(self.field("train-1t", t, "import_s"), 1e3)),
                num(pick(self.field("train-1t", t, "init_s"), 1e3)),
                num(a["finish_empty_s"] * 1e3),
            ]

        head = [
            "tracker",
            "import ms (cold)",
            "init() ms",
            "import + init ms",
            "vs fwtrack",
            "import ms (torch loaded)",
            "init() ms (after torch)",
            "finish() empty run ms",
        ]
        return table(head, self.rows("init", cells, len(head)))

    def finish_env(self) -> str:
        """init() with a 1,000-key config and finish() of that empty run, default captures."""
        noop = self.field("finish_env", "noop", "init_config_s")
        fw_init = self.field("finish_env", "fwtrack", "init_config_s")
        fw_finish = self.field("finish_env", "fwtrack", "finish_env_s")

        def cells(t: str, a: dict[str, Any]) -> list[str]:
            other = t not in ("fwtrack", "noop")
            return [
                num(a["init_config_s"] * 1e3),
                "" if t == "noop" or noop is None else num((a["init_config_s"] - noop) * 1e3),
                ratio(a["init_config_s"], fw_init) if other else "",
                num(a["finish_env_s"] * 1e3),
                ratio(a["finish_env_s"], fw_finish) if other else "",
            ]

        head = [
            "tracker",
            "init(config=1,000 keys) ms",
            "minus no-op ms",
            "vs fwtrack",
            "finish() empty run ms",
            "vs fwtrack",
        ]
        return table(head, self.rows("finish_env", cells, len(head)))

    def log(self, figure: str) -> str:
        fw = self.field(figure, "fwtrack", "per_call_median_us")
        noop = self.field(figure, "noop", "per_call_median_us")

        def cells(t: str, a: dict[str, Any]) -> list[str]:
            net = a["per_call_median_us"] - noop if noop is not None else None
            return [
                f"{a['calls']:,.0f}",
                num(a["per_call_median_us"]),
                num(a["per_call_mean_us"]),
                num(a["per_call_p99_us"]),
                "" if t == "noop" else num(net),
                "" if t == "noop" else ratio(a["per_call_median_us"], noop),
                ratio(a["per_call_median_us"], fw) if t not in ("fwtrack", "noop") else "",
            ]

        head = [
            "tracker",
            "calls",
            "median µs/call",
            "mean µs/call",
            "p99 µs/call (batches)",
            "minus no-op µs",
            "vs no-op (median)",
            "vs fwtrack (median)",
        ]
        return table(head, self.rows(figure, cells, len(head)))

    def throughput(self) -> str:
        fw = self.field("log100", "fwtrack", "points_per_s")

        def cells(t: str, a: dict[str, Any]) -> list[str]:
            rb = a.get("readback_s")
            return [
                big(a["points"]),
                num(a["log_s"] + a["finish_s"]),
                big(a["points_per_s"]),
                ratio(a["points_per_s"], fw, higher_is_better=True)
                if t not in ("fwtrack", "noop")
                else "",
                num(rb),
                big(a["points"] / rb) if rb else "—",
                {True: "yes", False: "**NO**", None: "—"}[a.get("verified")],
            ]

        head = [
            "tracker",
            "points",
            "log + finish s",
            "points/s",
            "vs fwtrack",
            "read-back s",
            "read-back points/s",
            "all points read back",
        ]
        return table(head, self.rows("log100", cells, len(head)))

    def finish(self) -> str:
        def cells(t: str, a: dict[str, Any]) -> list[str]:
            b = self.get("log100", t)
            return [
                f"{a['calls']:,.0f}",
                num(a["finish_s"] * 1e3),
                f"{b['calls']:,.0f}" if b.get("status") == "ok" else "—",
                num(b["finish_s"] * 1e3) if b.get("status") == "ok" else "—",
            ]

        head = ["tracker", "2-scalar calls", "finish() ms", "100-scalar calls", "finish() ms"]
        return table(head, self.rows("log2", cells, len(head)))

    def disk(self) -> str:
        def cells(t: str, a: dict[str, Any]) -> list[str]:
            b = self.get("log100", t)
            ok = b.get("status") == "ok"
            return [
                big(a["points"]),
                f"{a['bytes'] / 2**20:,.2f}",
                num(a["bytes_per_point"]),
                big(b["points"]) if ok else "—",
                f"{b['bytes'] / 2**20:,.2f}" if ok else "—",
                num(b["bytes_per_point"]) if ok else "—",
            ]

        head = [
            "tracker",
            "2-scalar points",
            "MiB",
            "bytes/point",
            "100-scalar points",
            "MiB",
            "bytes/point",
        ]
        return table(head, self.rows("log2", cells, len(head)))

    def rss(self) -> str:
        def cells(t: str, a: dict[str, Any]) -> list[str]:
            return [
                num(a["rss_mb"]),
                num(self.field("log2", t, "rss_mb")),
                num(self.field("log100", t, "rss_mb")),
                num(self.field("log100", t, "children_rss_mb")),
                num(self.field("train-1t", t, "rss_mb")),
            ]

        head = [
            "tracker",
            "after init MiB",
            "2-scalar run MiB",
            "100-scalar run MiB",
            "+ helper processes MiB (100-scalar)",
            "training loop MiB",
        ]
        return table(head, self.rows("init", cells, len(head)))

    def hist(self) -> str:
        def cells(t: str, a: dict[str, Any]) -> list[str]:
            small = self.get("hist-1M", t)
            ok = small.get("status") == "ok"
            return [
                num(small["median_s"] * 1e3) if ok else "—",
                num(small.get("floor_ratio")) if ok else "—",
                num(a["median_s"] * 1e3),
                num(a["gb_per_s"]),
                num(a.get("floor_ratio")),
            ]

        head = [
            "implementation",
            "1M ms",
            "vs floor (1M)",
            "10M ms",
            "GB/s (10M)",
            "vs floor (10M)",
        ]
        return table(head, self.rows("hist-10M", cells, len(head)))

    def train(self, figure: str) -> str:
        def pct(x: float | None) -> str:
            return f"{x:+.1f} %" if x is not None else "—"

        def cells(t: str, a: dict[str, Any]) -> list[str]:
            noop = t == "noop"
            return [
                f"{a['steps']:,.0f}",
                f"{a['torch_threads']:.0f}",
                num(a["loop_s"]),
                num(a.get("in_log_median_us")),
                f"{a['in_log_pct']:.2f} %" if "in_log_pct" in a else "—",
                pct(a.get("paired_overhead_pct")),
                num(a.get("step_mean_us")),
                "" if noop else pct(a.get("overhead_pct")),
                num(a["step_median_us"]),
                "" if noop else pct(a.get("step_overhead_pct")),
                num(a["finish_s"] * 1e3),
            ]

        head = ["tracker", "logged steps", "torch threads", "loop s (logged steps)",
                "in log() µs/step (median)", "in log(), % of loop", "overhead in-process (A/B)",
                "mean step µs", "overhead vs no-op process (mean)", "median step µs",
                "overhead vs no-op process (median)", "finish() ms"]  # fmt: skip
        return table(head, self.rows(figure, cells, len(head)))

    def targets(self) -> str:
        rows = []
        for label, figure, key, op, limit, unit in TARGETS:
            if figure not in self.med:
                continue  # not part of this run
            value = self.field(figure, "fwtrack", key)
            if value is None:
                verdict, shown = "not measured", "—"
            else:
                ok = value <= limit if op == "<=" else value >= limit
                verdict = "PASS" if ok else "**MISS**"
                shown = fmt_unit(value, unit)
            rows.append([label, f"{op} {fmt_unit(limit, unit)}", shown, verdict])
        return table(["fwtrack target", "target", "measured (median)", ""], rows)


def pick(x: float | None, scale: float) -> float | None:
    return None if x is None else x * scale


def fmt_unit(x: float, unit: str) -> str:
    if unit == "s":
        return f"{num(x * 1e3)} ms"
    if unit == "pts/s":
        return f"{big(x)} points/s"
    if unit == "%":
        return f"{x:+.2f} %"
    if unit == "x":
        return f"{num(x)}x"
    return f"{num(x)} µs"


def render(report: Report, meta: dict[str, Any]) -> str:
    kernels = report.field("hist-10M", "numpy", "kernels") or {}
    pools = kernels.get("threadpools") or []
    blas = ", ".join(
        f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')}, "
        f"{p.get('num_threads')} threads)"
        for p in pools
    )
    env = kernels.get("env")
    sections = [
        ("Targets", report.targets()),
        ("1. Import + init", report.init()),
        ("2a. log() with 2 scalars", report.log("log2")),
        ("2b. log() with 100 scalars", report.log("log100")),
        ("3. Throughput ceiling with every point read back (100-scalar rows)", report.throughput()),
        ("4. finish() after the log() calls of figure 2", report.finish()),
        ("5. Bytes on disk", report.disk()),
        ("6. Peak RSS of the benchmark process", report.rss()),
        (
            "7. Histogram of float32 values, 64 bins",
            report.hist() + f"\n\nnumpy {kernels.get('numpy', '?')}; SIMD baseline "
            f"{', '.join(kernels.get('simd_baseline', [])) or '?'}, dispatch "
            f"{', '.join(kernels.get('simd_dispatch', [])) or '?'}; BLAS (threadpoolctl): "
            f"{blas or 'not reported'}; OPENBLAS_* environment: "
            f"{', '.join(f'{k}={v}' for k, v in env.items()) if env else 'not set'}.",
        ),
        ("8. Small torch training loop, torch on 1 thread", report.train("train-1t")),
        ("8b. Small torch training loop, torch on all cores", report.train("train-nt")),
        (
            "9. init() with a 1,000-key config, then finish() of the empty run (default captures)",
            report.finish_env(),
        ),
    ]
    head = [
        "# fwtrack benchmark results",
        "",
        f"{meta['date']} · {meta['machine']['cpu']} · {meta['machine']['cores']} cores · "
        f"{meta['machine']['ram_gib']:.0f} GiB RAM · {meta['machine']['os']} · "
        f"Python {meta['machine']['python']}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
        "fwtrack: checkout {commit}, native module built {native_module_built}".format(
            **meta.get("fwtrack_build", {"commit": "?", "native_module_built": "?"})
        ),
        "",
        f"Command: `{meta['command']}` · medians of {meta['reps']} repetitions "
        f"({meta.get('train_reps', meta['reps'])} for the training loop) · "
        f"{meta['duration_s'] / 60:.1f} min · 1-min load average "
        f"{meta['load_start']:.2f} at start, {meta.get('load_median', float('nan')):.2f} median "
        f"at worker starts, {meta['load_end']:.2f} at the end",
    ]
    body = [f"## {title}\n\n{text}" for title, text in sections if text.startswith("|")]
    return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n\n" + METHOD


# ----------------------------------------------------------------------------------------------
# Machine description


def spawn_worker(cmd: list[str], workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run a benchmark's worker process (`worker_main` on its side) in `workdir`, its output in
    `workdir/output.txt`, and return its result: `result.json`, or an error naming the exit
    and the output's last line. Adds `load1` (the load at the start), `wall_s` and
    `exited_at` (Unix time once the process was gone)."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(workdir / "output.txt", "wb") as sink:
        try:
            proc = subprocess.run(
                cmd, cwd=workdir, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=900
            )
            code: int | str = proc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    exited = time.time()
    result = workdir / "result.json"
    if result.exists():
        res: dict[str, Any] = json.loads(result.read_text())
    else:
        tail = (workdir / "output.txt").read_text(errors="replace").strip().splitlines()
        res = {"status": "error", "error": f"exit {code}: {(tail or ['no output'])[-1]}"}
    res.update(load1=load, wall_s=time.perf_counter() - t0, exited_at=exited)
    return res


def worker_main(workdir: Path, work: Callable[[], dict[str, Any]]) -> int:
    """The body of a benchmark's worker process: run `work()` in `workdir` and write its
    result (with `"status": "ok"`, or the error) to `workdir/result.json`."""
    os.chdir(workdir)
    try:
        res = work()
        res["status"] = "ok"
    except Exception as exc:
        traceback.print_exc()
        res = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    (workdir / "result.json").write_text(json.dumps(res))
    return 0


def save_results(data: dict[str, Any], out: Path, render: Callable[[dict[str, Any]], str]) -> None:
    """Write `out/results.json` and the rendered `out/results.md`, and print the tables with
    the run's duration and load (`data["wall_s"]`, `data["load_start"]`, `data["load_end"]`)."""
    (out / "results.json").write_text(json.dumps(data, indent=1))
    text = render(data)
    (out / "results.md").write_text(text + "\n")
    print()
    print(text)
    print(
        f"\n{data['wall_s'] / 60:.1f} minutes; 1-minute load {data['load_start'][0]:.2f} at the "
        f"start, {data['load_end'][0]:.2f} at the end; raw results in {out / 'results.json'}"
    )


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
                break
    except (OSError, subprocess.CalledProcessError):
        pass
    ram = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) / 2**20
    except OSError:
        pass
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"') + f" (Linux {platform.release()})"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram,
        "os": os_name,
        "python": platform.python_version(),
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")},
    }


def fwtrack_build() -> dict[str, str | None]:
    """Which fwtrack was measured: the checkout's commit and when the native module was built
    (the working tree may hold changes not committed yet)."""
    root = Path(__file__).resolve().parent.parent
    commit = None
    with contextlib.suppress(OSError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    built = None
    spec = importlib.util.find_spec("fwtrack")
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            for so in Path(loc).glob("_core*.so"):
                mtime = datetime.fromtimestamp(so.stat().st_mtime, timezone.utc)
                built = mtime.strftime("%Y-%m-%d %H:%M:%S UTC")
    return {"commit": commit or None, "native_module_built": built}


def versions() -> dict[str, str]:
    out = {}
    for dist in ("fwtrack", "wandb", "mlflow", "tensorboard", "torch", "numpy", "pandas", "psutil"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


# ----------------------------------------------------------------------------------------------


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    p.add_argument("--reps", type=int, default=None, help="repetitions (default 3; quick 1)")
    p.add_argument(
        "--train-reps",
        type=int,
        default=None,
        help="repetitions of the training figures (default 5; quick: as --reps)",
    )
    p.add_argument("--quick", action="store_true", help="a tenth of the calls, fewer steps")
    p.add_argument("--trackers", default=",".join(ALL_TRACKERS), help="comma-separated")
    p.add_argument("--figures", default=",".join(FIGURES), help="comma-separated")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per worker")
    p.add_argument("--keep", action="store_true", help="keep each worker's run directory")
    p.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="run nothing: rebuild results.md in --out from a results.json of an earlier run",
    )
    args = p.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render:
        data = json.loads(args.render.read_text())
        ran = {r["tracker"] for r in data["raw"]}
        write(args.out, data["raw"], data["meta"], [t for t in ALL_TRACKERS if t in ran])
        return 0
    reps = args.reps or (1 if args.quick else 3)
    train_reps = args.train_reps or (reps if args.quick else max(reps, 5))
    chosen = {t.strip() for t in args.trackers.split(",") if t.strip()}
    if chosen - set(ALL_TRACKERS):
        unknown = sorted(chosen - set(ALL_TRACKERS))
        p.error(f"unknown trackers {unknown}; choose from {', '.join(ALL_TRACKERS)}")
    trackers = [t for t in ALL_TRACKERS if t in chosen]
    figures: list[str] = []
    for f in args.figures.split(","):
        if f.strip() == "hist":
            figures += [f"hist-{n // 1_000_000}M" for n in HIST_SIZES]
        elif f.strip() == "train":
            figures.append("train-1t")
        elif f.strip() in FIGURES + EXTRA_FIGURES:
            figures.append(f.strip())
        elif f.strip():
            choices = ", ".join(FIGURES + EXTRA_FIGURES)
            p.error(f"unknown figure {f!r}; choose from {choices}")

    workroot = args.out / "work"
    workroot.mkdir(exist_ok=True)
    start, load_start = time.time(), os.getloadavg()[0]
    results: list[dict[str, Any]] = []
    missing: dict[str, dict[str, Any]] = {}
    rounds = max(reps, train_reps if any(f.startswith("train") for f in figures) else 0)
    for rep in range(rounds):
        for fi, figure in enumerate(figures):
            if rep >= (train_reps if figure.startswith("train") else reps):
                continue
            for tracker in rotate(figure_trackers(figure, trackers), rep + fi):
                if tracker in missing:
                    results.append({**missing[tracker], "figure": figure, "tracker": tracker})
                    continue
                res = run_worker(
                    tracker,
                    figure,
                    worker_args(figure, tracker, args.quick),
                    workroot,
                    args.keep,
                    args.timeout,
                )
                results.append(res)
                status = res.get("status")
                if status == "not_installed":
                    missing[tracker] = {"status": status, "error": res.get("error")}
                note = "" if status == "ok" else f"  {status}: {str(res.get('error'))[:200]}"
                print(
                    f"[round {rep + 1}/{rounds}] {figure:8} {tracker:13} {res['wall_s']:6.1f} s"
                    + note,
                    file=sys.stderr,
                    flush=True,
                )
    if not args.keep:
        shutil.rmtree(workroot, ignore_errors=True)

    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "reps": reps,
        "train_reps": train_reps,
        "quick": args.quick,
        "duration_s": time.time() - start,
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "load_median": statistics.median(r["load1"] for r in results if "load1" in r),
        "machine": machine(),
        "versions": versions(),
        "fwtrack_build": fwtrack_build(),
        "calls": CALLS,
        "train_steps": {t: TRAIN_STEPS.get(t, TRAIN_STEPS_DEFAULT) for t in trackers},
    }
    write(args.out, results, meta, trackers)
    return 0


def write(
    out: Path, results: list[dict[str, Any]], meta: dict[str, Any], trackers: list[str]
) -> None:
    med = medians(results)
    derive(med)
    md = render(Report(med, trackers), meta)
    (out / "results.md").write_text(md)
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "medians": med, "raw": results}, indent=1, default=str)
    )
    print(md)
    print(f"wrote {out / 'results.md'} and {out / 'results.json'}", file=sys.stderr)


def worktree(rev: str, where: Path) -> Path:
    """A checkout of `rev` at `where` (a `git worktree`), with this checkout's compiled core and
    built dashboard copied in: the base revision of a before/after benchmark."""
    repo = Path(__file__).resolve().parent.parent
    subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(where), rev],
        check=True,
        capture_output=True,
    )
    for lib in (repo / "python" / "fwtrack").glob("_core*.so"):
        shutil.copy2(lib, where / "python" / "fwtrack" / lib.name)
    dist = repo / "python" / "fwtrack" / "ui" / "dist"
    if dist.is_dir():
        shutil.copytree(dist, where / "python" / "fwtrack" / "ui" / "dist", dirs_exist_ok=True)
    return where


if __name__ == "__main__":
    raise SystemExit(main())
