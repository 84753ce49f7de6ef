"""A 10M-step run of 10 metrics: logged at full speed, indexed on upload, its charts painted and
zoomed in a real browser, its history read through the index's min/max pyramid.

    python benches/bigrun_bench.py                    # 10,000,000 steps x 10 metrics
    python benches/bigrun_bench.py --steps 1000000    # a smaller run
    python benches/bigrun_bench.py --no-browser --reps 7

The dataset (cached under `<out>/data/bigrun-<steps>x<metrics>/`, reused by later runs) is
built by logging the run through the SDK in online mode into a real `fwtrack server`, which
stores the log and updates the run's history index as each upload arrives
(`python/fwtrack/server/ingest.py`). Figures:

- logging: points/s of the `log()` loop, against the same loop without `log()` (the no-op
  floor: building the dicts), and how long `finish()` then waits for the server to acknowledge
  (and so index) the whole log.
- indexing: rows/s of `index_update` over the whole stored log into a fresh index (what the
  server does, in one go), and its share of the upload.
- server: `POST /history` of one key (1,000 samples) over the whole run, 1 %, 0.01 %, and the
  last 1 %, against reading that key's raw column rows (numpy) and downsampling them (the
  index before the pyramid read every row of the range).
- browser (`benches/bigrun_bench.mjs`): the workspace's first paint of the run's charts, and a
  drag-zoom refined to the whole run, 1 %, 0.01 % and the last 1 % of it.
- others (`--compare-steps`, default 1,000,000; 0 skips): the same run at that size in MLflow
  (`log_batch` to a file store, `get_metric_history`) and TensorBoard (`SummaryWriter`,
  `EventAccumulator`): neither downsamples with min/max (MLflow answers every point;
  TensorBoard keeps a reservoir sample of 10,000 points a tag by default, dropping extremes).

Medians of `--reps` interleaved repetitions. Results: `<out>/results.md` and `results.json`.
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

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from server_bench import Http, new_key  # noqa: E402
from web_bench import (  # noqa: E402
    CHROMIUM,
    ENTITY,
    METRIC_KEYS,
    cached,
    ensure_dashboard,
    fw_server_at,
)

DRIVER = REPO / "benches" / "bigrun_bench.mjs"
PROJECT = "bigrun"
RUN = "bigrun"
CHUNK = 100_000
TARGETS_MS = {"paint": 1500.0, "zoom": 200.0}


def values(seed: int, start: int, n: int, metrics: int) -> np.ndarray:
    """`n` steps from `start` of `metrics` noisy curves with rare spikes."""
    rng = np.random.default_rng(seed + start)
    t = np.arange(start, start + n, dtype=np.float64)[:, None]
    base = 2.0 * np.exp(-t / 3e6) + 0.1 * np.arange(metrics)[None, :]
    out = base + rng.normal(0.0, 0.05, (n, metrics))
    spikes = rng.random((n, metrics)) < 1e-5
    out[spikes] += 10.0
    return out


def log_run(conf: dict[str, Any]) -> dict[str, Any]:
    """Child process: log the run in online mode; times of the loop and of finish()."""
    os.environ.update(conf["env"])
    import fwtrack

    keys = list(METRIC_KEYS[: conf["metrics"]])
    steps = conf["steps"]
    run = fwtrack.init(project=PROJECT, id=RUN, name=RUN, dir=conf["dir"], mode="online")
    loop = 0.0
    floor = 0.0
    for start in range(0, steps, CHUNK):
        rows = values(1, start, min(CHUNK, steps - start), len(keys)).tolist()
        t0 = time.perf_counter()
        for row in rows:
            _ = dict(zip(keys, row, strict=True))
        floor += time.perf_counter() - t0
        t0 = time.perf_counter()
        for row in rows:
            run.log(dict(zip(keys, row, strict=True)))
        loop += time.perf_counter() - t0
    t0 = time.perf_counter()
    run.finish()
    fin = time.perf_counter() - t0
    run_dir = Path(conf["dir"]) / PROJECT / RUN
    size = (run_dir / "run.fwlog").stat().st_size
    state = json.loads((run_dir / "upload.json").read_text())
    if state.get("offset") != size:
        raise RuntimeError(f"the server acknowledged {state.get('offset')} of {size} bytes")
    return {"loop_s": loop, "floor_s": floor, "finish_s": fin, "log_bytes": size}


def _child(conf: dict[str, Any], out: str) -> None:
    Path(out).write_text(json.dumps(log_run(conf)))


def server_index_dir(dest: Path) -> Path:
    found = [p.parent for p in (dest / "server").rglob("manifest.json") if "index" in str(p)]
    if len(found) != 1:
        raise RuntimeError(f"expected one history index under {dest / 'server'}, found {found}")
    return found[0]


def server_log(dest: Path) -> Path:
    found = list((dest / "server").rglob("*.fwlog"))
    if len(found) != 1:
        raise RuntimeError(f"expected one run log under {dest / 'server'}, found {found}")
    return found[0]


def build(dest: Path, steps: int, metrics: int, logs: Path) -> dict[str, Any]:
    import multiprocessing as mp

    admin_key = new_key()
    server = fw_server_at(dest / "server", admin_key, logs)
    try:
        key = server.new_user(ENTITY)
        conf = {
            "env": {
                "FWTRACK_BASE_URL": server.url,
                "FWTRACK_API_KEY": key,
                "FWTRACK_ENTITY": ENTITY,
                "FWTRACK_UPLOAD_TIMEOUT": "3600",
            },
            "dir": str(dest / "client"),
            "steps": steps,
            "metrics": metrics,
        }
        out = dest / "log.json"
        t0 = time.monotonic()
        p = mp.get_context("fork").Process(target=_child, args=(conf, str(out)))
        p.start()
        p.join()
        total_s = time.monotonic() - t0
        if p.exitcode != 0:
            raise RuntimeError(f"the logging process failed (exit {p.exitcode})")
        logged = json.loads(out.read_text())
    finally:
        server.stop()
    shutil.rmtree(dest / "client", ignore_errors=True)
    return {
        "params": {"steps": steps, "metrics": metrics},
        "points": steps * metrics,
        "admin_key": admin_key,
        "key": key,
        "keys": list(METRIC_KEYS[:metrics]),
        "total_s": total_s,
        **logged,
    }


def index_rate(dest: Path, reps: int) -> list[float]:
    """Seconds of `index_update` over the whole stored log into a fresh index."""
    from fwtrack import _core as core

    log = server_log(dest)
    out = []
    for _ in range(reps):
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            t0 = time.perf_counter()
            core.index_update(str(log), str(Path(tmp) / "index"))
            out.append(time.perf_counter() - t0)
    return out


def ranges(last: float) -> dict[str, tuple[float | None, float | None]]:
    mid = last / 2
    return {
        "whole": (None, None),
        "1 %": (mid, mid + last * 0.01),
        "0.01 %": (mid, mid + last * 0.0001),
        "last 1 %": (last * 0.99, None),
    }


def raw_read(col: Path, rows: int, lo: float | None, hi: float | None, samples: int) -> float:
    """Seconds to read the rows of [lo, hi] from a column file and downsample them (what a
    read did before the pyramid: every row of the range)."""
    from fwtrack import _core as core

    t0 = time.perf_counter()
    a = np.memmap(col, dtype="<f8", mode="r", shape=(rows, 3))

    def first(below: Any) -> int:
        # binary search on the steps: a few pages touched, as the index reads them
        lo_i, hi_i = 0, rows
        while lo_i < hi_i:
            mid = (lo_i + hi_i) // 2
            if below(float(a[mid, 0])):
                lo_i = mid + 1
            else:
                hi_i = mid
        return lo_i

    i0 = 0 if lo is None else first(lambda s: s < lo)
    i1 = rows if hi is None else first(lambda s: s <= hi)
    part = np.array(a[i0:i1])  # only the range's rows are read
    core.downsample(
        np.ascontiguousarray(part[:, 0]),
        np.ascontiguousarray(part[:, 2]),
        np.ascontiguousarray(part[:, 1]),
        samples,
    )
    return time.perf_counter() - t0


def server_reads(
    dest: Path, meta: dict[str, Any], reps: int, logs: Path
) -> dict[str, dict[str, list[float]]]:
    from fwtrack import _core as core

    idx = server_index_dir(dest)
    manifest = json.loads((idx / "manifest.json").read_text())
    key = meta["keys"][0]
    col = manifest["columns"][key]
    last = float(meta["params"]["steps"] - 1)
    server = fw_server_at(dest / "server", meta["admin_key"], logs)
    out: dict[str, dict[str, list[float]]] = {}
    try:
        http_ = Http(server.port, meta["key"])
        for _ in range(reps):
            for name, (lo, hi) in ranges(last).items():
                body = {"runs": [RUN], "keys": [key], "samples": 1000, "timestamps": False}
                if lo is not None:
                    body["min_step"] = lo
                if hi is not None:
                    body["max_step"] = hi
                t0 = time.perf_counter()
                answer = http_.json("POST", f"/api/v1/history/{ENTITY}/{PROJECT}", body)
                post = time.perf_counter() - t0
                got = answer["runs"][0]["series"][key]
                if not got["step"]:
                    raise RuntimeError(f"{name}: no points answered")
                raw = raw_read(idx / col["file"], int(col["rows"]), lo, hi, 1000)
                t0 = time.perf_counter()
                core.read_series(str(idx), [key], 1000, lo, hi)
                inproc = time.perf_counter() - t0
                slot = out.setdefault(name, {"post": [], "core": [], "raw": [], "points": []})
                slot["post"].append(post)
                slot["core"].append(inproc)
                slot["raw"].append(raw)
                slot["points"].append(float(len(got["step"])))
        http_.close()
    finally:
        server.stop()
    return out


def browser(dest: Path, meta: dict[str, Any], reps: int, out: Path, logs: Path) -> Any:
    print(f"dashboard: {ensure_dashboard()}")
    server = fw_server_at(dest / "server", meta["admin_key"], logs)
    try:
        plan = {
            "url": f"{server.url}/#/p/{ENTITY}/{PROJECT}",
            "key": meta["key"],
            "reps": reps,
            "last": meta["params"]["steps"] - 1,
            "timeout_ms": 60_000,
            "viewport": {"width": 1600, "height": 1000},
            "results": str(out / "browser.json"),
            "chromium": CHROMIUM,
        }
        plan_file = out / "bigrun-plan.json"
        plan_file.write_text(json.dumps(plan))
        subprocess.run(
            ["node", str(DRIVER), str(plan_file)], check=True, timeout=1800, cwd=REPO / "web"
        )
        return json.loads((out / "browser.json").read_text())
    finally:
        server.stop()


def compare_others(steps: int, metrics: int, work: Path) -> dict[str, Any]:
    """MLflow and TensorBoard on the same curves at `steps` steps: log, then read one key."""
    keys = list(METRIC_KEYS[:metrics])
    vals = values(1, 0, steps, metrics)
    res: dict[str, Any] = {"steps": steps}
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        from torch.utils.tensorboard import SummaryWriter

        d = work / "tb"
        shutil.rmtree(d, ignore_errors=True)
        t0 = time.perf_counter()
        w = SummaryWriter(str(d))
        for s in range(steps):
            row = vals[s]
            for j, k in enumerate(keys):
                w.add_scalar(k, row[j], s)
        w.close()
        res["tensorboard_log_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        acc = EventAccumulator(str(d))  # default: a reservoir of 10,000 scalars a tag
        acc.Reload()
        pts = acc.Scalars(keys[0])
        res["tensorboard_read_s"] = time.perf_counter() - t0
        res["tensorboard_points"] = len(pts)
        true_max = float(vals[:, 0].max())
        res["tensorboard_max_kept"] = any(p.value == np.float32(true_max) for p in pts)
    except ImportError as exc:
        res["tensorboard"] = f"not installed ({exc})"
    try:
        import mlflow
        from mlflow.entities import Metric

        d = work / "mlruns"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{d / 'mlflow.db'}")
        exp = client.create_experiment("bigrun")
        run = client.create_run(exp)
        t0 = time.perf_counter()
        batch: list[Any] = []
        ts = int(time.time() * 1000)
        for s in range(steps):
            row = vals[s]
            batch.extend(Metric(k, float(row[j]), ts, s) for j, k in enumerate(keys))
            if len(batch) >= 1000:
                client.log_batch(run.info.run_id, metrics=batch)
                batch = []
        if batch:
            client.log_batch(run.info.run_id, metrics=batch)
        res["mlflow_log_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        hist = client.get_metric_history(run.info.run_id, keys[0])
        res["mlflow_read_s"] = time.perf_counter() - t0
        res["mlflow_points"] = len(hist)
    except ImportError as exc:
        res["mlflow"] = f"not installed ({exc})"
    return res


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def rng(xs: list[float], scale: float = 1e3) -> str:
    return f"{min(xs) * scale:.1f}-{max(xs) * scale:.1f}" if xs else "-"


def render(r: dict[str, Any]) -> str:
    m = r["dataset"]
    pts = m["points"]
    lines = [
        f"# 10M-step run: {m['params']['steps']:,} steps x {m['params']['metrics']} metrics "
        f"({pts / 1e6:.0f} M points)",
        "",
        f"machine: {r['machine']}; load before: {r['load_before']}; after: {r['load_after']}",
        "",
        "## Logging and indexing",
        "",
        "| figure | value | floor / ratio |",
        "|---|---|---|",
        f"| log() loop (online) | {pts / m['loop_s'] / 1e6:.2f} M points/s "
        f"({m['loop_s']:.1f} s) | dict-building floor {pts / m['floor_s'] / 1e6:.2f} M points/s "
        f"({m['floor_s'] / m['loop_s']:.2f}x of the loop) |",
        f"| finish() waiting for the server to acknowledge | {m['finish_s']:.1f} s | "
        f"end to end (init to acknowledged) {m['total_s']:.1f} s = "
        f"{pts / m['total_s'] / 1e6:.2f} M points/s |",
    ]
    ix = r.get("index_s") or []
    if ix:
        lines.append(
            f"| index_update of the whole log (fresh index, pyramid included) | "
            f"{pts / med(ix) / 1e6:.2f} M rows/s ({med(ix):.1f} s, range {min(ix):.1f}-"
            f"{max(ix):.1f}, {len(ix)} reps) | vs logging: "
            f"{(pts / med(ix)) / (pts / m['loop_s']):.1f}x the log() rate |"
        )
    lines += [
        "",
        "## Server: POST /history, one key, 1,000 samples (pyramid) vs reading the raw column",
        "",
        "| range | POST /history median ms (range) | read_series in process ms (range) | "
        "raw rows + downsample ms (range) | raw / read_series | points |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in (r.get("server") or {}).items():
        ratio = med(s["raw"]) / med(s["core"])
        lines.append(
            f"| {name} | {med(s['post']) * 1e3:.1f} ({rng(s['post'])}) | "
            f"{med(s['core']) * 1e3:.2f} ({rng(s['core'])}) | "
            f"{med(s['raw']) * 1e3:.1f} ({rng(s['raw'])}) | {ratio:.1f}x | "
            f"{med(s['points']):.0f} |"
        )
    b = r.get("browser")
    if b:
        lines += [
            "",
            "## Browser (Chromium): workspace of the run",
            "",
            "| figure | median ms | range | reps | target |",
            "|---|---|---|---|---|",
        ]
        for name, vals in b.items():
            if not isinstance(vals, list) or not vals:
                continue
            ms = [v for v in vals if isinstance(v, (int, float))]
            target = TARGETS_MS["paint" if name == "paint" else "zoom"]
            if ms:
                lines.append(
                    f"| {name} | {med(ms):.0f} | {min(ms):.0f}-{max(ms):.0f} | {len(ms)} | "
                    f"<= {target:.0f} ({'met' if med(ms) <= target else 'MISSED'}) |"
                )
    c = r.get("others")
    if c:
        lines += ["", f"## Others at {c['steps']:,} steps x {m['params']['metrics']} metrics", ""]
        lines.append("```")
        lines.append(json.dumps(c, indent=1))
        lines.append("```")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10_000_000)
    ap.add_argument("--metrics", type=int, default=10)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "bigrun")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--no-server", action="store_true", help="skip the server read figures")
    ap.add_argument("--index-reps", type=int, default=3)
    ap.add_argument("--compare-steps", type=int, default=1_000_000)
    args = ap.parse_args()
    out: Path = args.out.resolve()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    r: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().release}",
        "load_before": os.getloadavg(),
    }
    name = f"bigrun-{args.steps}x{args.metrics}"
    r["dataset"] = cached(
        out / "data",
        name,
        lambda dest: build(dest, args.steps, args.metrics, logs),
        args.rebuild,
    )
    dest = out / "data" / name
    m = r["dataset"]
    print(
        f"logging: {m['points'] / m['loop_s'] / 1e6:.2f} M points/s, "
        f"finish() {m['finish_s']:.1f} s",
        flush=True,
    )
    if args.index_reps:
        r["index_s"] = index_rate(dest, args.index_reps)
        print(f"index_update: {m['points'] / med(r['index_s']) / 1e6:.2f} M rows/s", flush=True)
    r["server"] = {} if args.no_server else server_reads(dest, m, args.reps, logs)
    for k, s in r["server"].items():
        print(
            f"POST /history {k}: {med(s['post']) * 1e3:.1f} ms, read_series "
            f"{med(s['core']) * 1e3:.2f} ms, raw {med(s['raw']) * 1e3:.1f} ms"
        )
    if not args.no_browser:
        r["browser"] = browser(dest, m, args.reps, out, logs)
    if args.compare_steps:
        r["others"] = compare_others(args.compare_steps, args.metrics, out / "others")
    r["load_after"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps(r, indent=1, default=str))
    text = render(r)
    (out / "results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
