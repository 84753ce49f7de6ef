"""A 100,000-row table: logging it (`fwtrack.Table` against `wandb.Table`, offline), and paging,
sorting and filtering it through the server's `GET .../table` (the dashboard's table viewer
asks for nothing else).

    python benches/table_bench.py                    # 100,000 rows, 5 server starts
    python benches/table_bench.py --quick            # 20,000 rows, 2 server starts

Logging: each tracker in a fresh process, rows built before the clock starts (5 numeric
columns and 1 text column), then `Table(columns, data)` + `log()` + `finish()` timed;
repeated `--reps` times in rotating order. wandb refuses tables over `wandb.Table.MAX_ROWS`
(10,000) unless that class attribute is raised, which the worker does.

Server: one run logs the table online into a fresh `fwtrack server` (SQLite); then, for each
repetition, the server is restarted on the same data (so nothing is parsed or cached) and a
kept-alive client times: the first page (the file parsed on the server), a warm first page,
a sort on each column (each a view never computed before in that server: a cold sort), a
text filter (three different substrings, cold), and paging into a sorted, filtered view.
The bound is the dashboard's interactive figure from the runs table (issue 5): 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # the helpers of benches/run.py
    machine,
    num,
    ratio,
    save_results,
    spawn_worker,
    table,
    worker_main,
)
from server_bench import FwServer, Http  # the server under test and a kept-alive client
from web_bench import CHROMIUM, ensure_dashboard  # Debian's Chromium, the dashboard build

REPO = Path(__file__).resolve().parent.parent
DRIVER = REPO / "benches" / "table_bench.mjs"
PROJECT = "bench"
COLUMNS = ["id", "epoch", "loss", "accuracy", "lr", "label"]
INTERACTIVE_MS = 100.0
WORKER_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_DISABLE_GIT": "true",
    "DO_NOT_TRACK": "true",
    "PYTHONWARNINGS": "ignore",
    "FWTRACK_SYSTEM_METRICS": "false",
    "FWTRACK_CONSOLE": "off",
    "FWTRACK_SAVE_CODE": "false",
    "FWTRACK_CAPTURE_ENV": "false",
}
WORDS = ["cat", "dog", "bird", "horse", "ship", "truck", "plane", "frog", "deer", "car"]


def make_rows(n: int) -> list[list[Any]]:
    """5 numeric columns (2 int, 3 float) and a short text, the kind of rows a prediction
    table holds."""
    rng = random.Random(0)
    rows = []
    for i in range(n):
        true, pred = rng.choice(WORDS), rng.choice(WORDS)
        rows.append(
            [
                i,
                i // 1000,
                rng.lognormvariate(-1, 1),
                rng.random(),
                10 ** rng.uniform(-5, -1),
                f"{true} predicted as {pred} #{rng.randrange(10**6)}",
            ]
        )
    return rows


# ----------------------------------------------------------------------------------------------
# Logging, in a worker process


def log_worker(tracker: str, n: int, workdir: Path) -> dict[str, Any]:
    rows = make_rows(n)
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter
    run: Any
    make: Any
    if tracker == "fwtrack":
        import fwtrack

        run = fwtrack.init(project=PROJECT, dir=str(data), mode="offline")
        make = fwtrack.Table
    else:
        for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
            os.environ[var] = str(workdir / "wandb-home")
        import wandb

        wandb.Table.MAX_ROWS = max(wandb.Table.MAX_ROWS, n)
        run = wandb.init(project=PROJECT, dir=str(data), mode="offline")
        make = wandb.Table
    t0 = clock()
    tab = make(columns=COLUMNS, data=rows)
    t1 = clock()
    run.log({"preds": tab})
    t2 = clock()
    run.finish()
    t3 = clock()
    files = [p for p in data.rglob("*.table.json") if p.is_file()]
    return {
        "rows": n,
        "make_s": t1 - t0,
        "log_s": t2 - t1,
        "finish_s": t3 - t2,
        "total_s": t3 - t0,
        "table_files": len(files),
        "table_bytes": sum(p.stat().st_size for p in files),
    }


def run_log_worker(tracker: str, n: int, workroot: Path) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"log-{tracker}-", dir=workroot)).resolve()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tracker]
    cmd += ["--rows", str(n), "--workdir", str(workdir)]
    res = spawn_worker(cmd, workdir, {**os.environ, **WORKER_ENV})
    res["tracker"] = tracker
    shutil.rmtree(workdir, ignore_errors=True)
    return res


# ----------------------------------------------------------------------------------------------
# The server


def upload_table(server: FwServer, n: int, root: Path) -> dict[str, Any]:
    """Log the table in an online run (this process); returns the run and the table's path."""
    import fwtrack

    key = server.new_user("tables")
    rows = make_rows(n)
    for var, value in WORKER_ENV.items():
        if var.startswith("FWTRACK_"):
            os.environ[var] = value
    t0 = time.perf_counter()
    run = fwtrack.init(
        project=PROJECT,
        dir=str(root / "client"),
        mode="online",
        settings={"base_url": server.url, "api_key": key, "upload_timeout": 300},
    )
    run.log({"preds": fwtrack.Table(columns=COLUMNS, data=rows)})
    run.finish()
    upload_s = time.perf_counter() - t0
    http_ = Http(server.port, key)
    me = http_.json("GET", "/api/v1/viewer")
    entity = me.get("name") or me.get("user", {}).get("name")
    base = f"/api/v1/runs/{entity}/{PROJECT}/{run.id}"
    media = http_.json("GET", f"{base}/media?key=preds")
    desc = media["items"][0]["value"]
    http_.close()
    return {
        "key": key,
        "entity": entity,
        "run": run.id,
        "base": base,
        "path": desc["path"],
        "size": desc["size"],
        "upload_s": upload_s,
    }


def get(http_: Http, base: str, path: str, **query: Any) -> tuple[float, dict[str, Any], int]:
    qs = urllib.parse.urlencode({"path": path, **query})
    t0 = time.perf_counter()
    status, body = http_.request("GET", f"{base}/table?{qs}")
    elapsed = time.perf_counter() - t0
    if status != 200:
        raise RuntimeError(f"GET table {query}: {status} {body[:300]!r}")
    return elapsed * 1000, json.loads(body), len(body)


def query_rep(server: FwServer, up: dict[str, Any]) -> dict[str, Any]:
    """One server start: every query once on cold views, a few warm repeats."""
    http_ = Http(server.port, up["key"])
    base, path = up["base"], up["path"]
    out: dict[str, Any] = {}
    out["first_page_cold_ms"], doc, out["page_bytes"] = get(http_, base, path, limit=50)
    out["total"] = doc["total"]
    out["first_page_warm_ms"] = statistics.median(
        get(http_, base, path, limit=50)[0] for _ in range(9)
    )
    sorts = {}
    for col in COLUMNS:
        ms, doc, _ = get(http_, base, path, limit=50, sort=col, order="desc")
        sorts[col] = ms
    out["sort_ms"] = sorts
    filters = {}
    for q in ("dog predicted as cat", "#12345", "truck"):
        ms, doc, _ = get(http_, base, path, limit=50, q=q)
        filters[q] = (ms, doc["total"])
    out["filter_ms"] = {q: v[0] for q, v in filters.items()}
    out["filter_total"] = {q: v[1] for q, v in filters.items()}
    ms, doc, _ = get(http_, base, path, limit=50, sort="loss", order="asc", q="plane")
    out["sort_filter_ms"] = ms
    total = doc["total"]
    out["page_in_view_ms"] = statistics.median(
        get(http_, base, path, limit=50, sort="loss", order="asc", q="plane", offset=o)[0]
        for o in range(50, min(total, 50 * 10), 50)
    )
    http_.close()
    return out


def browser_phase(server: FwServer, up: dict[str, Any], reps: int, out: Path) -> dict[str, Any]:
    """The dashboard's table viewer in headless Chromium (`benches/table_bench.mjs`)."""
    result_file = out / "raw-browser.json"
    result_file.unlink(missing_ok=True)
    plan = {
        "base": server.url,
        "key": up["key"],
        "entity": up["entity"],
        "project": PROJECT,
        "run": up["run"],
        "path": up["path"],
        "reps": reps,
        # Not id or epoch: sorted ascending, their first page is the unsorted one.
        "sort_columns": ["loss", "label", "accuracy", "lr"],
        "filters": ["dog predicted as cat", "truck", "#12345", "plane predicted", "horse"],
        "timeout_ms": 60_000,
        "viewport": {"width": 1600, "height": 1000},
        "chromium": CHROMIUM,
        "results": str(result_file),
    }
    plan_file = out / "plan-browser.json"
    plan_file.write_text(json.dumps(plan, indent=1))
    try:
        subprocess.run(["node", str(DRIVER), str(plan_file)], cwd=REPO, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        return {"error": "the browser driver did not finish in 900 s"}
    if not result_file.exists():
        return {"error": "the browser driver wrote no results"}
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


# ----------------------------------------------------------------------------------------------
# Report


def render(data: dict[str, Any]) -> str:
    p = data["params"]
    parts = [f"**Logging a table of {p['rows']:,} rows** (6 columns), medians of {p['reps']}:", ""]
    logs = data["logging"]
    fw = logs.get("fwtrack", {}).get("total_s")
    rows = []
    for t, a in logs.items():
        if a.get("status") != "ok":
            rows.append([f"**{t}**", a.get("error", "error"), "", "", "", "", "", ""])
            continue
        rows.append(
            [
                f"**{t}**",
                num(a["make_s"] * 1000),
                num(a["log_s"] * 1000),
                num(a["finish_s"] * 1000),
                num(a["total_s"] * 1000),
                ratio(a["total_s"], fw) if t != "fwtrack" else "",
                f"{a['table_bytes'] / 2**20:,.1f}",
                f"{a['reps']}",
            ]
        )
    parts.append(
        table(
            [
                "tracker",
                "Table() ms",
                "log() ms",
                "finish() ms",
                "total ms",
                "vs fwtrack",
                "table file MiB",
                "reps",
            ],
            rows,
        )
    )
    q = data.get("queries")
    if q:
        parts += [
            "",
            f"**`GET .../table` on the {p['rows']:,}-row table** ({q['size'] / 2**20:,.1f} MiB of "
            f"JSON; uploaded online in {num(q['upload_s'])} s), medians over {q['reps']} server "
            f"starts (cold: the first request of its kind after a start); bound "
            f"{INTERACTIVE_MS:.0f} ms:",
            "",
        ]
        qrows = []
        stats = summarize_queries(q["raw"])
        for label, key, bounded in QUERY_ROWS:
            val, lo, hi = stats[key]
            verdict = ""
            if bounded:
                verdict = "PASS" if val <= INTERACTIVE_MS else "**MISS**"
            qrows.append([label, num(val), f"{num(lo)}-{num(hi)}", verdict])
        parts.append(table(["request", "median ms", "range ms", "vs 100 ms"], qrows))
    b = data.get("browser")
    if b and "error" not in b:
        parts += [
            "",
            f"**The dashboard's table viewer, headless Chromium** (medians of "
            f"{b['first']['reps']}; from the DOM event, or the navigation start, to the frame "
            "after the new rows):",
            "",
        ]
        brows = []
        cold = b.get("first_cold") or {}
        if cold.get("ok"):
            brows.append(
                ["first page, the first load after the server started", num(cold["ms"]), "", ""]
            )
        for label, key in (
            ("first page (run page, media tab, table open; a fresh browser context)", "first"),
            ("sort: click on a column header (a different column each time)", "sort"),
            ("filter: typed into the filter box (includes its 20 ms debounce)", "filter"),
        ):
            ms = sorted(b[key]["ms"])
            if not ms:
                brows.append([label, "—", "", f"0/{b[key]['reps']} ok"])
                continue
            med = statistics.median(ms)
            after = [r["afterRequestMs"] for r in b[key]["runs"] if r.get("afterRequestMs")]
            note = f"{num(statistics.median(after))} ms after the request left" if after else ""
            brows.append([label, num(med), f"{num(ms[0])}-{num(ms[-1])}", note])
        parts.append(table(["action", "median ms", "range ms", ""], brows))
    elif b:
        parts += ["", f"Browser: {b['error']}"]
    return "\n".join(parts)


QUERY_ROWS = [
    ("first page, cold (the server parses the file)", "first_page_cold_ms", True),
    ("first page, warm", "first_page_warm_ms", True),
    ("sort by a numeric column, cold (each of 5 columns, desc)", "sort_num_ms", True),
    ("sort by the text column, cold", "sort_text_ms", True),
    (
        "the first text filter after a start (the server builds each row's text)",
        "filter_first_ms",
        True,
    ),
    ("text filter, cold (2 more substrings)", "filter_ms", True),
    ("sort + filter, cold", "sort_filter_ms", True),
    ("next pages of a sorted, filtered view", "page_in_view_ms", True),
]


def summarize_queries(reps: list[dict[str, Any]]) -> dict[str, tuple[float, float, float]]:
    series: dict[str, list[float]] = {k: [] for _, k, _ in QUERY_ROWS}
    for r in reps:
        series["first_page_cold_ms"].append(r["first_page_cold_ms"])
        series["first_page_warm_ms"].append(r["first_page_warm_ms"])
        series["sort_num_ms"] += [v for c, v in r["sort_ms"].items() if c != "label"]
        series["sort_text_ms"].append(r["sort_ms"]["label"])
        first, *rest = r["filter_ms"].values()
        series["filter_first_ms"].append(first)
        series["filter_ms"] += rest
        series["sort_filter_ms"].append(r["sort_filter_ms"])
        series["page_in_view_ms"].append(r["page_in_view_ms"])
    return {k: (statistics.median(v), min(v), max(v)) for k, v in series.items() if v}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=("fwtrack", "wandb"), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, default=None, help="table rows (100,000; 20,000 quick)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (5; 2 quick)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-wandb", action="store_true", help="leave wandb out")
    ap.add_argument("--no-browser", action="store_true", help="leave the browser out")
    ap.add_argument(
        "--wandb-reps", type=int, default=None, help="wandb logging repetitions (as --reps)"
    )
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "table")
    ap.add_argument("--render", type=Path, help="print the tables of a saved results.json")
    args = ap.parse_args()

    if args.worker:
        return worker_main(args.workdir, lambda: log_worker(args.worker, args.rows, args.workdir))
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0

    args.rows = args.rows or (20_000 if args.quick else 100_000)
    args.reps = args.reps or (2 if args.quick else 5)
    args.out.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="table-bench-"))
    start, load_start = time.time(), os.getloadavg()
    trackers = ["fwtrack"] + ([] if args.no_wandb else ["wandb"])
    raw: dict[str, list[dict[str, Any]]] = {t: [] for t in trackers}
    logging: dict[str, dict[str, Any]] = {}
    queries: dict[str, Any] = {}
    browser: dict[str, Any] = {}
    try:
        for rep in range(args.reps):
            for t in trackers[rep % 2 :] + trackers[: rep % 2]:
                if t == "wandb" and rep >= (args.wandb_reps or args.reps):
                    continue
                res = run_log_worker(t, args.rows, workroot)
                raw[t].append(res)
                state = f"{res['total_s']:.2f} s" if res.get("status") == "ok" else res["error"]
                print(f"log rep {rep + 1}/{args.reps} {t:<8} {state}", flush=True)
        for t, runs in raw.items():
            ok = [r for r in runs if r.get("status") == "ok"]
            if not ok:
                logging[t] = runs[0]
                continue
            agg: dict[str, Any] = {"status": "ok", "reps": len(ok)}
            for key in ("make_s", "log_s", "finish_s", "total_s", "table_bytes"):
                agg[key] = statistics.median(r[key] for r in ok)
            logging[t] = agg

        data_dir = workroot / "server"
        server = FwServer(data_dir, log_path=workroot / "server.log")
        try:
            up = upload_table(server, args.rows, workroot)
        finally:
            server.stop()
        reps = []
        for rep in range(args.reps):
            server = FwServer(data_dir, admin_key=server.admin_key, log_path=workroot / "s.log")
            try:
                reps.append(query_rep(server, up))
            finally:
                server.stop()
            r = reps[-1]
            print(
                f"queries rep {rep + 1}/{args.reps}: first page {r['first_page_cold_ms']:.0f} ms "
                f"cold, sorts {', '.join(f'{v:.0f}' for v in r['sort_ms'].values())} ms, "
                f"filters {', '.join(f'{v:.0f}' for v in r['filter_ms'].values())} ms",
                flush=True,
            )
        browser = {}
        if not args.no_browser:
            built = ensure_dashboard()
            print(f"dashboard: {built}", flush=True)
            server = FwServer(data_dir, admin_key=server.admin_key, log_path=workroot / "s.log")
            try:
                browser = browser_phase(server, up, args.reps, args.out)
            finally:
                server.stop()
        queries = {
            "size": up["size"],
            "upload_s": up["upload_s"],
            "reps": len(reps),
            "stats": summarize_queries(reps),
            "raw": reps,
        }
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
    versions: dict[str, str | None] = {}
    for dist in ("fwtrack", "wandb"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    data: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions,
        "params": {"rows": args.rows, "reps": args.reps},
        "load_start": load_start,
        "load_end": os.getloadavg(),
        "wall_s": time.time() - start,
        "logging": logging,
        "logging_raw": raw,
        "queries": queries,
        "browser": browser,
    }
    save_results(data, args.out, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
