"""Many threads logging at once, and forked children (DataLoader workers) that log."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
import pytest

import fwtrack
from fwtrack import _core

if TYPE_CHECKING:
    from conftest import ScriptRunner

pytestmark = pytest.mark.usefixtures("tmp_dir")

THREADS = 8
LOGS_PER_THREAD = 2000


def test_many_threads_log_at_once() -> None:
    run = fwtrack.init(project="threads")
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            start.wait()
            for j in range(LOGS_PER_THREAD):
                # odd threads go through the converter (numpy scalars) while others log ints
                value = np.int64(j) if t % 2 else j
                run.log({f"t{t}": value})
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert run.step == THREADS * LOGS_PER_THREAD
    run.finish()

    reader = _core.RunReader(run.dir)
    assert reader.meta()["rows"] == THREADS * LOGS_PER_THREAD
    seen: dict[str, Counter[int]] = {f"t{t}": Counter() for t in range(THREADS)}
    steps = []
    for row in reader.scan():
        steps.append(row["_step"])
        keys = [k for k in row if not k.startswith("_") and row[k] == row[k]]  # skip NaN
        assert len(keys) == 1, row
        seen[keys[0]][int(row[keys[0]])] += 1
    assert sorted(steps) == list(range(THREADS * LOGS_PER_THREAD))
    for key, counts in seen.items():
        assert counts == Counter(range(LOGS_PER_THREAD)), key  # each value exactly once


def test_threads_changing_config_and_summary() -> None:
    run = fwtrack.init()

    def worker(t: int) -> None:
        for j in range(200):
            run.config[f"t{t}"] = j
            run.summary[f"s{t}"] = j
            run.log({f"x{t}": j})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    run.finish()
    m = _core.RunReader(run.dir).meta()
    assert m["config"] == {f"t{t}": 199 for t in range(4)}
    for t in range(4):
        assert m["summary"][f"s{t}"] == 199


DATALOADER_SCRIPT = """
import torch
from torch.utils.data import DataLoader, Dataset
import fwtrack

class Logging(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        # in a worker (a forked child) this is ignored, with one warning
        fwtrack.log({"worker/item": i})
        fwtrack.run.config["from_worker"] = i
        return torch.tensor([float(i)])

run = fwtrack.init(project="fork", config={"lr": 0.1})
total = 0.0
for epoch in range(2):
    loader = DataLoader(
        Logging(), batch_size=4, num_workers=2, multiprocessing_context="fork"
    )
    for batch in loader:
        total += float(batch.sum())
        run.log({"batch_sum": float(batch.sum()), "epoch": epoch})
run.finish()
print(run.dir)
print(total)
"""


def test_forking_dataloader_workers_that_log(run_script: ScriptRunner) -> None:
    out = run_script(DATALOADER_SCRIPT, timeout=90)
    run_dir, total = out.stdout.split()
    assert float(total) == 2 * sum(range(64))
    reader = _core.RunReader(run_dir)
    m = reader.meta()
    assert m["finish"]["exit_code"] == 0
    assert m["rows"] == 32
    assert m["config"] == {"lr": 0.1}
    history = reader.history()
    assert "worker/item" not in history
    assert sum(history["batch_sum"]) == 2 * sum(range(64))
    assert list(history["_step"]) == list(range(32))
    assert "fork" in out.stderr  # the workers said why their calls were ignored


FORK_WHILE_LOGGING_SCRIPT = """
import os, sys, threading
import fwtrack

run = fwtrack.init(project="fork")
stop = threading.Event()

def spin():
    i = 0
    while not stop.is_set():
        run.log({"bg": i})
        run.config["bg"] = i
        i += 1

threads = [threading.Thread(target=spin) for _ in range(2)]
for t in threads:
    t.start()
children = 0
for k in range(20):
    pid = os.fork()
    if pid == 0:
        # The parent's threads may have held any lock at fork time: nothing may hang here.
        fwtrack.log({"child": k})
        run.config["child"] = k
        run.summary["child"] = k
        fwtrack.define_metric("child", summary="max")
        run.flush()
        fwtrack.finish()
        fwtrack.init(project="fork-child-reinit", mode="disabled").log({"x": 1})
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    children += 1
stop.set()
for t in threads:
    t.join()
run.log({"after": 1})
run.finish()
print(run.dir, children)
"""


def test_fork_while_threads_log(run_script: ScriptRunner) -> None:
    out = run_script(FORK_WHILE_LOGGING_SCRIPT, timeout=90)
    run_dir, children = out.stdout.split()
    assert children == "20"
    reader = _core.RunReader(run_dir)
    m = reader.meta()
    assert m["finish"]["exit_code"] == 0  # the children's finish() did not finish the run
    assert "child" not in m["config"]
    assert "child" not in m["summary"]
    history = reader.history()
    assert "child" not in history
    assert history["after"][-1] == 1
    bg = history["bg"][~np.isnan(history["bg"])]
    assert len(bg) > 0


def test_forked_child_that_exits_normally(run_script: ScriptRunner) -> None:
    out = run_script(
        """
        import os, sys
        import fwtrack
        run = fwtrack.init(project="fork")
        run.log({"a": 1})
        pid = os.fork()
        if pid == 0:
            fwtrack.log({"a": 99})
            sys.exit(0)  # runs atexit in the child: must not finish the parent's run
        os.waitpid(pid, 0)
        run.log({"a": 2})
        print(run.dir)
        """
    )
    reader = _core.RunReader(out.stdout.strip())
    assert list(reader.history()["a"]) == [1.0, 2.0]
    assert reader.meta()["finish"]["exit_code"] == 0


SMALL_QUEUE_SCRIPT = """
import threading
import fwtrack

run = fwtrack.init(project="threads", settings={"queue_capacity": 4})

def worker(t):
    for j in range(3000):
        run.log({f"t{t}": j})

threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
for th in threads:
    th.start()
for th in threads:
    th.join()
run.finish()
print(run.dir)
"""


def test_many_threads_with_a_full_queue(run_script: ScriptRunner) -> None:
    # log() waits for room in the queue; with other threads waiting to log, nothing may hang.
    out = run_script(SMALL_QUEUE_SCRIPT, timeout=60)
    assert _core.RunReader(out.stdout.strip()).meta()["rows"] == 8 * 3000


FORK_READS_STATE_SCRIPT = """
import os, threading
import fwtrack

run = fwtrack.init(project="fork")
stop = threading.Event()

def spin():
    while not stop.is_set():
        run.log({"bg": 1})

threads = [threading.Thread(target=spin) for _ in range(2)]
for t in threads:
    t.start()
for k in range(50):
    pid = os.fork()
    if pid == 0:
        # reading the run's state in a child must not wait on a lock a parent thread held
        _ = run.step, run.summary.as_dict(), run.config.as_dict(), run._inner.dropped_steps
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
stop.set()
for t in threads:
    t.join()
run.finish()
print("ok")
"""


def test_forked_child_reads_run_state(run_script: ScriptRunner) -> None:
    assert run_script(FORK_READS_STATE_SCRIPT, timeout=60).stdout.strip() == "ok"
