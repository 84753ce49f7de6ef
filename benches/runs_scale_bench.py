"""The runs table and the projects page on a project of 100,000 runs, against 1,000 runs (the
floor: the same pages with a hundredth of the runs), on a real `fwtrack server` and in a real
browser (headless Debian Chromium through playwright-core, `benches/runs_scale_bench.mjs`).

    python benches/runs_scale_bench.py                    # 100,000 and 1,000 runs, SQLite
    python benches/runs_scale_bench.py --postgres         # also on PostgreSQL (server only)
    python benches/runs_scale_bench.py --runs 20000 --reps 3

Datasets (built once, cached under `<out>/runs_scale/<backend>-<runs>/`): a server data
directory whose database holds project `bench/big` with `--runs` runs, written by one bulk
insert through the server's own models (`fwtrack.server.db`: the rows the ingest writes for a
finished run, with config, summary, tags and the column picker's field keys; the runs have no
logged history, so the table is measured without charts drawing). `--postgres` starts a
throw-away PostgreSQL cluster (tests/server/harness.py) for its datasets.

Measures, medians of `--reps` interleaved repetitions (100,000 then 1,000 in each):
- server: the runs list's first page (50 runs, as the dashboard asks), sorted by name,
  created_at, a summary metric and a config key, filtered by an expression, searched by text,
  and the projects list, timed over HTTP from this process (keep-alive connection, the whole
  JSON answer read);
- browser: the workspace's first page (navigation start to the frame after the rows are in
  the DOM), a click on each column header (name, created, a summary and a config column), a
  search (from the input event, the debounce included), a filter expression (from Enter), a
  summary sort of the filtered runs and the projects page, each to the frame after the rows
  changed. Target: <= 200 ms each at 100,000 runs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))
sys.path.insert(0, str(REPO / "tests"))

from run import num, table  # noqa: E402
from server_bench import FwServer, Http  # noqa: E402
from web_bench import CHROMIUM, ensure_dashboard, machine  # noqa: E402

DRIVER = REPO / "benches" / "runs_scale_bench.mjs"
DATA_VERSION = 1  # bump when the way a dataset is built changes: older caches are rebuilt
ENTITY = "bench"
PROJECT = "big"
TARGET_MS = 200.0
COLUMNS = ["summary.loss", "config.lr"]
SORTS = ["name", "created_at", "summary.loss", "config.lr"]
SEARCH = ["moon-9", "calm-pine-7"]
FILTER = ["config.lr > 0.01 and tags ~ baseline", "config.opt = sgd and summary.acc > 0.5"]
SERVER_CASES: dict[str, dict[str, str]] = {
    "first page (-created_at)": {},
    "sort name": {"sort": "name"},
    "sort -summary.loss": {"sort": "-summary.loss"},
    "sort config.lr": {"sort": "config.lr"},
    "filter": {"filter": FILTER[0]},
    "filter + sort summary": {"filter": FILTER[0], "sort": "-summary.acc"},
    "search": {"search": SEARCH[0]},
    "page 100 (offset 4,950)": {"offset": "4950"},
}


def run_rows(project_id: int, n: int, seed: int = 1) -> list[dict[str, Any]]:
    """`n` finished runs as the ingest leaves them: a config of a few keys (one nested), a
    summary, zero to two tags out of five, names like `calm-pine-17`."""
    from fwtrack.server.fields import run_field_keys

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        config = {
            "lr": 10 ** rng.uniform(-5, -0.5),
            "batch_size": rng.choice([16, 32, 64, 128]),
            "opt": rng.choice(["adam", "sgd", "adamw"]),
            "model": {"layers": rng.randint(2, 48), "width": rng.choice([256, 512, 1024])},
        }
        summary = {"loss": rng.random() * 3, "acc": rng.random(), "_step": rng.randint(1, 10**5)}
        tags = rng.sample(["baseline", "ablation", "sweep", "final", "debug"], rng.randint(0, 2))
        words = (rng.choice(["swift", "calm", "bold", "dark"]), rng.choice(["river", "moon"]))
        t = 1.7e9 + i * 10.0
        field_keys, field_hash = run_field_keys(config, summary)
        rows.append(
            {
                "project_id": project_id,
                "run_id": f"r{i:07d}",
                "name": f"{words[0]}-{words[1]}-{i}",
                "state": "finished",
                "tags": tags,
                "created_at": t,
                "updated_at": t + 60,
                "heartbeat_at": t + 60,
                "runtime": rng.random() * 3600,
                "exit_code": 0,
                "config": config,
                "summary": summary,
                "meta": {},
                "keys": [],
                "log_size": 0,
                "next_seq": 0,
                "edited": [],
                "field_keys": field_keys,
                "field_keys_hash": field_hash,
            }
        )
    return rows


def build(dest: Path, runs: int, db_url: str | None) -> dict[str, Any]:
    """A server data directory (and database) holding `bench/big` with `runs` runs."""
    meta_file = dest / "meta.json"
    params = {"runs": runs, "version": DATA_VERSION, "db": db_url}
    if meta_file.exists():
        meta: dict[str, Any] = json.loads(meta_file.read_text())
        if meta.get("params") == params:
            return meta
    import shutil

    import sqlalchemy as sa

    from fwtrack.server.db import Database, Project, Run

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    server = FwServer(dest / "server", db_url)  # migrates the database, makes the admin
    try:
        key = server.new_user(ENTITY)
    finally:
        server.stop()
    t0 = time.monotonic()
    db = Database(db_url or f"sqlite:///{dest / 'server' / 'fwtrack.db'}")
    try:
        with db.write() as session:
            project = Project(entity=ENTITY, name=PROJECT, created_at=1.7e9, last_activity=2e9)
            session.add(project)
            session.flush()
            pid = project.id
        for start in range(0, runs, 20000):
            rows = run_rows(pid, min(20000, runs - start), seed=start + 1)
            for j, row in enumerate(rows):
                i = start + j
                row["run_id"] = f"r{i:07d}"
                row["name"] = row["name"].rsplit("-", 1)[0] + f"-{i}"
                row["created_at"] = 1.7e9 + i * 10.0
                row["updated_at"] = row["heartbeat_at"] = row["created_at"] + 60
            with db.write() as session:
                session.execute(sa.insert(Run), rows)
        if db.dialect == "postgresql":
            with db.engine.connect() as c:
                c.execute(sa.text("ANALYZE runs"))
                c.commit()
    finally:
        db.dispose()
    meta = {
        "params": params,
        "admin_key": server.admin_key,
        "key": key,
        "insert_s": time.monotonic() - t0,
    }
    meta_file.write_text(json.dumps(meta, indent=1))
    return meta


def server_times(server: FwServer, key: str) -> dict[str, float]:
    """One timing (ms) of each server case and of the projects list."""
    http_ = Http(server.port, key)
    out = {}
    try:
        for name, params in SERVER_CASES.items():
            query = urllib.parse.urlencode({"limit": "50", **params})
            path = f"/api/v1/runs/{ENTITY}/{PROJECT}?{query}"
            t0 = time.perf_counter()
            status, _ = http_.request("GET", path)
            out[name] = (time.perf_counter() - t0) * 1000
            if status != 200:
                raise RuntimeError(f"GET {path}: {status}")
        t0 = time.perf_counter()
        http_.request("GET", "/api/v1/projects")
        out["projects list"] = (time.perf_counter() - t0) * 1000
    finally:
        http_.close()
    return out


def browser_times(server: FwServer, key: str, label: str, reps: int, out: Path) -> dict[str, Any]:
    plan_file = out / f"plan-{label}.json"
    result_file = out / f"raw-{label}.json"
    plan = {
        "label": label,
        "base": server.url,
        "key": key,
        "entity": ENTITY,
        "project": PROJECT,
        "reps": reps,
        "viewport": {"width": 1600, "height": 1000},
        "timeout_ms": 20000,
        "columns": COLUMNS,
        "sorts": SORTS,
        "search": SEARCH,
        "filter": FILTER,
        "chromium": CHROMIUM,
        "results": str(result_file),
    }
    plan_file.write_text(json.dumps(plan, indent=1))
    result_file.unlink(missing_ok=True)
    subprocess.run(["node", str(DRIVER), str(plan_file)], cwd=REPO, timeout=1800, check=False)
    if not result_file.exists():
        return {"error": "the browser driver wrote no results"}
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


def med(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def spread(xs: list[float]) -> str:
    return f"{num(min(xs))}-{num(max(xs))}" if xs else "—"


def verdict(value: float | None) -> str:
    if value is None:
        return "—"
    return "ok" if value <= TARGET_MS else "**miss**"


def render(res: dict[str, Any], labels: list[str], sizes: dict[str, int]) -> str:
    sqlite = [x for x in labels if x.startswith("sqlite")]
    big, floor = sqlite[0], sqlite[-1]
    parts = []
    for backend in sorted({k.split("-")[0] for k in labels}):
        mine = [x for x in labels if x.startswith(backend)]
        head = ["server (ms)"] + [f"{sizes[x]:,} runs" for x in mine]
        head += ["ratio", "target", "vs target"] if len(mine) > 1 else ["target", "vs target"]
        rows = []
        for case in [*SERVER_CASES, "projects list"]:
            vals = [res[x]["server"].get(case, []) for x in mine]
            cells = [f"{num(med(v))} ({spread(v)})" for v in vals]
            m0, m1 = med(vals[0]), med(vals[-1])
            if len(mine) > 1:
                cells.append(f"{m0 / m1:.1f}x" if m0 and m1 else "—")
            rows.append([case, *cells, f"<= {TARGET_MS:.0f}", verdict(m0)])
        parts.append(f"### Server, {backend}\n\n" + table(head, rows))
    names = [k for k in res[big].get("browser", {}) if k not in ("browser", "error")]
    if names:
        rows = []
        for n in names:
            v_big = res[big]["browser"][n].get("ms", [])
            v_floor = res[floor].get("browser", {}).get(n, {}).get("ms", []) if floor != big else []
            m0, m1 = med(v_big), med(v_floor)
            rows.append(
                [
                    n,
                    f"{num(m0)} ({spread(v_big)})",
                    f"{num(m1)} ({spread(v_floor)})",
                    f"{m0 / m1:.1f}x" if m0 and m1 else "—",
                    verdict(m0),
                ]
            )
        head = ["browser, server + paint (ms)", f"{sizes[big]:,} runs", f"{sizes[floor]:,} runs"]
        parts.append("### Browser (Chromium)\n\n" + table([*head, "ratio", "<= 200 ms"], rows))
    return "\n\n".join(parts) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--floor", type=int, default=1_000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--postgres", action="store_true", help="also measure the server on PostgreSQL")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "runs_scale")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"dashboard: {ensure_dashboard()}", flush=True)
    cluster = None
    datasets: dict[str, tuple[Path, str | None, int]] = {}
    for n in (args.runs, args.floor):
        datasets[f"sqlite-{n}"] = (args.out / f"sqlite-{n}", None, n)
    if args.postgres:
        from server.harness import PostgresCluster

        cluster = PostgresCluster()
        cluster.start()
        for n in (args.runs, args.floor):
            pg_url = cluster.create_database(f"runs_scale_{n}")
            datasets[f"postgresql-{n}"] = (args.out / f"postgresql-{n}", pg_url, n)
    results: dict[str, Any] = {}
    try:
        metas = {}
        for label, (dest, url, n) in datasets.items():
            t0 = time.monotonic()
            metas[label] = build(dest, n, url)
            print(f"{label}: dataset ready in {time.monotonic() - t0:.0f} s", flush=True)
        servers = {
            label: FwServer(dest / "server", url, admin_key=metas[label]["admin_key"])
            for label, (dest, url, _) in datasets.items()
        }
        try:
            for label in servers:
                results[label] = {"server": {}}
                server_times(servers[label], metas[label]["key"])  # warm-up
            for _ in range(args.reps):
                for label, server in servers.items():
                    for case, ms in server_times(server, metas[label]["key"]).items():
                        results[label]["server"].setdefault(case, []).append(ms)
            if not args.no_browser:
                for label, server in servers.items():
                    if label.startswith("sqlite"):
                        results[label]["browser"] = browser_times(
                            server, metas[label]["key"], label, args.reps, args.out
                        )
        finally:
            for server in servers.values():
                server.stop()
    finally:
        if cluster is not None:
            cluster.stop()
    (args.out / "results.json").write_text(
        json.dumps({"machine": machine(), "results": results}, indent=1)
    )
    labels = [x for x in datasets if x.startswith("sqlite")] + [
        x for x in datasets if x.startswith("postgresql")
    ]
    text = render(results, labels, {k: v[2] for k, v in datasets.items()})
    (args.out / "results.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
