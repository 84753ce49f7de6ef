"""The run surface W&B users reach for (issue 17): init's W&B arguments (entity, reinit,
resume, save_code, config keys), run.url and friends, finish(exit_code=, quiet=),
define_metric merging and its new arguments, the module shortcuts (fwtrack.config before
init, fwtrack.summary, save, alert, watch, plot, login, ...), and every public name of `wandb`
and of wandb's `Run` either present or failing with the fwtrack way to do it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwtrack import _core
from fwtrack.errors import NoActiveRunError
from fwtrack.sdk import run as sdk_run
from fwtrack.sdk.run import INIT_REFUSED

QUIET = {"console": False, "system_interval": 0}
PROGRAMS = Path(__file__).parent / "programs"

pytestmark = pytest.mark.usefixtures("tmp_dir")


def meta(run_dir: str) -> dict[str, Any]:
    return _core.RunReader(run_dir).meta()


# -- init's W&B arguments ---------------------------------------------------------------------


def test_entity_is_kept_in_the_run_and_shown_in_its_path() -> None:
    run = fwtrack.init(project="p", entity="team-a", settings=QUIET)
    assert run.entity == "team-a"
    assert run.path == f"team-a/p/{run.id}"
    run.finish()
    assert meta(run.dir)["starts"][0]["entity"] == "team-a"
    with pytest.raises(ValueError, match="not a valid entity"):
        fwtrack.init(project="p", entity="a/b")


def test_a_local_run_has_no_entity_and_its_url_is_the_ui_form() -> None:
    run = fwtrack.init(project="mnist", settings=QUIET)
    assert run.entity == ""
    assert run.path == f"mnist/{run.id}"
    assert fwtrack.Api().run(run.path).id == run.id
    assert run.url == f"http://127.0.0.1:8080/#/p/local/mnist/r/{run.id}"
    assert run.project_url == "http://127.0.0.1:8080/#/p/local/mnist"
    assert run.sweep_url is None
    assert run.offline
    assert run.starting_step == 0
    assert run.start_time == meta(run.dir)["starts"][0]["started_at"]
    assert run.sync_dir == run.dir
    disabled = fwtrack.init(mode="disabled", reinit="finish_previous")
    assert disabled.url is None


def test_reinit_default_returns_the_active_run() -> None:
    first = fwtrack.init(project="p", settings=QUIET)
    assert fwtrack.init(project="p") is first
    assert fwtrack.init(project="p", reinit=False) is first
    assert fwtrack.init(project="p", reinit="return_previous") is first
    assert fwtrack.init(project="p", reinit="default") is first
    assert not first.finished


@pytest.mark.parametrize("reinit", [True, "finish_previous"])
def test_reinit_finish_previous(reinit: Any) -> None:
    first = fwtrack.init(project="p", settings=QUIET)
    second = fwtrack.init(project="p", reinit=reinit, settings=QUIET)
    assert first.finished
    assert second is not first
    assert fwtrack.run is second


def test_reinit_create_new_leaves_the_active_run_alone() -> None:
    first = fwtrack.init(project="p", settings=QUIET)
    other = fwtrack.init(project="p", reinit="create_new", settings=QUIET)
    assert fwtrack.run is first
    assert not first.finished
    other.log({"x": 1})
    fwtrack.log({"y": 2})
    other.finish()
    first.finish()
    assert set(meta(other.dir)["summary"]) == {"x"}
    assert set(meta(first.dir)["summary"]) == {"y"}


def test_finish_previous_finishes_runs_made_with_create_new_too() -> None:
    first = fwtrack.init(project="p", settings=QUIET)
    other = fwtrack.init(project="p", reinit="create_new", settings=QUIET)
    third = fwtrack.init(project="p", reinit="finish_previous", settings=QUIET)
    assert first.finished
    assert other.finished
    assert not third.finished


def test_resume_must_with_an_active_run_and_bad_reinit() -> None:
    fwtrack.init(project="p", settings=QUIET)
    with pytest.raises(ValueError, match="reinit='create_new'"):
        fwtrack.init(project="p", id="zz", resume="must")
    with pytest.raises(ValueError, match="invalid reinit 'sometimes'"):
        fwtrack.init(reinit="sometimes")  # type: ignore[arg-type]


def test_resume_never_refuses_an_existing_run() -> None:
    run = fwtrack.init(project="p", id="nev1", settings=QUIET)
    run.finish()
    with pytest.raises(ValueError, match="resume='never' was given"):
        fwtrack.init(project="p", id="nev1", resume="never")
    fresh = fwtrack.init(project="p", id="nev2", resume="never", settings=QUIET)
    assert not fresh.resumed


@pytest.mark.parametrize("resume", ["auto", True])
def test_resume_auto_continues_a_crashed_run_then_forgets_it(tmp_dir: Path, resume: Any) -> None:
    env = {**_child_env(tmp_dir)}
    crashed = subprocess.run(
        [sys.executable, str(PROGRAMS / "auto_resume_crash.py"), "3"],
        env=env,
        cwd=tmp_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -9, crashed.stderr
    first = json.loads(crashed.stdout.strip().splitlines()[-1])
    run = fwtrack.init(project="auto", resume=resume, settings=QUIET)
    assert run.id == first["id"]
    assert run.resumed
    assert run.starting_step == 3
    run.log({"loss": 9.0})
    run.finish()
    assert meta(run.dir)["last_step"] == 3
    # Finished cleanly: the next resume="auto" starts a new run.
    again = fwtrack.init(project="auto", resume=resume, settings=QUIET)
    assert again.id != first["id"]
    assert not again.resumed


def test_resume_auto_with_an_id_keeps_the_id() -> None:
    run = fwtrack.init(project="auto", resume="auto", settings=QUIET)
    remembered = run.id
    with pytest.warns(fwtrack.FwTrackWarning, match=f"ignoring run id '{remembered}'"):
        other = fwtrack.init(project="auto", id="given1", resume="auto", reinit=True)
    assert other.id == "given1"


def _child_env(tmp_dir: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["FWTRACK_DIR"] = str(tmp_dir / "fwtrack")
    env["FWTRACK_CONFIG_DIR"] = str(tmp_dir / "config")
    return env


def test_the_mean_summary_carries_over_a_resume(tmp_dir: Path) -> None:
    run = fwtrack.init(project="p", id="mean1", settings=QUIET)
    run.define_metric("loss", summary="mean")
    for value in (1.0, 2.0, 3.0):
        run.log({"loss": value})
    run.finish()
    again = fwtrack.init(project="p", id="mean1", resume="allow", settings=QUIET)
    for value in (4.0, 5.0):
        again.log({"loss": value})
    assert again.summary["loss"] == {"mean": 3.0}
    again.finish()
    assert meta(again.dir)["summary"]["loss"] == {"mean": 3.0}


def test_the_mean_summary_carries_over_a_crash_and_resume(tmp_dir: Path) -> None:
    crashed = subprocess.run(
        [sys.executable, str(PROGRAMS / "auto_resume_crash.py"), "4"],
        env=_child_env(tmp_dir),
        cwd=tmp_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == -9, crashed.stderr
    run = fwtrack.init(project="auto", resume="auto", settings=QUIET)
    run.log({"loss": 10.0})  # 0, 1, 2, 3 before the crash
    assert run.summary["loss"] == {"mean": 16.0 / 5}


@pytest.mark.parametrize("save_code", [True, False])
def test_save_code_argument_beats_the_settings(save_code: bool) -> None:
    run = fwtrack.init(
        project="p", save_code=save_code, settings={**QUIET, "save_code": not save_code}
    )
    assert run.settings.save_code is save_code
    with pytest.raises(TypeError, match="save_code must be True or False"):
        fwtrack.init(save_code="yes")  # type: ignore[arg-type]


def test_config_include_and_exclude_keys() -> None:
    cfg = {"lr": 0.1, "batch": 32, "seed": 1}
    run = fwtrack.init(project="p", config=cfg, config_exclude_keys=["seed"], settings=QUIET)
    assert run.config.as_dict() == {"lr": 0.1, "batch": 32}
    run.finish()
    run = fwtrack.init(project="p", config=cfg, config_include_keys=["lr"], settings=QUIET)
    assert run.config.as_dict() == {"lr": 0.1}
    run.finish()
    assert meta(run.dir)["config"] == {"lr": 0.1}
    with pytest.raises(ValueError, match="not both"):
        fwtrack.init(config=cfg, config_include_keys=["lr"], config_exclude_keys=["seed"])
    with pytest.raises(TypeError, match="config_exclude_keys must be a list of str"):
        fwtrack.init(config=cfg, config_exclude_keys="seed")  # type: ignore[arg-type]


def test_allow_val_change_is_accepted_and_never_a_config_key() -> None:
    run = fwtrack.init(project="p", config={"lr": 0.1}, allow_val_change=True, settings=QUIET)
    run.config.update({"lr": 0.2}, allow_val_change=True)
    fwtrack.config.update({"wd": 0.0}, allow_val_change=False)
    assert run.config.as_dict() == {"lr": 0.2, "wd": 0.0}
    run.finish()
    assert meta(run.dir)["config"] == {"lr": 0.2, "wd": 0.0}


def test_config_setdefaults_keeps_values_already_set() -> None:
    run = fwtrack.init(project="p", config={"lr": 0.1}, settings=QUIET)
    run.config.setdefaults({"lr": 0.5, "epochs": 3})
    assert run.config.as_dict() == {"lr": 0.1, "epochs": 3}


@pytest.mark.parametrize("kwarg", sorted(INIT_REFUSED))
def test_wandb_only_init_arguments_are_refused_naming_what_to_use(kwarg: str) -> None:
    with pytest.raises(TypeError, match=f"does not take wandb's {kwarg}=: ") as info:
        fwtrack.init(project="p", **{kwarg: True})
    assert INIT_REFUSED[kwarg] in str(info.value)
    assert fwtrack.run is None


def test_an_unknown_init_argument_lists_the_arguments() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'colour'\nhint: .*entity"):
        fwtrack.init(colour="red")


def test_config_as_a_file_name_is_refused_with_a_hint() -> None:
    with pytest.raises(TypeError, match=r"yaml\.safe_load"):
        fwtrack.init(config="config-defaults.yaml")


# -- finish ---------------------------------------------------------------------------------


def test_finish_takes_exit_code_none_and_quiet() -> None:
    run = fwtrack.init(project="p", settings=QUIET)
    fwtrack.finish(exit_code=None, quiet=True)
    assert run.finished
    assert fwtrack.run is None
    assert meta(run.dir)["finish"]["exit_code"] == 0
    failed = fwtrack.init(project="p", settings=QUIET)
    failed.finish(exit_code=2, quiet=False)
    assert meta(failed.dir)["finish"]["exit_code"] == 2
    with pytest.raises(TypeError, match="quiet must be"):
        fwtrack.init(project="p", settings=QUIET).finish(quiet="yes")  # type: ignore[arg-type]


# -- define_metric ----------------------------------------------------------------------------


def test_a_second_define_metric_adds_summaries() -> None:
    run = fwtrack.init(project="p", settings=QUIET)
    run.define_metric("loss", summary="min")
    metric = run.define_metric("loss", summary="max")
    assert metric.summary == ["min", "max"]
    for value in (3.0, 1.0, 2.0):
        run.log({"loss": value})
    assert run.summary["loss"] == {"min": 1.0, "max": 3.0}
    run.finish()
    assert meta(run.dir)["summary"]["loss"] == {"min": 1.0, "max": 3.0}


def test_define_metric_keeps_earlier_arguments_unless_overwrite() -> None:
    run = fwtrack.init(project="p", settings=QUIET)
    run.define_metric("acc", step_metric="epoch", summary="max", goal="maximize")
    merged = run.define_metric("acc", summary="mean")
    assert (merged.step_metric, merged.summary, merged.goal) == (
        "epoch",
        ["max", "mean"],
        "maximize",
    )
    replaced = run.define_metric("acc", summary="min", overwrite=True)
    assert (replaced.step_metric, replaced.summary, replaced.goal) == (None, ["min"], None)
    run.finish()
    (acc,) = [m for m in meta(run.dir)["metrics"] if m["name"] == "acc"]
    assert acc["summary"] == ["min"]
    assert acc.get("step_metric") is None


def test_define_metric_goal_hidden_and_step_sync_reach_the_run_log() -> None:
    run = fwtrack.init(project="p", settings=QUIET)
    epoch = fwtrack.define_metric("epoch", hidden=True)
    fwtrack.define_metric("val/loss", step_metric=epoch, goal="min", step_sync=True)
    assert repr(epoch) == "Metric('epoch', hidden=True)"
    run.finish()
    metrics = {m["name"]: m for m in meta(run.dir)["metrics"]}
    assert metrics["epoch"]["hidden"] is True
    assert metrics["val/loss"]["goal"] == "minimize"
    assert metrics["val/loss"]["step_metric"] == "epoch"
    assert metrics["val/loss"]["step_sync"] is True


def test_define_metric_merges_with_definitions_from_before_a_resume() -> None:
    run = fwtrack.init(project="p", id="dm1", settings=QUIET)
    run.define_metric("loss", summary="min")
    run.log({"loss": 2.0})
    run.finish()
    again = fwtrack.init(project="p", id="dm1", resume="allow", settings=QUIET)
    assert again.define_metric("loss", summary="max").summary == ["min", "max"]
    again.log({"loss": 5.0})
    assert again.summary["loss"] == {"min": 2.0, "max": 5.0}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"goal": "up"}, ValueError, "invalid goal 'up'.*'minimize', 'maximize'"),
        ({"summary": "none"}, ValueError, "summary 'none' .* hidden=True"),
        ({"hidden": "yes"}, TypeError, "hidden must be True, False or None"),
        ({"step_sync": 1}, TypeError, "step_sync must be True, False or None"),
        ({"overwrite": "no"}, TypeError, "overwrite must be True, False or None"),
    ],
)
def test_define_metric_bad_arguments(kwargs: dict[str, Any], error: type, match: str) -> None:
    run = fwtrack.init(project="p", settings=QUIET)
    with pytest.raises(error, match=match):
        run.define_metric("loss", **kwargs)


# -- module shortcuts -------------------------------------------------------------------------


def test_config_before_init_is_merged_into_the_next_run() -> None:
    fwtrack.config.update({"lr": 0.1, "batch": 8})
    fwtrack.config.epochs = 3
    run = fwtrack.init(project="p", config={"batch": 16}, settings=QUIET)
    assert run.config.as_dict() == {"lr": 0.1, "batch": 16, "epochs": 3}
    assert fwtrack.config.lr == 0.1  # the active run's config now
    fwtrack.config.lr = 0.2
    assert run.config.lr == 0.2
    run.finish()
    assert meta(run.dir)["config"] == {"lr": 0.2, "batch": 16, "epochs": 3}
    # Consumed by that run: the next one starts without it.
    assert dict(fwtrack.config) == {}


def test_summary_shortcut() -> None:
    assert dict(fwtrack.summary) == {}
    with pytest.raises(NoActiveRunError, match=r"call fwtrack.init\(\) first"):
        fwtrack.summary["best"] = 1
    run = fwtrack.init(project="p", settings=QUIET)
    fwtrack.summary["best"] = 0.9
    assert run.summary["best"] == 0.9


def test_save_log_model_and_the_lazy_shortcuts(tmp_dir: Path) -> None:
    run = fwtrack.init(project="p", settings=QUIET)
    (tmp_dir / "notes.txt").write_text("hello")
    assert fwtrack.save("notes.txt")
    weights = tmp_dir / "model.bin"
    weights.write_bytes(b"weights")
    model = fwtrack.log_model(weights)
    model.wait()
    assert (model.name, model.type) == (f"run-{run.id}-model.bin", "model")
    assert callable(fwtrack.alert)
    assert fwtrack.AlertLevel.WARN.value == "WARN"
    assert callable(fwtrack.watch)
    assert callable(fwtrack.unwatch)
    assert callable(fwtrack.plot_table)
    assert hasattr(fwtrack.plot, "confusion_matrix")
    assert callable(fwtrack.log_code)
    assert callable(fwtrack.login)
    assert fwtrack.Api is fwtrack.api.Api


def test_module_shortcuts_need_an_active_run() -> None:
    for call in (
        lambda: fwtrack.save("x"),
        lambda: fwtrack.log_code(),
        lambda: fwtrack.log_model("x"),
    ):
        with pytest.raises(NoActiveRunError, match=r"hint: call fwtrack.init\(\) first"):
            call()


def test_login_without_a_server_names_the_fix() -> None:
    from fwtrack.sdk.login import LoginError

    with pytest.raises(LoginError, match="no fwtrack server to log in to"):
        fwtrack.login(key="k")
    with pytest.raises(LoginError, match="no anonymous mode"):
        fwtrack.login(anonymous="must")


# -- every W&B name -------------------------------------------------------------------------


def _wandb_names(expr: str) -> list[str]:
    """Public names of a wandb object (its `dir()` and `__all__`), read in a fresh interpreter:
    what `import wandb` gives, whatever this worker imported before."""
    code = (
        "import json, wandb\nfrom wandb.sdk.wandb_run import Run\n"
        f"names = set(dir({expr})) | set(getattr({expr}, '__all__', ()))\n"
        "print(json.dumps(sorted(n for n in names if not n.startswith('_'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    names: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return names


def test_every_public_name_of_wandb_is_there_or_names_the_fwtrack_one() -> None:
    names = _wandb_names("wandb")
    assert {"init", "log", "config", "watch", "plot", "setup", "Api"} <= set(names)
    missing = []
    for name in names:
        try:
            getattr(fwtrack, name)
        except AttributeError as e:
            if not re.search(rf"\(wandb\.{re.escape(name)}\): \S", str(e)):
                missing.append(f"{name}: {e}")
    assert missing == []


def test_every_public_name_of_wandbs_run_is_there_or_names_the_fwtrack_one() -> None:
    names = _wandb_names("Run")
    assert {"log", "config", "url", "mark_preempting", "config_static"} <= set(names)
    run = fwtrack.init(project="p", settings=QUIET)
    missing = []
    for name in names:
        try:
            getattr(run, name)
        except AttributeError as e:
            if not re.search(rf"\(wandb's run\.{re.escape(name)}\): \S", str(e)):
                missing.append(f"{name}: {e}")
    assert missing == []
    with pytest.raises(AttributeError, match=r"config_static.*use run\.config"):
        _ = run.config_static
    with pytest.raises(AttributeError, match="'Run' object has no attribute 'nonsense'"):
        _ = run.nonsense  # type: ignore[attr-defined]


def test_module_names_without_a_counterpart_say_what_to_use() -> None:
    with pytest.raises(AttributeError, match=r"\(wandb\.setup\): fwtrack needs no setup"):
        _ = fwtrack.setup  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match=r"module 'fwtrack' has no attribute 'nonsense'$"):
        _ = fwtrack.nonsense  # type: ignore[attr-defined]
    assert sdk_run.WANDB_RUN_ALTERNATIVES["mark_preempting"].startswith("use run.finish")


def test_lightning_logger_errors_name_the_class_called() -> None:
    from fwtrack.integrations.lightning import FwTrackLogger

    with pytest.raises(TypeError) as info:
        FwTrackLogger(log_model=True, entity="team")  # type: ignore[call-arg]
    assert "FwTrackLogger.__init__()" in str(info.value)
    assert "Fabric" not in str(info.value)
    with pytest.raises(ValueError, match="log_model must be True, False or 'all'"):
        FwTrackLogger(log_model="end")  # type: ignore[arg-type]


def test_notes_group_job_type_and_resume_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FWTRACK_NOTES", "from env")
    monkeypatch.setenv("FWTRACK_GROUP", "g1")
    monkeypatch.setenv("FWTRACK_JOB_TYPE", "train")
    run = fwtrack.init(project="p", id="envr1", settings=QUIET)
    assert (run.notes, run.group, run.job_type) == ("from env", "g1", "train")
    run.finish()
    assert fwtrack.init(project="p", group="mine", settings=QUIET, reinit=True).group == "mine"
    monkeypatch.setenv("FWTRACK_RESUME", "never")
    with pytest.raises(ValueError, match="resume='never' was given"):
        fwtrack.init(project="p", id="envr1", reinit=True)
    monkeypatch.setenv("FWTRACK_RESUME", "allow")
    assert fwtrack.init(project="p", id="envr1", settings=QUIET, reinit=True).resumed
