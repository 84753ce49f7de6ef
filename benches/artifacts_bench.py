"""Artifacts: fwtrack against `wandb.Artifact` (offline), on the data sets of issue 14.

    python benches/artifacts_bench.py --out benches/out/artifacts        # everything, 3 reps
    python benches/artifacts_bench.py --quick                            # smaller, 1 repetition
    python benches/artifacts_bench.py --sets small,big --no-online       # a part

Data sets (random bytes, written once, modification times set an hour back so that a stat
cache may trust them):

- **small**: 10,000 files of 40 kB in 10 folders (400 MB);
- **big**: one file of 1 GiB;
- **many**: 100,000 files of 1 kB in 100 folders, logged, then logged again after one file
  changed (the re-log W&B users wait minutes for).

For each set and repetition these run, each measurement in a fresh interpreter, in an order
rotated between repetitions:

- **copy** (the no-op baseline): `shutil.copytree` of the data, what any tracker that keeps a
  copy of the bytes does at least (no fsync);
- **fwtrack offline**: `Artifact.add_dir` / `add_file`, `run.log_artifact`, `wait()` (the
  version committed in the local registry, its blobs made durable by one `syncfs`) and
  `finish()`; then, in another process, `use_artifact(...)`, `download()` (every file written
  and verified while it is written) and `verify()`;
- **fwtrack online**: the same against a fresh `fwtrack server` (SQLite, directory store) on
  127.0.0.1: `wait()` returns once the server committed the version, so the upload is in;
  the download comes from the server through the download cache;
- **wandb offline**: `wandb.Artifact.add_dir` / `add_file`, `run.log_artifact`, `finish()`.
  Offline, wandb keeps the files in its staging area for a later `wandb sync`; it cannot
  download or verify without a server (`use_artifact` needs the API), so those cells are
  empty.

Bytes left behind are counted after each logging process ends: fwtrack's registry
(`<root>/.artifacts`: the versions' bytes, kept on purpose) and its cache dir (stat cache,
staging of online runs, download cache); wandb's cache, data (staging) and run directories.
Before each timed measurement the page cache is written back (`os.sync()`). Cells are medians
(`median_of`). Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from run import median_of, num, table  # noqa: E402
from server_bench import machine  # noqa: E402
from upload_bench import Server, tree_env  # noqa: E402

PROJECT = "bench-artifacts"
RESULT = "RESULT "
SETTINGS = {"capture_env": False, "save_code": False, "system_interval": 0, "console": False}
HOUR_AGO = time.time() - 3600
SETS: dict[str, dict[str, Any]] = {
    "small": {"files": 10_000, "size": 40_000, "folders": 10, "label": "10,000 x 40 kB"},
    "big": {"files": 1, "size": 1 << 30, "folders": 0, "label": "1 x 1 GiB"},
    "many": {"files": 100_000, "size": 1_000, "folders": 100, "label": "100,000 x 1 kB"},
}
QUICK = {"small": (2_000, 40_000), "big": (1, 256 << 20), "many": (20_000, 1_000)}
TIMEOUT_S = 3600.0


# ----------------------------------------------------------------------------------------------
# Data


def make_set(where: Path, files: int, size: int, folders: int) -> Path:
    """`files` random files of `size` bytes under `where` (in `folders` sub-folders; 0: one
    file `where/data.bin`), modification times an hour back. Returns the path to log."""
    where.mkdir(parents=True, exist_ok=True)
    if folders == 0:
        path = where / "data.bin"
        with path.open("wb") as f:
            left = size
            while left:
                n = min(left, 64 << 20)
                f.write(os.urandom(n))
                left -= n
        os.utime(path, (HOUR_AGO, HOUR_AGO))
        return path
    data = where / "data"
    per = -(-files // folders)
    blob = os.urandom(size + files)  # slices of one random buffer: distinct files, fast to make
    for i in range(files):
        d = data / f"{i // per:03d}"
        if i % per == 0:
            d.mkdir(parents=True, exist_ok=True)
        p = d / f"f{i:06d}.bin"
        p.write_bytes(blob[i : i + size])
        os.utime(p, (HOUR_AGO, HOUR_AGO))
    return data


def one_file_of(src: Path) -> Path:
    """The file the re-log changes: the middle one."""
    files = sorted(p for p in src.rglob("*.bin"))
    return files[len(files) // 2]


def du(path: Path) -> dict[str, int]:
    """Files and bytes (apparent sizes) under `path`."""
    files = size = 0
    if path.is_dir():
        for dirpath, _dirs, names in os.walk(path):
            for n in names:
                with contextlib.suppress(OSError):
                    size += os.lstat(os.path.join(dirpath, n)).st_size
                    files += 1
    return {"files": files, "bytes": size}


# ----------------------------------------------------------------------------------------------
# Children: one measurement each, in a fresh interpreter; they print `RESULT <json>`


def _fwtrack_env(spec: dict[str, Any]) -> None:
    os.environ["FWTRACK_DIR"] = spec["root"]
    os.environ["FWTRACK_CACHE_DIR"] = spec["cache"]
    if spec.get("url"):
        os.environ["FWTRACK_BASE_URL"] = spec["url"]
        os.environ["FWTRACK_API_KEY"] = spec["key"]
        os.environ["FWTRACK_UPLOAD_TIMEOUT"] = "3600"


def _fwtrack_log_once(fwtrack: Any, run: Any, src: Path) -> dict[str, float]:
    art = fwtrack.Artifact(src.stem if src.is_file() else "data-" + src.parent.name, "dataset")
    t0 = time.perf_counter()
    if src.is_file():
        art.add_file(str(src))
    else:
        art.add_dir(str(src))
    t1 = time.perf_counter()
    logged = run.log_artifact(art)
    logged.wait()
    t2 = time.perf_counter()
    return {"add_s": t1 - t0, "log_wait_s": t2 - t1, "version": logged.version}


def child_fwtrack_log(spec: dict[str, Any]) -> dict[str, Any]:
    _fwtrack_env(spec)
    import fwtrack

    src = Path(spec["src"])
    mode: Literal["online", "offline"] = "online" if spec.get("url") else "offline"
    run = fwtrack.init(project=PROJECT, dir=spec["root"], mode=mode, settings=SETTINGS)
    out: dict[str, Any] = {}
    blobs = Path(spec["root"]) / ".artifacts" / "blobs"
    if spec.get("relog"):
        first = _fwtrack_log_once(fwtrack, run, src)
        out.update({f"first_{k}": v for k, v in first.items()})
        out["first_s"] = first["add_s"] + first["log_wait_s"]
        before = du(blobs)["files"]
        changed = one_file_of(src)
        changed.write_bytes(os.urandom(changed.stat().st_size))
        os.sync()
    again = _fwtrack_log_once(fwtrack, run, src)
    out.update(again)
    t2 = time.perf_counter()
    run.finish()
    out["finish_s"] = time.perf_counter() - t2
    out["total_s"] = again["add_s"] + again["log_wait_s"] + out["finish_s"]
    if spec.get("relog"):
        out["relog_new_blobs"] = du(blobs)["files"] - before
    out["registry"] = du(Path(spec["root"]) / ".artifacts")
    out["cache"] = du(Path(spec["cache"]))
    return out


def child_fwtrack_download(spec: dict[str, Any]) -> dict[str, Any]:
    _fwtrack_env(spec)
    import fwtrack

    mode: Literal["online", "offline"] = "online" if spec.get("url") else "offline"
    run = fwtrack.init(project=PROJECT, dir=spec["root"], mode=mode, settings=SETTINGS)
    t0 = time.perf_counter()
    art = run.use_artifact(f"{spec['name']}:latest")
    t1 = time.perf_counter()
    path = art.download(spec["dest"])
    t2 = time.perf_counter()
    report = art.verify(path)
    t3 = time.perf_counter()
    if not report.ok:
        raise RuntimeError(f"verify() after download: {report.summary()}")
    run.finish()
    got = du(Path(spec["dest"]))
    return {
        "resolve_s": t1 - t0,
        "download_s": t2 - t1,
        "verify_s": t3 - t2,
        "download_verify_s": t3 - t1,
        "files": got["files"],
        "bytes": got["bytes"],
        "cache": du(Path(spec["cache"])),
    }


def child_wandb_log(spec: dict[str, Any]) -> dict[str, Any]:
    home = Path(spec["home"])
    dirs = {
        "WANDB_DIR": home / "runs",
        "WANDB_CACHE_DIR": home / "cache",
        "WANDB_CONFIG_DIR": home / "config",
        "WANDB_DATA_DIR": home / "data",
    }
    for var, p in dirs.items():
        p.mkdir(parents=True, exist_ok=True)
        os.environ[var] = str(p)
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_CONSOLE="off")
    import wandb

    src = Path(spec["src"])
    run = wandb.init(project=PROJECT, mode="offline", dir=str(dirs["WANDB_DIR"]))

    def log_once() -> dict[str, float]:
        art = wandb.Artifact(src.stem if src.is_file() else "data-" + src.parent.name, "dataset")
        t0 = time.perf_counter()
        if src.is_file():
            art.add_file(str(src))
        else:
            art.add_dir(str(src))
        t1 = time.perf_counter()
        run.log_artifact(art)
        t2 = time.perf_counter()
        return {"add_s": t1 - t0, "log_wait_s": t2 - t1}

    out: dict[str, Any] = {}
    if spec.get("relog"):
        first = log_once()
        out.update({f"first_{k}": v for k, v in first.items()})
        out["first_s"] = first["add_s"] + first["log_wait_s"]
        changed = one_file_of(src)
        changed.write_bytes(os.urandom(changed.stat().st_size))
        os.sync()
    again = log_once()
    out.update(again)
    t2 = time.perf_counter()
    run.finish()
    out["finish_s"] = time.perf_counter() - t2
    out["total_s"] = again["add_s"] + again["log_wait_s"] + out["finish_s"]
    out["cache"] = du(dirs["WANDB_CACHE_DIR"])
    out["staging"] = du(dirs["WANDB_DATA_DIR"])
    out["run_dir"] = du(dirs["WANDB_DIR"])
    out["wandb"] = wandb.__version__
    return out


def child_copy(spec: dict[str, Any]) -> dict[str, Any]:
    src, dest = Path(spec["src"]), Path(spec["dest"])
    t0 = time.perf_counter()
    if src.is_file():
        dest.mkdir(parents=True)
        shutil.copy2(src, dest / src.name)
    else:
        shutil.copytree(src, dest)
    return {"total_s": time.perf_counter() - t0}


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "fwtrack-log": child_fwtrack_log,
    "fwtrack-download": child_fwtrack_download,
    "wandb-log": child_wandb_log,
    "copy": child_copy,
}


def child(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter (after writing back the page cache)."""
    os.sync()
    cmd = [sys.executable, __file__, "--child", kind, json.dumps(spec)]
    proc = subprocess.run(
        cmd, env=tree_env(REPO), capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-3000:]
        raise RuntimeError(f"{kind} failed (exit {proc.returncode}):\n{tail}")
    res: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    return res


# ----------------------------------------------------------------------------------------------
# Jobs: what one repetition of one data set runs


def job_fwtrack(
    work: Path, name: str, src: Path, online: bool, relog: bool, download: bool = True
) -> dict[str, Any]:
    tag = "online" if online else "offline"
    scratch = Path(tempfile.mkdtemp(prefix=f"fw-{tag}-{name}-", dir=work))
    spec: dict[str, Any] = {
        "root": str(scratch / "root"),
        "cache": str(scratch / "cache"),
        "src": str(src),
        "relog": relog,
    }
    server = Server(REPO, scratch, "server") if online else None
    try:
        if server is not None:
            spec.update(url=server.url, key=server.key)
        out = child("fwtrack-log", spec)
        if not download:
            return out
        artifact = src.stem if src.is_file() else "data-" + src.parent.name
        # A fresh cache: the download starts cold (online, from the server).
        spec.update(name=artifact, dest=str(scratch / "download"), cache=str(scratch / "cache2"))
        out["download"] = child("fwtrack-download", spec)
        return out
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def job_wandb(work: Path, name: str, src: Path, relog: bool) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"wandb-{name}-", dir=work))
    try:
        return child("wandb-log", {"home": str(scratch), "src": str(src), "relog": relog})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def job_copy(work: Path, name: str, src: Path) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix=f"copy-{name}-", dir=work))
    try:
        return child("copy", {"src": str(src), "dest": str(scratch / "copy")})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Report


def mb(n: float | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.0f} MB"


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    out = [
        f"{res['stamp']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}, wandb "
        f"{res.get('wandb_version') or 'not installed'}; {res['reps']} repetition(s), medians\n"
    ]
    for name, r in res["sets"].items():
        label = r["label"]
        rows: list[list[str]] = []
        copy = median_of(r["copy"], "total_s")
        relog = name == "many"
        key = "total_s"

        def ratio(x: float | None, base: float | None) -> str:
            return f"{x / base:.1f}x" if x and base else "—"

        fw_off = r.get("fwtrack-offline") or []
        fw_on = r.get("fwtrack-online") or []
        wb = r.get("wandb") or []
        t_wb = median_of(wb, key)
        for tracker, rows_ in (
            ("copy (no-op baseline: copytree, no fsync)", r["copy"]),
            ("fwtrack offline", fw_off),
            ("fwtrack online (uploaded, committed)", fw_on),
            ("wandb offline", wb),
        ):
            if not rows_:
                continue
            t = median_of(rows_, key)
            add, log = median_of(rows_, "add_s"), median_of(rows_, "log_wait_s")
            cells = [
                tracker,
                num(median_of(rows_, "first_s")) if relog else num(add),
                # Re-log: the add and log_artifact of the second log together.
                num((add or 0.0) + (log or 0.0)) if relog and log is not None else num(log),
                num(median_of(rows_, "finish_s")),
                num(t),
                ratio(t, copy),
                ratio(t_wb, t) if tracker.startswith("fwtrack") else "",
            ]
            rows.append(cells)
        first = "first log, s" if relog else "add_*, s"
        what = "re-log after one file changed: add + " if relog else ""
        head = [
            "",
            first,
            f"{what}log_artifact (+ wait), s",
            "finish(), s",
            "re-log total, s" if relog else "total, s",
            "vs copy",
            "wandb / fwtrack",
        ]
        out.append(f"### {label}: logging\n")
        out.append(table(head, rows) + "\n")
        if relog:
            new = median_of(fw_off, "relog_new_blobs")
            if new is not None:
                out.append(
                    f"fwtrack offline stored {new:.0f} new blob(s) on the re-log "
                    "(the changed file and the new manifest).\n"
                )
        drows = []
        for tracker, rows_ in (("fwtrack offline", fw_off), ("fwtrack online", fw_on)):
            d = [x["download"] for x in rows_ if "download" in x]
            if d:
                drows.append(
                    [
                        tracker,
                        num(median_of(d, "download_s")),
                        num(median_of(d, "verify_s")),
                        num(median_of(d, "download_verify_s")),
                        ratio(median_of(d, "download_verify_s"), copy),
                    ]
                )
        if wb:
            drows.append(["wandb offline", "—", "—", "—", "needs a server (use_artifact)"])
        if drows:
            out.append(f"### {label}: download + verify\n")
            out.append(
                table(["", "download(), s", "verify(), s", "together, s", "vs copy"], drows) + "\n"
            )
        brows = []
        for tracker, rows_, parts in (
            ("fwtrack offline", fw_off, ("registry", "cache")),
            ("fwtrack online", fw_on, ("registry", "cache")),
            ("wandb offline", wb, ("cache", "staging", "run_dir")),
        ):
            if not rows_:
                continue
            last = rows_[-1]
            brows.append(
                [tracker]
                + [
                    f"{p}: {mb(last[p]['bytes'])} ({last[p]['files']:,} files)"
                    for p in parts
                    if p in last
                ]
            )
        if brows:
            width = max(len(b) for b in brows)
            brows = [b + [""] * (width - len(b)) for b in brows]
            out.append(f"### {label}: bytes left behind after the logging process\n")
            out.append(table(["", *[""] * (width - 1)], brows) + "\n")
    return "\n".join(out)


# ----------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sets", default="small,big,many")
    ap.add_argument("--no-wandb", action="store_true")
    ap.add_argument("--no-online", action="store_true")
    ap.add_argument(
        "--no-online-download",
        action="store_true",
        help="online: log only (a download of 100,000 files from the server takes long)",
    )
    ap.add_argument("--quick", action="store_true", help="smaller sets, one repetition")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "artifacts")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    ap.add_argument("--render", type=Path, help="reprint the tables of a results.json")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, spec = args.child
        print(RESULT + json.dumps(CHILDREN[kind](json.loads(spec))), flush=True)
        return 0
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0
    if args.quick:
        args.reps = 1
        for k, (files, size) in QUICK.items():
            SETS[k].update(files=files, size=size)
    try:
        import wandb

        wandb_version: str | None = wandb.__version__
    except ImportError:
        wandb_version = None
    use_wandb = wandb_version is not None and not args.no_wandb
    work = Path(tempfile.mkdtemp(prefix="fwtrack-artifacts-bench-", dir=args.work))
    results: dict[str, Any] = {
        "reps": args.reps,
        "machine": machine(),
        "stamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wandb_version": wandb_version,
        "sets": {},
    }
    try:
        for name in args.sets.split(","):
            cfg = SETS[name]
            print(f"making {name}: {cfg['files']:,} x {cfg['size']:,} bytes ...", flush=True)
            src = make_set(work / "sets" / name, cfg["files"], cfg["size"], cfg["folders"])
            relog = name == "many"
            label = cfg["label"]
            if args.quick:
                label = f"{cfg['files']:,} x {cfg['size'] / 1e3:g} kB (quick)"
            res: dict[str, Any] = {"label": label, "copy": [], "fwtrack-offline": []}
            jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
                ("copy", functools.partial(job_copy, work, name, src)),
                ("fwtrack-offline", functools.partial(job_fwtrack, work, name, src, False, relog)),
            ]
            if not args.no_online:
                res["fwtrack-online"] = []
                jobs.append(
                    (
                        "fwtrack-online",
                        functools.partial(
                            job_fwtrack, work, name, src, True, relog, not args.no_online_download
                        ),
                    )
                )
            if use_wandb:
                res["wandb"] = []
                jobs.append(("wandb", functools.partial(job_wandb, work, name, src, relog)))
            for rep in range(args.reps):
                for job, run_job in jobs[rep % len(jobs) :] + jobs[: rep % len(jobs)]:
                    print(f"{name} rep {rep + 1}/{args.reps}: {job} ...", flush=True)
                    try:
                        got = run_job()
                    except RuntimeError as e:
                        print(f"  failed: {e}", flush=True)
                        res.setdefault("errors", []).append(f"{job}: {e}")
                        continue
                    print(f"  {json.dumps(got)}", flush=True)
                    res[job].append(got)
            results["sets"][name] = res
            shutil.rmtree(work / "sets" / name, ignore_errors=True)
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "results.json").write_text(json.dumps(results, indent=2))
        text = render(results)
        print(text)
        (args.out / "results.md").write_text(text)
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
