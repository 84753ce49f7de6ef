"""Logging images: `fwtrack.log({"img": fwtrack.Image(x)})` against wandb offline
`wandb.log({"img": wandb.Image(x)})`, and against the floor of what any tracker has to do
(Pillow's PNG encoder, a sha256 and a file write).

    python benches/media_bench.py                    # 1,000 images, 3 repetitions
    python benches/media_bench.py --quick            # 100 images, 2 repetitions

Every measurement runs in a fresh process (this file with `--worker`), trackers in an order
rotated between repetitions. A worker builds its distinct 256x256 RGB uint8 arrays
before the clock starts (a smooth, different pattern per step with a little noise, so that
PNG finds about what it finds in a photo; `--content noise` for uniform noise, the worst case),
then times the loop `log({"img": Image(x)})` (the `Image` is built inside the loop, as a
training script does) and `finish()`. In the dedupe case every step logs the same array.

Figures: time per image (loop + finish, over the images), the time the loop itself took
(what the training thread waits for), payload MB/s (bytes of the image files written, over
loop + finish) and raw MB/s (the arrays' bytes, 196,608 per image, over the same time). After
`finish()` the run is read back: fwtrack through `RunReader.media("img")`, wandb through its
`.wandb` log's history records; image files are counted on disk, and fwtrack's first image
is decoded and compared with its array pixel for pixel.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # the helpers of benches/run.py
    machine,
    num,
    ratio,
    save_results,
    spawn_worker,
    table,
    worker_main,
)
from trackers import wandb_records  # the `.wandb` log reader

REPO = Path(__file__).resolve().parent.parent
PROJECT = "bench"
SIDE = 256
RAW_BYTES = SIDE * SIDE * 3
TRACKERS = ("fwtrack", "wandb", "floor-l1", "floor-l6")
LABELS = {
    "fwtrack": "`fwtrack.Image` (PNG, zlib level 1)",
    "wandb": "`wandb.Image`, offline (PNG, Pillow's default level 6)",
    "floor-l1": "floor: Pillow PNG level 1 + sha256 + write",
    "floor-l6": "floor: Pillow PNG level 6 + sha256 + write",
}
CASES = ("distinct", "same")
# Images per run in a full run. wandb and the floors get fewer (their per-image figures do not
# depend on the count), so that the whole run stays within minutes; the tables say how many.
IMAGES = {"fwtrack": 1000, "wandb": 300, "floor-l1": 300, "floor-l6": 300}
WORKER_ENV = {
    "WANDB_MODE": "offline",
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_DISABLE_GIT": "true",
    "DO_NOT_TRACK": "true",
    "OMP_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    # Capture and the snapshot are not what this measures: off for both trackers.
    "FWTRACK_SYSTEM_METRICS": "false",
    "FWTRACK_CONSOLE": "off",
    "FWTRACK_SAVE_CODE": "false",
    "FWTRACK_CAPTURE_ENV": "false",
}


# ----------------------------------------------------------------------------------------------
# The worker


def make_images(n: int, content: str, same: bool) -> list[Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32) / SIDE
    out = []
    for i in range(1 if same else n):
        if content == "noise":
            img = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
        else:
            f = 1.0 + (i % 7)
            phase = i * 0.37
            chans = [
                np.sin(2 * np.pi * (f * xx + phase)) * np.cos(2 * np.pi * (0.5 * f * yy - phase)),
                np.sin(2 * np.pi * ((xx + yy) * (1 + i % 3) + phase * 0.5)),
                np.cos(2 * np.pi * (f * 0.5 * (xx - yy) + phase * 1.5)),
            ]
            base = (np.stack(chans, axis=-1) * 0.4 + 0.5) * 255
            base += rng.normal(0, 4, base.shape).astype(np.float32)
            img = np.clip(base, 0, 255).astype(np.uint8)
        out.append(img)
    return out if not same else out * n


def dir_files(path: Path, suffix: str) -> tuple[int, int]:
    files = [p for p in path.rglob(f"*{suffix}") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def worker(tracker: str, case: str, n: int, content: str, workdir: Path) -> dict[str, Any]:
    images = make_images(n, content, same=case == "same")
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"images": n}
    clock = time.perf_counter
    run: Any = None
    log: Any
    make: Any
    if tracker == "fwtrack":
        import fwtrack

        run = fwtrack.init(project=PROJECT, dir=str(data), mode="offline")
        log, make = run.log, fwtrack.Image
    elif tracker == "wandb":
        for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
            os.environ[var] = str(workdir / "wandb-home")
        import wandb

        run = wandb.init(project=PROJECT, dir=str(data), mode="offline")
        log, make = run.log, wandb.Image
    else:
        from PIL import Image as PILImage

        level = int(tracker.rsplit("l", 1)[1])
        media = data / "media"
        media.mkdir()

        class Floor:
            def __init__(self, x: Any) -> None:
                buf = io.BytesIO()
                PILImage.fromarray(x).save(buf, format="PNG", compress_level=level)
                self.payload = buf.getvalue()

        def floor_log(row: dict[str, Floor]) -> None:
            payload = row["img"].payload
            path = media / f"{hashlib.sha256(payload).hexdigest()}.png"
            if not path.exists():
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(payload)
                os.replace(tmp, path)

        log, make = floor_log, Floor
    in_make = in_log = 0.0
    t0 = clock()
    for x in images:
        a = clock()
        img = make(x)
        b = clock()
        log({"img": img})
        in_make += b - a
        in_log += clock() - b
    t1 = clock()
    if run is not None:
        run.finish()
    t2 = clock()
    out.update(
        loop_s=t1 - t0,
        finish_s=t2 - t1,
        total_s=t2 - t0,
        make_s=in_make,
        log_s=in_log,
    )
    out["finished_at"] = time.time()
    if tracker == "fwtrack":
        out["run_dir"] = run.dir
    elif tracker == "wandb":
        out["run_dir"] = str(next(data.glob("wandb/*run-*")))
    else:
        out["run_dir"] = str(data)
    return out


def read_back(tracker: str, run_dir: Path, content: str, n: int) -> dict[str, Any]:
    """Image files and bytes on disk, and the logged values read back (after the worker has
    exited: wandb's service completes its `.wandb` log after `finish()` returns)."""
    if tracker == "fwtrack":
        files, size = dir_files(run_dir / "files" / "media", ".png")
        out = {"files": files, "payload_bytes": size, "run_bytes": dir_files(run_dir, "")[1]}
        out.update(fwtrack_readback(str(run_dir), make_images(1, content, same=False)[0]))
    elif tracker == "wandb":
        files, size = dir_files(run_dir / "files" / "media", ".png")
        out = {"files": files, "payload_bytes": size, "run_bytes": dir_files(run_dir, "")[1]}
        (log_path,) = run_dir.glob("run-*.wandb")
        out["logged"] = sum(
            1
            for rec in wandb_records(log_path)
            if rec.WhichOneof("record_type") == "history"
            and any(
                item.key == "img" or list(item.nested_key[:1]) == ["img"]
                for item in rec.history.item
            )
        )
    else:
        files, size = dir_files(run_dir / "media", ".png")
        out = {"files": files, "payload_bytes": size, "run_bytes": size, "logged": n}
    return out


def fwtrack_readback(run_dir: str, first: Any) -> dict[str, Any]:
    """Media records of key "img", and the first stored image against its array."""
    import numpy as np
    from PIL import Image as PILImage

    from fwtrack import _core

    reader = _core.RunReader(run_dir)
    if not hasattr(reader, "media"):
        return {"logged": None, "pixels_equal": None}
    items = reader.media("img")
    desc = items[0][3]
    with PILImage.open(Path(run_dir) / "files" / desc["path"]) as im:
        equal = bool(np.array_equal(np.asarray(im.convert("RGB")), first))
    return {"logged": len(items), "pixels_equal": equal}


# ----------------------------------------------------------------------------------------------
# The driver


def run_worker(
    tracker: str, case: str, images: int, args: argparse.Namespace, workroot: Path
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{tracker}-{case}-", dir=workroot)).resolve()
    env = {**os.environ, **WORKER_ENV}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tracker, "--case", case]
    cmd += ["--workdir", str(workdir), "--images", str(images), "--content", args.content]
    res = spawn_worker(cmd, workdir, env)
    if res.get("status") == "ok":
        res["exit_s"] = res["exited_at"] - res["finished_at"]
        res.update(read_back(tracker, Path(res["run_dir"]), args.content, images))
    res.update(tracker=tracker, case=case)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return res


def aggregate(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for case in CASES:
        for t in TRACKERS:
            runs = [r for r in results if r["tracker"] == t and r["case"] == case]
            if not runs:
                continue
            ok = [r for r in runs if r.get("status") == "ok"]
            agg: dict[str, Any] = {"reps": len(ok)}
            if not ok:
                agg["error"] = runs[0].get("error")
            for key in (
                "total_s",
                "loop_s",
                "finish_s",
                "exit_s",
                "make_s",
                "log_s",
                "files",
                "payload_bytes",
                "run_bytes",
                "logged",
                "images",
            ):
                vals = [r[key] for r in ok if r.get(key) is not None]
                agg[key] = statistics.median(vals) if vals else None
            if ok:
                eq = [r.get("pixels_equal") for r in ok]
                agg["pixels_equal"] = None if None in eq else all(eq)
                agg["total_range"] = (min(r["total_s"] for r in ok), max(r["total_s"] for r in ok))
            out.setdefault(case, {})[t] = agg
    return out


def render(data: dict[str, Any]) -> str:
    p = data["params"]
    parts = [
        f"Images of {SIDE}x{SIDE} RGB uint8 ({p['content']} content), one `log()` per step "
        f"({', '.join(f'{t} {n:,}' for t, n in p['images'].items())} images per run); "
        f"medians of {p['reps']} repetitions, each in a fresh process."
    ]
    for case, aggs in data["aggregate"].items():
        fwa = aggs.get("fwtrack", {})
        fw = fwa["total_s"] / fwa["images"] if fwa.get("total_s") else None
        rows = []
        for t, a in aggs.items():
            if not a["reps"]:
                rows.append([f"**{t}**", f"error: {a.get('error')}"] + [""] * 12)
                continue
            n = a["images"]
            logged = a.get("logged")
            check = "—" if logged is None else f"{logged:.0f}"
            if a.get("pixels_equal") is not None:
                check += ", pixels equal" if a["pixels_equal"] else ", **pixels differ**"
            lo, hi = a["total_range"]
            rows.append(
                [
                    f"**{t}**",
                    LABELS[t],
                    f"{n:,.0f}",
                    num(a["total_s"] / n * 1000),
                    f"{num(lo / n * 1000)}-{num(hi / n * 1000)}",
                    num(a["loop_s"] / n * 1000),
                    num(a["finish_s"] * 1000),
                    num(a["exit_s"] * 1000),
                    ratio(a["total_s"] / n, fw) if t != "fwtrack" and fw else "",
                    num(a["payload_bytes"] / a["total_s"] / 1e6),
                    num(n * RAW_BYTES / a["total_s"] / 1e6),
                    f"{a['files']:.0f} / {a['payload_bytes'] / 2**20:,.1f} MiB",
                    f"{a['run_bytes'] / 2**20:,.1f}",
                    check,
                ]
            )
        head = [
            "tracker",
            "what",
            "images",
            "ms per image (loop + finish)",
            "range (ms)",
            "ms per image, loop only",
            "finish() ms",
            "finish() to process exit ms",
            "vs fwtrack",
            "payload MB/s",
            "raw MB/s",
            "image files / bytes",
            "run dir MiB",
            "logged values read back",
        ]
        title = {
            "distinct": "Distinct images (a different array every step)",
            "same": "The same image at every step (dedupe)",
        }[case]
        parts += ["", f"**{title}**", "", table(head, rows)]
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=TRACKERS, help=argparse.SUPPRESS)
    ap.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    ap.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument(
        "--images", type=int, default=None, help="images per run (1,000, wandb 300; 100 quick)"
    )
    ap.add_argument("--content", choices=("smooth", "noise"), default="smooth")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (3; 2 with --quick)")
    ap.add_argument("--quick", action="store_true", help="100 images, 2 repetitions")
    ap.add_argument("--trackers", default=",".join(TRACKERS), help="comma list")
    ap.add_argument("--out", type=Path, default=REPO / "benches" / "out" / "media")
    ap.add_argument("--keep", action="store_true", help="keep the workers' directories")
    ap.add_argument("--render", type=Path, help="print the tables of a saved results.json")
    args = ap.parse_args()

    if args.worker:
        return worker_main(
            args.workdir,
            lambda: worker(args.worker, args.case, args.images, args.content, args.workdir),
        )

    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0

    images = {t: args.images or (100 if args.quick else IMAGES[t]) for t in TRACKERS}
    args.reps = args.reps or (2 if args.quick else 3)
    trackers = [t for t in TRACKERS if t in args.trackers.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    workroot = Path(tempfile.mkdtemp(prefix="media-bench-"))
    start, load_start = time.time(), os.getloadavg()
    results: list[dict[str, Any]] = []
    try:
        for rep in range(args.reps):
            for c, case in enumerate(CASES):
                by = (rep + c) % len(trackers)
                for t in trackers[by:] + trackers[:by]:
                    res = run_worker(t, case, images[t], args, workroot)
                    res["rep"] = rep
                    results.append(res)
                    state = (
                        f"{res['total_s'] / images[t] * 1000:.2f} ms/image"
                        if res.get("status") == "ok"
                        else res.get("error", "?")
                    )
                    print(f"rep {rep + 1}/{args.reps} {case:<8} {t:<9} {state}", flush=True)
    finally:
        shutil.rmtree(workroot, ignore_errors=True)
    versions: dict[str, str | None] = {}
    for dist in ("fwtrack", "wandb", "pillow", "numpy"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    data: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions,
        "params": {"images": images, "content": args.content, "reps": args.reps},
        "load_start": load_start,
        "load_end": os.getloadavg(),
        "wall_s": time.time() - start,
        "aggregate": aggregate(results),
        "results": results,
    }
    save_results(data, args.out, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
