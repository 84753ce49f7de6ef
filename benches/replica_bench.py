"""Ingest through one and two server replicas: `fwtrack server --store s3://…` over one
PostgreSQL and one SeaweedFS bucket, the same clients each time.

    python benches/replica_bench.py --out benches/out/replica           # 3 repetitions
    python benches/replica_bench.py --out benches/out/replica --quick   # 1 repetition, smaller

A throw-away PostgreSQL cluster (the server tests' `PostgresCluster`: fsync off) and a SeaweedFS
(`weed mini`, the tests' `Seaweed`) run on this machine. Before the clock, `--clients` offline
runs each write a run log of `--metrics` random scalars per row, flushed every `--flush-every`
rows (one frame per flush): `--rows` rows for the frames workload, `--batch-rows` for the
batches workload. Then, per measurement, a fresh database and a fresh
bucket, and one or two `fwtrack server --db postgresql://… --store s3://<bucket>/fwtrack`
processes (one uvicorn worker each, each with its own cache directory). `--clients` client
processes (forked, released together) each upload their log, request after request, as the
upload protocol has it (`POST …/log?offset=N`, whole frames; a 429 is retried after its
Retry-After), in one of two request sizes:

- **frames**: one frame per request (about 15 kB: what an online run sends every second or so);
- **batches**: whole frames up to `--batch-bytes` per request (4 MiB, the uploader's largest
  request: what a run catching up or `fwtrack sync` sends).

Which replica serves a request:

- **1 replica**: every client to the one server;
- **2 replicas, sticky**: client i to replica i mod 2 (what a balancer with kept-alive
  connections does);
- **2 replicas, alternating**: each client's requests alternate between the two replicas (the
  worst case: every append meets a log another replica extended, and reads the new segment
  back from the bucket first);
- **reference: 1 server, directory store**: the same over PostgreSQL, its bytes on the local
  disk (no S3): what object storage costs a request.

The clock runs from the release of the clients to the last acknowledged byte. Afterwards every
run's stored log is read back through every replica and compared with the client's bytes.
MB/s are 10^6 bytes of run log per second, requests/s are acknowledged `POST`s per second;
"CPU s" are the CPU seconds (user + system) the servers, SeaweedFS and PostgreSQL spent during
the measurement; "servers' cores" is the servers' CPU seconds over the wall time: how much of
the machine's cores they got. Configurations rotate between repetitions; cells are medians.
Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import http.client
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
sys.path.insert(1, str(REPO / "tests"))

from run import fwtrack_build, machine, median_of, num, ratio, save_results, table  # noqa: E402
from s3_bench import CpuMeter, S3Server, drop_bucket  # noqa: E402
from seaweed import Seaweed  # noqa: E402
from server.harness import PostgresCluster, new_api_key  # noqa: E402
from server_bench import run_clients  # noqa: E402

PROJECT = "bench-replicas"
SETTINGS = {"capture_env": False, "save_code": False, "system_interval": 0, "console": False}
LOG_HEADER_LEN = 16  # _core.LOG_HEADER_LEN, _core.FRAME_HEADER_LEN (checked in make_log)
FRAME_HEADER_LEN = 28

CONFIGS = {
    "1": (1, "sticky", "1 replica"),
    "2-sticky": (2, "sticky", "2 replicas, sticky (client i → replica i mod 2)"),
    "2-alternating": (2, "alternating", "2 replicas, alternating request by request"),
    "1-directory": (1, "sticky", "reference: 1 server, directory store (no S3)"),
}
WORKLOADS = ("frames", "batches")
PARAMS = ("clients", "rows", "batch_rows", "metrics", "flush_every", "batch_bytes", "reps")


# ----------------------------------------------------------------------------------------------
# The run logs


def make_log(root: Path, rows: int, metrics: int, flush_every: int, seed: int) -> None:
    """(In a child running this checkout's fwtrack.) An offline run under `root` of `rows` rows
    of `metrics` random scalars, flushed every `flush_every` rows; prints its log's path."""
    import random

    import fwtrack
    from fwtrack import _core

    assert (_core.LOG_HEADER_LEN, _core.FRAME_HEADER_LEN) == (LOG_HEADER_LEN, FRAME_HEADER_LEN)
    rng = random.Random(seed)
    keys = [f"m{k:02d}" for k in range(metrics)]
    run = fwtrack.init(project=PROJECT, dir=root, mode="offline", settings=SETTINGS)
    for step in range(rows):
        run.log({k: rng.random() for k in keys})
        if step % flush_every == flush_every - 1:
            run.flush()
    run.finish()
    print(json.dumps({"log": str(Path(run.dir) / _core.LOG_FILE_NAME)}))


def frame_ends(data: bytes) -> list[int]:
    """The offsets where the frames of a whole log end."""
    ends, pos = [], LOG_HEADER_LEN
    while pos < len(data):
        pos += FRAME_HEADER_LEN + int.from_bytes(data[pos : pos + 4], "little")
        ends.append(pos)
    if pos != len(data):
        raise ValueError(f"the log does not end on a frame boundary ({pos} != {len(data)})")
    return ends


def pieces(data: bytes, batch: int) -> list[tuple[int, int]]:
    """`[start, end)` of each request: whole frames up to `batch` bytes (0: one frame each;
    the first request also carries the log's header)."""
    out: list[tuple[int, int]] = []
    start = 0
    for end in frame_ends(data):
        if batch <= 0 or end - start >= batch:
            out.append((start, end))
            start = end
    if start < len(data):
        out.append((start, len(data)))
    return out


# ----------------------------------------------------------------------------------------------
# Clients (forked by server_bench.run_clients)


def _client(conf: dict[str, Any], idx: int, ready: Any, go: Any, results: Any) -> None:
    try:
        data: bytes = conf["logs"][idx % len(conf["logs"])]
        reqs = dict(pieces(data, conf["batch"]))
        ends = frame_ends(data)
        ports: list[int] = conf["ports"]
        conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=300) for p in ports}
        path = f"/api/v1/runs/{conf['entity']}/{PROJECT}/{conf['run_ids'][idx]}/log"
        headers = {
            "Authorization": f"Bearer {conf['key']}",
            "Content-Type": "application/octet-stream",
        }
        ready.put(idx)
        go.wait()
        t0 = time.time()
        sent = retried = 0
        latencies = []
        k = 0
        offset = 0
        while offset < len(data):
            if conf["mode"] == "sticky":
                port = ports[idx % len(ports)]
            else:
                port = ports[(idx + k) % len(ports)]
            k += 1
            # The next piece; after a 409 (never expected), the frame from where the server is.
            end = reqs.get(offset) or ends[bisect.bisect_right(ends, offset)]
            r0 = time.perf_counter()
            try:
                conns[port].request(
                    "POST", f"{path}?offset={offset}", body=data[offset:end], headers=headers
                )
                resp = conns[port].getresponse()
                body = resp.read()
            except (http.client.HTTPException, ConnectionError):
                conns[port].close()
                conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                retried += 1
                time.sleep(0.05)
                continue
            latencies.append(time.perf_counter() - r0)
            if resp.status == 200:
                sent += 1
                offset = json.loads(body)["offset"]
            elif resp.status == 409:
                retried += 1
                offset = json.loads(body)["offset"]
            elif resp.status in (429, 502, 503, 504):
                retried += 1
                time.sleep(float(resp.getheader("Retry-After") or 0.1))
            else:
                raise RuntimeError(f"POST {path}?offset={offset}: {resp.status} {body[:300]!r}")
        done = time.time()
        for c in conns.values():
            c.close()
        results.put(
            {
                "idx": idx,
                "started": t0,
                "done": done,
                "requests": sent,
                "retried": retried,
                "bytes": len(data),
                "latencies": latencies,
            }
        )
    except BaseException as exc:
        results.put({"idx": idx, "error": repr(exc)})
        ready.put(idx)


# ----------------------------------------------------------------------------------------------
# One measurement


def postmaster_pid(cluster: PostgresCluster) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((cluster.data / "postmaster.pid").read_text().split()[0])
    return None


def measure(
    store: Seaweed,
    cluster: PostgresCluster,
    work: Path,
    logs: dict[str, list[bytes]],
    config: str,
    workload: str,
    args: argparse.Namespace,
    tag: str,
) -> dict[str, Any]:
    replicas, mode, _ = CONFIGS[config]
    db_url = cluster.create_database()
    db_name = db_url.rsplit("/", 1)[1]
    bucket = store.new_bucket("replicas")
    key = new_api_key()
    servers: list[S3Server] = []
    try:
        for i in range(replicas):  # one after the other: the first migrates and seeds
            data = work / f"replica-{i}"
            shutil.rmtree(data, ignore_errors=True)
            directory = config == "1-directory"
            servers.append(S3Server(store, bucket, data, db_url, key, directory=directory))
        entity = servers[0].entity
        run_ids = [f"{tag}-c{i}" for i in range(args.clients)]
        conf = {
            "logs": logs[workload],
            "batch": 0 if workload == "frames" else args.batch_bytes,
            "ports": [s.port for s in servers],
            "mode": mode,
            "entity": entity,
            "key": key,
            "run_ids": run_ids,
        }
        pids: dict[str, int | None] = {f"replica{i}": s.pid for i, s in enumerate(servers)}
        pids["s3"] = store.proc.pid if store.proc else None
        pids["pg"] = postmaster_pid(cluster)
        meter = CpuMeter(pids)
        meter.start()
        t_go, got, poll = run_clients(_client, [conf] * args.clients, timeout=120)
        deadline = time.monotonic() + args.timeout
        while len(poll()) < args.clients:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{config}/{workload}: clients did not finish in time")
            time.sleep(0.01)
        cpu = meter.stop()
        for r in got:
            if "error" in r:
                raise RuntimeError(f"client {r['idx']}: {r['error']}")
        seconds = max(r["done"] for r in got) - t_go
        # Every run's stored log, through every replica, is the client's bytes.
        for i, run_id in enumerate(run_ids):
            want = logs[workload][i % len(logs[workload])]
            for s in servers:
                status, stored = s.http.request(
                    "GET", f"/api/v1/runs/{entity}/{PROJECT}/{run_id}/log"
                )
                if status != 200 or stored != want:
                    raise RuntimeError(
                        f"{config}/{workload}: run {run_id} through port {s.port}: HTTP "
                        f"{status}, {len(stored)} bytes stored of {len(want)}"
                        + (" (different bytes)" if len(stored) == len(want) else "")
                    )
        total = sum(r["bytes"] for r in got)
        latencies = sorted(x for r in got for x in r["latencies"])
        requests = sum(r["requests"] for r in got)
        res: dict[str, Any] = {
            "seconds": seconds,
            "bytes": total,
            "requests": requests,
            "retried": sum(r["retried"] for r in got),
            "mb_per_s": total / seconds / 1e6,
            "requests_per_s": requests / seconds,
            "latency_median_s": statistics.median(latencies),
            "latency_p90_s": latencies[int(0.9 * (len(latencies) - 1))],
            "servers_cpu_s": sum(v for k, v in cpu.items() if k.startswith("replica")),
            "s3_cpu_s": cpu["s3_cpu_s"],
            "pg_cpu_s": cpu["pg_cpu_s"],
            "objects": len(store.keys(bucket)),
        }
        return res
    finally:
        for s in servers:
            s.stop()
        drop_bucket(store, bucket)
        with contextlib.suppress(Exception):
            cluster.drop_database(db_name)
        for i in range(replicas):
            shutil.rmtree(work / f"replica-{i}", ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Running


def run(args: argparse.Namespace) -> dict[str, Any]:
    cluster = PostgresCluster()  # raises with a hint when PostgreSQL is not installed
    work = Path(tempfile.mkdtemp(prefix="fwtrack-replica-bench-"))
    store = Seaweed(work / "seaweed")
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "fwtrack": fwtrack_build(),
        "params": {k: getattr(args, k) for k in PARAMS},
        "results": {w: {c: [] for c in args.configs} for w in args.workloads},
        "load_start": os.getloadavg(),
    }
    t0 = time.perf_counter()
    try:
        store.start()
        cluster.start()
        results["postgres"] = cluster.bin_dir.parent.name
        logs: dict[str, list[bytes]] = {}
        for workload in args.workloads:
            rows = args.rows if workload == "frames" else args.batch_rows
            logs[workload] = []
            for i in range(args.clients):
                sizes = (rows, args.metrics, args.flush_every, i)
                proc = subprocess.run(
                    [sys.executable, __file__, "--make-log", str(work / workload / str(i))]
                    + [str(v) for v in sizes],
                    env={**os.environ, "PYTHONPATH": str(REPO / "python")},
                    capture_output=True,
                    text=True,
                    check=True,
                )
                path = Path(json.loads(proc.stdout.strip().splitlines()[-1])["log"])
                logs[workload].append(path.read_bytes())
            results["params"][f"{workload}_log_bytes"] = [len(b) for b in logs[workload]]
            results["params"][f"{workload}_frames"] = [len(frame_ends(b)) for b in logs[workload]]
        jobs = [(w, c) for w in args.workloads for c in args.configs]
        n = 0
        for rep in range(args.reps):
            shift = rep % len(jobs)
            for workload, config in jobs[shift:] + jobs[:shift]:
                n += 1
                print(f"rep {rep + 1}/{args.reps}: {workload} {config} ...", flush=True)
                load = os.getloadavg()[0]
                got = measure(store, cluster, work, logs, config, workload, args, f"m{n}")
                got.update(load1=load, rep=rep)
                results["results"][workload][config].append(got)
                print(f"  {json.dumps(got)}", flush=True)
    finally:
        cluster.stop()
        store.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["wall_s"] = time.perf_counter() - t0
    results["load_end"] = os.getloadavg()
    return results


# ----------------------------------------------------------------------------------------------
# Tables


def render(data: dict[str, Any]) -> str:
    p, m = data["params"], data["machine"]
    loads = [r["load1"] for w in data["results"].values() for rows in w.values() for r in rows]
    parts = [
        f"{data['date']}; {m['cpu']}, {m['cores']} cores, Python {m['python']}; fwtrack "
        f"{data['fwtrack']['commit']} (native module built {data['fwtrack']['native_module_built']}"
        f"), PostgreSQL {data.get('postgres', '?')} (throw-away cluster, fsync off), SeaweedFS "
        f"`weed mini`, all on 127.0.0.1. {p['clients']} clients, each uploading a run log of "
        f"rows of {p['metrics']} random scalars, a frame every {p['flush_every']} rows; "
        f"medians of {p['reps']} repetitions, "
        "configurations in rotating order; 1-minute load "
        + (f"{min(loads):.1f}-{max(loads):.1f}" if loads else "—")
        + " at the start of the measurements."
    ]
    for workload, res in data["results"].items():
        if not any(res.values()):
            continue
        sizes = p.get(f"{workload}_log_bytes") or [0]
        frames = p.get(f"{workload}_frames") or [0]
        rows_ = p["rows"] if workload == "frames" else p["batch_rows"]
        what = (
            "one frame per request"
            if workload == "frames"
            else f"whole frames up to {p['batch_bytes'] / 2**20:g} MiB per request"
        ) + (
            f"; each client's log {statistics.mean(sizes) / 1e6:.1f} MB in "
            f"{statistics.mean(frames):,.0f} frames ({rows_:,} rows)"
        )
        base = median_of(res.get("1", []), "seconds")
        rows = []
        for config, rs in res.items():
            if not rs:
                continue
            s = median_of(rs, "seconds")
            rows.append(
                [
                    CONFIGS[config][2],
                    num(s),
                    f"**{num(median_of(rs, 'mb_per_s'))}**",
                    f"**{num(median_of(rs, 'requests_per_s'))}**",
                    ratio(s, base, higher_is_better=False) if config != "1" else "",
                    f"{num(median_of(rs, 'latency_median_s') * 1e3)} / "  # type: ignore[operator]
                    f"{num(median_of(rs, 'latency_p90_s') * 1e3)}",  # type: ignore[operator]
                    num(median_of(rs, "servers_cpu_s")),
                    num(statistics.median(r["servers_cpu_s"] / r["seconds"] for r in rs)),
                    num(median_of(rs, "s3_cpu_s")),
                    num(median_of(rs, "pg_cpu_s")),
                    f"{median_of(rs, 'requests'):,.0f}",
                    f"{sum(r['retried'] for r in rs)}",
                ]
            )
        parts.append(f"#### {workload}: {what}")
        head = ["replicas", "median s", "MB/s", "requests/s", "vs 1 replica"]
        head += ["request ms (median / p90)", "servers CPU s", "servers' cores"]
        head += ["SeaweedFS CPU s"]
        head += ["PostgreSQL CPU s", "requests", "retried (all reps)"]
        parts.append(table(head, rows))
    reps = []
    for workload, res in data["results"].items():
        for config, rs in res.items():
            if rs:
                reps.append(f"{workload} {config}: " + " / ".join(num(r["seconds"]) for r in rs))
    if reps:
        parts.append("Repetitions (s, in run order): " + "; ".join(reps) + ".")
    return "\n\n".join(parts)


def main() -> int:
    if len(sys.argv) == 7 and sys.argv[1] == "--make-log":
        make_log(Path(sys.argv[2]), *(int(a) for a in sys.argv[3:]))  # type: ignore[arg-type]
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rows", type=int, help="rows per client's run, frames (15,000)")
    ap.add_argument("--batch-rows", type=int, help="rows per client's run, batches (120,000)")
    ap.add_argument("--metrics", type=int, default=20, help="scalars per row")
    ap.add_argument("--flush-every", type=int, default=100, help="rows per frame")
    ap.add_argument("--batch-bytes", type=int, default=4 << 20, help="request size (batches)")
    ap.add_argument("--reps", type=int, help="repetitions (3)")
    ap.add_argument("--configs", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS))
    ap.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    ap.add_argument("--timeout", type=float, default=900.0, help="per measurement, seconds")
    ap.add_argument("--quick", action="store_true", help="5,000 / 30,000 rows, 1 repetition")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "replica")
    ap.add_argument("--render", metavar="JSON", help="print the tables of a saved run")
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    args.rows = args.rows or (5_000 if args.quick else 15_000)
    args.batch_rows = args.batch_rows or (30_000 if args.quick else 120_000)
    args.reps = args.reps or (1 if args.quick else 3)
    try:
        results = run(args)
    except RuntimeError as exc:
        if "initdb was not found" not in str(exc):
            raise
        print(f"replica_bench: skipped: {exc}")  # the hint names `make pg`
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    save_results(results, args.out, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
