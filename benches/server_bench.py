"""The tracking server under load: ingest from concurrent clients (fwtrack vs an MLflow tracking
server) and the latency of the dashboard's queries.

    python benches/server_bench.py                      # the full run (under ~10 minutes)
    python benches/server_bench.py --quick              # a short pass while iterating
    python benches/server_bench.py --pg-url postgresql://user@host/db   # PostgreSQL too

Ingest: 1, 8 and 32 client processes at once, each logging `--steps` rows of `--metrics`
random scalars. fwtrack clients log online through the SDK (`fwtrack.init(mode="online")`)
into one `fwtrack server` (SQLite, and PostgreSQL when `--pg-url` is given or a throw-away
cluster can be started as the server tests do); MLflow clients send the same rows, one
`MlflowClient.log_batch` per row, to `mlflow server --backend-store-uri sqlite:///...`. The
clock runs from the moment the clients are released (all processes started, runs created) to
the moment the server has acknowledged everything (fwtrack: every run's stored log offset equals
the client's log size; MLflow: the last synchronous `log_batch` returned). Then every point is
read back from the server and counted; points lost must be 0. Repetitions interleave the
trackers in a rotating order; cells are medians. MLflow takes about a minute for 32 clients of
`--steps` 100, so the sustained load (`--sustained-steps` rows per client, 10,000 by default)
runs against the fwtrack servers only.

Queries, on the SQLite server: one metric of `--query-points` points downsampled to 1,000
(`GET .../history?samples=1000`), the runs list of a project with `--list-runs` runs
(`GET /runs/{entity}/{project}`, first page of 100), a run's full detail; request latency over
loopback on a kept-alive connection, median of `--query-reps` requests after warm-up, with
PASS/MISS against the targets.

Results go to `<out>/results.json` (raw) and `<out>/results.md` (the tables printed here).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import multiprocessing as mp
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from run import big, median_of, num, table  # noqa: E402 (the formatting helpers of benches/run.py)

_BASE62 = string.ascii_letters + string.digits
QUERY_TARGETS_MS = {"downsample": 50.0, "runs_list": 200.0, "run_detail": 20.0}


# ----------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def new_key() -> str:
    return "fwk_" + "".join(secrets.choice(_BASE62) for _ in range(40))


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    env.update(extra)
    return env


class ServerProc:
    """A server subprocess in its own process group, stopped with SIGTERM then SIGKILL."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=log.parent,
                start_new_session=True,
            )

    def wait_http(self, port: int, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start:\n{self.tail()}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status == 200:
                        return
                finally:
                    conn.close()
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {path} in {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftover workers


class Http:
    """A kept-alive JSON/bytes client for one server (Bearer auth)."""

    def __init__(self, port: int, key: str | None = None, timeout: float = 120) -> None:
        self.port = port
        self.key = key
        self.timeout = timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"
    ) -> tuple[int, bytes]:
        headers = {"Content-Type": ctype}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data)

    def close(self) -> None:
        self.conn.close()


class FwServer:
    """`python -m fwtrack server` with SQLite in `data` (or PostgreSQL at `db_url`). A cached
    data directory is reopened with the `admin_key` it was first started with; the server's
    output goes to `log_path` (default: next to `data`)."""

    def __init__(
        self,
        data: Path,
        db_url: str | None = None,
        workers: int | None = None,
        *,
        admin_key: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data = data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_key = admin_key or new_key()
        data.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "fwtrack", "server", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data", str(data)]
        if db_url:
            cmd += ["--db", db_url]
        if workers:
            cmd += ["--workers", str(workers)]
        env = child_env(FWTRACK_SERVER_ADMIN_KEY=self.admin_key)
        log_path = log_path or data.parent / f"{data.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.proc = ServerProc("fwtrack server", cmd, env, log_path)
        self.proc.wait_http(self.port, "/api/v1/health", timeout=120)
        self.admin = Http(self.port, self.admin_key)

    def new_user(self, name: str) -> str:
        answer = self.admin.json("POST", "/api/v1/users", {"name": name})
        key = answer.get("api_key") or (answer.get("key") or {}).get("api_key")
        if not isinstance(key, str):
            raise RuntimeError(f"POST /users answered {answer!r}")
        return key

    def stop(self) -> None:
        self.admin.close()
        self.proc.stop()


class MlflowServer:
    """`mlflow server` with a SQLite backend store (its default workers)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            str(Path(sys.executable).with_name("mlflow")), "server",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
            "--default-artifact-root", str(root / "artifacts"),
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        # Only the tracking API: no job-execution consumers (GenAI evaluation jobs) competing
        # for the two cores.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self.proc = ServerProc("mlflow server", cmd, env, root / "mlflow-server.log")
        self.proc.wait_http(self.port, "/health", timeout=180)

    def stop(self) -> None:
        self.proc.stop()


def start_postgres(pg_url: str | None, no_pg: bool) -> tuple[str | None, Any, str]:
    """(database URL or None, cluster to stop or None, how PostgreSQL was provided)."""
    if no_pg:
        return None, None, "skipped (--no-pg)"
    if pg_url:
        return pg_url, None, "given by --pg-url"
    spec = importlib.util.spec_from_file_location(
        "fwtrack_server_test_harness", REPO / "tests" / "server" / "harness.py"
    )
    if spec is None or spec.loader is None:
        return None, None, "skipped (tests/server/harness.py not found)"
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    try:
        cluster = harness.PostgresCluster()
    except RuntimeError as exc:
        return None, None, f"skipped ({str(exc).splitlines()[0]}; hint: `make pg`)"
    cluster.start()
    url = cluster.create_database("fwtrack_bench")
    return url, cluster, "a throw-away local cluster (fsync off, as in the server tests)"


# ----------------------------------------------------------------------------------------------
# Ingest clients (forked from this process, which has already imported the client library,
# so that 32 clients do not each pay MLflow's multi-second import)


def _rows(steps: int, metrics: int, seed: int) -> list[dict[str, float]]:
    import random

    rng = random.Random(seed)
    keys = [f"m{k:02d}" for k in range(metrics)]
    return [{k: rng.random() for k in keys} for _ in range(steps)]


def _fw_client(conf: dict[str, Any], idx: int, ready: Any, go: Any, results: Any) -> None:
    try:
        os.environ.update(conf["env"])
        import fwtrack

        rows = _rows(conf["steps"], conf["metrics"], idx)
        run = fwtrack.init(
            project=conf["project"], id=f"c{idx:03d}", dir=conf["dir"], mode="online"
        )
        ready.put(idx)
        go.wait()
        t0 = time.time()
        for row in rows:
            run.log(row)
        t_logged = time.time()
        run.finish()
        t_done = time.time()
        log = Path(conf["dir"]) / conf["project"] / run.id / "run.fwlog"
        results.put(
            {
                "idx": idx,
                "run": run.id,
                "first_log": t0,
                "logged": t_logged,
                "finished": t_done,
                "log_size": log.stat().st_size,
            }
        )
    except BaseException as exc:
        results.put({"idx": idx, "error": repr(exc)})
        ready.put(idx)


def _mlflow_client(conf: dict[str, Any], idx: int, ready: Any, go: Any, results: Any) -> None:
    try:
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        rows = _rows(conf["steps"], conf["metrics"], idx)
        client = MlflowClient(tracking_uri=conf["url"])
        run = client.create_run(conf["experiment_id"], run_name=f"c{idx:03d}")
        run_id = run.info.run_id
        ready.put(idx)
        go.wait()
        t0 = time.time()
        for step, row in enumerate(rows):
            ts = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(k, v, ts, step) for k, v in row.items()])
        t_logged = time.time()
        client.set_terminated(run_id)
        t_done = time.time()
        results.put(
            {
                "idx": idx,
                "run": run_id,
                "first_log": t0,
                "logged": t_logged,
                "finished": t_done,
            }
        )
    except BaseException as exc:
        results.put({"idx": idx, "error": repr(exc)})
        ready.put(idx)


def run_clients(
    target: Callable[..., None], confs: list[dict[str, Any]], timeout: float
) -> tuple[float, list[dict[str, Any]], Callable[[], list[dict[str, Any]]]]:
    """Fork one process per conf, wait until all are ready, release them; returns (release
    time, processes' results as they arrive via the returned poll function)."""
    ctx = mp.get_context("fork")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=target, args=(conf, i, ready, go, results), daemon=True)
        for i, conf in enumerate(confs)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=timeout)
    t_go = time.time()
    go.set()
    got: list[dict[str, Any]] = []

    def poll() -> list[dict[str, Any]]:
        while True:
            try:
                got.append(results.get_nowait())
            except Exception:  # queue.Empty
                break
        if len(got) == len(procs):
            for p in procs:
                p.join(timeout=30)
        return got

    return t_go, got, poll


def ingest_fwtrack(
    server: FwServer, key: str, entity: str, clients: int, conf: dict[str, Any], tag: str
) -> dict[str, Any]:
    project = f"ingest-{tag}"
    workdir = Path(tempfile.mkdtemp(prefix=f"fw-{tag}-", dir=conf["workroot"]))
    env = {
        "FWTRACK_BASE_URL": server.url,
        "FWTRACK_API_KEY": key,
        "FWTRACK_ENTITY": entity,
    }
    confs = [
        {
            "env": env,
            "project": project,
            "dir": str(workdir),
            "steps": conf["steps"],
            "metrics": conf["metrics"],
        }
        for _ in range(clients)
    ]
    t_go, got, poll = run_clients(_fw_client, confs, timeout=conf["timeout"])
    http_ = Http(server.port, key)
    acked: dict[str, float] = {}
    deadline = time.monotonic() + conf["timeout"]
    while len(acked) < clients:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fwtrack ingest ({clients} clients): not all acknowledged")
        for res in poll():
            if "error" in res:
                raise RuntimeError(f"fwtrack client {res['idx']}: {res['error']}")
            if res["run"] in acked:
                continue
            status, body = http_.request(
                "GET", f"/api/v1/runs/{entity}/{project}/{res['run']}/log/offset"
            )
            if status == 200 and json.loads(body)["offset"] >= res["log_size"]:
                acked[res["run"]] = time.time()
        time.sleep(0.005)
    t_end = max(acked.values())
    first = min(r["first_log"] for r in got)
    # Read back every point from the server's history (full resolution) and count.
    counted = 0
    for res in got:
        series = http_.json(
            "GET", f"/api/v1/runs/{entity}/{project}/{res['run']}/history?samples=0"
        )["series"]
        counted += sum(
            sum(1 for v in s["value"] if v is not None)
            for k, s in series.items()
            if not k.startswith("_")
        )
    http_.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return _ingest_result(clients, conf, t_go, first, t_end, got, counted)


def ingest_mlflow(
    server: MlflowServer, clients: int, conf: dict[str, Any], tag: str
) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"ingest-{tag}")
    confs = [
        {
            "url": server.url,
            "experiment_id": exp_id,
            "steps": conf["steps"],
            "metrics": conf["metrics"],
        }
        for _ in range(clients)
    ]
    t_go, got, poll = run_clients(_mlflow_client, confs, timeout=conf["timeout"])
    deadline = time.monotonic() + conf["timeout"]
    while len(poll()) < clients:
        if time.monotonic() > deadline:
            raise RuntimeError(f"MLflow ingest ({clients} clients): timed out")
        time.sleep(0.005)
    for res in got:
        if "error" in res:
            raise RuntimeError(f"MLflow client {res['idx']}: {res['error']}")
    t_end = max(r["logged"] for r in got)
    first = min(r["first_log"] for r in got)
    counted = 0
    keys = [f"m{k:02d}" for k in range(conf["metrics"])]
    for res in got:
        for k in keys:
            counted += len(client.get_metric_history(res["run"], k))
    return _ingest_result(clients, conf, t_go, first, t_end, got, counted)


def _ingest_result(
    clients: int,
    conf: dict[str, Any],
    t_go: float,
    first: float,
    t_end: float,
    got: list[dict[str, Any]],
    counted: int,
) -> dict[str, Any]:
    points = clients * conf["steps"] * conf["metrics"]
    seconds = t_end - t_go
    return {
        "clients": clients,
        "points": points,
        "seconds": seconds,
        "points_per_s": points / seconds if seconds > 0 else None,
        "first_log_after_release_s": first - t_go,
        "clients_logged_s": max(r["logged"] for r in got) - t_go,
        "clients_finished_s": max(r["finished"] for r in got) - t_go,
        "counted": counted,
        "lost": points - counted,
        "load1": os.getloadavg()[0],
    }


# ----------------------------------------------------------------------------------------------
# Queries


def upload_log(http_: Http, entity: str, project: str, run_dir: Path, chunk: int) -> None:
    """POST a finished run log in whole-frame pieces of at most `chunk` bytes (a finished log
    ends on a frame boundary; a piece ends on one when the server accepts it)."""
    data = (run_dir / "run.fwlog").read_bytes()
    path = f"/api/v1/runs/{entity}/{project}/{run_dir.name}/log"
    status, body = http_.request("POST", f"{path}?offset=0", data, "application/octet-stream")
    if status != 200 or json.loads(body)["offset"] != len(data):
        raise RuntimeError(f"upload of {run_dir}: {status} {body[:300]!r}")


def timed(http_: Http, path: str, reps: int, warmup: int = 3) -> dict[str, Any]:
    for _ in range(warmup):
        status, body = http_.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    times = []
    size = 0
    for _ in range(reps):
        t0 = time.perf_counter()
        status, body = http_.request("GET", path)
        times.append(time.perf_counter() - t0)
        size = len(body)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    times.sort()
    extra: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        doc = json.loads(body)
        if isinstance(doc, dict) and "runs" in doc:
            extra = {"rows": len(doc["runs"]), "total": doc.get("total")}
    return {
        **extra,
        "path": path,
        "reps": reps,
        "median_ms": statistics.median(times) * 1e3,
        "p90_ms": times[min(len(times) - 1, int(len(times) * 0.9))] * 1e3,
        "min_ms": times[0] * 1e3,
        "bytes": size,
        "load1": os.getloadavg()[0],
    }


def _tiny_runs(root: str, project: str, count: int, start: int) -> None:
    """Child process: `count` small runs written by the SDK in a tight loop."""
    import fwtrack

    for i in range(start, start + count):
        run = fwtrack.init(
            project=project,
            dir=root,
            id=f"r{i:05d}",
            config={"lr": 10 ** -(i % 5), "batch": 32 << (i % 3), "arch": f"net{i % 7}"},
            tags=["sweep", f"g{i % 10}"],
        )
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1 + i % 3), "acc": step / 5})
        run.finish()


def query_bench(server: FwServer, conf: dict[str, Any]) -> dict[str, Any]:
    key = server.new_user("query")
    http_ = Http(server.port, key)
    root = Path(tempfile.mkdtemp(prefix="queries-", dir=conf["workroot"]))
    out: dict[str, Any] = {}

    # One metric of N points, logged by the SDK offline, then uploaded.
    n = conf["query_points"]
    t0 = time.perf_counter()
    code = (
        "import sys, math, fwtrack\n"
        "run = fwtrack.init(project='big', id='big', dir=sys.argv[1], "
        "config={f'hp{i}': i for i in range(50)})\n"
        "for i in range(int(sys.argv[2])):\n"
        "    run.log({'train/loss': math.sin(i / 1000) + i * 1e-6})\n"
        "run.finish()\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(root), str(n)], check=True, env=child_env(), timeout=600
    )
    out["big_log_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    upload_log(http_, "query", "big", root / "big" / "big", conf["max_upload"])
    out["big_upload_s"] = time.perf_counter() - t0
    out["big_log_bytes"] = (root / "big" / "big" / "run.fwlog").stat().st_size
    out["downsample"] = timed(
        http_,
        "/api/v1/runs/query/big/big/history?keys=train/loss&samples=1000",
        conf["query_reps"],
    )
    body = http_.json("GET", "/api/v1/runs/query/big/big/history?keys=train/loss&samples=1000")
    out["downsample"]["points_returned"] = len(body["series"]["train/loss"]["step"])
    out["run_detail"] = timed(http_, "/api/v1/runs/query/big/big", conf["query_reps"])

    # A project with many small runs: written by the SDK in a tight loop (two processes),
    # uploaded over kept-alive connections.
    count = conf["list_runs"]
    t0 = time.perf_counter()
    ctx = mp.get_context("fork")
    half = count // 2
    procs = [
        ctx.Process(target=_tiny_runs, args=(str(root), "many", half, 0)),
        ctx.Process(target=_tiny_runs, args=(str(root), "many", count - half, half)),
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError("writing the small runs failed")
    out["many_log_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_dirs = sorted((root / "many").iterdir())
    _upload_many(server.port, key, "query", "many", run_dirs, conf)
    out["many_upload_s"] = time.perf_counter() - t0
    listing = http_.json("GET", "/api/v1/runs/query/many?limit=1")
    out["many_total"] = listing["total"]
    out["runs_list"] = timed(http_, "/api/v1/runs/query/many", conf["query_reps"])
    out["runs_list_1000"] = timed(http_, "/api/v1/runs/query/many?limit=1000", 5, warmup=1)
    flt = urllib.parse.quote("config.lr >= 0.01 and tags ~ g2")
    out["runs_list_filtered"] = timed(
        http_, f"/api/v1/runs/query/many?filter={flt}", conf["query_reps"]
    )
    http_.close()
    shutil.rmtree(root, ignore_errors=True)
    return out


def _upload_many(
    port: int, key: str, entity: str, project: str, run_dirs: list[Path], conf: dict[str, Any]
) -> None:
    import concurrent.futures

    def work(chunk: list[Path]) -> None:
        h = Http(port, key)
        for run_dir in chunk:
            upload_log(h, entity, project, run_dir, conf["max_upload"])
        h.close()

    threads = conf["upload_threads"]
    chunks = [run_dirs[i::threads] for i in range(threads)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(work, c) for c in chunks]:
            f.result()


# ----------------------------------------------------------------------------------------------
# Reporting


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("fwtrack", "mlflow", "fastapi", "uvicorn", "sqlalchemy", "psycopg"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
        "versions": versions,
    }


def render(results: dict[str, Any]) -> str:
    parts = []
    ing = results.get("ingest") or []
    conf = results["config"]
    titles = {
        "same": f"### Ingest, the same points into each server: {conf['steps']} rows x "
        f"{conf['metrics']} scalars per client",
        "sustained": f"### Ingest, sustained (fwtrack only): {conf['sustained_steps']:,} rows x "
        f"{conf['metrics']} scalars per client",
    }
    order = ("fwtrack-sqlite", "fwtrack-postgresql", "mlflow-sqlite")
    for size, title in titles.items():
        sel_size = [r for r in ing if r.get("size") == size]
        if not sel_size:
            continue
        parts.append(f"{title}, medians of {conf['reps']}")
        rows = []
        for clients in conf["clients"]:
            pps: dict[str, float | None] = {}
            for b in order:
                sel = [r for r in sel_size if r["backend"] == b and r["clients"] == clients]
                if not sel:
                    continue
                ok = [r for r in sel if "error" not in r]
                pps[b] = median_of(ok, "points_per_s")
                lost = max((r["lost"] for r in ok), default=None)
                failed = len(sel) - len(ok)
                mlflow = median_of(
                    [
                        r
                        for r in sel_size
                        if r["backend"] == "mlflow-sqlite"
                        and r["clients"] == clients
                        and "error" not in r
                    ],
                    "points_per_s",
                )
                ref = mlflow if b != "mlflow-sqlite" else None
                rows.append(
                    [
                        str(clients),
                        f"**{b}**",
                        f"{ok[0]['points']:,}" if ok else "—",
                        num(median_of(ok, "seconds")),
                        big(pps[b]),
                        ("—" if lost is None else str(lost))
                        + (f" ({failed} of {len(sel)} failed)" if failed else ""),
                        f"{num(pps[b] / ref)}x" if pps[b] and ref else "",
                    ]
                )
        header = ["clients", "server", "points", "s (release to acked)", "points/s", "lost"]
        if any(r["backend"] == "mlflow-sqlite" for r in sel_size):
            header.append("points/s vs MLflow")
        else:
            rows = [row[: len(header)] for row in rows]
        parts.append(table(header, rows))
    q = results.get("queries")
    if q:
        parts.append("### Queries (fwtrack server, SQLite; latency over loopback)")
        rows = []
        labels = {
            "downsample": f"one metric of {big(results['config']['query_points'])} points "
            "downsampled to 1,000",
            "runs_list": f"runs list, project of {q.get('many_total', 0):,} runs (first page: 100)",
            "run_detail": "a run's full detail",
            "runs_list_1000": "runs list, a page of 1,000 (not a target)",
            "runs_list_filtered": "runs list, filter `config.lr >= 0.01 and tags ~ g2` "
            "(not a target)",
        }
        for key, label in labels.items():
            m = q.get(key)
            if not m:
                continue
            target = QUERY_TARGETS_MS.get(key)
            verdict = ""
            if target is not None:
                verdict = "PASS" if m["median_ms"] <= target else "**MISS**"
            if "rows" in m:
                label += f": {m['rows']:,} rows of {m['total']:,}"
            elif "points_returned" in m:
                label += f": {m['points_returned']:,} points returned"
            rows.append(
                [
                    label,
                    "—" if target is None else f"<= {num(target)} ms",
                    f"{num(m['median_ms'])} ms",
                    f"{num(m['p90_ms'])} ms",
                    f"{m['bytes']:,}",
                    verdict,
                ]
            )
        parts.append(table(["query", "target", "median", "p90", "bytes", ""], rows))
        parts.append(
            f"Setup: the {big(results['config']['query_points'])}-point run logged in "
            f"{num(q['big_log_s'])} s ({q['big_log_bytes'] / 2**20:.1f} MiB), uploaded and "
            f"indexed in {num(q['big_upload_s'])} s; {q['many_total']:,} small runs written "
            f"in {num(q['many_log_s'])} s and uploaded in {num(q['many_upload_s'])} s."
        )
    return "\n\n".join(p for p in parts if p) + "\n"


# ----------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "server")
    ap.add_argument("--quick", action="store_true", help="a short pass (fewer points, runs, reps)")
    ap.add_argument("--reps", type=int, default=None, help="ingest repetitions (default 3)")
    ap.add_argument("--clients", default="1,8,32", help="concurrent clients, comma-separated")
    ap.add_argument(
        "--steps", type=int, default=None, help="rows per client, every backend (default 100)"
    )
    ap.add_argument(
        "--sustained-steps",
        type=int,
        default=None,
        help="rows per client for the fwtrack-only sustained load (default 10,000; 0: none)",
    )
    ap.add_argument("--metrics", type=int, default=10, help="scalars per row")
    ap.add_argument("--pg-url", default=None, help="also ingest into PostgreSQL at this URL")
    ap.add_argument("--no-pg", action="store_true", help="no PostgreSQL run")
    ap.add_argument("--no-mlflow", action="store_true", help="fwtrack only")
    ap.add_argument("--workers", type=int, default=None, help="fwtrack server workers")
    ap.add_argument("--query-points", type=int, default=None, help="default 1,000,000")
    ap.add_argument("--list-runs", type=int, default=None, help="default 10,000")
    ap.add_argument("--query-reps", type=int, default=30)
    ap.add_argument("--only", choices=("ingest", "queries"), default=None)
    ap.add_argument("--timeout", type=float, default=300.0, help="per ingest measurement")
    ap.add_argument("--render", type=Path, default=None, help="print the tables of a results.json")
    args = ap.parse_args()
    if args.render is not None:
        print(render(json.loads(args.render.read_text())))
        return 0

    conf: dict[str, Any] = {
        "reps": args.reps or (1 if args.quick else 3),
        "clients": [int(c) for c in args.clients.split(",") if c.strip()],
        "steps": args.steps or (30 if args.quick else 100),
        "sustained_steps": (
            args.sustained_steps
            if args.sustained_steps is not None
            else (1_000 if args.quick else 10_000)
        ),
        "metrics": args.metrics,
        "query_points": args.query_points or (100_000 if args.quick else 1_000_000),
        "list_runs": args.list_runs or (1_000 if args.quick else 10_000),
        "query_reps": args.query_reps,
        "timeout": args.timeout,
        "max_upload": 32 << 20,
        "upload_threads": 4,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="fwtrack-server-bench-"))
    conf["workroot"] = str(workroot)
    started = time.time()
    results: dict[str, Any] = {
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {k: v for k, v in conf.items() if k != "workroot"},
        "load_at_start": os.getloadavg(),
        "ingest": [],
    }
    stops: list[Callable[[], None]] = []
    try:
        if args.only in (None, "ingest"):
            results["ingest"] = ingest(args, conf, workroot, stops, results)
        if args.only in (None, "queries"):
            print("queries: preparing (this takes a while: many runs are written and uploaded)")
            server = FwServer(workroot / "fw-queries", workers=args.workers)
            stops.append(server.stop)
            results["queries"] = query_bench(server, conf)
    finally:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        shutil.rmtree(workroot, ignore_errors=True)
    results["load_at_end"] = os.getloadavg()
    results["wall_s"] = time.time() - started
    text = render(results)
    text += (
        f"\nLoad average (1/5/15 min): {results['load_at_start'][0]:.2f} at the start, "
        f"{results['load_at_end'][0]:.2f} at the end; wall time {results['wall_s'] / 60:.1f} min.\n"
    )
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    (args.out / "results.md").write_text(text)
    print()
    print(text)
    return 0


def ingest(
    args: argparse.Namespace,
    conf: dict[str, Any],
    workroot: Path,
    stops: list[Callable[[], None]],
    results: dict[str, Any],
) -> list[dict[str, Any]]:
    # Import the client libraries once, before forking the clients.
    import fwtrack  # noqa: F401

    backends: dict[str, Callable[[int, str, int], dict[str, Any]]] = {}
    fw = FwServer(workroot / "fw-sqlite", workers=args.workers)
    stops.append(fw.stop)
    fw_key = fw.new_user("bench")
    backends["fwtrack-sqlite"] = lambda c, tag, steps: ingest_fwtrack(
        fw, fw_key, "bench", c, {**conf, "steps": steps}, tag
    )

    pg_url, cluster, how = start_postgres(args.pg_url, args.no_pg)
    results["postgresql"] = how
    print(f"PostgreSQL: {how}")
    if cluster is not None:
        stops.append(cluster.stop)
    if pg_url:
        pg = FwServer(workroot / "fw-pg", db_url=pg_url, workers=args.workers)
        stops.append(pg.stop)
        pg_user = f"bench{secrets.token_hex(3)}"  # a --pg-url database may be reused
        pg_key = pg.new_user(pg_user)
        backends["fwtrack-postgresql"] = lambda c, tag, steps: ingest_fwtrack(
            pg, pg_key, pg_user, c, {**conf, "steps": steps}, tag
        )
    if not args.no_mlflow:
        import mlflow  # noqa: F401 (imported before the clients fork)

        ml = MlflowServer(workroot / "mlflow")
        stops.append(ml.stop)
        backends["mlflow-sqlite"] = lambda c, tag, steps: ingest_mlflow(
            ml, c, {**conf, "steps": steps}, tag
        )

    # Two sizes: the same points for every backend (MLflow included), then a sustained load
    # for the fwtrack backends only (MLflow would take hours for it).
    sizes = [("same", conf["steps"], list(backends))]
    fw_names = [n for n in backends if n.startswith("fwtrack")]
    if conf["sustained_steps"]:
        sizes.append(("sustained", conf["sustained_steps"], fw_names))
    out: list[dict[str, Any]] = []
    for rep in range(conf["reps"]):
        for size, steps, names in sizes:
            for ci, clients in enumerate(conf["clients"]):
                shift = (rep + ci) % len(names)
                for name in names[shift:] + names[:shift]:
                    tag = f"{size}-{clients}-{rep}-{secrets.token_hex(2)}"
                    try:
                        res = backends[name](clients, tag, steps)
                    except Exception as exc:
                        res = {"clients": clients, "error": repr(exc)}
                    res.update(backend=name, rep=rep, size=size, steps=steps)
                    out.append(res)
                    label = f"  {size:9s} {name:18s} {clients:3d} clients:"
                    if "error" in res:
                        print(f"{label} ERROR {res['error']}")
                    else:
                        print(
                            f"{label} {big(res['points_per_s'])} points/s ({res['points']:,} "
                            f"points in {res['seconds']:.2f} s, lost {res['lost']}, "
                            f"load {res['load1']:.1f})"
                        )
    return out


if __name__ == "__main__":
    sys.exit(main())
