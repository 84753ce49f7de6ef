"""Reports and collaboration on a real `fwtrack server` (SQLite, directory store).

    python benches/collab_bench.py --out benches/out/collab        # 5 repetitions
    python benches/collab_bench.py --quick                          # one repetition

Every request goes over HTTP on 127.0.0.1 through one kept-alive connection per client, with
an admin key. Cases, interleaved within each repetition in a rotated order; the table holds
the medians over repetitions of each repetition's p50 and p99:

- **no-op** (the baseline): `GET /api/v1/viewer`, the cheapest authenticated request;
- **report read**: `GET` of a report of `--blocks` blocks (markdown and panels);
- **autosave**: one editor's `PATCH` of one markdown block (an `upsert` op against the
  version it last saw), as the dashboard's autosave sends it;
- **autosave x4**: four editors (threads, one connection each) saving their own block at
  once; after the last save the document must hold every editor's last text (a lost edit is
  counted and printed: it must be 0);
- **conflict**: two editors saving the same block from the same base version, one after the
  other (a row times both saves); the second answer must list the conflict;
- **comment**: `POST` of a comment on the report mentioning a team member (a viewer), which
  records the mention for that member's inbox.

No other tracker has these offline: W&B's reports and comments live on W&B's server, and
MLflow and TensorBoard have neither, so the reference is the no-op request on the same server.

Results go to `<out>/results.json` and `<out>/results.md`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from run import num, table  # noqa: E402
from server_bench import Http, machine  # noqa: E402
from upload_bench import Server  # noqa: E402

PROJECT = "bench-collab"


def pct(times: list[float], q: float) -> float:
    """The `q` quantile of `times` in ms (nearest rank)."""
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def timed(calls: int, fn: Callable[[int], None]) -> list[float]:
    out = []
    for i in range(calls):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def blocks(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        if i % 3 == 0:
            out.append({"id": f"b{i}", "type": "markdown", "text": f"## Section {i}\n\n$x_{i}$"})
        elif i % 3 == 1:
            runs = {"filter": "config.lr > 0.01"}
            out.append({"id": f"b{i}", "type": "line", "runs": runs, "y": ["train/loss"]})
        else:
            out.append({"id": f"b{i}", "type": "scalar", "runs": {"ids": []}, "key": "summary.acc"})
    return out


class Bench:
    def __init__(self, server: Server, n_blocks: int, calls: int) -> None:
        self.s = server
        self.calls = calls
        tag = f"{int(time.time() * 1000) % 10**8}"
        self.team = f"benchteam{tag}"
        self.mentioned = f"reader{tag}"
        server.http.json("POST", "/api/v1/teams", {"name": self.team})
        server.http.json("POST", "/api/v1/users", {"name": self.mentioned})
        members = f"/api/v1/teams/{self.team}/members"
        server.http.json("POST", members, {"user": self.mentioned, "role": "viewer"})
        self.base = f"/api/v1/reports/{self.team}/{PROJECT}"
        rep = server.http.json("POST", self.base, {"title": "bench", "blocks": blocks(n_blocks)})
        self.report = rep["id"]
        self.one = f"{self.base}/{self.report}"
        self.version = rep["version"]
        self.lost = 0
        self.conflicts_seen = 0

    def noop(self) -> list[float]:
        return timed(self.calls, lambda _: self.s.http.json("GET", "/api/v1/viewer"))

    def read(self) -> list[float]:
        return timed(self.calls, lambda _: self.s.http.json("GET", self.one))

    def _save(self, http: Http, block: str, text: str, base: int) -> dict[str, Any]:
        op = {"op": "upsert", "block": {"id": block, "type": "markdown", "text": text}}
        out: dict[str, Any] = http.json("PATCH", self.one, {"base_version": base, "ops": [op]})
        return out

    def autosave(self) -> list[float]:
        def one(i: int) -> None:
            self.version = self._save(self.s.http, "b0", f"edit {i}", self.version)["report"][
                "version"
            ]

        return timed(self.calls, one)

    def autosave4(self) -> list[float]:
        times: list[float] = []
        lock = threading.Lock()
        last: dict[str, str] = {}

        def editor(k: int) -> None:
            http = Http(self.s.port, self.s.key)
            base = self.version
            mine: list[float] = []
            for i in range(self.calls // 4):
                text = f"editor {k} edit {i}"
                t = time.perf_counter()
                base = self._save(http, f"b{3 * k}", text, base)["report"]["version"]
                mine.append(time.perf_counter() - t)
                last[f"b{3 * k}"] = text
            http.close()
            with lock:
                times.extend(mine)

        threads = [threading.Thread(target=editor, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final = self.s.http.json("GET", self.one)
        self.version = final["version"]
        texts = {b["id"]: b.get("text") for b in final["blocks"]}
        self.lost += sum(1 for bid, text in last.items() if texts.get(bid) != text)
        return times

    def conflict(self) -> list[float]:
        other = Http(self.s.port, self.s.key)

        def one(i: int) -> None:
            base = self.version
            self._save(self.s.http, "b3", f"first {i}", base)
            answer = self._save(other, "b3", f"second {i}", base)
            self.conflicts_seen += bool(answer["conflicts"])
            self.version = answer["report"]["version"]

        out = timed(self.calls // 2, one)
        other.close()
        return out

    def comment(self) -> list[float]:
        path = f"/api/v1/comments/{self.team}/report/{self.report}"

        def one(i: int) -> None:
            self.s.http.json("POST", path, {"body": f"look at this @{self.mentioned} ({i})"})

        return timed(self.calls // 2, one)


CASES = ["noop", "read", "autosave", "autosave4", "conflict", "comment"]
LABELS = {
    "noop": "no-op `GET /viewer` (baseline)",
    "read": "report read",
    "autosave": "autosave (1 editor)",
    "autosave4": "autosave (4 editors at once)",
    "conflict": "same block, 2 editors (both saves)",
    "comment": "comment with a mention",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "collab")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--blocks", type=int, default=30)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.calls = 1, 40
    args.out.mkdir(parents=True, exist_ok=True)
    per: dict[str, list[tuple[float, float]]] = {c: [] for c in CASES}
    lost = conflicts = expected_conflicts = 0
    with tempfile.TemporaryDirectory(prefix="fwtrack-collab-") as tmp:
        server = Server(REPO, Path(tmp), "collab")
        try:
            for rep in range(args.reps):
                bench = Bench(server, args.blocks, args.calls)
                order = CASES[rep % len(CASES) :] + CASES[: rep % len(CASES)]
                for case in order:
                    times = getattr(bench, case)()
                    per[case].append((pct(times, 0.5), pct(times, 0.99)))
                lost += bench.lost
                conflicts += bench.conflicts_seen
                expected_conflicts += args.calls // 2
                print(f"repetition {rep + 1}/{args.reps} done", flush=True)
        finally:
            server.stop()
    rows = []
    base = statistics.median(p50 for p50, _ in per["noop"])
    results: dict[str, Any] = {"machine": machine(), "cases": {}, "lost_edits": lost}
    for case in CASES:
        p50 = statistics.median(p for p, _ in per[case])
        p99 = statistics.median(p for _, p in per[case])
        results["cases"][case] = {"p50_ms": p50, "p99_ms": p99}
        rows.append([LABELS[case], num(p50), num(p99), f"{p50 / base:.1f}x"])
    results["conflicts_listed"] = f"{conflicts}/{expected_conflicts}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"Reports and comments on `fwtrack server` (SQLite), {when}; {args.reps} repetitions"
            f" of {args.calls} calls, a report of {args.blocks} blocks.",
            "",
            table(["request", "p50 ms", "p99 ms", "p50 vs no-op"], rows),
            "",
            f"Edits lost by concurrent editors: {lost}. Conflicts listed to the second editor of"
            f" one block: {conflicts} of {expected_conflicts}.",
        ]
    )
    print(text)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    (args.out / "results.md").write_text(text + "\n")
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
