"""Forks children while the parent's media worker is storing images; each child logs to the
run it inherited (ignored there), then starts a run of its own and logs an image to it.

Prints `{"parent": dir, "children": [dir, ...]}` as a JSON line. A deadlock in a child (a
lock the parent's worker held at the fork) shows as the test's timeout.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import warnings

import numpy as np

import fwtrack

CHILDREN = 4


def child(queue: mp.Queue[str], seed: int) -> None:
    # Above 128 KiB: hashed as a forked child must (no threads of the parent to help).
    pixels = np.random.default_rng(seed).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "this process was forked ...": expected here
        fwtrack.log({"img": fwtrack.Image(pixels)})  # the parent's run: ignored
    run = fwtrack.init(project="fork-child", mode="offline")
    run.log({"img": fwtrack.Image(pixels), "seed": seed})
    run.finish()
    queue.put(run.dir)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    run = fwtrack.init(project="fork-parent", mode="offline")
    ctx = mp.get_context("fork")
    queue: mp.Queue[str] = ctx.Queue()
    procs = []
    for i in range(CHILDREN):
        # Large images keep the worker busy (holding its locks now and then) at each fork.
        run.log({"img": fwtrack.Image(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8))})
        proc = ctx.Process(target=child, args=(queue, i))
        proc.start()
        procs.append(proc)
    children = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0, proc.exitcode
    run.finish()
    print(json.dumps({"parent": run.dir, "children": sorted(children)}))
