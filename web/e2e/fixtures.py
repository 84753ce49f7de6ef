"""Real runs for the browser tests, logged through the Python API.

fixtures.py server --url URL --key KEY --out expected.json
    creates the user `alice` (with a password) and the team `lab`, then logs runs online
    to the server (FWTRACK_BASE_URL/FWTRACK_API_KEY): projects `e2e`, `zoom`, `scratch`
    of `admin` and `shared` of `lab`. Writes what was logged (points per run and metric)
    as JSON.
fixtures.py local --dir DIR
    logs two offline runs of project `local-proj` into DIR (for `fwtrack ui`).
fixtures.py live --url URL --key KEY --seconds S
    keeps logging `train/loss` to the running run `admin/live/live-run` (online), one point
    every 0.2 s, for S seconds (the browser test watches its chart grow), printing a console
    line per point and sampling system metrics every second, then finishes.

The server's `admin/media/media-run` prints console lines (some to stderr), samples system
metrics every second, and logs images over steps, audio, videos, html, a gallery and tables
(one of 100,000 rows) for the Run page's System, Logs, Files and Media tabs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

import fwtrack

ALICE_PASSWORD = "alice-e2e-password"

# run id -> (project, name, config, tags, steps per metric); every metric is logged at steps
# 0..n-1 except eval/* (every 10th step) and histograms.
E2E_RUNS: dict[str, dict[str, Any]] = {
    "base-a": {
        "name": "baseline-a",
        "config": {"lr": 0.01, "batch": 32, "model": {"depth": 2, "act": "relu"}},
        "tags": ["baseline"],
        "steps": 40,
    },
    "base-b": {
        "name": "baseline-b",
        "config": {"lr": 0.02, "batch": 32, "model": {"depth": 2, "act": "relu"}},
        "tags": ["baseline"],
        "steps": 30,
    },
    "wide-c": {
        "name": "wide-c",
        "config": {"lr": 0.05, "batch": 64, "model": {"depth": 4, "act": "gelu"}},
        "tags": ["wide"],
        "steps": 20,
    },
}
ZOOM_STEPS = 20_000
MEDIA_LINES = 300
MEDIA_STDERR_EVERY = 25
MEDIA_IMAGE_STEPS = 3
BIG_TABLE_ROWS = 100_000
NEEDLE = "needle-in-the-log"


def request_json(url: str, key: str, method: str, body: Any) -> Any:
    """`method url` with a JSON body as `key`; the JSON answer (HTTPError on an error status)."""
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def go_online(url: str, key: str, entity: str = "admin") -> None:
    """Make the runs this process starts log online to the server at `url` as `key`."""
    os.environ["FWTRACK_BASE_URL"] = url
    os.environ["FWTRACK_API_KEY"] = key
    os.environ["FWTRACK_ENTITY"] = entity
    os.environ["FWTRACK_MODE"] = "online"


def _small_run(project: str, run_id: str, spec: dict[str, Any], root: Path) -> dict[str, int]:
    """A run of `spec["steps"]` steps; returns the points logged per metric key."""
    run = fwtrack.init(
        project=project,
        id=run_id,
        name=spec["name"],
        config=spec["config"],
        tags=spec["tags"],
        dir=root,
    )
    steps = int(spec["steps"])
    lr = float(spec["config"]["lr"])
    rng = np.random.default_rng(len(run_id))
    counts: dict[str, int] = {}
    for i in range(steps):
        row: dict[str, Any] = {
            "train/loss": math.exp(-lr * 10 * i) + 0.05 * math.sin(i),
            "train/acc": 1.0 - math.exp(-lr * 8 * i),
            "system/cpu": 20.0 + (i % 7),
        }
        if i % 10 == 0:
            row["eval/acc"] = 0.5 + i / (steps * 2)
        if i % 10 == 0:
            row["weights/w0"] = fwtrack.Histogram(rng.normal(i / 10, 1.0, size=500), num_bins=24)
        run.log(row, step=i)
        for k in row:
            if not k.startswith("weights/"):
                counts[k] = counts.get(k, 0) + 1
    run.finish()
    return counts


def _image(step: int, size: int = 24) -> Any:
    """A distinct picture per step: a gradient with a bright square moving along the diagonal."""
    img = np.zeros((size, size, 3), dtype=np.uint8)
    img[..., 0] = np.linspace(0, 255, size, dtype=np.uint8)[None, :]
    img[..., 2] = 80 * (step % 3)
    lo = 2 + step * 5
    img[lo : lo + 6, lo : lo + 6] = 255
    return img


def _media_run(root: Path) -> dict[str, Any]:
    """`admin/media/media-run`: console lines, system samples, media over steps, tables."""
    os.environ["FWTRACK_SYSTEM_INTERVAL"] = "1"
    try:
        run = fwtrack.init(
            project="media", id="media-run", name="media-run", config={"kind": "media"}, dir=root
        )
    finally:
        os.environ.pop("FWTRACK_SYSTEM_INTERVAL", None)
    started = time.monotonic()
    stderr = 0
    for i in range(MEDIA_LINES):
        if i % MEDIA_STDERR_EVERY == 7:
            print(f"warning: step {i} is slow", file=sys.stderr, flush=True)
            stderr += 1
        elif i == 42:
            print(f"epoch {i} {NEEDLE}", flush=True)
        else:
            print(f"epoch {i} loss {math.exp(-i / 100):.4f}", flush=True)
    rate = 8000
    t = np.arange(rate // 2) / rate
    for step in range(MEDIA_IMAGE_STEPS):
        row: dict[str, Any] = {
            "train/loss": 1.0 / (step + 1),
            "examples/image": fwtrack.Image(_image(step), caption=f"sample at step {step}"),
        }
        if step == 0:
            row["examples/audio"] = fwtrack.Audio(
                0.4 * np.sin(2 * np.pi * 440 * t), sample_rate=rate, caption="a 440 Hz tone"
            )
            frames = np.stack([np.transpose(_image(k, 32), (2, 0, 1)) for k in range(4)])
            row["examples/clip"] = fwtrack.Video(frames, fps=4, format="gif", caption="gif clip")
            row["examples/movie"] = fwtrack.Video(frames, fps=4, format="mp4", caption="mp4 clip")
            row["examples/html"] = fwtrack.Html(
                "<h1>report</h1><p>all good</p><script>document.title='ran'</script>"
            )
            row["examples/gallery"] = [fwtrack.Image(_image(k)) for k in range(3)]
            preds = fwtrack.Table(columns=["id", "image", "label"])
            for k in range(5):
                preds.add_data(k, fwtrack.Image(_image(k, 16)), f"class-{k % 2}")
            row["examples/preds"] = preds
            big = fwtrack.Table(
                columns=["id", "label", "score"],
                data=[
                    [k, f"item-{k:06d}", round(((k * 7919) % 100_003) / 100_003, 6)]
                    for k in range(BIG_TABLE_ROWS)
                ],
            )
            row["examples/big"] = big
        run.log(row, step=step)
    # a few system samples (one a second) before the run ends
    while time.monotonic() - started < 4.5:
        time.sleep(0.25)
    run.finish()
    return {
        "lines": MEDIA_LINES,
        "stderr": stderr,
        "needle": NEEDLE,
        "image_steps": MEDIA_IMAGE_STEPS,
        "big_rows": BIG_TABLE_ROWS,
    }


def cmd_server(args: argparse.Namespace) -> int:
    root = Path(args.work) / "client"
    api = f"{args.url}/api/v1"
    alice = request_json(
        f"{api}/users", args.key, "POST", {"name": "alice", "password": ALICE_PASSWORD}
    )
    request_json(f"{api}/teams", args.key, "POST", {"name": "lab"})
    request_json(f"{api}/teams/lab/members", args.key, "POST", {"user": "alice"})
    go_online(args.url, args.key)
    expected: dict[str, Any] = {"runs": {}, "alice": {"name": "alice", "password": ALICE_PASSWORD}}
    expected["alice"]["api_key"] = alice["api_key"]
    for run_id, spec in E2E_RUNS.items():
        expected["runs"][run_id] = {**spec, "points": _small_run("e2e", run_id, spec, root)}
    # scratch: a run to edit (notes, tags, name) and one to delete
    scratch = {
        "name": "edit-me",
        "config": {"lr": 0.003, "optimizer": {"name": "adamw", "betas": [0.9, 0.999]}, "seed": 7},
        "tags": ["keep"],
        "steps": 25,
    }
    expected["scratch"] = {"edit-me": _small_run("scratch", "edit-me", scratch, root)}
    doomed = {"name": "doomed", "config": {"lr": 1.0}, "tags": [], "steps": 5}
    expected["scratch"]["doomed"] = _small_run("scratch", "doomed", doomed, root)
    # zoom: one long run, downsampled on the chart until zoomed
    run = fwtrack.init(project="zoom", id="long-run", name="long-run", dir=root)
    for i in range(ZOOM_STEPS):
        run.log({"train/loss": math.sin(i / 300.0) + i / ZOOM_STEPS}, step=i)
    run.finish()
    expected["zoom"] = {"steps": ZOOM_STEPS}
    expected["media"] = _media_run(root)
    # lab/shared: what alice reaches
    os.environ["FWTRACK_ENTITY"] = "lab"
    spec = {"name": "shared-1", "config": {"lr": 0.1}, "tags": [], "steps": 10}
    expected["shared"] = {"shared-1": _small_run("shared", "shared-1", spec, root)}
    Path(args.out).write_text(json.dumps(expected, indent=1))
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    os.environ.pop("FWTRACK_BASE_URL", None)
    os.environ["FWTRACK_MODE"] = "offline"
    for run_id, steps in (("loc-1", 12), ("loc-2", 8)):
        spec = {"name": run_id, "config": {"lr": 0.1, "steps": steps}, "tags": [], "steps": steps}
        _small_run("local-proj", run_id, spec, Path(args.dir))
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    go_online(args.url, args.key)
    os.environ["FWTRACK_SYSTEM_INTERVAL"] = "1"
    run = fwtrack.init(
        project="live",
        id="live-run",
        name="live-run",
        config={"lr": 0.1},
        dir=Path(args.work) / "live-client",
    )
    deadline = time.monotonic() + args.seconds
    step = 0
    while time.monotonic() < deadline:
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
        print(f"live line {step}", flush=True)
        step += 1
        if step % 5 == 0:
            run.flush()
        time.sleep(0.2)
    run.finish()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Runs for the browser tests")
    sub = parser.add_subparsers(dest="cmd", required=True)
    server = sub.add_parser("server")
    server.add_argument("--url", required=True)
    server.add_argument("--key", required=True)
    server.add_argument("--work", required=True)
    server.add_argument("--out", required=True)
    local = sub.add_parser("local")
    local.add_argument("--dir", required=True)
    live = sub.add_parser("live")
    live.add_argument("--url", required=True)
    live.add_argument("--key", required=True)
    live.add_argument("--work", required=True)
    live.add_argument("--seconds", type=float, default=240.0)
    args = parser.parse_args()
    return {"server": cmd_server, "local": cmd_local, "live": cmd_live}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
