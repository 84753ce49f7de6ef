"""The run side of sweeps: a trial process (the environment `fwtrack agent` gives it), its
stop by SIGTERM, the finish reason, `stop_active_run`, `Run.sweep_id` and `Api.runs(filters=)`.

Trial processes are real processes (tests/programs/trial_process.py) run under a deadline and
killed at teardown, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fwtrack
from fwserver import Server
from fwtrack import _core
from fwtrack.api import Api, Run
from fwtrack.sdk import run as sdk_run

pytestmark = pytest.mark.usefixtures("tmp_dir")

DEADLINE = 60.0  # seconds a trial may take to print the line a test waits for
REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "tests" / "programs" / "trial_process.py"


class Trial:
    """A trial process started as the agent starts one (own session, sweep environment),
    whose stdout is read line by line under a deadline."""

    def __init__(
        self,
        tmp: Path,
        *args: str,
        sweep_id: str = "sw3ep1ab",
        run_id: str = "trial001",
        project: str = "sweeps",
        params: dict[str, Any] | None = None,
    ) -> None:
        params_file = tmp / f"params-{run_id}.json"
        params_file.write_text(json.dumps(params if params is not None else {"lr": 0.5}))
        env = dict(os.environ)
        env.update(
            PYTHONPATH=os.pathsep.join(
                p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
            ),
            FWTRACK_SWEEP_ID=sweep_id,
            FWTRACK_RUN_ID=run_id,
            FWTRACK_PROJECT=project,
            FWTRACK_SWEEP_PARAMS=str(params_file),
            FWTRACK_SYSTEM_METRICS="false",
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(PROGRAM), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # as the agent: the trial's process group is its own
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)
        self._pending = b""
        self.lines: list[str] = []

    def wait_for(self, prefix: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while True:
            while b"\n" not in self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"trial printed no {prefix!r} for {DEADLINE}s: {self.lines}")
                if self._selector.select(timeout=left):
                    data = os.read(self._fd, 65536)
                    if not data:
                        pytest.fail(f"trial exited early: {self.stderr()}")
                    self._pending += data
            line, _, self._pending = self._pending.partition(b"\n")
            self.lines.append(line.decode())
            if self.lines[-1].startswith(prefix):
                return self.lines[-1]

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(f"trial did not exit in time: {self.lines}")

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode()

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._selector.close()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


StartTrial = Callable[..., Trial]


@pytest.fixture
def trial(tmp_path: Path) -> Iterator[StartTrial]:
    """Starts trials (arguments as `Trial`'s, without `tmp`); closes them at teardown."""
    started: list[Trial] = []

    def start(*args: str, **kwargs: Any) -> Trial:
        t = Trial(tmp_path, *args, **kwargs)
        started.append(t)
        return t

    yield start
    for t in started:
        t.close()


def steps_logged(t: Trial, at_least: int) -> int:
    """Wait until the trial flushed step `at_least` or later; the step it reported."""
    while True:
        step = int(t.wait_for("step ").split()[1])
        if step >= at_least:
            return step


def assert_history_kept(run: Run, flushed: int) -> None:
    history = run.history(keys=["loss"])
    steps = history["_step"].to_numpy()
    assert len(steps) >= flushed + 1
    np.testing.assert_array_equal(steps, np.arange(len(steps)))
    np.testing.assert_allclose(history["loss"].to_numpy(), 1.0 / (steps + 1))


# -- a trial process ----------------------------------------------------------------------------


def test_sigterm_mid_loop_finishes_the_trial_as_stopped(trial: StartTrial) -> None:
    t = trial()
    assert t.wait_for("run ").split()[1:4] == ["trial001", "sweeps", "sw3ep1ab"]
    flushed = steps_logged(t, 200)
    os.killpg(t.proc.pid, signal.SIGTERM)  # what the agent does
    # The process ends as SIGTERM ends it, after finishing the run.
    assert t.wait() == -signal.SIGTERM

    run = Api().run("sweeps/trial001")
    assert run.state == "stopped"
    assert run.finish_reason == "stopped"
    assert run.exit_code == 128 + signal.SIGTERM
    assert run.sweep_id == "sw3ep1ab"
    assert run.tail_error is None  # the log ends with a whole finish frame
    assert_history_kept(run, flushed)
    last_step = run.last_step
    assert last_step is not None
    assert run.summary["loss"] == pytest.approx(1.0 / (last_step + 1))
    # The console capture still recorded the trial's output up to the stop.
    assert f"step {flushed}" in [line.text for line in run.logs()]
    assert Api().runs("sweeps", filters={"state": "stopped"}) == [run]


def test_sigterm_during_a_tight_logging_loop_still_stops_the_run(trial: StartTrial) -> None:
    """The main thread is mostly inside `log()` then: the handler waits until it is out."""
    t = trial("--tight")
    t.wait_for("run ")
    flushed = steps_logged(t, 20_000)
    os.killpg(t.proc.pid, signal.SIGTERM)
    assert t.wait() == -signal.SIGTERM
    run = Api().run("sweeps/trial001")
    assert (run.state, run.exit_code) == ("stopped", 143)
    assert_history_kept(run, flushed)


def test_sigterm_reaches_a_forked_worker_which_just_dies(trial: StartTrial) -> None:
    t = trial("--fork")
    t.wait_for("run ")
    child = int(t.wait_for("child ").split()[1])
    flushed = steps_logged(t, 50)
    os.killpg(t.proc.pid, signal.SIGTERM)  # parent and its DataLoader-like child alike
    assert t.wait() == -signal.SIGTERM
    run = Api().run("sweeps/trial001")
    assert run.state == "stopped"
    assert_history_kept(run, flushed)
    # The forked child inherited the handler; it ends as SIGTERM ends a process, without
    # touching the run (it holds no writer): nothing is left in the trial's process group.
    deadline = time.monotonic() + DEADLINE
    while True:
        try:
            os.killpg(t.proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, f"process group of child {child} still alive"
        time.sleep(0.05)
    assert run.state == "stopped"


def test_kill_9_of_a_trial_still_reads_crashed(trial: StartTrial) -> None:
    t = trial()
    t.wait_for("run ")
    flushed = steps_logged(t, 100)
    os.killpg(t.proc.pid, signal.SIGKILL)
    assert t.wait() == -signal.SIGKILL
    run = Api().run("sweeps/trial001")
    assert run.state == "crashed"
    assert run.finish_reason is None
    assert run.sweep_id == "sw3ep1ab"
    assert_history_kept(run, flushed)


def test_a_trial_that_ends_by_itself_is_finished(trial: StartTrial) -> None:
    t = trial("--steps", "30")
    t.wait_for("done")
    assert t.wait() == 0
    run = Api().run("sweeps/trial001")
    assert (run.state, run.exit_code, run.finish_reason) == ("finished", 0, None)
    assert run.sweep_id == "sw3ep1ab"
    assert run.metadata["sweep_id"] == "sw3ep1ab"
    assert run.row_count == 30


def test_sweep_parameters_override_the_config_and_init_project_and_id_are_ignored(
    trial: StartTrial,
) -> None:
    init = {
        "project": "mine",
        "id": "myown",
        "config": {"lr": 1.0, "epochs": 3, "optimizer": {"name": "adam", "momentum": 0.9}},
    }
    params = {"lr": 0.01, "optimizer": {"name": "sgd"}, "batch_size": 64}
    t = trial("--steps", "10", "--init", json.dumps(init), params=params, run_id="trial777")
    line = t.wait_for("run ")
    assert t.wait() == 0
    _, run_id, project, sweep_id, config = line.split(" ", 4)
    assert (run_id, project, sweep_id) == ("trial777", "sweeps", "sw3ep1ab")
    expected = {
        "lr": 0.01,  # the sweep's value wins
        "epochs": 3,  # kept from init
        "optimizer": {"name": "sgd", "momentum": 0.9},  # nested: merged key by key, as W&B
        "batch_size": 64,
    }
    assert json.loads(config) == expected
    stderr = t.stderr()
    assert stderr.count("FwTrackWarning") == 1, stderr
    assert "ignoring init's project='mine' and id='myown'" in stderr
    assert "sw3ep1ab" in stderr
    assert not (Path(os.environ["FWTRACK_DIR"]) / "mine").exists()
    run = Api().run("sweeps/trial777")
    assert run.config == expected
    assert run.state == "finished"


def test_a_program_with_its_own_sigterm_handler_keeps_it(trial: StartTrial) -> None:
    t = trial("--own-sigterm")
    t.wait_for("run ")
    steps_logged(t, 20)
    os.killpg(t.proc.pid, signal.SIGTERM)
    t.wait_for("own handler")
    assert t.wait() == 7
    # The program's handler ran (sys.exit(7)); the run finished at exit with that code.
    run = Api().run("sweeps/trial001")
    assert (run.state, run.exit_code, run.finish_reason) == ("failed", 7, None)


def test_an_unreadable_parameters_file_is_an_error_naming_it(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO / "python"),
        FWTRACK_SWEEP_ID="sw3ep1ab",
        FWTRACK_RUN_ID="trial001",
        FWTRACK_SWEEP_PARAMS=str(tmp_path / "missing.json"),
    )
    out = subprocess.run(
        [sys.executable, str(PROGRAM), "--steps", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=DEADLINE,
        check=False,
    )
    assert out.returncode == 1
    assert "FWTRACK_SWEEP_PARAMS=" in out.stderr
    assert "missing.json" in out.stderr
    assert "fwtrack agent" in out.stderr


# -- in this process: the in-process agent's side ------------------------------------------------


def test_stop_active_run_finishes_the_run_as_stopped() -> None:
    run = fwtrack.init(project="inproc", config={"a": 1}, settings={"console": False})
    for step in range(25):
        run.log({"loss": 1.0 / (step + 1)})
    assert sdk_run.stop_active_run() is True
    assert run.finished
    assert fwtrack.sdk.run.current_run() is None
    assert sdk_run.stop_active_run() is False  # nothing left to stop
    back = Api().run(f"inproc/{run.id}")
    assert (back.state, back.finish_reason, back.exit_code) == ("stopped", "stopped", 143)
    assert back.sweep_id is None
    assert_history_kept(back, 24)


def test_a_trial_in_a_thread_reads_the_sweep_environment_and_is_stopped_from_outside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `fwtrack.agent(function=...)` runs a trial: environment set, the function in a thread
    (no signal handler there), `stop_active_run()` from the agent's thread."""
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"lr": 0.1, "layers": 2}))
    monkeypatch.setenv("FWTRACK_SWEEP_ID", "swthread")
    monkeypatch.setenv("FWTRACK_RUN_ID", "thr1")
    monkeypatch.setenv("FWTRACK_PROJECT", "agentproj")
    monkeypatch.setenv("FWTRACK_SWEEP_PARAMS", str(params))
    logged = threading.Event()
    stop = threading.Event()
    seen: dict[str, Any] = {}

    def train() -> None:
        run = fwtrack.init(config={"lr": 1.0, "dropout": 0.5}, settings={"console": False})
        seen.update(id=run.id, project=run.project, sweep=run.sweep_id, config=dict(run.config))
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1)})
        run.flush()
        logged.set()
        stop.wait(DEADLINE)

    before = signal.getsignal(signal.SIGTERM)
    worker = threading.Thread(target=train)
    worker.start()
    try:
        assert logged.wait(DEADLINE)
        assert signal.getsignal(signal.SIGTERM) == before  # never installed from a thread
        assert sdk_run.stop_active_run() is True
    finally:
        stop.set()
        worker.join(DEADLINE)
    assert seen == {
        "id": "thr1",
        "project": "agentproj",
        "sweep": "swthread",
        "config": {"lr": 0.1, "dropout": 0.5, "layers": 2},
    }
    run = Api().run("agentproj/thr1")
    assert (run.state, run.sweep_id) == ("stopped", "swthread")
    assert_history_kept(run, 9)


def test_the_in_process_agents_stop_leaving_a_with_block_finishes_as_stopped() -> None:
    from fwtrack.sweeps.agent import TrialStopped

    def train() -> None:
        with fwtrack.init(project="p", id="withstop", settings={"console": False}) as run:
            for step in range(5):
                run.log({"loss": 1.0 / (step + 1)})
            raise TrialStopped  # what the agent raises in the trial's thread

    with pytest.raises(TrialStopped):
        train()
    back = Api().run("p/withstop")
    assert (back.state, back.exit_code) == ("stopped", 143)
    assert_history_kept(back, 4)
    # Any other exception still fails the run.
    with (
        pytest.raises(KeyError),
        fwtrack.init(project="p", id="withkey", settings={"console": False}),
    ):
        raise KeyError("x")
    assert Api().run("p/withkey").state == "failed"


def test_a_finished_run_stays_finished_when_stopped_later() -> None:
    run = fwtrack.init(project="p", settings={"console": False})
    run.log({"x": 1})
    run.finish()
    assert sdk_run.stop_active_run() is False
    assert Api().run(f"p/{run.id}").state == "finished"


def test_init_outside_a_sweep_has_no_sweep_and_installs_no_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = fwtrack.init(project="plain", id="plain1", settings={"console": False})
    assert run.sweep_id is None
    assert signal.getsignal(signal.SIGTERM) == before
    run.finish()
    back = Api().run("plain/plain1")
    assert back.sweep_id is None
    assert "sweep_id" not in back.metadata


def test_writer_finish_reason_must_not_be_empty(tmp_path: Path) -> None:
    writer = _core.RunWriter(
        str(tmp_path / "r"), json.dumps({"id": "r"}), converter=lambda key, value: None, warn=print
    )
    with pytest.raises(ValueError, match="non-empty"):
        writer.finish(0, "")
    writer.finish(0, "stopped")
    meta = _core.RunReader(str(tmp_path / "r")).meta()
    assert meta["finish"]["reason"] == "stopped"
    assert meta["finish"]["exit_code"] == 0


# -- reading: old and new logs, filters ---------------------------------------------------------


def test_logs_without_a_reason_read_as_before(tmp_path: Path) -> None:
    """A log an older writer made (no `reason` in its finish record) reads as it always did."""
    for code, state in ((0, "finished"), (3, "failed")):
        run_dir = tmp_path / "old" / f"r{code}"
        writer = _core.RunWriter(
            str(run_dir),
            json.dumps({"id": f"r{code}"}),
            converter=lambda key, value: None,
            warn=print,
        )
        writer.log({"x": 1.0})
        writer.finish(code)  # the call older SDKs make
        meta = _core.RunReader(str(run_dir)).meta()
        assert meta["finish"]["reason"] is None
        assert meta["finish"]["exit_code"] == code
        run = Api(tmp_path).run(f"old/r{code}")
        assert (run.state, run.exit_code, run.finish_reason) == (state, code, None)


def test_the_history_index_carries_the_reason(tmp_path: Path) -> None:
    """The server's index (`index_update`) folds the same meta, reason included."""
    run_dir = tmp_path / "p" / "r"
    writer = _core.RunWriter(
        str(run_dir), json.dumps({"id": "r"}), converter=lambda key, value: None, warn=print
    )
    writer.log({"x": 1.0})
    writer.finish(143, "stopped")
    result = _core.index_update(str(run_dir / _core.LOG_FILE_NAME), str(tmp_path / "index"))
    assert result["meta"]["finish"]["reason"] == "stopped"
    stored = _core.index_read_meta(str(tmp_path / "index"))
    assert stored["meta"]["finish"]["reason"] == "stopped"


def _trial_in_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sweep: str, run_id: str, end: str
) -> None:
    params = tmp_path / f"{run_id}.json"
    params.write_text("{}")
    monkeypatch.setenv("FWTRACK_SWEEP_ID", sweep)
    monkeypatch.setenv("FWTRACK_RUN_ID", run_id)
    monkeypatch.setenv("FWTRACK_PROJECT", "filt")
    monkeypatch.setenv("FWTRACK_SWEEP_PARAMS", str(params))

    def body() -> None:
        run = fwtrack.init(settings={"console": False})
        run.log({"x": 1.0})
        if end == "stopped":
            sdk_run.stop_active_run()
        else:
            run.finish(0 if end == "finished" else 1)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join(DEADLINE)
    for name in ("FWTRACK_SWEEP_ID", "FWTRACK_RUN_ID", "FWTRACK_PROJECT", "FWTRACK_SWEEP_PARAMS"):
        monkeypatch.delenv(name)


def test_runs_filters_by_sweep_and_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _trial_in_thread(tmp_path, monkeypatch, "sweepaaa", "a1", "finished")
    _trial_in_thread(tmp_path, monkeypatch, "sweepaaa", "a2", "stopped")
    _trial_in_thread(tmp_path, monkeypatch, "sweepaaa", "a3", "failed")
    _trial_in_thread(tmp_path, monkeypatch, "sweepbbb", "b1", "finished")
    plain = fwtrack.init(project="filt", id="plain", settings={"console": False})
    plain.finish()
    api = Api()

    def ids(**filters: Any) -> set[str]:
        return {r.id for r in api.runs("filt", filters=filters)}

    assert ids() == {"a1", "a2", "a3", "b1", "plain"}
    assert ids(sweep="sweepaaa") == {"a1", "a2", "a3"}
    assert ids(sweep="sweepbbb") == {"b1"}
    assert ids(sweep="nosuch") == set()
    assert ids(state="finished") == {"a1", "b1", "plain"}
    assert ids(sweep="sweepaaa", state="finished") == {"a1"}
    assert ids(sweep="sweepaaa", state="stopped") == {"a2"}
    assert ids(sweep="sweepaaa", state=["stopped", "failed"]) == {"a2", "a3"}
    assert ids(state={"$in": ["failed"]}) == {"a3"}  # W&B's form
    assert {r.id for r in api.runs(filters={"sweep": "sweepbbb"})} == {"b1"}  # every project
    assert api.run("filt/a2").state == "stopped"
    assert [r.sweep_id for r in api.runs("filt", filters={"sweep": "sweepbbb"})] == ["sweepbbb"]


def test_runs_filters_name_what_is_wrong() -> None:
    api = Api()
    with pytest.raises(ValueError, match=r"unknown run filter 'bogus'.*sweep"):
        api.runs("p", filters={"bogus": 0.1})
    with pytest.raises(ValueError, match=r"unknown run state 'done'.*stopped"):
        api.runs("p", filters={"state": "done"})
    with pytest.raises(TypeError, match=r"filters\['sweep'\] must be a str"):
        api.runs("p", filters={"sweep": 3})
    with pytest.raises(TypeError, match="filters must be a dict"):
        api.runs("p", filters="sweep=abc")  # type: ignore[arg-type]


@pytest.mark.slow
def test_runs_filters_on_a_server(
    server: Server, client_dirs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same filters through `Api(base_url=...)`: the server's `sweep = <id>` and
    `state = <state>` clauses (several values of a key are matched on the client)."""
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    monkeypatch.setenv("FWTRACK_UPLOAD_TIMEOUT", "60")
    _trial_in_thread(client_dirs, monkeypatch, "remoteaa", "r1", "finished")
    _trial_in_thread(client_dirs, monkeypatch, "remoteaa", "r2", "stopped")
    _trial_in_thread(client_dirs, monkeypatch, "remoteaa", "r3", "failed")
    _trial_in_thread(client_dirs, monkeypatch, "remotebb", "r4", "finished")
    fwtrack.init(project="filt", id="plain", settings={"console": False}).finish()
    api = Api(base_url=server.url, api_key=server.key)

    def ids(**filters: Any) -> set[str]:
        return {r.id for r in api.runs("filt", filters=filters)}

    assert ids() == {"r1", "r2", "r3", "r4", "plain"}
    assert ids(sweep="remoteaa") == {"r1", "r2", "r3"}
    assert ids(sweep="remoteaa", state="finished") == {"r1"}
    assert ids(state="stopped") == {"r2"}
    assert ids(sweep="remoteaa", state=["stopped", "failed"]) == {"r2", "r3"}
    assert ids(sweep="nosuch") == set()
    stopped = api.run("filt/r2")
    assert (stopped.state, stopped.sweep_id, stopped.finish_reason) == (
        "stopped",
        "remoteaa",
        "stopped",
    )
    assert api.run("filt/plain").sweep_id is None
    with pytest.raises(ValueError, match="unknown run filter"):
        api.runs("filt", filters={"bogus": "x"})
