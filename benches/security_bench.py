"""What the security checks cost a request: this checkout's server against an earlier one.

    python benches/security_bench.py --base 240c855        # before the checks, side by side
    python benches/security_bench.py --base 240c855 --quick

Every request now passes a Content-Security-Policy middleware, and on `fwtrack server` the API
key is checked for expiry and a disabled user on each request (`last_used_at` written at most
once a minute); `fwtrack ui` also checks the `Host` header. The benchmark starts four servers
at once: `fwtrack server` and `fwtrack ui` from this checkout and from `--base` (a `git
worktree` of that revision, run with this checkout's compiled core, which the security work did
not change), and times, over loopback on a kept-alive connection:

- `GET /api/v1/viewer` with an API key (authentication alone),
- `GET /api/v1/runs/<entity>/<project>` (a runs list of 20 runs),
- `GET /` (the dashboard page, with its headers),
- on the ui: `GET /api/v1/runs/local/<project>`.

Repetitions rotate the order of the servers; a cell is the median over repetitions of each
repetition's median latency. The "x base" column is this checkout divided by the base revision.
Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from run import num, table, worktree  # noqa: E402
from server_bench import Http, ServerProc, child_env, free_port, new_key  # noqa: E402

PROJECT = "bench-security"


def _make_runs(root: Path, n: int) -> None:
    """`n` small offline runs of `PROJECT` under `root` (this checkout's SDK)."""
    import fwtrack

    settings = fwtrack.Settings(system_interval=0, console=False, save_code=False)
    for i in range(n):
        run = fwtrack.init(
            project=PROJECT, dir=root, mode="offline", config={"lr": 0.01 * (i + 1)},
            settings=settings,
        )  # fmt: skip
        for step in range(50):
            run.log({"train/loss": 1 / (step + 1), "train/acc": step / 50})
        run.finish()


class Server:
    """A `fwtrack server` or `fwtrack ui` from the tree at `tree`."""

    def __init__(self, label: str, tree: Path, kind: str, work: Path, runs: Path) -> None:
        self.label = label
        self.port = free_port()
        self.key = new_key()
        env = child_env(FWTRACK_SERVER_ADMIN_KEY=self.key)
        env["PYTHONPATH"] = str(tree / "python")
        if kind == "server":
            cmd = ["server", "--data", str(work / f"{label}-data")]
        else:
            local = work / f"{label}-runs"  # each ui keeps its own index next to the runs
            shutil.copytree(runs, local)
            cmd = ["ui", "--dir", str(local)]
        cmd = [sys.executable, "-m", "fwtrack", *cmd, "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port)]
        self.proc = ServerProc(label, cmd, env, work / f"{label}.log")
        self.proc.wait_http(self.port, "/api/v1/health", timeout=180)
        self.http = Http(self.port, self.key if kind == "server" else None)
        self.kind = kind
        if kind == "server":
            sync_env = child_env(
                FWTRACK_API_KEY=self.key, FWTRACK_BASE_URL=f"http://127.0.0.1:{self.port}"
            )
            subprocess.run(
                [sys.executable, "-m", "fwtrack", "sync", "--all", "--dir", str(runs)],
                check=True,
                env=sync_env,
                capture_output=True,
            )
        self.entity = self.http.json("GET", "/api/v1/viewer")["name"]

    def requests(self) -> dict[str, str]:
        runs = f"/api/v1/runs/{self.entity}/{PROJECT}"
        if self.kind == "server":
            return {"viewer (API key)": "/api/v1/viewer", "runs list": runs, "dashboard /": "/"}
        return {"ui runs list": runs, "ui dashboard /": "/"}

    def stop(self) -> None:
        self.http.close()
        self.proc.stop()


def _median_ms(http: Http, path: str, n: int) -> float:
    for _ in range(5):
        http.request("GET", path)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        status, _ = http.request("GET", path)
        times.append(time.perf_counter() - t0)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
    return statistics.median(times) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--base", default="240c855", help="the revision to compare against")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "security")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--requests", type=int, default=200, help="requests per cell and repetition")
    ap.add_argument("--quick", action="store_true", help="2 repetitions of 50 requests")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.requests = 2, 50
    work = Path(tempfile.mkdtemp(prefix="fwtrack-security-bench-"))
    servers: list[Server] = []
    base_tree = work / "base"
    try:
        worktree(args.base, base_tree)
        runs = work / "runs"
        _make_runs(runs, 20)
        for label, tree in (("this", REPO), ("base", base_tree)):
            for kind in ("server", "ui"):
                servers.append(Server(f"{label}-{kind}", tree, kind, work, runs))
        cells: dict[tuple[str, str], list[float]] = {}
        for rep in range(args.reps):
            order = servers[rep % len(servers) :] + servers[: rep % len(servers)]
            for server in order:
                for name, path in server.requests().items():
                    side = server.label.split("-")[0]
                    cells.setdefault((name, side), []).append(
                        _median_ms(server.http, path, args.requests)
                    )
        names = list(dict.fromkeys(name for name, _ in cells))
        rows = []
        raw: dict[str, Any] = {}
        for name in names:
            this = statistics.median(cells[(name, "this")])
            base = statistics.median(cells[(name, "base")])
            rows.append([name, num(base, 3), num(this, 3), f"{this / base:.2f}x"])
            raw[name] = {"base_ms": base, "this_ms": this, "reps": cells[(name, "this")]}
        head = ["request", f"base {args.base} (ms)", "this checkout (ms)", "x base"]
        text = table(head, rows)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        python = platform.python_version()
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {python}"
        header = (
            f"{stamp}, {machine}; {args.reps} repetitions x {args.requests} requests, "
            "median of medians\n"
        )
        print(header + text)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(raw, indent=2))
        (args.out / "results.md").write_text(header + "\n" + text + "\n")
    finally:
        for server in servers:
            server.stop()
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
