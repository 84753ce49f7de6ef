"""Polling a live run's page: per-poll latency of the requests the web run page repeats while
a run writes, served by a real `fwtrack ui` process from the run's index.

    .venv/bin/python benches/poll_bench.py                       # 1M lines, 100k histograms
    .venv/bin/python benches/poll_bench.py --lines 100000 --hist-steps 10000   # a shorter pass

The dataset (a run with `--lines` console lines and `--hist-steps` histogram steps) is made
by this script once and cached under benches/out/poll/. Each pass copies it to a temporary
directory, starts `fwtrack ui` over it, waits until it is indexed, then resumes the run in a
child process that keeps appending (console lines, a histogram and a scalar every 50 ms)
while the bench polls, interleaved, `--reps` times:

- the run page's poll: `GET run`, the logs tab's follow (`GET logs?offset=<last page>`),
  the system charts (`GET system?samples=600`), the alerts (`GET alerts`); the histogram
  keys (`GET histograms/keys`) as a tab switch does;
- the no-op floor: `GET /api/v1/viewer`;
- the decode path the routes used before (the log decoded by `RunReader`, as the old
  `log_cache` did on every growth of a live run), timed in this process.

Figures are medians (and ranges) of the repetitions, in ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from server_bench import child_env  # noqa: E402

OUT = REPO / "benches" / "out" / "poll"
PROJECT = "poll"
RUN_ID = "live1"

MAKE = """
import sys
import numpy as np
import fwtrack
lines, steps = int(sys.argv[1]), int(sys.argv[2])
run = fwtrack.init(project="poll", id="live1",
                   settings=fwtrack.Settings(console=True, system_interval=1))
counts = np.arange(64)
edges = np.linspace(0.0, 1.0, 65)
per = max(1, lines // max(1, steps))
written = 0
for i in range(steps):
    n = min(per, lines - written) if i < steps - 1 else lines - written
    if n > 0:
        sys.stdout.write("".join(f"step {i} line {written + k} loss=0.123 ok\\n" for k in range(n)))
        written += n
    run.log({"loss": 1 / (i + 1), "w": fwtrack.Histogram(np_histogram=(counts + i % 7, edges))},
            step=i)
sys.stdout.flush()
run.finish()
"""

APPEND = """
import sys, time
import numpy as np
import fwtrack
start = int(sys.argv[1])
run = fwtrack.init(project="poll", id="live1", resume="must",
                   settings=fwtrack.Settings(console=True, system_interval=1))
counts = np.arange(64)
edges = np.linspace(0.0, 1.0, 65)
i = start
while True:
    for k in range(20):
        print(f"live {i} line {k} loss=0.5", flush=False)
    sys.stdout.flush()
    run.log({"loss": 1 / (i + 1), "w": fwtrack.Histogram(np_histogram=(counts, edges))}, step=i)
    i += 1
    time.sleep(0.05)
"""


def dataset(lines: int, steps: int) -> Path:
    """The cached run directory (made once per size)."""
    root = OUT / f"l{lines}-h{steps}"
    run_dir = root / "fwtrack" / PROJECT / RUN_ID
    if (root / "done").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    print(f"making the dataset under {root} ...", file=sys.stderr)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", MAKE, str(lines), str(steps)],
        cwd=root,
        env=child_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (root / "done").write_text(f"{time.perf_counter() - t0:.1f} s\n")
    assert (run_dir / "run.fwlog").exists()
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> tuple[float, Any]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as resp:
        body = resp.read()
    return (time.perf_counter() - t0) * 1000, json.loads(body)


def stats(xs: list[float]) -> str:
    return f"{statistics.median(xs):8.2f} [{min(xs):.2f}-{max(xs):.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--hist-steps", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--decode-reps", type=int, default=3)
    args = ap.parse_args()
    src = dataset(args.lines, args.hist_steps)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "fwtrack"
        shutil.copytree(src / "fwtrack", runs)
        log = runs / PROJECT / RUN_ID / "run.fwlog"
        port = free_port()
        out = open(Path(tmp) / "ui.out", "wb")  # noqa: SIM115
        ui = subprocess.Popen(
            [sys.executable, "-m", "fwtrack", "ui", "--dir", str(runs), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env(),
            start_new_session=True,
        )
        appender: subprocess.Popen[bytes] | None = None
        base = f"http://127.0.0.1:{port}/api/v1"
        run = f"{base}/runs/local/{PROJECT}/{RUN_ID}"
        try:
            t0 = time.perf_counter()
            while True:
                try:
                    _, page = get(f"{run}/logs?limit=1")
                    if page["total"] >= args.lines:
                        break
                except OSError:
                    pass
                if time.perf_counter() - t0 > 900:
                    raise SystemExit("the ui did not index the run in 15 minutes")
                time.sleep(0.5)
            print(f"indexed by the ui in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            appender = subprocess.Popen(
                [sys.executable, "-c", APPEND, str(args.hist_steps)],
                cwd=runs.parent,
                env=child_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            size = log.stat().st_size
            while log.stat().st_size == size:  # the resumed writer appends
                time.sleep(0.1)
            times: dict[str, list[float]] = {}
            polls: list[float] = []
            total = 0
            for _ in range(args.reps):
                one = 0.0
                ms, _ = get(f"{base}/viewer")
                times.setdefault("no-op GET /viewer", []).append(ms)
                ms, _ = get(run)
                times.setdefault("GET run", []).append(ms)
                one += ms
                offset = max(0, (total - 1) // 500 * 500)
                ms, page = get(f"{run}/logs?offset={offset}&limit=500")
                total = page["total"]
                times.setdefault("GET logs (last page)", []).append(ms)
                one += ms
                ms, _ = get(f"{run}/system?samples=600")
                times.setdefault("GET system", []).append(ms)
                one += ms
                ms, _ = get(f"{run}/alerts")
                times.setdefault("GET alerts", []).append(ms)
                one += ms
                polls.append(one)
                ms, _ = get(f"{run}/histograms/keys")
                times.setdefault("GET histograms/keys", []).append(ms)
                time.sleep(0.2)
            ms, hist = get(f"{run}/histograms?key=w")
            times["GET histograms?key=w (all steps, once)"] = [ms]
            decode: list[float] = []
            from fwtrack import _core

            for _ in range(args.decode_reps):
                t = time.perf_counter()
                reader = _core.RunReader(str(log))
                reader.console()
                reader.system()
                reader.media()
                decode.append((time.perf_counter() - t) * 1000)
        finally:
            if appender is not None:
                os.killpg(appender.pid, signal.SIGKILL)
                appender.wait()
            os.killpg(ui.pid, signal.SIGINT)
            ui.wait(timeout=30)
            out.close()
    floor = statistics.median(times["no-op GET /viewer"])
    print(f"# poll_bench: {args.lines} console lines, {args.hist_steps} histogram steps, live")
    print(f"# lines at the end: {total}; histogram steps: {len(hist['steps'])}")
    print(f"# load: {os.getloadavg()}")
    print(f"{'request':44s} {'median [range] ms':>26s} {'x floor':>8s}")
    for name, xs in times.items():
        print(f"{name:44s} {stats(xs):>26s} {statistics.median(xs) / floor:8.1f}")
    print(f"{'run page poll (run+logs+system+alerts)':44s} {stats(polls):>26s}")
    print(f"{'old path: decode the log (RunReader) per growth':44s} {stats(decode):>26s}")
    print(f"target: run page poll <= 20 ms; median {statistics.median(polls):.1f} ms")


if __name__ == "__main__":
    main()
