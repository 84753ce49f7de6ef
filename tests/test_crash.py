"""Crashes and exits of real processes, read back through `fwtrack.Api`.

Every child runs under a deadline and is killed at teardown, so a hang fails the test instead
of stalling the suite.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fwtrack import _core
from fwtrack.api import Api, Run

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("tmp_dir")]

DEADLINE = 60.0  # seconds a child may take to print the line a test waits for
REPO = Path(__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """This environment (with the test's `FWTRACK_DIR`), importing fwtrack from the checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    return env


class Child:
    """A Python child process whose stdout is read line by line under a deadline."""

    def __init__(self, code: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=child_env(),
        )
        self._selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        # Read the raw descriptor: several lines may arrive in one read, and a line left in
        # a file object's buffer would never wake the selector again.
        self._fd = self.proc.stdout.fileno()
        self._selector.register(self._fd, selectors.EVENT_READ)
        self._pending = b""
        self.lines: list[str] = []

    def readline(self) -> str:
        """The next stdout line; fails the test on EOF or when the deadline passes."""
        deadline = time.monotonic() + DEADLINE
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"child printed nothing for {DEADLINE}s; lines so far: {self.lines}")
            if self._selector.select(timeout=left):
                data = os.read(self._fd, 65536)
                if not data:
                    pytest.fail(f"child exited early: {self.stderr_text()}")
                self._pending += data
        line, _, self._pending = self._pending.partition(b"\n")
        self.lines.append(line.decode())
        return self.lines[-1]

    def wait_for(self, prefix: str) -> str:
        while True:
            line = self.readline()
            if line.startswith(prefix):
                return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail("child did not exit in time")

    def rest_of_stdout(self) -> list[str]:
        chunks = [self._pending]
        while data := os.read(self._fd, 65536):
            chunks.append(data)
        self._pending = b""
        self.lines.extend(b"".join(chunks).decode().splitlines())
        return self.lines

    def stderr_text(self) -> str:
        assert self.proc.stderr is not None
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        self._selector.close()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def spawn() -> Iterator[type[Child]]:
    children: list[Child] = []

    class Tracked(Child):
        def __init__(self, code: str) -> None:
            super().__init__(code)
            children.append(self)

    yield Tracked
    for child in children:
        child.close()


def run_code(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=DEADLINE,
        check=False,
    )


def only_run(project: str) -> Run:
    runs = Api().runs(project)
    assert len(runs) == 1, runs
    return runs[0]


LOGS_UNTIL_KILLED = """
    import fwtrack
    run = fwtrack.init(project="crash", config={"kind": "kill-9"})
    print("id", run.id, flush=True)
    step = 0
    while True:
        run.log({"x": float(step), "y": step * 2, "tag": f"s{step}"})
        if step % 50 == 49:
            run.flush()
            print("flushed", step, flush=True)
        step += 1
"""


def test_kill_9_reads_back_as_crashed_with_every_flushed_step(spawn: type[Child]) -> None:
    child = spawn(LOGS_UNTIL_KILLED)
    run_id = child.wait_for("id ").split()[1]
    while int(child.wait_for("flushed ").split()[1]) < 1000:
        pass
    child.proc.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    flushed = [
        int(line.split()[1]) for line in child.rest_of_stdout() if line.startswith("flushed")
    ]
    last_flushed = max(flushed)

    run = Api().run(f"crash/{run_id}")
    assert run.state == "crashed"
    assert run.exit_code is None
    assert run.config == {"kind": "kill-9"}
    history = run.history()
    steps = history["_step"].to_numpy()
    assert len(steps) >= last_flushed + 1
    np.testing.assert_array_equal(steps, np.arange(len(steps)))
    np.testing.assert_array_equal(history["x"].to_numpy(), steps.astype(float))
    np.testing.assert_array_equal(history["y"].to_numpy(), steps * 2.0)
    assert history["tag"].tolist() == [f"s{s}" for s in steps]
    assert run.last_step == steps[-1]
    assert run.runtime > 0
    assert [r["_step"] for r in run.scan_history(keys=["x"])] == steps.tolist()
    assert isinstance(run.tail_error, str | None)  # a torn tail is reported, never raised

    # The same log cut at any point, or damaged, reads cleanly up to the damage.
    log = run.log_path.read_bytes()
    original = {int(s): float(x) for s, x in zip(steps, history["x"], strict=True)}
    header = 16
    cuts = sorted({header, header + 1, len(log) // 4, len(log) // 2, len(log) * 3 // 4})
    cuts += [len(log) - 1]
    for cut in cuts:
        copy = damaged_copy(run, f"cut-{cut}", log[:cut])
        assert copy.state == "crashed"
        got = copy.history()
        assert_prefix(got["_step"].tolist(), got["x"].tolist() if "x" in got else [], original)
        if cut == len(log) - 1 or cut == header + 1:
            assert copy.tail_error is not None, cut

    flipped = bytearray(log)
    flipped[len(log) // 2] ^= 0xFF
    copy = damaged_copy(run, "flipped", bytes(flipped))
    got = copy.history()
    assert copy.tail_error is not None
    assert len(got) < len(history)
    assert_prefix(got["_step"].tolist(), got["x"].tolist() if "x" in got else [], original)

    with pytest.raises(_core.CorruptLogError, match="cut-short"):
        damaged_copy(run, "cut-short", log[: header - 1])


def damaged_copy(run: Run, name: str, data: bytes) -> Run:
    target = run.dir.parent.parent / "damaged" / name
    target.mkdir(parents=True)
    (target / _core.LOG_FILE_NAME).write_bytes(data)
    return Api().run(f"damaged/{name}")


def assert_prefix(steps: list[int], xs: list[float], original: dict[int, float]) -> None:
    """`steps` are the first steps of the original history, each with its original value."""
    assert steps == list(range(len(steps)))
    assert all(original[s] == x for s, x in zip(steps, xs, strict=False))


WAITS_FOR_INPUT = """
    import sys
    import fwtrack
    run = fwtrack.init(project="live")
    print("id", run.id, flush=True)
    for batch in range(3):
        for i in range(10):
            run.log({"loss": 1.0 / (10 * batch + i + 1)})
        run.flush()
        print("flushed", batch, flush=True)
        sys.stdin.readline()
    run.finish()
"""


def test_a_running_run_reads_as_running_and_grows(spawn: type[Child]) -> None:
    child = spawn(WAITS_FOR_INPUT)
    run_id = child.wait_for("id ").split()[1]
    child.wait_for("flushed 0")
    run = Api().run(run_id)
    assert run.state == "running"
    assert len(run.history()) == 10
    assert run.tail_error is None

    child.send("go\n")
    child.wait_for("flushed 1")
    assert run.state == "running"
    assert len(run.history()) == 20
    assert run.row_count == 20
    assert [r["_step"] for r in run.scan_history()] == list(range(20))
    assert Api().runs("live")[0].state == "running"

    child.send("go\n")
    child.wait_for("flushed 2")
    child.send("go\n")
    assert child.wait() == 0
    assert run.state == "finished"
    assert len(run.history()) == 30


@pytest.mark.parametrize(
    ("ending", "status", "state", "exit_code"),
    [
        ("fwtrack.finish()", 0, "finished", 0),
        ("pass  # never finished: the atexit hook finishes it", 0, "finished", 0),
        ("raise RuntimeError('boom')", 1, "failed", 1),
        ("sys.exit(0)", 0, "finished", 0),
        ("sys.exit(3)", 3, "failed", 3),
        (
            "with fwtrack.init(project='exits', id='second', reinit='finish_previous'):\n"
            "    raise SystemExit(4)",
            4,
            None,
            4,
        ),
    ],
    ids=["finish", "atexit", "exception", "exit-0", "exit-3", "context-manager"],
)
def test_how_a_script_ends_decides_the_state(
    ending: str, status: int, state: str | None, exit_code: int
) -> None:
    script = "import sys\nimport fwtrack\n"
    script += "run = fwtrack.init(project='exits', id='first')\n"
    script += "fwtrack.log({'loss': 0.5})\n"
    script += ending + "\n"
    done = run_code(script)
    assert done.returncode == status, done.stderr
    if ending.startswith("with"):
        # The first run was finished (cleanly) when the second started; the block's exit
        # code goes to the second.
        assert Api().run("exits/first").state == "finished"
        second = Api().run("exits/second")
        assert (second.state, second.exit_code) == ("failed", exit_code)
        return
    run = Api().run("exits/first")
    assert run.state == state
    assert run.exit_code == exit_code
    assert run.history()["loss"].tolist() == [0.5]


def test_a_killed_run_is_crashed_and_a_resume_continues_it(spawn: type[Child]) -> None:
    child = spawn(
        """
        import fwtrack
        run = fwtrack.init(project="resume", id="r1")
        for step in range(5):
            run.log({"x": step})
        run.flush()
        print("flushed", flush=True)
        import time
        time.sleep(600)
        """
    )
    child.wait_for("flushed")
    assert only_run("resume").state == "running"
    child.kill()
    run = only_run("resume")
    assert run.state == "crashed"

    done = run_code(
        """
        import fwtrack
        run = fwtrack.init(project="resume", id="r1", resume="allow")
        run.log({"x": 5})
        run.finish()
        """
    )
    assert done.returncode == 0, done.stderr
    assert run.state == "finished"
    assert len(run.starts) == 2
    assert run.starts[1]["resumed"] is True
    assert run.history()["x"].tolist() == [0, 1, 2, 3, 4, 5]
    shutil.rmtree(run.dir)
    assert Api().runs("resume") == []
