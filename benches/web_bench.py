"""The dashboard's speed in a real browser (headless Debian Chromium through playwright-core),
against the issue's targets, and against MLflow's and TensorBoard's UIs on the same data.

    python benches/web_bench.py                       # the full run (under ~15 minutes once
                                                      # the datasets are cached)
    python benches/web_bench.py --quick               # small datasets, fewer repetitions
    python benches/web_bench.py --only workspace,table --reps 3

Datasets (built once, cached under `<out>/data/<name>-<parameters>/`, reused by later runs):

- `big`: `--runs` runs x `--metrics` metrics x `--steps` steps (100 x 20 x 100,000 = 200 M
  points), logged through the SDK in online mode (two processes, one per core) into a real
  `fwtrack server`, which stores the logs and builds its history index (24 bytes a point). The
  number of runs is scaled down, with a message, when the disk cannot hold the index.
- `table`: `--table-runs` small runs (10,000), written by the SDK and uploaded as
  `benches/server_bench.py` does (its code, imported).
- `cmp`: `--cmp-runs` x `--cmp-metrics` x `--cmp-steps` (10 x 5 x 10,000), the same values
  logged into fwtrack (SDK, online), MLflow (`MlflowClient.log_batch` to `mlflow server`, 1,000
  metrics a request) and TensorBoard (torch's `SummaryWriter` event files for
  `tensorboard --logdir`).

Measures (`benches/web_bench.mjs` drives the browser; every repetition opens a fresh browser
context, so nothing is cached between repetitions but the servers' own state):

- workspace first paint: from navigation start to every chart panel in the viewport drawn
  (`data-state="ready"` with points, the next animation frame), with the UI's default visible
  runs, with every run visible, and with every run visible grouped by `config.lr` (each chart
  draws four groups' means with their min-max bands, aggregated in the browser); target
  <= 1.5 s (<= 1.0 s with every run visible). The page reads `POST /history` as binary
  columns (`application/x-fwtrack-series`), without timestamps for charts on the step axis,
  with the runs of a chart sharing a point budget (docs/server.md).
- zoom: a drag-selection on a chart, from the mouseup to the refined chart drawn again;
  target <= 200 ms.
- runs table of 10,000 runs: sort by a column, filter by text, filter by expression, from the
  action to the rows updated (next animation frame); target <= 100 ms each.
- comparison: first paint of the charts of the `cmp` runs in fwtrack, MLflow and TensorBoard,
  interleaved in rotating order, with a bounded wait for each.

Results go to `<out>/results.json` (raw) and `<out>/results.md` (the tables printed here).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from run import fwtrack_build, num, table  # noqa: E402
from run import machine as run_machine  # noqa: E402
from server_bench import (  # noqa: E402
    FwServer,
    Http,
    MlflowServer,
    ServerProc,
    _tiny_runs,
    _upload_many,
    free_port,
    new_key,
)

DRIVER = REPO / "benches" / "web_bench.mjs"
WEB = REPO / "web"
DIST = REPO / "python" / "fwtrack" / "ui" / "dist"
CHROMIUM = "/usr/bin/chromium"
DATA_VERSION = 1  # bump when the way a dataset is built changes: older caches are rebuilt
ENTITY = "bench"
TARGETS_MS = {
    "workspace": 1500.0,
    "workspace_all": 1000.0,  # issue 19: 100 runs visible, every chart in view painted
    "workspace_grouped": 1500.0,
    "zoom": 200.0,
    "sort": 100.0,
    "filter_text": 100.0,
    "filter_expr": 100.0,
}
# The metrics of a run, in the order they are taken (`--metrics N` takes the first N): three
# sections (train/, eval/, system/) as a training script logs them.
METRIC_KEYS = (
    "train/loss",
    "train/accuracy",
    "eval/loss",
    "eval/accuracy",
    "train/lr",
    "train/grad_norm",
    "train/loss_ema",
    "train/perplexity",
    "train/tokens_per_s",
    "train/weight_norm",
    "eval/f1",
    "eval/precision",
    "eval/recall",
    "eval/auc",
    "system/cpu_percent",
    "system/memory_gb",
    "system/gpu_util",
    "system/gpu_memory_gb",
    "system/gpu_temp",
    "system/disk_io_mb",
)
INDEX_BYTES_PER_POINT = 24  # the server's history index (docs/server.md)
LOG_BYTES_PER_POINT = 8  # a run log holds about 7 bytes a point of these curves
DISK_MARGIN = 4 << 30


def metric_keys(n: int) -> list[str]:
    keys = list(METRIC_KEYS[:n])
    keys += [f"train/extra_{i:03d}" for i in range(n - len(keys))]
    return keys


def curves(seed: int, steps: int, keys: list[str]) -> Any:
    """(steps, len(keys)) float64 values that look like a training run: decaying losses, rising
    accuracies, a cosine learning rate, noisy system gauges. Deterministic in `seed`."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.float64) / max(steps - 1, 1)
    speed = 3.0 + 4.0 * rng.random()
    out = np.empty((steps, len(keys)))
    for j, key in enumerate(keys):
        noise = rng.standard_normal(steps)
        name = key.rsplit("/", 1)[1]
        if "loss" in name or name == "perplexity":
            v = 0.2 + 2.0 * np.exp(-speed * t) + 0.05 * noise
            out[:, j] = np.exp(v) if name == "perplexity" else v
        elif name in ("accuracy", "f1", "precision", "recall", "auc"):
            out[:, j] = np.clip(0.98 - 0.88 * np.exp(-speed * t) + 0.01 * noise, 0, 1)
        elif name == "lr":
            warm = np.minimum(t / 0.05, 1.0)
            out[:, j] = 1e-3 * warm * 0.5 * (1 + np.cos(math.pi * t))
        else:
            level = 10 + 80 * rng.random()
            out[:, j] = np.abs(level + 0.1 * level * noise)
    return out


# ----------------------------------------------------------------------------------------------
# Datasets


def fw_server_at(data: Path, admin_key: str, logs: Path) -> FwServer:
    """`python -m fwtrack server` on a (cached) data directory, with its known admin key."""
    return FwServer(data, admin_key=admin_key, log_path=logs / f"server-{data.parent.name}.log")


def disk_free(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free


def run_id(i: int) -> str:
    return f"run{i:03d}"


def run_name(i: int) -> str:
    return f"sweep-{i:03d}"


def run_config(i: int) -> dict[str, Any]:
    return {
        "lr": [1e-4, 3e-4, 1e-3, 3e-3][i % 4],
        "batch_size": 32 << (i % 3),
        "optimizer": ["adamw", "sgd", "lion"][i % 3],
        "layers": 4 + i % 5,
        "seed": i,
    }


def _log_fwtrack_runs(conf: dict[str, Any], indices: list[int], done: Any) -> None:
    """Child process: log the runs `indices` through the SDK in online mode; after each run,
    check that the server acknowledged the whole log, then delete the local copy."""
    os.environ.update(conf["env"])
    import fwtrack

    keys = metric_keys(conf["metrics"])
    for i in indices:
        values = curves(i, conf["steps"], keys).tolist()
        run = fwtrack.init(
            project=conf["project"],
            id=run_id(i),
            name=run_name(i),
            dir=conf["dir"],
            mode="online",
            config=run_config(i),
            tags=[f"group{i % 5}", "bench"],
        )
        for row in values:
            run.log(dict(zip(keys, row, strict=True)))
        run.finish()
        run_dir = Path(conf["dir"]) / conf["project"] / run_id(i)
        size = (run_dir / "run.fwlog").stat().st_size
        state = json.loads((run_dir / "upload.json").read_text())
        if state.get("offset") != size:
            raise RuntimeError(
                f"run {run_id(i)}: the server acknowledged {state.get('offset')} of {size} bytes "
                "after finish(); hint: raise FWTRACK_UPLOAD_TIMEOUT or look at the server log"
            )
        shutil.rmtree(run_dir)
        done.put((i, size))


def log_fwtrack_parallel(
    server: FwServer, key: str, project: str, runs: int, metrics: int, steps: int, work: Path
) -> int:
    """Log `runs` runs into `server` from two processes (one per core); returns the log bytes."""
    conf = {
        "env": {
            "FWTRACK_BASE_URL": server.url,
            "FWTRACK_API_KEY": key,
            "FWTRACK_ENTITY": ENTITY,
            "FWTRACK_UPLOAD_TIMEOUT": "1800",
        },
        "project": project,
        "dir": str(work),
        "metrics": metrics,
        "steps": steps,
    }
    ctx = mp.get_context("fork")
    done = ctx.Queue()
    procs = [
        ctx.Process(target=_log_fwtrack_runs, args=(conf, list(range(k, runs, 2)), done))
        for k in range(min(2, runs))
    ]
    for p in procs:
        p.start()
    t0 = time.monotonic()
    total = 0
    finished = 0
    last_print = t0
    while finished < runs:
        with contextlib.suppress(Exception):  # queue.Empty
            _, size = done.get(timeout=1.0)
            total += size
            finished += 1
        if all(p.exitcode is not None for p in procs) and done.empty() and finished < runs:
            codes = [p.exitcode for p in procs]
            raise RuntimeError(f"{project}: the logging processes stopped early (exit {codes})")
        now = time.monotonic()
        if now - last_print > 15 or finished == runs:
            last_print = now
            pts = finished * metrics * steps
            print(
                f"  {project}: {finished}/{runs} runs logged and acknowledged, "
                f"{pts / 1e6:.0f} M points in {now - t0:.0f} s",
                flush=True,
            )
    for p in procs:
        p.join(timeout=60)
    return total


def count_points(http_: Http, project: str, run: str, key: str) -> int:
    body = http_.json(
        "GET",
        f"/api/v1/runs/{ENTITY}/{project}/{run}/history?"
        + urllib.parse.urlencode({"keys": key, "samples": 0}),
    )
    return len(body["series"][key]["step"])


def cached(root: Path, name: str, build: Callable[[Path], dict[str, Any]], rebuild: bool) -> Any:
    """The dataset `root/name` (its meta.json is written last: a directory without one is an
    interrupted build and is built again)."""
    dest = root / name
    meta_file = dest / "meta.json"
    if meta_file.exists() and not rebuild:
        meta = json.loads(meta_file.read_text())
        print(f"dataset {name}: cached (built {meta['built']} in {meta['setup_s']:.0f} s)")
        meta["cached"] = True
        return meta
    others = [p.name for p in root.glob(name.split("-")[0] + "-*") if p != dest]
    if others:
        print(f"dataset {name}: other cached sizes kept: {', '.join(sorted(others))}")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    print(f"dataset {name}: building")
    t0 = time.monotonic()
    meta = build(dest)
    meta["setup_s"] = time.monotonic() - t0
    meta["built"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta_file.write_text(json.dumps(meta, indent=1))
    print(f"dataset {name}: built in {meta['setup_s']:.0f} s")
    meta["cached"] = False
    return meta


def build_big(dest: Path, runs: int, metrics: int, steps: int, logs: Path) -> dict[str, Any]:
    admin_key = new_key()
    server = fw_server_at(dest / "server", admin_key, logs)
    try:
        key = server.new_user(ENTITY)
        t0 = time.monotonic()
        log_bytes = log_fwtrack_parallel(server, key, "big", runs, metrics, steps, dest / "client")
        log_s = time.monotonic() - t0
        http_ = Http(server.port, key)
        total = http_.json("GET", f"/api/v1/runs/{ENTITY}/big?limit=1")["total"]
        if total != runs:
            raise RuntimeError(f"big: the server lists {total} runs, {runs} were logged")
        last = run_id(runs - 1)
        got = count_points(http_, "big", last, metric_keys(metrics)[-1])
        if got != steps:
            raise RuntimeError(f"big: run {last} reads back {got} points of {steps}")
        http_.close()
    finally:
        server.stop()
    shutil.rmtree(dest / "client", ignore_errors=True)
    return {
        "params": {"runs": runs, "metrics": metrics, "steps": steps},
        "points": runs * metrics * steps,
        "admin_key": admin_key,
        "key": key,
        "project": "big",
        "runs": [run_id(i) for i in range(runs)],
        "keys": metric_keys(metrics),
        "log_bytes": log_bytes,
        "log_s": log_s,
        "server_bytes": dir_size(dest / "server"),
    }


def build_table(dest: Path, runs: int, logs: Path) -> dict[str, Any]:
    admin_key = new_key()
    server = fw_server_at(dest / "server", admin_key, logs)
    try:
        key = server.new_user(ENTITY)
        work = dest / "client"
        ctx = mp.get_context("fork")
        half = runs // 2
        t0 = time.monotonic()
        procs = [
            ctx.Process(target=_tiny_runs, args=(str(work), "many", half, 0)),
            ctx.Process(target=_tiny_runs, args=(str(work), "many", runs - half, half)),
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            if p.exitcode != 0:
                raise RuntimeError("table: writing the small runs failed")
        written_s = time.monotonic() - t0
        print(f"  table: {runs:,} runs written in {written_s:.0f} s; uploading", flush=True)
        t0 = time.monotonic()
        run_dirs = sorted((work / "many").iterdir())
        _upload_many(
            server.port,
            key,
            ENTITY,
            "many",
            run_dirs,
            {"max_upload": 32 << 20, "upload_threads": 4},
        )
        upload_s = time.monotonic() - t0
        http_ = Http(server.port, key)
        total = http_.json("GET", f"/api/v1/runs/{ENTITY}/many?limit=1")["total"]
        http_.close()
        if total != runs:
            raise RuntimeError(f"table: the server lists {total} runs, {runs} were uploaded")
    finally:
        server.stop()
    shutil.rmtree(dest / "client", ignore_errors=True)
    return {
        "params": {"runs": runs},
        "admin_key": admin_key,
        "key": key,
        "project": "many",
        "written_s": written_s,
        "upload_s": upload_s,
    }


def _log_cmp_others(conf: dict[str, Any], indices: list[int], done: Any) -> None:
    """Child process: the same runs into MLflow (`log_batch`, 1,000 metrics a request) and into
    TensorBoard event files (torch's SummaryWriter)."""
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient
    from torch.utils.tensorboard import SummaryWriter

    keys = metric_keys(conf["metrics"])
    client = MlflowClient(tracking_uri=conf["mlflow_url"])
    per_request = max(1, 1000 // len(keys))
    for i in indices:
        values = curves(i, conf["steps"], keys).tolist()
        t_start = time.time()
        ml = client.create_run(conf["experiment_id"], run_name=run_name(i))
        for name, value in run_config(i).items():
            client.log_param(ml.info.run_id, name, value)
        for lo in range(0, len(values), per_request):
            batch = [
                Metric(k, v, int((t_start + step * 0.01) * 1000), step)
                for step in range(lo, min(lo + per_request, len(values)))
                for k, v in zip(keys, values[step], strict=True)
            ]
            client.log_batch(ml.info.run_id, metrics=batch)
        client.set_terminated(ml.info.run_id)
        writer = SummaryWriter(log_dir=str(Path(conf["tb_dir"]) / run_name(i)))
        for step, row in enumerate(values):
            for k, v in zip(keys, row, strict=True):
                writer.add_scalar(k, v, global_step=step, walltime=t_start + step * 0.01)
        writer.close()
        done.put(i)


def build_cmp(dest: Path, runs: int, metrics: int, steps: int, logs: Path) -> dict[str, Any]:
    admin_key = new_key()
    out: dict[str, Any] = {
        "params": {"runs": runs, "metrics": metrics, "steps": steps},
        "admin_key": admin_key,
        "project": "compare",
        "runs": [run_id(i) for i in range(runs)],
        "names": [run_name(i) for i in range(runs)],
        "keys": metric_keys(metrics),
    }
    server = fw_server_at(dest / "server", admin_key, logs)
    try:
        key = server.new_user(ENTITY)
        out["key"] = key
        t0 = time.monotonic()
        log_fwtrack_parallel(server, key, "compare", runs, metrics, steps, dest / "client")
        out["fwtrack_s"] = time.monotonic() - t0
    finally:
        server.stop()
    shutil.rmtree(dest / "client", ignore_errors=True)

    from mlflow.tracking import MlflowClient

    ml = MlflowServer(dest / "mlflow")
    try:
        client = MlflowClient(tracking_uri=ml.url)
        exp_id = client.create_experiment("compare")
        mark_training_experiment(ml.url, exp_id)
        out["mlflow_experiment_id"] = exp_id
        conf = {
            "mlflow_url": ml.url,
            "experiment_id": exp_id,
            "tb_dir": str(dest / "tensorboard"),
            "metrics": metrics,
            "steps": steps,
        }
        t0 = time.monotonic()
        ctx = mp.get_context("fork")
        done = ctx.Queue()
        procs = [
            ctx.Process(target=_log_cmp_others, args=(conf, list(range(k, runs, 2)), done))
            for k in range(min(2, runs))
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            if p.exitcode != 0:
                raise RuntimeError("cmp: logging into MLflow/TensorBoard failed")
        out["mlflow_tb_s"] = time.monotonic() - t0
        print(f"  compare: MLflow and TensorBoard logged in {out['mlflow_tb_s']:.0f} s")
        found = client.search_runs([exp_id], max_results=1000)
        if len(found) != runs:
            raise RuntimeError(f"cmp: MLflow lists {len(found)} runs, {runs} were logged")
        hist = client.get_metric_history(found[0].info.run_id, out["keys"][0])
        if len(hist) != steps:
            raise RuntimeError(f"cmp: MLflow reads back {len(hist)} points of {steps}")
    finally:
        ml.stop()
    return out


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# ----------------------------------------------------------------------------------------------
# The dashboard build and the browser driver


def ensure_dashboard() -> str:
    """Build the dashboard (`npx vite build` in web/) when its sources are newer than the
    built assets; returns how the assets were obtained."""
    index = DIST / "index.html"
    sources = [p for p in (WEB / "src").rglob("*") if p.is_file()]
    sources += [WEB / "index.html", WEB / "package.json", WEB / "vite.config.ts"]
    newest = max((p.stat().st_mtime for p in sources if p.exists()), default=0.0)
    if index.exists() and index.stat().st_mtime >= newest:
        return "up to date"
    if not (WEB / "node_modules").is_dir():
        raise SystemExit("web/node_modules is missing; hint: `cd web && npm ci`")
    print("dashboard: sources changed since the last build; running `npx vite build` in web/")
    proc = subprocess.run(
        ["npx", "vite", "build"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"`npx vite build` failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return "built by this run"


def drive(plan: dict[str, Any], out: Path, timeout: float) -> dict[str, Any]:
    """Run the browser driver on `plan`; returns its JSON results."""
    plan_file = out / f"plan-{plan['phase']}.json"
    result_file = out / f"raw-{plan['phase']}.json"
    plan = {**plan, "chromium": CHROMIUM, "results": str(result_file)}
    plan_file.write_text(json.dumps(plan, indent=1))
    result_file.unlink(missing_ok=True)
    try:
        subprocess.run(
            ["node", str(DRIVER), str(plan_file)], cwd=REPO, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"  browser driver: {plan['phase']} did not finish in {timeout:.0f} s")
    if not result_file.exists():
        return {"error": f"the browser driver wrote no results for {plan['phase']}"}
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


# ----------------------------------------------------------------------------------------------
# Phases


@contextlib.contextmanager
def serving(meta: dict[str, Any], dest: Path, logs: Path) -> Iterator[FwServer]:
    server = fw_server_at(dest / "server", meta["admin_key"], logs)
    try:
        yield server
    finally:
        server.stop()


def phase_workspace(
    meta: dict[str, Any], dest: Path, args: argparse.Namespace, logs: Path
) -> dict[str, Any]:
    with serving(meta, dest, logs) as server:
        plan = {
            "phase": "workspace",
            "base": server.url,
            "key": meta["key"],
            "entity": ENTITY,
            "project": meta["project"],
            "runs": meta["runs"],
            "reps": args.reps,
            "viewport": args.viewport,
            "timeout_ms": args.wait_s * 1000,
            "zoom": "zoom" in args.only,
            "all_runs": "workspace" in args.only,
        }
        return drive(plan, args.out, timeout=args.phase_timeout)


def phase_table(
    meta: dict[str, Any], dest: Path, args: argparse.Namespace, logs: Path
) -> dict[str, Any]:
    with serving(meta, dest, logs) as server:
        plan = {
            "phase": "table",
            "base": server.url,
            "key": meta["key"],
            "entity": ENTITY,
            "project": meta["project"],
            "reps": args.reps,
            "viewport": args.viewport,
            "timeout_ms": args.wait_s * 1000,
            # Two values of each action, alternated, so that every action changes the rows.
            "text": ["r001", "r0034"],
            "expr": ["config.lr >= 0.01 and tags ~ g2", "config.batch = 64"],
        }
        return drive(plan, args.out, timeout=args.phase_timeout)


class TensorBoardProc:
    """`tensorboard --logdir` on a free port, ready once every run's every tag has its last
    step loaded."""

    def __init__(self, logdir: Path, logs: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("tensorboard")
        cmd = [str(exe), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = ServerProc("tensorboard", cmd, dict(os.environ), logs / "tensorboard.log")

    def wait_loaded(
        self, runs: list[str], keys: list[str], last_step: int, timeout: float
    ) -> float | None:
        """Seconds until every series was loaded, None when some were not within `timeout`."""
        t0 = time.monotonic()
        self.proc.wait_http(self.port, "/data/environment", timeout=timeout)
        pending = {(r, k) for r in runs for k in keys}
        while pending:
            if time.monotonic() - t0 > timeout:
                return None
            for run, key in sorted(pending):
                q = urllib.parse.urlencode({"run": run, "tag": key})
                with contextlib.suppress(OSError, ValueError):
                    with urllib.request.urlopen(
                        f"{self.url}/data/plugin/scalars/scalars?{q}", timeout=10
                    ) as resp:
                        rows = json.loads(resp.read())
                    if rows and rows[-1][1] == last_step:
                        pending.discard((run, key))
            if pending:
                time.sleep(0.5)
        return time.monotonic() - t0

    def stop(self) -> None:
        self.proc.stop()


def mark_training_experiment(url: str, experiment_id: str) -> None:
    """MLflow 3 opens an experiment without this tag on its GenAI overview; with it, on the
    training runs page, which has the metric charts."""
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=url).set_experiment_tag(
        experiment_id, "mlflow.experimentKind", "custom_model_development"
    )


def phase_compare(
    meta: dict[str, Any], dest: Path, args: argparse.Namespace, logs: Path
) -> dict[str, Any]:
    stops: list[Callable[[], None]] = []
    try:
        fw = fw_server_at(dest / "server", meta["admin_key"], logs)
        stops.append(fw.stop)
        ml = MlflowServer(dest / "mlflow")
        stops.append(ml.stop)
        tb = TensorBoardProc(dest / "tensorboard", logs)
        stops.append(tb.stop)
        steps = meta["params"]["steps"]
        tb_load_s = tb.wait_loaded(meta["names"], meta["keys"], steps - 1, timeout=180)
        if tb_load_s is None:
            print("  TensorBoard: NOT every series loaded 180 s after start; measuring anyway")
        else:
            print(f"  TensorBoard: every series loaded {tb_load_s:.1f} s after start")
        mark_training_experiment(ml.url, meta["mlflow_experiment_id"])
        plan = {
            "phase": "compare",
            "reps": args.cmp_reps,
            # Tall enough for every chart of every UI to be in view at once.
            "viewport": {"width": args.viewport["width"], "height": 1700},
            "timeout_ms": args.cmp_wait_s * 1000,
            "runs": meta["names"],
            "keys": meta["keys"],
            "tools": {
                "fwtrack": {
                    "base": fw.url,
                    "key": meta["key"],
                    "entity": ENTITY,
                    "project": meta["project"],
                },
                "mlflow": {"base": ml.url, "experiment_id": meta["mlflow_experiment_id"]},
                "tensorboard": {"base": tb.url},
            },
        }
        result = drive(plan, args.out, timeout=args.phase_timeout)
        result["tensorboard_load_s"] = tb_load_s
        return result
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()


# ----------------------------------------------------------------------------------------------
# Reporting


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "**MISS** (not measured)"
    return "PASS" if value <= target else "**MISS**"


def cell_ms(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{num(statistics.median(values))} ms"


def spread(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{num(min(values))}-{num(max(values))}"


def render(results: dict[str, Any]) -> str:
    parts: list[str] = []
    conf = results["config"]
    rows: list[list[str]] = []
    notes: list[str] = []
    ws = results.get("workspace") or {}
    big_p = conf["big"]
    labels = {
        "workspace": "workspace first paint, the UI's default visible runs",
        "workspace_all": "workspace first paint, every run visible",
        "workspace_grouped": "workspace first paint, every run visible, grouped by config.lr",
        "zoom": "zoom: drag-select on a chart to the refined chart drawn",
        "sort": "runs table: sort by a column",
        "filter_text": "runs table: filter by text",
        "filter_expr": "runs table: filter by expression",
    }
    measured: dict[str, dict[str, Any]] = {}
    for name in ("workspace", "workspace_all", "workspace_grouped", "zoom"):
        if name in ws:
            measured[name] = ws[name]
    tb = results.get("table") or {}
    for name in ("sort", "filter_text", "filter_expr"):
        if name in tb:
            measured[name] = tb[name]
    for name, label in labels.items():
        m = measured.get(name)
        if m is None:
            continue
        times = [float(t) for t in m.get("ms", [])]
        detail = m.get("detail", "")
        if m.get("errors"):
            notes.append(f"{label}: " + "; ".join(sorted(set(m["errors"])))[:600])
        rows.append(
            [
                label + (f" ({detail})" if detail else ""),
                f"<= {num(TARGETS_MS[name])} ms",
                cell_ms(times),
                spread(times),
                f"{len(times)}/{m.get('reps', len(times))}",
                verdict(med(times), TARGETS_MS[name]),
            ]
        )
    if rows:
        points = big_p["runs"] * big_p["metrics"] * big_p["steps"]
        parts.append(
            f"### Targets: {big_p['runs']} runs x {big_p['metrics']} metrics x "
            f"{big_p['steps']:,} steps ({points / 1e6:,.0f} M points); runs table of "
            f"{conf['table']['runs']:,} runs"
        )
        parts.append(table(["measure", "target", "median", "range (ms)", "reps ok", ""], rows))
    for phase in ("workspace", "table", "compare"):
        err = (results.get(phase) or {}).get("error")
        if err:
            notes.append(f"{phase}: {err}")
    cmp_ = results.get("compare") or {}
    tools = cmp_.get("tools") or {}
    if tools:
        cp = conf["cmp"]
        parts.append(
            f"### The same charts in three UIs: {cp['runs']} runs x {cp['metrics']} metrics x "
            f"{cp['steps']:,} steps, first paint of every chart in the viewport"
        )
        ref = med([float(t) for t in (tools.get("fwtrack") or {}).get("ms", [])])
        crow = []
        for tool in ("fwtrack", "mlflow", "tensorboard"):
            m = tools.get(tool)
            if m is None:
                continue
            times = [float(t) for t in m.get("ms", [])]
            value = med(times)
            ratio = ""
            if value is not None and ref and tool != "fwtrack":
                ratio = f"{value / ref:.1f}x fwtrack's time"
            failed = m.get("reps", 0) - len(times)
            status = f"{len(times)}/{m.get('reps', len(times))}"
            if failed:
                status += f" ({failed} not drawn within {conf['cmp_wait_s']:.0f} s)"
            crow.append(
                [
                    f"**{tool}**",
                    m.get("condition", ""),
                    cell_ms(times),
                    spread(times),
                    status,
                    ratio,
                    m.get("loaded", ""),
                ]
            )
            if m.get("errors"):
                notes.append(f"{tool}: " + "; ".join(sorted(set(m["errors"])))[:600])
        parts.append(
            table(
                ["UI", "drawn when", "median", "range (ms)", "reps ok", "vs fwtrack", "fetched"],
                crow,
            )
        )
    warm = {**(ws.get("warmup") or {}), **(cmp_.get("warmup") or {})}
    if warm:
        notes.append(
            "warm-up loads (right after the servers started, not counted): "
            + ", ".join(
                f"{name} {'not drawn' if ms is None else f'{num(ms)} ms'}"
                for name, ms in warm.items()
            )
        )
    if notes:
        parts.append("Notes:\n\n" + "\n".join(f"- {n}" for n in notes))
    setup = results.get("setup") or {}
    if setup:
        lines = []
        for name, s in setup.items():
            how = "cached" if s.get("cached") else "built by this run"
            lines.append(f"{name} {how} (build took {s.get('setup_s', 0):.0f} s)")
        parts.append("Datasets: " + "; ".join(lines) + ".")
    return "\n\n".join(p for p in parts if p) + "\n"


def machine() -> dict[str, Any]:
    info = run_machine()
    versions = {}
    for dist in ("fwtrack", "mlflow", "tensorboard", "torch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        versions["chromium"] = subprocess.run(
            [CHROMIUM, "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    with contextlib.suppress(OSError, ValueError):
        pw = json.loads((WEB / "node_modules" / "playwright-core" / "package.json").read_text())
        versions["playwright-core"] = pw["version"]
    info["versions"] = versions
    info["fwtrack_build"] = fwtrack_build()
    return info


# ----------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "web")
    ap.add_argument("--quick", action="store_true", help="small datasets, 2 repetitions")
    ap.add_argument("--runs", type=int, default=None, help="big dataset runs (default 100)")
    ap.add_argument("--metrics", type=int, default=20, help="big dataset metrics per run")
    ap.add_argument("--steps", type=int, default=None, help="big dataset steps (default 100,000)")
    ap.add_argument("--table-runs", type=int, default=None, help="default 10,000")
    ap.add_argument("--cmp-runs", type=int, default=10)
    ap.add_argument("--cmp-metrics", type=int, default=5)
    ap.add_argument("--cmp-steps", type=int, default=None, help="default 10,000")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 7; quick 2)")
    ap.add_argument("--cmp-reps", type=int, default=None, help="default 5; quick 2")
    ap.add_argument(
        "--only",
        default="workspace,zoom,table,compare",
        help="comma-separated: workspace, zoom, table, compare",
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached datasets")
    ap.add_argument("--setup-only", action="store_true", help="build the datasets, measure nothing")
    ap.add_argument("--wait-s", type=float, default=30.0, help="bound of one wait in fwtrack")
    ap.add_argument("--cmp-wait-s", type=float, default=60.0, help="bound of one wait, compare")
    ap.add_argument("--phase-timeout", type=float, default=900.0, help="bound of one phase")
    ap.add_argument("--render", type=Path, default=None, help="print the tables of a results.json")
    args = ap.parse_args()
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0
    args.only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = args.only - {"workspace", "zoom", "table", "compare"}
    if unknown:
        ap.error(f"--only: unknown {sorted(unknown)}; choose from workspace, zoom, table, compare")
    quick = args.quick
    args.runs = args.runs or (10 if quick else 100)
    args.steps = args.steps or (10_000 if quick else 100_000)
    args.table_runs = args.table_runs or (1_000 if quick else 10_000)
    args.cmp_steps = args.cmp_steps or (2_000 if quick else 10_000)
    args.reps = args.reps or (2 if quick else 7)
    args.cmp_reps = args.cmp_reps or (2 if quick else 5)
    args.viewport = {"width": 1600, "height": 1000}

    started = time.time()
    args.out = args.out.resolve()  # the servers run in other directories
    args.out.mkdir(parents=True, exist_ok=True)
    data_root = args.out / "data"
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing; hint: `apt-get install chromium`")

    # The big dataset: scale the runs down when the disk cannot hold them.
    per_run = args.metrics * args.steps * (INDEX_BYTES_PER_POINT + 2 * LOG_BYTES_PER_POINT)
    big_name = f"big-r{args.runs}-m{args.metrics}-s{args.steps}-v{DATA_VERSION}"
    if {"workspace", "zoom"} & args.only and not (data_root / big_name / "meta.json").exists():
        free = disk_free(data_root)
        print(f"disk: {free / 2**30:.1f} GiB free under {data_root}")
        if free - DISK_MARGIN < per_run * args.runs:
            fit = max(1, int((free - DISK_MARGIN) // per_run))
            print(
                f"disk: {args.runs} runs need about {per_run * args.runs / 2**30:.1f} GiB "
                f"(index {INDEX_BYTES_PER_POINT} bytes a point plus the logs): "
                f"SCALED DOWN to {fit} runs"
            )
            args.runs = fit
            big_name = f"big-r{args.runs}-m{args.metrics}-s{args.steps}-v{DATA_VERSION}"
    results: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "big": {"runs": args.runs, "metrics": args.metrics, "steps": args.steps},
            "table": {"runs": args.table_runs},
            "cmp": {"runs": args.cmp_runs, "metrics": args.cmp_metrics, "steps": args.cmp_steps},
            "reps": args.reps,
            "cmp_reps": args.cmp_reps,
            "viewport": args.viewport,
            "wait_s": args.wait_s,
            "cmp_wait_s": args.cmp_wait_s,
            "only": sorted(args.only),
        },
        "load": [("start", os.getloadavg())],
        "setup": {},
    }

    t_setup = time.monotonic()
    metas: dict[str, tuple[dict[str, Any], Path]] = {}
    if {"workspace", "zoom"} & args.only:
        metas["big"] = (
            cached(
                data_root,
                big_name,
                lambda d: build_big(d, args.runs, args.metrics, args.steps, logs),
                args.rebuild,
            ),
            data_root / big_name,
        )
    if "table" in args.only:
        name = f"table-r{args.table_runs}-v{DATA_VERSION}"
        metas["table"] = (
            cached(data_root, name, lambda d: build_table(d, args.table_runs, logs), args.rebuild),
            data_root / name,
        )
    if "compare" in args.only:
        name = f"cmp-r{args.cmp_runs}-m{args.cmp_metrics}-s{args.cmp_steps}-v{DATA_VERSION}"
        metas["cmp"] = (
            cached(
                data_root,
                name,
                lambda d: build_cmp(d, args.cmp_runs, args.cmp_metrics, args.cmp_steps, logs),
                args.rebuild,
            ),
            data_root / name,
        )
    for name, (meta, _) in metas.items():
        results["setup"][name] = {
            k: meta.get(k) for k in ("cached", "setup_s", "built", "log_s", "server_bytes")
        }
    print(f"setup: {time.monotonic() - t_setup:.0f} s (datasets under {data_root})", flush=True)
    if args.setup_only:
        return 0
    results["dashboard"] = ensure_dashboard()

    phases: list[tuple[str, str, Callable[..., dict[str, Any]], str]] = [
        ("big", "workspace", phase_workspace, "workspace first paint and zoom"),
        ("table", "table", phase_table, "runs table"),
        ("cmp", "compare", phase_compare, "fwtrack, MLflow and TensorBoard side by side"),
    ]
    for data, phase, run_phase, what in phases:
        if data not in metas:
            continue
        print(f"measuring: {what}", flush=True)
        results["load"].append((phase, os.getloadavg()))
        try:
            results[phase] = run_phase(*metas[data], args, logs)
        except Exception as exc:  # one phase failing leaves the others' figures
            print(f"  {phase}: ERROR {exc}")
            results[phase] = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    results["load"].append(("end", os.getloadavg()))
    results["wall_s"] = time.time() - started

    text = render(results)
    loads = ", ".join(f"{name} {load[0]:.2f}" for name, load in results["load"])
    text += f"\nLoad average (1 min): {loads}; wall time {results['wall_s'] / 60:.1f} min.\n"
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    (args.out / "results.md").write_text(text)
    print()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
