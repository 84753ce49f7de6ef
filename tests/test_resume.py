"""Resuming a run: `resume="allow"|"must"` with an id continues steps, runtime and config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import fwtrack
from fwtrack import _core
from fwtrack.errors import FwTrackError, RunLockedError, RunNotFoundError

if TYPE_CHECKING:
    from conftest import ScriptRunner

pytestmark = pytest.mark.usefixtures("tmp_dir")


def first_run(run_id: str = "res1") -> fwtrack.Run:
    run = fwtrack.init(
        project="p", id=run_id, name="orig", tags=["t1"], config={"lr": 0.1, "opt": {"b": 1}}
    )
    run.define_metric("loss", summary="min")
    for i in range(5):
        run.log({"loss": 5.0 - i})
    run.finish()
    return run


@pytest.mark.parametrize("resume", ["allow", "must", True])
def test_resume_continues_step_runtime_config_and_summary(resume: object) -> None:
    old = first_run()
    old_meta = _core.RunReader(old.dir).meta()
    old_runtime = old_meta["finish"]["runtime"]

    run = fwtrack.init(project="p", id="res1", resume=resume, config={"epochs": 3})  # type: ignore[arg-type]
    assert run.resumed
    assert run.dir == old.dir
    assert run.step == 5
    assert run.name == "orig"  # kept from the first start
    assert run.tags == ("t1",)
    assert run.config.as_dict() == {"lr": 0.1, "opt": {"b": 1}, "epochs": 3}
    assert run.summary["loss"] == {"min": 1.0}
    assert run._inner.runtime >= old_runtime  # type: ignore[attr-defined]
    run.log({"loss": 0.5})
    run.log({"loss": 7.0})
    run.finish()

    reader = _core.RunReader(run.dir)
    m = reader.meta()
    assert len(m["starts"]) == 2
    assert m["starts"][1]["resumed"] is True
    assert m["starts"][0]["resumed"] is False
    assert m["starts"][1]["created_at"] == m["starts"][0]["created_at"]
    assert m["config"] == {"lr": 0.1, "opt": {"b": 1}, "epochs": 3}
    assert m["summary"]["loss"] == {"min": 0.5}
    assert m["last_step"] == 6
    h = reader.history()
    assert list(h["_step"]) == list(range(7))
    assert list(h["loss"]) == [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 7.0]
    assert h["_runtime"][5] >= old_runtime
    assert m["finish"]["runtime"] >= old_runtime
    api_run = fwtrack.Api().run(f"p/{run.id}")
    assert api_run.state == "finished"


def test_resume_without_new_config_keeps_the_old_one() -> None:
    first_run()
    run = fwtrack.init(project="p", id="res1", resume="allow", name="renamed")
    assert run.name == "renamed"
    run.finish()
    m = _core.RunReader(run.dir).meta()
    assert m["config"] == {"lr": 0.1, "opt": {"b": 1}}
    assert m["starts"][1]["name"] == "renamed"


def test_resume_allow_creates_a_missing_run() -> None:
    run = fwtrack.init(project="p", id="fresh", resume="allow")
    assert not run.resumed
    assert run.step == 0
    run.log({"x": 1})
    run.finish()
    assert _core.RunReader(run.dir).meta()["starts"][0]["resumed"] is False


def test_resume_must_raises_when_the_run_does_not_exist() -> None:
    with pytest.raises(RunNotFoundError, match=r"cannot resume run 'nope'[\s\S]*hint") as e:
        fwtrack.init(project="p", id="nope", resume="must")
    assert isinstance(e.value, FwTrackError)
    assert fwtrack.run is None
    with pytest.raises(ValueError, match=r"resume='must' needs the id"):
        fwtrack.init(project="p", resume="must")


def test_resume_allow_without_id_starts_a_new_run() -> None:
    run = fwtrack.init(project="p", resume="allow")
    assert not run.resumed


def test_resume_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    first_run("envres")
    monkeypatch.setenv("FWTRACK_RUN_ID", "envres")
    monkeypatch.setenv("FWTRACK_PROJECT", "p")
    run = fwtrack.init(resume="must")
    assert run.step == 5
    assert run.resumed


def test_resume_twice_in_one_process() -> None:
    first_run()
    for expected_step in (5, 6, 7):
        run = fwtrack.init(project="p", id="res1", resume="allow", reinit="finish_previous")
        assert run.step == expected_step
        run.log({"loss": 0.0})
    fwtrack.finish()
    assert len(_core.RunReader(run.dir).meta()["starts"]) == 4


def test_resume_a_run_another_process_is_writing(tmp_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items()}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "python")
    script = textwrap.dedent(
        """
        import sys, fwtrack
        run = fwtrack.init(project="p", id="busy")
        run.log({"x": 1})
        run.flush()
        print("ready", flush=True)
        sys.stdin.readline()
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=tmp_dir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            with pytest.raises(RunLockedError, match="another live process"):
                fwtrack.init(project="p", id="busy", resume="allow")
            with pytest.raises(RunLockedError):
                fwtrack.init(project="p", id="busy")
        finally:
            proc.kill()
            proc.wait(timeout=30)


def test_resume_a_crashed_run(run_script: ScriptRunner) -> None:
    out = run_script(
        """
        import os, signal, fwtrack
        run = fwtrack.init(project="p", id="crashy", config={"a": 1})
        for i in range(3):
            run.log({"x": i})
        run.flush()
        print(run.dir, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        check=False,
    )
    assert out.returncode == -signal.SIGKILL
    assert fwtrack.Api().run("p/crashy").state == "crashed"
    run = fwtrack.init(project="p", id="crashy", resume="must")
    assert run.step == 3
    assert run.config.as_dict() == {"a": 1}
    run.log({"x": 3})
    run.finish()
    h = _core.RunReader(run.dir).history()
    assert list(h["x"]) == [0.0, 1.0, 2.0, 3.0]
    assert fwtrack.Api().run("p/crashy").state == "finished"
