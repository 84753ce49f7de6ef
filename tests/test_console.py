"""Console capture at the file-descriptor level, in real interpreters: what a script prints
(from Python, from C, from a child process) reaches its terminal AND the run log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import fwtrack
from conftest import REPO, ScriptRunner
from fwtrack.api import Api, LogLine
from fwtrack.sdk.settings import Settings


def only_run(tmp_path: Path) -> fwtrack.api.Run:
    (run,) = Api(tmp_path / "fwtrack").runs("c")
    return run


def stdout_texts(run: fwtrack.api.Run) -> list[str]:
    return [line.text for line in run.logs() if line.stream == "stdout"]


def test_python_c_and_child_output_reach_the_terminal_and_the_log(
    run_script: ScriptRunner, tmp_path: Path
) -> None:
    proc = run_script(
        """
        import ctypes, os, subprocess, sys
        import fwtrack
        fwtrack.init(project="c")
        print("from python")
        os.write(1, b"from os.write\\n")
        libc = ctypes.CDLL(None)
        libc.printf(b"from printf %d\\n", 42)
        libc.fflush(None)
        sys.stdout.flush()
        subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
        print("from stderr", file=sys.stderr)
        fwtrack.finish()
        """
    )
    expected_out = ["from python", "from os.write", "from printf 42", "from a child process"]
    for text in expected_out:
        assert text in proc.stdout.splitlines()
    assert "from stderr" in proc.stderr.splitlines()
    logs = only_run(tmp_path).logs()
    assert all(isinstance(line, LogLine) for line in logs)
    assert [line.text for line in logs if line.stream == "stdout"] == expected_out
    assert [line.text for line in logs if line.stream == "stderr"] == ["from stderr"]
    assert [str(line) for line in logs if line.stream == "stderr"] == ["from stderr"]
    stamps = [line.timestamp for line in logs]
    assert all(t > 1e9 for t in stamps)


def test_a_carriage_return_progress_bar_is_stored_as_its_final_lines(
    run_script: ScriptRunner, tmp_path: Path
) -> None:
    proc = run_script(
        """
        import sys
        import fwtrack
        fwtrack.init(project="c")
        for epoch in range(2):
            for i in range(101):
                bar = "#" * (i // 10)
                sys.stdout.write(f"\\repoch {epoch}: {i:3d}%|{bar:<10}|")
                sys.stdout.flush()
            sys.stdout.write("\\n")
        sys.stdout.write("windows line\\r\\n")
        sys.stdout.write("no newline at the end")
        fwtrack.finish()
        """
    )
    assert "epoch 1: 100%|##########|" in proc.stdout
    assert [line.text for line in only_run(tmp_path).logs()] == [
        "epoch 0: 100%|##########|",
        "epoch 1: 100%|##########|",
        "windows line",
        "no newline at the end",
    ]


def test_a_tqdm_bar_is_stored_as_its_final_line(run_script: ScriptRunner, tmp_path: Path) -> None:
    # The real tqdm, redrawing on stderr at every step (mininterval=0): thousands of
    # redraws reach the terminal, one line per bar reaches the log.
    proc = run_script(
        """
        import fwtrack
        from tqdm import tqdm
        fwtrack.init(project="c")
        for epoch in range(2):
            for _ in tqdm(range(500), desc=f"epoch {epoch}", mininterval=0, ncols=60):
                pass
        print("done")
        fwtrack.finish()
        """
    )
    assert proc.stderr.count("epoch 0:") > 100  # every redraw reached the terminal
    logs = only_run(tmp_path).logs()
    bars = [line.text for line in logs if line.stream == "stderr"]
    assert len(bars) == 2
    for epoch, bar in enumerate(bars):
        assert bar.startswith(f"epoch {epoch}: 100%")
        assert "500/500" in bar
    assert [line.text for line in logs if line.stream == "stdout"] == ["done"]


def test_lines_before_a_kill_9_are_kept(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """
        import sys, time
        import fwtrack
        fwtrack.init(project="c", id="killed")
        for i in range(3):
            print(f"line {i}", flush=True)
        print("partial", end="", flush=True)
        print("READY", file=sys.stderr, flush=True)
        while True:
            time.sleep(1)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["FWTRACK_DIR"] = str(tmp_path / "fwtrack")
    env["PYTHONPATH"] = str(REPO / "python")
    proc = subprocess.Popen(
        [sys.executable, "-c", source],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().strip() == "READY"
        expected = ["line 0", "line 1", "line 2"]
        deadline = time.monotonic() + 60
        while stdout_texts(only_run(tmp_path)) != expected:
            assert time.monotonic() < deadline, "the lines never reached the run log"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    run = only_run(tmp_path)
    assert run.state == "crashed"
    assert stdout_texts(run) == expected
    assert [line.text for line in run.logs() if line.stream == "stderr"] == ["READY"]


def test_output_just_before_a_crash_still_reaches_the_terminal(run_script: ScriptRunner) -> None:
    # The last words of a process that dies at once — a print right before kill -9, and
    # faulthandler's report of a segfault in C code — reach the terminal: the tee process
    # drains the pipes after the training process is gone.
    killed = run_script(
        """
        import os, signal
        import fwtrack
        fwtrack.init(project="c")
        print("the last line before kill -9", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL
    assert killed.stdout == "the last line before kill -9\n"
    crashed = run_script(
        """
        import ctypes, faulthandler
        import fwtrack
        faulthandler.enable()
        fwtrack.init(project="c")
        print("before the segfault", flush=True)
        ctypes.string_at(0)
        """,
        check=False,
    )
    assert crashed.returncode == -signal.SIGSEGV
    assert crashed.stdout == "before the segfault\n"
    assert "Fatal Python error: Segmentation fault" in crashed.stderr


def test_ctrl_c_to_the_process_group_keeps_the_tee_until_the_script_ends(tmp_path: Path) -> None:
    # SIGINT to the whole group (a Ctrl-C in the terminal): the script handles it and goes
    # on printing; the tee ignored the signal, so those lines still reach the terminal.
    source = textwrap.dedent(
        """
        import signal, sys, time
        import fwtrack
        stop = []
        signal.signal(signal.SIGINT, lambda *a: stop.append(1))
        fwtrack.init(project="c")
        print("READY", flush=True)
        while not stop:
            time.sleep(0.01)
        print("after ctrl-c", flush=True)
        fwtrack.finish()
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["FWTRACK_DIR"] = str(tmp_path / "fwtrack")
    env["PYTHONPATH"] = str(REPO / "python")
    proc = subprocess.Popen(
        [sys.executable, "-c", source],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "READY\n"
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert out == "after ctrl-c\n"
    assert stdout_texts(only_run(tmp_path)) == ["READY", "after ctrl-c"]


def test_output_of_a_forked_child_is_captured_and_the_parent_finishes(
    run_script: ScriptRunner, tmp_path: Path
) -> None:
    proc = run_script(
        """
        import multiprocessing as mp
        import os
        import fwtrack

        def work(i):
            # One write per line: two processes printing at once through print() (text and
            # line end written apart) interleave on any shared pipe or terminal.
            os.write(1, f"from worker {i}\\n".encode())
            return i

        if __name__ == "__main__":
            fwtrack.init(project="c")
            with mp.get_context("fork").Pool(2) as pool:
                assert sorted(pool.map(work, range(2))) == [0, 1]
            print("parent done", flush=True)
            fwtrack.finish()
        """
    )
    assert "parent done" in proc.stdout
    texts = [line.text for line in only_run(tmp_path).logs()]
    assert sorted(t for t in texts if t.startswith("from worker")) == [
        "from worker 0",
        "from worker 1",
    ]
    assert texts[-1] == "parent done"
    assert only_run(tmp_path).state == "finished"


@pytest.mark.parametrize(
    ("env", "init_settings"),
    [({"FWTRACK_CONSOLE": "off"}, "None"), ({}, "{'console': False}")],
)
def test_console_capture_can_be_turned_off(
    run_script: ScriptRunner, tmp_path: Path, env: dict[str, str], init_settings: str
) -> None:
    proc = run_script(
        f"""
        import fwtrack
        fwtrack.init(project="c", settings={init_settings})
        print("not recorded")
        fwtrack.finish()
        """,
        **env,
    )
    assert "not recorded" in proc.stdout
    assert only_run(tmp_path).logs() == []


def test_console_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().console is True
    monkeypatch.setenv("FWTRACK_CONSOLE", "off")
    assert Settings().console is False
    monkeypatch.setenv("FWTRACK_CONSOLE", "maybe")
    with pytest.raises(ValueError, match="FWTRACK_CONSOLE='maybe' is not valid"):
        Settings()
    with pytest.raises(TypeError, match=r"Settings\.console must be True or False"):
        Settings(console="on")  # type: ignore[arg-type]
