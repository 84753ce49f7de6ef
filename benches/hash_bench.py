"""Hashing throughput: fwtrack's content addresses (BLAKE3 in the core) against `b3sum`,
`sha256sum` and Python's `hashlib.sha256`, on the same files.

    python benches/hash_bench.py --out benches/out/hash            # 1 GiB + 10,000 x 40 kB, 5 reps
    python benches/hash_bench.py --out benches/out/hash --quick    # 256 MiB + 2,000 files, 3 reps

The data is made once and kept in `<out>/data-<sizes>`: one file of `--big-mib` MiB and `--files`
files of `--file-bytes` bytes, random bytes (nothing for a hash to skip). Every file is read
once before the clock starts, so each method hashes from the page cache, as an uploader does
right after a run wrote its files.

Methods, each measurement in a fresh process, in an order rotated between repetitions:

- `fwtrack`: `_core.hash_file` for the big file (memory-mapped, hashed on every core) and
  `_core.hash_files` for the small files (the files spread over every core);
- `fwtrack, 1 thread`: the same with `RAYON_NUM_THREADS=1`;
- `fwtrack, hash_file per file` (small files only): a Python loop of `_core.hash_file`;
- `b3sum`: the BLAKE3 team's command-line tool (every core), and `b3sum --num-threads 1`;
  taken from PATH, else installed once into `benches/out/tools` with `cargo install b3sum
  --locked`;
- `sha256sum` (coreutils) and `hashlib.sha256` (Python, 1 MiB reads), one thread each.

The times of fwtrack and hashlib are taken inside their process, after the imports; those of
the command-line tools are the wall time of the process, its few milliseconds of start-up
included. GB/s are 10^9 bytes per second of the median time. "CPU s" is the CPU time of the
same span (every thread, user + system): on a loaded machine, where wall times say little,
GB per CPU second still compares the hash functions' cost. Digests are cross-checked:
fwtrack's against b3sum's, hashlib's against sha256sum's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benches"))

from run import fwtrack_build, machine, num, ratio, save_results, table  # noqa: E402

DATASETS = ("big", "small")
# method: (label, threads, datasets)
METHODS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "fwtrack": ("fwtrack `hash_file` / `hash_files`", "all", DATASETS),
    "fwtrack-1t": ("fwtrack, `RAYON_NUM_THREADS=1`", "1", DATASETS),
    "fwtrack-loop": ("fwtrack, `hash_file` per file in Python", "all", ("small",)),
    "b3sum": ("`b3sum`", "all", DATASETS),
    "b3sum-1t": ("`b3sum --num-threads 1`", "1", DATASETS),
    "sha256sum": ("`sha256sum` (coreutils)", "1", DATASETS),
    "hashlib": ("`hashlib.sha256`, 1 MiB reads", "1", DATASETS),
}
READ = 1 << 20
TOOLS = REPO / "benches" / "out" / "tools"


# ----------------------------------------------------------------------------------------------
# Data


def make_data(data: Path, big_mib: int, files: int, file_bytes: int) -> None:
    """The data set in `data`, made when missing or made with other sizes."""
    params = {"big_mib": big_mib, "files": files, "file_bytes": file_bytes}
    stamp = data / "params.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return
    shutil.rmtree(data, ignore_errors=True)
    (data / "small").mkdir(parents=True)
    t0 = time.perf_counter()
    with open(data / "big.bin", "wb") as f:
        for _ in range(big_mib):
            f.write(os.urandom(1 << 20))
    for i in range(files):
        (data / "small" / f"f{i:05d}.bin").write_bytes(os.urandom(file_bytes))
    stamp.write_text(json.dumps(params))
    print(f"made the data in {time.perf_counter() - t0:.1f} s: {data}")


def small_names(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "small").iterdir())


def warm(data: Path) -> None:
    """Read every file once, so that every method hashes from the page cache."""
    buf = bytearray(READ)
    for p in [data / "big.bin", *((data / "small") / n for n in small_names(data))]:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def b3sum_path(tools: Path) -> str:
    found = shutil.which("b3sum") or shutil.which("b3sum", path=str(tools / "bin"))
    if found:
        return found
    print(f"b3sum is not on PATH: cargo install b3sum --locked --root {tools}")
    subprocess.run(
        ["cargo", "install", "b3sum", "--locked", "--root", str(tools)], check=True
    )  # fmt: skip
    return str(tools / "bin" / "b3sum")


def fingerprint(hexes: list[str]) -> str:
    """One value for the digests of many files, in file order."""
    return hashlib.sha256("\n".join(hexes).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# Measurements


def worker(method: str, dataset: str, data: Path) -> dict[str, Any]:
    """Hash `dataset` with an in-process method; runs in its own process."""
    sys.path.insert(0, str(REPO / "python"))
    from fwtrack import _core

    names = small_names(data)
    paths = [str(data / "small" / n) for n in names]
    big = str(data / "big.bin")
    t0, c0 = time.perf_counter(), time.process_time()
    if method in ("fwtrack", "fwtrack-1t"):
        if dataset == "big":
            hexes = [_core.hash_file(big)[0]]
        else:
            hexes = [r[0] for r in _core.hash_files(paths) if r is not None]
    elif method == "fwtrack-loop":
        hexes = [_core.hash_file(p)[0] for p in paths]
    elif method == "hashlib":
        buf = bytearray(READ)
        view = memoryview(buf)
        hexes = []
        for p in [big] if dataset == "big" else paths:
            h = hashlib.sha256()
            with open(p, "rb", buffering=0) as f:
                while n := f.readinto(buf):
                    h.update(view[:n])
            hexes.append(h.hexdigest())
    else:
        raise ValueError(f"unknown method {method!r}")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    hexes = [h.split(":", 1)[-1] for h in hexes]
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "count": len(hexes),
        "fingerprint": fingerprint(hexes),
    }


def measure(method: str, dataset: str, data: Path, b3sum: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if method.endswith("-1t"):
        env["RAYON_NUM_THREADS"] = "1"
    if method in ("b3sum", "b3sum-1t", "sha256sum"):
        cmd = [b3sum] if method.startswith("b3sum") else ["sha256sum"]
        if method == "b3sum-1t":
            cmd += ["--num-threads", "1"]
        if dataset == "big":
            cwd, args = data, ["big.bin"]
        else:
            cwd, args = data / "small", small_names(data)
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        out = subprocess.run(cmd + args, cwd=cwd, env=env, capture_output=True, check=True)
        seconds, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
        hexes = [line.split()[0] for line in out.stdout.decode().splitlines()]
        return {
            "seconds": seconds,
            "cpu_s": cpu,
            "count": len(hexes),
            "fingerprint": fingerprint(hexes),
        }
    cmd = [sys.executable, __file__, "--worker", method, dataset, str(data)]
    out = subprocess.run(cmd, env=env, capture_output=True, check=True, text=True)
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    data = out / f"data-{args.big_mib}m-{args.files}x{args.file_bytes}"
    make_data(data, args.big_mib, args.files, args.file_bytes)
    b3sum = b3sum_path(TOOLS)
    b3_version = subprocess.run([b3sum, "--version"], capture_output=True, text=True).stdout
    warm(data)
    sizes = {
        "big": (data / "big.bin").stat().st_size,
        "small": sum(p.stat().st_size for p in (data / "small").iterdir()),
    }
    jobs = [(m, d) for m, (_, _, ds) in METHODS.items() for d in ds]
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        d: {m: [] for m, (_, _, ds) in METHODS.items() if d in ds} for d in DATASETS
    }
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    for rep in range(args.reps):
        shift = rep * len(jobs) // max(args.reps, 1)
        for method, dataset in jobs[shift:] + jobs[:shift]:
            res = measure(method, dataset, data, b3sum)
            res["load1"] = os.getloadavg()[0]
            results[dataset][method].append(res)
            print(
                f"rep {rep + 1}/{args.reps} {dataset:5} {method:13} {res['seconds']:8.3f} s "
                f"{sizes[dataset] / res['seconds'] / 1e9:6.2f} GB/s",
                flush=True,
            )
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "fwtrack": fwtrack_build(),
        "b3sum": b3_version.strip(),
        "params": {
            "reps": args.reps,
            "big_bytes": sizes["big"],
            "files": args.files,
            "file_bytes": args.file_bytes,
            "small_bytes": sizes["small"],
        },
        "results": results,
        "wall_s": time.perf_counter() - t0,
        "load_start": load_start,
        "load_end": os.getloadavg(),
    }


# ----------------------------------------------------------------------------------------------
# Tables


def render(data: dict[str, Any]) -> str:
    p, m = data["params"], data["machine"]
    sizes = {"big": p["big_bytes"], "small": p["small_bytes"]}
    parts = [
        f"{data['date']}; {m['cpu']}, {m['cores']} cores, Python {m['python']}; fwtrack "
        f"{data['fwtrack']['commit']}, {data['b3sum']}. Medians of {p['reps']} repetitions, "
        f"methods in rotating order, each measurement in a fresh process, files in the page "
        f"cache; 1-minute load {data['load_start'][0]:.1f} at the start, "
        f"{data['load_end'][0]:.1f} at the end."
    ]
    checks = []
    for dataset in DATASETS:
        res = data["results"][dataset]
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in res.items() if v}
        gbs = {k: sizes[dataset] / s / 1e9 for k, s in med.items()}
        cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in res.items() if v}
        per_cpu = {k: sizes[dataset] / c / 1e9 for k, c in cpu.items()}
        prints = {k: {r["fingerprint"] for r in v} for k, v in res.items()}
        same_b3 = prints["fwtrack"] == prints["b3sum"] == prints["fwtrack-1t"]
        same_sha = prints["hashlib"] == prints["sha256sum"]
        checks.append(
            f"{dataset}: fwtrack {'=' if same_b3 else '**≠**'} b3sum, "
            f"hashlib {'=' if same_sha else '**≠**'} sha256sum"
        )
        rows = []
        for k, v in res.items():
            label, threads, _ = METHODS[k]
            secs = [r["seconds"] for r in v]
            rows.append(
                [
                    label,
                    threads,
                    num(med[k]),
                    f"{num(min(secs))}-{num(max(secs))}",
                    f"**{num(gbs[k])}**" if k == "fwtrack" else num(gbs[k]),
                    ratio(gbs[k], gbs["sha256sum"], higher_is_better=True),
                    ratio(gbs[k], gbs["hashlib"], higher_is_better=True),
                    num(cpu[k]),
                    num(per_cpu[k]),
                ]
            )
        what = (
            f"one file of {sizes['big'] / 2**30:g} GiB"
            if dataset == "big"
            else f"{p['files']:,} files of {p['file_bytes'] / 1e3:g} kB"
            f" ({sizes['small'] / 1e6:,.0f} MB)"
        )
        parts.append(f"### {what}")
        head = ["method", "threads", "median s", "range s", "GB/s", "vs sha256sum", "vs hashlib"]
        head += ["CPU s", "GB per CPU s"]
        parts.append(table(head, rows))
        sha1 = max(gbs["sha256sum"], gbs["hashlib"])
        parts.append(
            f"fwtrack: {num(gbs['fwtrack'] / sha1)}x the faster single-threaded sha256 "
            f"(target ≥ 5x); {num(gbs['fwtrack'] / gbs['fwtrack-1t'])}x its own single thread "
            f"on {m['cores']} cores; {num(gbs['fwtrack'] / gbs['b3sum'])}x b3sum. Per CPU "
            f"second: {num(per_cpu['fwtrack-1t'] / max(per_cpu['sha256sum'], per_cpu['hashlib']))}"
            f"x the faster sha256 (one thread each)."
        )
    parts.append("Digests: " + "; ".join(checks) + ".")
    return "\n\n".join(parts)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], Path(sys.argv[4]))))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "benches" / "out" / "hash"))
    ap.add_argument("--big-mib", type=int, default=1024, help="size of the big file in MiB")
    ap.add_argument("--files", type=int, default=10_000, help="number of small files")
    ap.add_argument("--file-bytes", type=int, default=40_000, help="size of each small file")
    ap.add_argument("--reps", type=int, default=5, help="repetitions")
    ap.add_argument("--quick", action="store_true", help="256 MiB, 2,000 files, 3 reps")
    ap.add_argument("--render", metavar="JSON", help="print the tables of a saved run")
    args = ap.parse_args()
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return
    if args.quick:
        args.big_mib, args.files, args.reps = 256, 2000, 3
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_results(run(args), out, render)


if __name__ == "__main__":
    main()
