"""The sweep agent: asks the controller for trials and runs them, one at a time.

    register → next → run the trial → heartbeats (the metric so far; the answer may say stop)
    → finish_trial (state and the metric's summary value) → next ... until the controller says
    `done`, `count` trials have run, or Ctrl-C.

A trial runs either as a subprocess of the sweep's `command` (`fwtrack agent`), in its own
session (process group), or in-process as `function()` in a thread (`fwtrack.agent(...,
function=train)`, as wandb's pyagent). Either way the trial's run finds its id, project,
sweep and parameters in the environment: `FWTRACK_RUN_ID`, `FWTRACK_PROJECT`,
`FWTRACK_SWEEP_ID`, `FWTRACK_SWEEP_PARAMS` (a JSON file), and `FWTRACK_DIR` (absolute).

The metric is read from the trial's local run log (`<FWTRACK_DIR>/<project>/<run id>`), which
every run writes, online or not. A stop (hyperband, or the sweep cancelled) ends a subprocess
with SIGTERM to its process group (its run finishes as `stopped`), then SIGKILL after a grace
period; an in-process trial's run is finished as `stopped` and an exception is raised in its
thread. A server that is down or restarting is waited out with backoff: neither the agent nor
its trial ends because of it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

from fwtrack import _core
from fwtrack.sweeps.client import SweepClient, is_transient, local_root

__all__ = ["GRACE_PERIOD", "Agent", "TrialStopped"]

GRACE_PERIOD = 10.0
"""Seconds between SIGTERM and SIGKILL when a trial is stopped."""

_MAX_BACKOFF = 10.0

T = TypeVar("T")


class TrialStopped(BaseException):
    """Raised in an in-process trial's thread when the controller stops the trial (hyperband,
    or the sweep cancelled). A BaseException, so `except Exception` in a training loop lets it
    through."""


class _MetricLog:
    """The metric's values in a run log, in logged order, as far as they have been written;
    `new()` returns those not reported yet. A log not created yet reads as empty."""

    def __init__(self, run_dir: Path, name: str | None) -> None:
        self.run_dir = run_dir
        self.name = name
        self.reported = 0
        self._stamp: tuple[int, int] | None = None
        self._values: list[float] = []
        self._summary: Any = None

    def _read(self) -> None:
        if self.name is None:
            return
        log = self.run_dir / _core.LOG_FILE_NAME
        try:
            st = log.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            if stamp == self._stamp:
                return
            reader = _core.RunReader(str(self.run_dir))
            meta = reader.meta()
            columns = reader.history([self.name])
        except (FileNotFoundError, _core.CorruptLogError):
            return  # not created yet, or its header not written yet: read it next time
        self._stamp = stamp
        column = columns.get(self.name)
        values: list[float] = []
        if column is not None:
            for v in column:
                if isinstance(v, bool) or v is None:
                    continue
                if isinstance(v, int | float) and not math.isnan(float(v)):
                    values.append(float(v))
        self._values = values
        self._summary = _get(meta.get("summary") or {}, self.name)

    def new(self) -> tuple[list[float], int]:
        """(values not reported yet, how many were reported before them)."""
        self._read()
        return self._values[self.reported :], self.reported

    def summary_value(self) -> float | None:
        """The metric's summary value (its last value, or what `define_metric` made it)."""
        self._read()
        value = self._summary
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self._values[-1] if self._values else None
        return float(value) if math.isfinite(float(value)) else None


def _get(summary: dict[str, Any], name: str) -> Any:
    if name in summary:
        return summary[name]
    node: Any = summary
    for part in name.split("."):  # a nested summary value named as a.b
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class Agent:
    """One agent of sweep `sweep` (a reference `client` understands). `run()` returns the
    number of trials it ran."""

    def __init__(
        self,
        client: SweepClient,
        sweep: str,
        *,
        function: Callable[[], Any] | None = None,
        count: int | None = None,
        dir: str | os.PathLike[str] | None = None,
        grace: float = GRACE_PERIOD,
        out: TextIO | None = None,
    ) -> None:
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise TypeError(f"count must be an int >= 1 or None, got {count!r}")
        if count is not None and count < 1:
            raise ValueError(f"count must be >= 1 (trials to run), got {count}")
        if function is not None and not callable(function):
            raise TypeError(f"function must be a callable taking no arguments, got {function!r}")
        self.client = client
        self.sweep = sweep
        self.function = function
        self.count = count
        self.root = Path(dir).absolute() if dir is not None else local_root()
        self.grace = grace
        self.out = out if out is not None else sys.stderr
        self.agent_id = 0
        self.interval = 10.0
        self.ran = 0
        self._sweep: dict[str, Any] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        print(f"fwtrack agent: {message}", file=self.out, flush=True)

    def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)`, retried with backoff while the controller is out of reach."""
        delay = 0.25
        failures = 0
        while True:
            try:
                result = fn(*args)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                failures += 1
                if failures == 1:
                    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    self._say(f"{what} failed ({first}); retrying until the controller answers")
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            if failures:
                self._say(f"{what}: the controller answers again")
            return result

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        """Run trials until the sweep is done, `count` trials have run, or Ctrl-C (which stops
        the running trial and raises KeyboardInterrupt once it is reported)."""
        self._sweep = self._call("reading the sweep", self.client.get, self.sweep)
        ref = f"{self._sweep['entity']}/{self._sweep['project']}/{self._sweep['id']}"
        self.sweep = ref if self.client.remote else str(self._sweep["id"])
        answer = self._call(
            "registering", self.client.register_agent, self.sweep, socket.gethostname(), os.getpid()
        )
        self.agent_id = int(answer["agent_id"])
        self.interval = float(answer.get("heartbeat_interval") or self.interval)
        self._say(
            f"agent {self.agent_id} of sweep {self.sweep} on {self.client.where} "
            f"(heartbeat every {self.interval:g} s)"
        )
        while self.count is None or self.ran < self.count:
            answer = self._call(
                "asking for a trial", self.client.next_trial, self.sweep, self.agent_id
            )
            if "done" in answer:
                self._say(f"the sweep is done ({answer['done']})")
                break
            if "wait" in answer:
                time.sleep(max(0.05, min(float(answer["wait"]), self.interval)))
                continue
            trial = answer["trial"]
            self.ran += 1
            if self.function is not None:
                self._function_trial(trial)
            else:
                self._subprocess_trial(trial)
        return self.ran

    def _metric_name(self) -> str | None:
        metric = self._sweep.get("metric")
        if metric is None:
            config_metric = (self._sweep.get("config") or {}).get("metric")
            return None if not config_metric else str(config_metric.get("name"))
        return str(metric["name"])

    def _env(self, trial: dict[str, Any], params_file: Path) -> dict[str, str]:
        env = {
            "FWTRACK_SWEEP_ID": str(self._sweep["id"]),
            "FWTRACK_RUN_ID": str(trial["run_id"]),
            "FWTRACK_PROJECT": str(self._sweep["project"]),
            "FWTRACK_SWEEP_PARAMS": str(params_file),
            "FWTRACK_DIR": str(self.root),
        }
        if self.client.remote:
            env["FWTRACK_BASE_URL"] = self.client.where
            env["FWTRACK_ENTITY"] = str(self._sweep["entity"])
        return env

    def _heartbeat(self, trial: dict[str, Any], metric: _MetricLog) -> bool:
        """Report the new values; True when the controller says to stop this trial."""
        values, offset = metric.new()
        reports = [{"id": trial["id"], "history": values, "offset": offset}]
        answer = self._call("heartbeat", self.client.heartbeat, self.sweep, self.agent_id, reports)
        metric.reported = offset + len(values)
        return int(trial["id"]) in {int(i) for i in answer.get("stop") or []}

    def _finish(self, trial: dict[str, Any], metric: _MetricLog, state: str) -> None:
        values, offset = metric.new()
        value = metric.summary_value()
        self._call(
            "reporting the trial",
            self.client.finish_trial,
            self.sweep,
            self.agent_id,
            int(trial["id"]),
            state,
            value,
            values,
            offset,
        )
        shown = "no value" if value is None else f"{metric.name}={value:g}"
        self._say(f"trial {trial['number']} (run {trial['run_id']}) {state}: {shown}")

    def _run_dir(self, trial: dict[str, Any]) -> Path:
        return self.root / str(self._sweep["project"]) / str(trial["run_id"])

    # -- a trial as a subprocess ---------------------------------------------------------------

    def _subprocess_trial(self, trial: dict[str, Any]) -> None:
        from fwtrack.sweeps.command import build_command
        from fwtrack.sweeps.config import load_config

        config = load_config(self._sweep["config"])
        tmp = Path(tempfile.mkdtemp(prefix="fwtrack-trial-"))
        try:
            params_file = tmp / "params.json"
            params_file.write_text(json.dumps(trial["params"]))
            trial_env = self._env(trial, params_file)
            env = {**os.environ, **trial_env}
            command = build_command(
                config, trial["params"], args_json_file=str(params_file), env=env
            )
            self._say(f"trial {trial['number']} (run {trial['run_id']}): {' '.join(command)}")
            metric = _MetricLog(self._run_dir(trial), self._metric_name())
            try:
                proc = subprocess.Popen(command, env=env, start_new_session=True)
            except OSError as exc:
                self._say(f"cannot start trial {trial['number']}: {exc}")
                self._finish(trial, metric, "failed")
                return
            stopped = False
            try:
                while True:
                    try:
                        code = proc.wait(timeout=self.interval)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    if self._heartbeat(trial, metric):
                        self._say(f"stopping trial {trial['number']} (run {trial['run_id']})")
                        stopped = True
                        code = _terminate(proc, self.grace)
                        break
            except KeyboardInterrupt:
                self._say(f"interrupted: stopping trial {trial['number']}")
                _terminate(proc, self.grace)
                self._finish(trial, metric, "stopped")
                raise
            state = "stopped" if stopped else ("finished" if code == 0 else "failed")
            self._finish(trial, metric, state)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- a trial in-process ----------------------------------------------------------------------

    def _function_trial(self, trial: dict[str, Any]) -> None:
        assert self.function is not None
        function = self.function
        tmp = Path(tempfile.mkdtemp(prefix="fwtrack-trial-"))
        params_file = tmp / "params.json"
        params_file.write_text(json.dumps(trial["params"]))
        trial_env = self._env(trial, params_file)
        saved = {name: os.environ.get(name) for name in trial_env}
        os.environ.update(trial_env)
        metric = _MetricLog(self._run_dir(trial), self._metric_name())
        failed: list[BaseException] = []

        def target() -> None:
            try:
                function()
            except TrialStopped:
                pass
            except BaseException as exc:
                failed.append(exc)
                traceback.print_exc(file=self.out)

        thread = threading.Thread(
            target=target, name=f"fwtrack-trial-{trial['number']}", daemon=True
        )
        stopped = False
        try:
            self._say(f"trial {trial['number']} (run {trial['run_id']}): {trial['params']}")
            thread.start()
            try:
                while True:
                    thread.join(timeout=self.interval)
                    if not thread.is_alive():
                        break
                    if self._heartbeat(trial, metric):
                        self._say(f"stopping trial {trial['number']} (run {trial['run_id']})")
                        stopped = True
                        _stop_thread(thread, self.grace)
                        break
            except KeyboardInterrupt:
                self._say(f"interrupted: stopping trial {trial['number']}")
                _stop_thread(thread, self.grace)
                self._finish(trial, metric, "stopped")
                raise
            _finish_active_run(1 if failed else 0)
            state = "stopped" if stopped else ("failed" if failed else "finished")
            self._finish(trial, metric, state)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            shutil.rmtree(tmp, ignore_errors=True)


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the trial's process group, SIGKILL it after `grace` seconds; its exit code."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            return proc.wait(timeout=grace if sig == signal.SIGTERM else None)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def _stop_thread(thread: threading.Thread, grace: float) -> None:
    """Raise TrialStopped in the trial's thread (as wandb's pyagent does), give it `grace`
    seconds to unwind, then finish the run it left open as `stopped`."""
    from fwtrack.sdk.run import stop_active_run

    ident = thread.ident
    if ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(ident), ctypes.py_object(TrialStopped)
        )
    thread.join(timeout=grace)
    stop_active_run()


def _finish_active_run(exit_code: int) -> None:
    """Finish the run a trial function left open (as wandb's pyagent does)."""
    from fwtrack.sdk import run as run_module

    if run_module.current_run() is not None:
        run_module.finish(exit_code)
