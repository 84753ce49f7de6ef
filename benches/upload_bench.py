"""Uploading a run's files: 10,000 files of 40 kB through fwtrack to a server on this machine.

    python benches/upload_bench.py                    # this checkout, the base revision, wandb
    python benches/upload_bench.py --quick            # 2,000 files, one repetition, no base
    python benches/upload_bench.py --base 59ca129     # the revision to compare against

A run saves `--files` files of `--size` random bytes (`run.save`, from a scratch folder), then:

- **sync**: `fwtrack sync <run>` (a fresh interpreter, as a user runs it) of the offline run to
  a fresh `fwtrack server` (SQLite) on 127.0.0.1, from the command's start to its exit, after
  which the server lists every file; then the same command again (nothing changed: it should
  send nothing).
- **online finish()**: the same files saved by an online run (to its own fresh server), and
  the time `finish()` takes to return with everything on the server (`run.save` of the files
  is timed apart: the uploader may start on them while they are saved).
- **base**: `fwtrack sync` of the same run by the revision `--base` (a `git worktree`, its own
  compiled core built once into `<out>/base-<rev>/`; its server, its client, which uploaded
  files one `PUT` each from Python).
- **wandb**: `wandb.save` of the same files in an offline run, and `finish()`. wandb offline
  has no server: its upload (`wandb sync` to wandb.ai or a W&B server) cannot be measured here,
  so this is the local part only, shown for scale and not as a comparison.

Before each timed upload the page cache is written back (`os.sync()`), so that the writeback of
the files just saved (800 MB of dirty pages for the defaults) does not land in one upload's
time: a server that fsyncs every blob it stores waits for it otherwise. Repetitions rotate the
order; cells are medians. Results go to `<out>/results.json` and
`<out>/results.md`.
"""

from __future__ import annotations

import argparse
import contextlib
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
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from run import median_of, num, table  # noqa: E402
from server_bench import Http, ServerProc, free_port, machine, new_key  # noqa: E402

PROJECT = "bench-upload"
TARGET_S = 30.0
SETTINGS = {"capture_env": False, "save_code": False, "system_interval": 0, "console": False}


def tree_env(tree: Path, **extra: str) -> dict[str, str]:
    """The environment of a child running the fwtrack of `tree` (no `FWTRACK_*` leaks)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["PYTHONPATH"] = str(tree / "python")
    env.update(extra)
    return env


class Server:
    """A fresh `fwtrack server` of `tree` on a free port, with its own data directory."""

    def __init__(self, tree: Path, work: Path, label: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.key = new_key()
        self.data = work / f"{label}-data"
        if self.data.exists():
            shutil.rmtree(self.data)
        cmd = [sys.executable, "-m", "fwtrack", "server", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--data", str(self.data)]
        env = tree_env(tree, FWTRACK_SERVER_ADMIN_KEY=self.key)
        self.proc = ServerProc(label, cmd, env, work / f"{label}.log")
        self.proc.wait_http(self.port, "/api/v1/health", timeout=180)
        self.http = Http(self.port, self.key)
        self.entity = self.http.json("GET", "/api/v1/viewer")["name"]

    def files(self, run_id: str) -> int:
        """How many files the server lists for the run."""
        path = f"/api/v1/runs/{self.entity}/{PROJECT}/{run_id}/files"
        return len(self.http.json("GET", path)["files"])

    def stop(self) -> None:
        self.http.close()
        self.proc.stop()
        shutil.rmtree(self.data, ignore_errors=True)


def write_sources(folder: Path, files: int, size: int) -> list[Path]:
    """`files` files of `size` random bytes in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(files):
        p = folder / f"f{i:05d}.bin"
        p.write_bytes(os.urandom(size))
        out.append(p)
    return out


def _save_all(run: Any, sources: list[Path]) -> None:
    for i, src in enumerate(sources):
        run.save(src, name=f"data/{i // 1000:02d}/{src.name}")


def offline_run(root: Path, sources: Path) -> None:
    """(In a child running some tree's fwtrack.) An offline run under `root` that saves every
    file of `sources`; prints `{"dir", "id"}`."""
    import fwtrack

    run = fwtrack.init(project=PROJECT, dir=root, mode="offline", settings=SETTINGS)
    run.log({"loss": 1.0})
    _save_all(run, sorted(sources.iterdir()))
    run.finish()
    print(json.dumps({"dir": run.dir, "id": run.id}))


def make_run(tree: Path, root: Path, sources: Path) -> tuple[Path, str]:
    """An offline run of `tree`'s fwtrack under `root` that saved every file of `sources`."""
    proc = subprocess.run(
        [sys.executable, __file__, "--make-run", str(root), str(sources)],
        env=tree_env(tree),
        capture_output=True,
        text=True,
        check=True,
    )
    made = json.loads(proc.stdout.strip().splitlines()[-1])
    return Path(made["dir"]), str(made["id"])


def timed_sync(tree: Path, run_dir: Path, server: Server) -> float:
    env = tree_env(tree, FWTRACK_API_KEY=server.key)
    cmd = [sys.executable, "-m", "fwtrack", "sync", str(run_dir), "--base-url", server.url]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"fwtrack sync failed:\n{proc.stdout}\n{proc.stderr}")
    return elapsed


def bench_sync(label: str, tree: Path, work: Path, sources: Path, files: int) -> dict[str, float]:
    """`fwtrack sync` of a fresh copy of the run to a fresh server, twice."""
    root = work / f"{label}-runs"
    shutil.rmtree(root, ignore_errors=True)
    run_dir, run_id = make_run(tree, root, sources)
    server = Server(tree, work, f"{label}-server")
    try:
        os.sync()  # the writeback of the files just saved is nobody's upload time
        first = timed_sync(tree, run_dir, server)
        listed = server.files(run_id)
        if listed != files:
            raise RuntimeError(f"{label}: the server lists {listed} of {files} files")
        again = timed_sync(tree, run_dir, server)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return {"sync_s": first, "sync_again_s": again}


def bench_online(work: Path, sources: list[Path], files: int) -> dict[str, float]:
    """An online run of this checkout saves the files; `finish()` returns once all are up."""
    import fwtrack

    server = Server(REPO, work, "online-server")
    names = ("FWTRACK_BASE_URL", "FWTRACK_API_KEY", "FWTRACK_UPLOAD_TIMEOUT")
    saved = {k: os.environ.get(k) for k in names}
    os.environ["FWTRACK_BASE_URL"] = server.url
    os.environ["FWTRACK_API_KEY"] = server.key
    os.environ["FWTRACK_UPLOAD_TIMEOUT"] = "3600"  # timed here, not cut short
    root = work / "online-runs"
    try:
        run = fwtrack.init(project=PROJECT, dir=root, settings=SETTINGS)
        run.log({"loss": 1.0})
        t0 = time.perf_counter()
        _save_all(run, sources)
        os.sync()
        t1 = time.perf_counter()
        run.finish()
        t2 = time.perf_counter()
        uploader = run._uploader
        if uploader is None or not uploader.outcome()["done"]:
            raise RuntimeError(f"the online upload did not complete: {uploader}")
        listed = server.files(run.id)
        if listed != files:
            raise RuntimeError(f"online: the server lists {listed} of {files} files")
        return {"save_s": t1 - t0, "finish_s": t2 - t1}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def bench_wandb(work: Path, sources: list[Path]) -> dict[str, float] | None:
    """`wandb.save` of the files in an offline run, then `finish()` (local only)."""
    try:
        import wandb
    except ImportError:
        return None
    home = work / "wandb-home"
    data = work / "wandb-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    for var, value in (
        ("WANDB_MODE", "offline"),
        ("WANDB_DIR", str(data)),
        ("WANDB_CACHE_DIR", str(home / "cache")),
        ("WANDB_CONFIG_DIR", str(home / "config")),
        ("WANDB_DATA_DIR", str(home / "data")),
        ("WANDB_SILENT", "true"),
    ):
        os.environ[var] = value
    run = wandb.init(project=PROJECT, mode="offline", dir=str(data))
    run.log({"loss": 1.0})
    t0 = time.perf_counter()
    staged = work / "wandb-src"
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(sources[0].parent, staged)
    run.save(str(staged / "*.bin"), base_path=str(work), policy="now")
    t1 = time.perf_counter()
    run.finish()
    t2 = time.perf_counter()
    shutil.rmtree(data, ignore_errors=True)
    return {"save_s": t1 - t0, "finish_s": t2 - t1}


def build_base(rev: str, where: Path, cache: Path) -> Path:
    """A worktree of `rev` at `where`, with its own compiled core (built once into `cache`)."""
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), rev],
        check=True,
        capture_output=True,
    )
    lib = cache / "_core.abi3.so"
    if not lib.exists():
        cache.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CARGO_TARGET_DIR=str(cache / "target"), PYO3_PYTHON=sys.executable)
        print(f"building the core of {rev} (once; cached in {cache}) ...", flush=True)
        subprocess.run(
            ["nice", "-n", "10", "cargo", "build", "--release", "-p", "fwtrack-py"],
            cwd=where,
            env=env,
            check=True,
        )
        shutil.copy2(cache / "target" / "release" / "lib_core.so", lib)
        shutil.rmtree(cache / "target", ignore_errors=True)
    shutil.copy2(lib, where / "python" / "fwtrack" / "_core.abi3.so")
    return where


def render(res: dict[str, Any]) -> str:
    n, size = res["files"], res["size"]
    mb = n * size / 1e6
    rows: list[list[str]] = []

    def row(name: str, secs: float | None, note: str = "", rate: bool = True) -> None:
        speed = f"{mb / secs:.0f} MB/s, {n / secs:,.0f} files/s" if secs and rate else "—"
        rows.append([name, num(secs), speed, note])

    this, base, online, wb = res["this"], res.get("base"), res["online"], res.get("wandb")
    sync = median_of(this, "sync_s")
    target = f"target ≤ {TARGET_S:g} s: {'PASS' if sync and sync <= TARGET_S else 'MISS'}"
    row("fwtrack sync (this checkout)", sync, target)
    again = "nothing to send (the command's start-up included)"
    row("fwtrack sync again, nothing changed", median_of(this, "sync_again_s"), again, rate=False)
    row("online run: finish()", median_of(online, "finish_s"), "after run.save of every file")
    row("online run: run.save of the files", median_of(online, "save_s"), "copies", rate=False)
    if base:
        bsync = median_of(base, "sync_s")
        note = f"this checkout: {bsync / sync:.1f}x faster" if bsync and sync else ""
        row(f"fwtrack sync ({res['base_rev']}, before)", bsync, note)
        row(
            f"fwtrack sync again ({res['base_rev']})",
            median_of(base, "sync_again_s"),
            "",
            rate=False,
        )
    if wb:
        row(
            "wandb offline: run.save + finish()",
            median_of(wb, "save_s") + median_of(wb, "finish_s"),  # type: ignore[operator]
            "no server: local only, not comparable",
            rate=False,
        )
    m = res["machine"]
    head = (
        f"{res['stamp']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}; {n:,} files x "
        f"{size / 1e3:g} kB ({mb:,.0f} MB) to a server on 127.0.0.1, {res['reps']} "
        "repetition(s), medians\n\n"
    )
    foot = ""
    if wb is None:
        foot = f"\nwandb: {res.get('wandb_status', 'left out (--no-wandb)')}.\n"
    foot += (
        "\nwandb offline has no server: its files go up with `wandb sync` to wandb.ai or a W&B "
        "server, neither of which runs here, so its upload cannot be timed on this machine.\n"
    )
    return head + table(["", "seconds", "throughput", ""], rows) + "\n" + foot


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--size", type=int, default=40_000, help="bytes per file")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--base", default="59ca129", help="the revision before the blob uploader")
    ap.add_argument("--no-base", action="store_true", help="leave out the base revision")
    ap.add_argument("--no-wandb", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2,000 files, 1 repetition, no base")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "upload")
    ap.add_argument("--make-run", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_run:
        offline_run(*args.make_run)
        return 0
    if args.quick:
        args.files, args.reps, args.no_base = 2_000, 1, True
    work = Path(tempfile.mkdtemp(prefix="fwtrack-upload-bench-"))
    base_tree = work / "base"
    results: dict[str, Any] = {
        "files": args.files,
        "size": args.size,
        "reps": args.reps,
        "this": [],
        "online": [],
        "base_rev": args.base,
        "machine": machine(),
        "stamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    try:
        src = work / "sources"
        sources = write_sources(src, args.files, args.size)
        jobs: list[tuple[str, Callable[[], dict[str, float] | None]]] = [
            ("this", lambda: bench_sync("this", REPO, work, src, args.files)),
            ("online", lambda: bench_online(work, sources, args.files)),
        ]
        if not args.no_base:
            build_base(args.base, base_tree, args.out / f"base-{args.base}")
            results["base"] = []
            jobs.append(("base", lambda: bench_sync("base", base_tree, work, src, args.files)))
        if not args.no_wandb:
            results["wandb"] = []
            jobs.append(("wandb", lambda: bench_wandb(work, sources)))
        for rep in range(args.reps):
            for name, job in jobs[rep % len(jobs) :] + jobs[: rep % len(jobs)]:
                print(f"rep {rep + 1}/{args.reps}: {name} ...", flush=True)
                got = job()
                if got is None:
                    results[name] = None
                    results[f"{name}_status"] = "not installed"
                    continue
                print(f"  {json.dumps(got)}", flush=True)
                if results.get(name) is not None:
                    results[name].append(got)
        text = render(results)
        print(text)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=2))
        (args.out / "results.md").write_text(text)
    finally:
        if base_tree.exists():
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)],
                check=False,
                capture_output=True,
            )
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
