"""`fwtrack.init`, the run lifecycle and the environment, against the real writer."""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import fwtrack
from fwtrack import _core
from fwtrack.errors import FwTrackError, FwTrackWarning, NoActiveRunError

if TYPE_CHECKING:
    from conftest import ScriptRunner

pytestmark = pytest.mark.usefixtures("tmp_dir")


def meta(run_dir: str) -> dict[str, Any]:
    return _core.RunReader(run_dir).meta()


def test_public_names() -> None:
    expected = {
        "Api",
        "Artifact",
        "Audio",
        "FwTrackError",
        "FwTrackWarning",
        "Histogram",
        "Html",
        "Image",
        "Run",
        "Settings",
        "Table",
        "Video",
        "__version__",
        "agent",
        "define_metric",
        "finish",
        "init",
        "link_artifact",
        "link_model",
        "log",
        "log_artifact",
        "run",
        "sweep",
        "use_artifact",
        "use_model",
        # issue 17: the rest of the W&B surface
        "AlertLevel",
        "Metric",
        "Object3D",
        "alert",
        "config",
        "log_code",
        "log_model",
        "login",
        "plot",
        "plot_table",
        "save",
        "summary",
        "unwatch",
        "watch",
        # issue 18: reports
        "Report",
        "report",
    }
    assert set(fwtrack.__all__) == expected
    for name in expected - {"run", "Object3D"}:  # Object3D: tests/test_wb_surface.py
        assert getattr(fwtrack, name) is not None
    assert fwtrack.__version__ == _core.__version__
    assert issubclass(fwtrack.FwTrackWarning, UserWarning)
    assert issubclass(NoActiveRunError, FwTrackError)
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = fwtrack.no_such_thing  # type: ignore[attr-defined]


def test_import_does_not_load_torch_or_pandas(run_script: ScriptRunner) -> None:
    out = run_script(
        """
        import sys
        import fwtrack
        print("torch" in sys.modules, "pandas" in sys.modules)
        """
    )
    assert out.stdout.split() == ["False", "False"]


def test_init_defaults_layout_and_start_info(tmp_dir: Path) -> None:
    run = fwtrack.init()
    assert fwtrack.run is run
    assert run.project == "uncategorized"
    assert re.fullmatch(r"[0-9a-z]{8}", run.id)
    assert re.fullmatch(r"[a-z]+-[a-z]+-1", run.name)
    assert run.dir == str(tmp_dir / "fwtrack" / "uncategorized" / run.id)
    assert os.path.isabs(run.dir)
    assert (Path(run.dir) / _core.LOG_FILE_NAME).is_file()
    assert _core.is_locked(run.dir)
    assert run.step == 0
    assert run.mode == "offline"
    assert not run.resumed
    run.finish()
    assert fwtrack.run is None
    assert not _core.is_locked(run.dir)

    m = meta(run.dir)
    (info,) = m["starts"]
    assert info["id"] == run.id
    assert info["name"] == run.name
    assert info["project"] == "uncategorized"
    assert info["tags"] == []
    assert info["group"] is None
    assert info["job_type"] is None
    assert info["notes"] is None
    assert info["resumed"] is False
    assert info["pid"] == os.getpid()
    assert info["host"] == socket.gethostname()
    assert info["program"] == sys.argv[0]
    assert info["args"] == sys.argv[1:]
    assert info["python"] == ".".join(str(x) for x in sys.version_info[:3])
    assert info["fwtrack_version"] == fwtrack.__version__
    assert isinstance(info["created_at"], float)
    assert m["finish"]["exit_code"] == 0


def test_init_arguments_are_recorded() -> None:
    run = fwtrack.init(
        project="proj-1",
        name="my run",
        tags=["a", "b"],
        notes="n",
        group="g",
        job_type="train",
        id="custom_ID.1",
    )
    assert (run.id, run.name, run.project) == ("custom_ID.1", "my run", "proj-1")
    assert run.tags == ("a", "b")
    assert (run.group, run.job_type, run.notes) == ("g", "train", "n")
    assert run.id in repr(run)
    run.finish()
    (info,) = meta(run.dir)["starts"]
    assert info["tags"] == ["a", "b"]
    assert (info["group"], info["job_type"], info["notes"]) == ("g", "train", "n")


def test_generated_names_count_the_runs_of_the_project() -> None:
    first = fwtrack.init(project="p")
    second = fwtrack.init(project="p", reinit="finish_previous")
    assert first.name.endswith("-1")
    assert second.name.endswith("-2")
    assert first.id != second.id


def test_dir_argument(tmp_path: Path) -> None:
    run = fwtrack.init(project="p", dir=tmp_path / "elsewhere")
    assert run.dir == str(tmp_path / "elsewhere" / "p" / run.id)


def test_relative_dir_is_stored_absolute(tmp_dir: Path) -> None:
    run = fwtrack.init(dir="rel")
    assert run.dir == str(tmp_dir / "rel" / "uncategorized" / run.id)


def test_default_dir_without_env(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FWTRACK_DIR")
    run = fwtrack.init()
    assert run.dir == str(tmp_dir / "fwtrack" / "uncategorized" / run.id)


@pytest.mark.parametrize("bad", ["", "a/b", "../x", "..", ".", "a b", "x" * 65, "é"])
def test_invalid_ids_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid run id"):
        fwtrack.init(id=bad)
    assert fwtrack.run is None


@pytest.mark.parametrize("bad", ["", "a/b", "..", "with space", "p" * 129])
def test_invalid_projects_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid project name"):
        fwtrack.init(project=bad)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"invalid mode 'fast'.*'offline'"):
        fwtrack.init(mode="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid resume"):
        fwtrack.init(resume="sometimes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"did you mean \['solo'\]"):
        fwtrack.init(tags="solo")
    with pytest.raises(ValueError, match="invalid tag"):
        fwtrack.init(tags=["x" * 65])
    with pytest.raises(TypeError, match="config must be a dict"):
        fwtrack.init(config=[1, 2])
    with pytest.raises(TypeError, match="notes must be a str"):
        fwtrack.init(notes=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown setting 'flush'"):
        fwtrack.init(settings={"flush": 1})
    with pytest.raises(ValueError, match="flush_interval"):
        fwtrack.init(settings=fwtrack.Settings(flush_interval=0))
    with pytest.raises(ValueError, match="flush_interval"):
        fwtrack.init(settings={"flush_interval": 7200})
    with pytest.raises(TypeError, match="flush_interval"):
        fwtrack.init(settings={"flush_interval": "1"})
    with pytest.raises(ValueError, match="queue_capacity"):
        fwtrack.init(settings={"queue_capacity": 0})
    assert fwtrack.run is None


def test_settings_are_used() -> None:
    run = fwtrack.init(settings={"flush_interval": 0.25, "queue_capacity": 16})
    assert run.settings == fwtrack.Settings(flush_interval=0.25, queue_capacity=16)
    for i in range(100):  # more than the queue holds: log() waits, nothing is lost
        run.log({"i": i})
    run.finish()
    assert list(_core.RunReader(run.dir).history()["i"]) == list(range(100))


def test_existing_id_without_resume_has_a_hint() -> None:
    run = fwtrack.init(id="dup")
    run.finish()
    with pytest.raises(ValueError, match=r"already exists[\s\S]*hint: pass resume='allow'"):
        fwtrack.init(id="dup")


def test_init_with_reinit_finishes_the_active_run_first() -> None:
    first = fwtrack.init(project="p")
    first.log({"x": 1})
    second = fwtrack.init(project="p", reinit="finish_previous")
    assert first.finished
    assert fwtrack.run is second
    assert meta(first.dir)["finish"]["exit_code"] == 0
    assert meta(first.dir)["rows"] == 1


def test_module_functions_need_an_active_run() -> None:
    assert fwtrack.run is None
    with pytest.raises(NoActiveRunError, match=r"hint: call fwtrack.init\(\) first"):
        fwtrack.log({"x": 1})
    with pytest.raises(NoActiveRunError, match="hint"):
        fwtrack.define_metric("x", summary="min")
    fwtrack.finish()  # no run: nothing to do


def test_module_functions_use_the_active_run() -> None:
    run = fwtrack.init()
    fwtrack.define_metric("x", summary="max")
    fwtrack.log({"x": 1})
    fwtrack.log({"x": 3})
    fwtrack.log({"x": 2})
    assert run.step == 3
    fwtrack.finish(exit_code=0)
    assert fwtrack.run is None
    assert run.finished
    assert run.summary["x"] == {"max": 3.0}


def test_context_manager_success_and_failure() -> None:
    with fwtrack.init(project="p") as ok:
        ok.log({"x": 1})
    assert ok.finished
    assert meta(ok.dir)["finish"]["exit_code"] == 0

    bad = fwtrack.init(project="p")

    def fail() -> None:
        with bad:
            bad.log({"x": 1})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    assert meta(bad.dir)["finish"]["exit_code"] == 1
    assert fwtrack.Api().run(f"p/{bad.id}").state == "failed"
    assert fwtrack.Api().run(f"p/{ok.id}").state == "finished"


def test_context_manager_with_system_exit() -> None:
    with pytest.raises(SystemExit), fwtrack.init() as run:
        sys.exit(3)
    assert meta(run.dir)["finish"]["exit_code"] == 3


def test_finish_twice_and_exit_code_type() -> None:
    run = fwtrack.init()
    with pytest.raises(TypeError, match="exit_code"):
        run.finish(exit_code="1")  # type: ignore[arg-type]
    run.finish(exit_code=2)
    run.finish()
    assert meta(run.dir)["finish"]["exit_code"] == 2


def test_online_mode_logs_locally_and_warns() -> None:
    with pytest.warns(FwTrackWarning, match="no fwtrack server is configured") as record:
        run = fwtrack.init(mode="online")
    assert len(record) == 1
    assert record[0].filename == __file__
    run.log({"x": 1})
    run.finish()
    assert meta(run.dir)["rows"] == 1


# -- environment ---------------------------------------------------------------------------


def test_environment_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_DIR", str(tmp_path / "envdir"))
    monkeypatch.setenv("FWTRACK_PROJECT", "envproj")
    monkeypatch.setenv("FWTRACK_RUN_ID", "envid")
    monkeypatch.setenv("FWTRACK_NAME", "env-name")
    monkeypatch.setenv("FWTRACK_TAGS", " a, b ,,c ")
    monkeypatch.setenv("FWTRACK_FLUSH_INTERVAL", "0.5")
    run = fwtrack.init()
    assert run.dir == str(tmp_path / "envdir" / "envproj" / "envid")
    assert (run.project, run.id, run.name) == ("envproj", "envid", "env-name")
    assert run.tags == ("a", "b", "c")
    assert run.settings.flush_interval == 0.5


def test_arguments_beat_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_PROJECT", "envproj")
    monkeypatch.setenv("FWTRACK_RUN_ID", "envid")
    monkeypatch.setenv("FWTRACK_NAME", "env-name")
    monkeypatch.setenv("FWTRACK_TAGS", "a,b")
    monkeypatch.setenv("FWTRACK_MODE", "disabled")
    monkeypatch.setenv("FWTRACK_FLUSH_INTERVAL", "0.5")
    run = fwtrack.init(
        project="argproj",
        id="argid",
        name="arg-name",
        tags=[],
        mode="offline",
        dir=tmp_path / "argdir",
        settings={"flush_interval": 2.0},
    )
    assert run.dir == str(tmp_path / "argdir" / "argproj" / "argid")
    assert (run.project, run.id, run.name, run.tags) == ("argproj", "argid", "arg-name", ())
    assert run.mode == "offline"
    assert run.settings.flush_interval == 2.0
    # a Settings built without the field takes it from the environment
    assert fwtrack.Settings().flush_interval == 0.5


def test_blank_environment_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_PROJECT", "")
    monkeypatch.setenv("FWTRACK_MODE", "  ")
    run = fwtrack.init()
    assert (run.project, run.mode) == ("uncategorized", "offline")


@pytest.mark.parametrize(
    ("var", "value", "allowed"),
    [
        ("FWTRACK_MODE", "foo", "'offline', 'online', 'disabled'"),
        ("FWTRACK_FLUSH_INTERVAL", "soon", "seconds in (0, 3600]"),
        ("FWTRACK_FLUSH_INTERVAL", "-1", "seconds in (0, 3600]"),
        ("FWTRACK_FLUSH_INTERVAL", "nan", "seconds in (0, 3600]"),
        ("FWTRACK_RUN_ID", "../escape", "A-Z"),
        ("FWTRACK_PROJECT", "a/b", "A-Z"),
    ],
)
def test_bad_environment_values(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, allowed: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=re.escape(allowed)) as e:
        fwtrack.init()
    if var in ("FWTRACK_MODE", "FWTRACK_FLUSH_INTERVAL"):
        assert var in str(e.value)
    assert fwtrack.run is None


# -- exit handling, in real processes ------------------------------------------------------


def test_atexit_finishes_the_open_run(run_script: ScriptRunner) -> None:
    out = run_script(
        """
        import fwtrack
        run = fwtrack.init(project="p")
        run.log({"x": 1})
        print(run.dir)
        """
    )
    run_dir = out.stdout.strip()
    assert meta(run_dir)["finish"]["exit_code"] == 0
    assert fwtrack.Api().run(f"p/{Path(run_dir).name}").state == "finished"


def test_uncaught_exception_marks_the_run_failed(run_script: ScriptRunner) -> None:
    out = run_script(
        """
        import fwtrack
        run = fwtrack.init(project="p")
        run.log({"x": 1})
        print(run.dir, flush=True)
        raise RuntimeError("training diverged")
        """,
        check=False,
    )
    assert out.returncode == 1
    assert "training diverged" in out.stderr  # the previous excepthook still ran
    run_dir = out.stdout.strip()
    m = meta(run_dir)
    assert m["finish"]["exit_code"] == 1
    assert m["rows"] == 1
    assert fwtrack.Api().run(f"p/{Path(run_dir).name}").state == "failed"


def test_exception_in_a_thread_does_not_fail_the_run(run_script: ScriptRunner) -> None:
    out = run_script(
        """
        import threading
        import fwtrack
        run = fwtrack.init()
        t = threading.Thread(target=lambda: 1 / 0)
        t.start()
        t.join()
        print(run.dir)
        """
    )
    assert meta(out.stdout.strip())["finish"]["exit_code"] == 0


@dataclasses.dataclass
class _Cfg:
    lr: float = 0.1


def test_config_argument_forms() -> None:
    import argparse

    run = fwtrack.init(config=argparse.Namespace(lr=0.1, batch=32))
    assert run.config.as_dict() == {"lr": 0.1, "batch": 32}
    run.finish()
    run = fwtrack.init(config=_Cfg())
    assert run.config.as_dict() == {"lr": 0.1}
    run.finish()
    assert meta(run.dir)["config"] == {"lr": 0.1}


@pytest.mark.parametrize(
    ("ending", "status", "exit_code"),
    [
        ("sys.exit(3)", 3, 3),
        ("sys.exit('bad config')", 1, 1),
        ("sys.exit()", 0, 0),
        (
            "import threading\nt = threading.Thread(target=sys.exit, args=(5,))\n"
            "t.start()\nt.join()",
            0,
            0,
        ),
        ("try:\n    sys.exit(2)\nexcept SystemExit:\n    pass\nraise ValueError('x')", 1, 1),
    ],
    ids=["code", "message", "none", "in-a-thread", "last-ending-wins"],
)
def test_sys_exit_code_is_the_exit_code(
    run_script: ScriptRunner, ending: str, status: int, exit_code: int
) -> None:
    out = run_script(
        "import sys\nimport fwtrack\nrun = fwtrack.init()\nprint(run.dir, flush=True)\n" + ending,
        check=False,
    )
    assert out.returncode == status, out.stderr
    assert meta(out.stdout.strip())["finish"]["exit_code"] == exit_code
