"""fwtrack.wandb: W&B's names, install(), the integrations' W&B signatures and the WANDB_*
environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import fwtrack
import fwtrack.wandb as wandb
from fwtrack.envvar import WANDB_ALIASES, wandb_value
from fwtrack.errors import FwTrackWarning
from fwtrack.sdk.settings import (
    FWTRACK_API_KEY,
    FWTRACK_BASE_URL,
    FWTRACK_CONSOLE,
    FWTRACK_LOG_MODEL,
    FWTRACK_MODE,
    FWTRACK_PROJECT,
    FWTRACK_SAVE_CODE,
)

PROGRAMS = Path(__file__).parent / "programs"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("WANDB_", "FWTRACK_")):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.timeout(900)  # imports Lightning and transformers on a shared CI machine
def test_install_resolves_import_wandb_to_the_shim(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(PROGRAMS / "install_check.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["wandb_is_shim"] is True
    assert out["same_submodule"] is True
    assert out["public_api"] == "fwtrack.api"
    assert out["run_class"] == "fwtrack.sdk.run"
    assert out["find_spec"] is True
    assert out["real_modules_left"] == []
    assert "No module named 'wandb.sdk.lib'" in out["missing"]
    assert "wandb.integration.keras" in out["missing"]
    assert out["lightning"] is True
    assert out["report_to"] == "fwtrack.integrations.transformers"
    assert out["wandb_available"] is True
    assert out["after_uninstall"] is True


def test_names_forward_to_fwtrack() -> None:
    assert wandb.Image is fwtrack.Image
    assert wandb.Table is fwtrack.Table
    assert wandb.Artifact is fwtrack.Artifact
    assert wandb.Api is fwtrack.Api
    assert wandb.define_metric is fwtrack.define_metric
    assert wandb.Error is fwtrack.FwTrackError
    assert wandb.Object3D is fwtrack.Object3D
    assert wandb.AlertLevel is fwtrack.AlertLevel
    assert wandb.watch is fwtrack.watch
    assert wandb.plot.confusion_matrix is fwtrack.plot.confusion_matrix
    assert wandb.plot_table is fwtrack.plot_table
    assert wandb.run is None


def test_config_and_summary_follow_the_active_run(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    run = wandb.init(project="p", dir=tmp_path, mode="offline", config={"lr": 0.1})
    try:
        assert wandb.run is run
        assert wandb.config.lr == 0.1
        wandb.config.batch_size = 4
        wandb.log({"loss": 1.0})
        wandb.summary["best"] = 3
    finally:
        wandb.finish()
    assert wandb.run is None
    [read] = fwtrack.Api(tmp_path).runs("p")
    assert read.config == {"lr": 0.1, "batch_size": 4}
    assert read.summary["best"] == 3
    assert read.summary["loss"] == 1.0


def test_log_without_a_run_names_the_fix() -> None:
    with pytest.raises(fwtrack.FwTrackError, match=r"call wandb.init\(\) first"):
        wandb.log({"a": 1})


def test_log_refuses_unknown_keywords(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    wandb.init(project="p", dir=tmp_path, mode="offline")
    try:
        wandb.log({"a": 1}, sync=False)  # wandb 0.31 accepts and ignores it
        with pytest.raises(TypeError, match="data, step and commit"):
            wandb.log({"a": 1}, flush=True)
    finally:
        wandb.finish()


def test_wandb_names_without_an_equivalent_name_the_alternative() -> None:
    with pytest.raises(AttributeError, match=r"wandb.restore has no fwtrack equivalent: use"):
        wandb.restore  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        wandb.no_such_name  # noqa: B018


def test_login_offline_is_false(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WANDB_MODE", "offline")
    assert wandb.login() is False


def test_init_reads_wandb_variables_for_arguments_left_unset(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("WANDB_PROJECT", "envproj")
    clean_env.setenv("WANDB_RUN_GROUP", "g1")
    clean_env.setenv("WANDB_JOB_TYPE", "eval")
    clean_env.setenv("WANDB_NOTES", "n")
    clean_env.setenv("WANDB_MODE", "dryrun")
    run = wandb.init(dir=tmp_path, job_type="train")
    run.finish()
    [read] = fwtrack.Api(tmp_path).runs("envproj")
    assert (read.group, read.job_type, read.notes) == ("g1", "train", "n")


@pytest.mark.parametrize(
    ("wandb_name", "value", "var", "expected"),
    [
        ("WANDB_PROJECT", "proj", FWTRACK_PROJECT, "proj"),
        ("WANDB_MODE", "offline", FWTRACK_MODE, "offline"),
        ("WANDB_MODE", "dryrun", FWTRACK_MODE, "offline"),
        ("WANDB_MODE", "disabled", FWTRACK_MODE, "disabled"),
        ("WANDB_MODE", "online", FWTRACK_MODE, None),
        ("WANDB_CONSOLE", "off", FWTRACK_CONSOLE, "off"),
        ("WANDB_CONSOLE", "wrap", FWTRACK_CONSOLE, "on"),
        ("WANDB_LOG_MODEL", "checkpoint", FWTRACK_LOG_MODEL, "checkpoint"),
        ("WANDB_LOG_MODEL", "true", FWTRACK_LOG_MODEL, "end"),
        ("WANDB_LOG_MODEL", "bogus", FWTRACK_LOG_MODEL, None),
        ("WANDB_DISABLE_CODE", "true", FWTRACK_SAVE_CODE, "false"),
        ("WANDB_SAVE_CODE", "false", FWTRACK_SAVE_CODE, "false"),
        ("WANDB_BASE_URL", "https://api.wandb.ai", FWTRACK_BASE_URL, None),
        ("WANDB_BASE_URL", "http://fw.local:8080", FWTRACK_BASE_URL, "http://fw.local:8080"),
    ],
)
def test_wandb_variables_read_as_fwtrack_ones(
    clean_env: pytest.MonkeyPatch, wandb_name: str, value: str, var: object, expected: str | None
) -> None:
    clean_env.setenv(wandb_name, value)
    assert var.get() == expected  # type: ignore[attr-defined]


def test_fwtrack_variable_wins(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WANDB_PROJECT", "w")
    clean_env.setenv("FWTRACK_PROJECT", "f")
    assert FWTRACK_PROJECT.get() == "f"


def test_wandb_api_key_goes_only_to_the_wandb_base_url_server(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("WANDB_API_KEY", "k123")
    assert FWTRACK_API_KEY.get() is None  # W&B's cloud: never sent anywhere
    clean_env.setenv("WANDB_BASE_URL", "https://api.wandb.ai")
    assert FWTRACK_API_KEY.get() is None
    clean_env.setenv("WANDB_BASE_URL", "http://fw.local:8080")
    assert FWTRACK_API_KEY.get() == "k123"
    clean_env.setenv("FWTRACK_BASE_URL", "http://other:8080")
    assert FWTRACK_API_KEY.get() is None


def test_a_bad_wandb_value_names_both_variables(clean_env: pytest.MonkeyPatch) -> None:
    from fwtrack.envvar import EnvVar

    var = EnvVar("FWTRACK_PROJECT", "doc", allowed=("a",))
    clean_env.setenv("WANDB_PROJECT", "b")
    with pytest.raises(ValueError, match=r"WANDB_PROJECT \(read as FWTRACK_PROJECT\)='b'"):
        var.get()


def test_every_alias_is_a_wandb_variable() -> None:
    for name, aliases in WANDB_ALIASES.items():
        assert name.startswith("FWTRACK_")
        assert all(a.startswith("WANDB_") for a in aliases)
    assert wandb_value("FWTRACK_NOT_A_VARIABLE") is None


@pytest.mark.timeout(900)  # imports Lightning
def test_lightning_wandb_logger_takes_wandb_arguments(tmp_path: Path) -> None:
    from fwtrack.wandb.integration.lightning import WandbLogger

    with pytest.warns(FwTrackWarning, match="ignoring anonymous, entity"):
        logger = WandbLogger(
            name="n",
            save_dir=tmp_path,
            version="abc123",
            project="p",
            entity="team",
            anonymous=True,
            tags=["t"],
            config={"a": 1},
        )
    assert (logger.name, logger.version) == ("p", "abc123")
    assert logger.save_dir == str(tmp_path)
    with pytest.raises(TypeError, match="fwtrack has no meaning for: \\['bogus'\\]"):
        WandbLogger(project="p", bogus=1)


@pytest.mark.timeout(900)  # imports Lightning
def test_lightning_wandb_logger_logs_into_a_given_experiment(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    from fwtrack.wandb.integration.lightning import WandbLogger

    run = wandb.init(project="exp", dir=tmp_path, mode="offline")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            logger = WandbLogger(experiment=run)
        assert logger.experiment is run
        logger.log_metrics({"m": 1.0}, step=3)
        logger.log_text("texts", columns=["t"], data=[["hello"]])
    finally:
        wandb.finish()
    [read] = fwtrack.Api(tmp_path).runs("exp")
    assert read.summary["m"] == 1.0
    assert "texts" in read.media_keys()


@pytest.mark.timeout(900)  # imports Keras (torch backend) in a process of its own
def test_keras_legacy_callbacks_name_the_replacements() -> None:
    code = (
        "from fwtrack.wandb.integration.keras import WandbCallback, WandbEvalCallback\n"
        "for cls in (WandbCallback, WandbEvalCallback):\n"
        "    try:\n"
        "        cls()\n"
        "    except TypeError as exc:\n"
        "        print(exc)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all("use WandbMetricsLogger() for metrics and WandbModelCheckpoint" in x for x in lines)


def test_xgboost_callback_takes_wandb_arguments() -> None:
    from fwtrack.wandb.integration.xgboost import WandbCallback

    callback = WandbCallback(True, False, "weight", False)
    assert callback.define_metric is False
    with pytest.raises(ValueError, match="importance_type"):
        WandbCallback(importance_type="nope")


def test_sklearn_names_forward() -> None:
    from fwtrack.integrations import sklearn

    expected = getattr(sklearn, "plot_classifier", sklearn.log_classifier)
    assert wandb.sklearn.plot_classifier is expected
    assert wandb.sklearn.plot_confusion_matrix is sklearn.plot_confusion_matrix


def test_import_fwtrack_wandb_imports_no_framework() -> None:
    code = (
        "import sys, fwtrack.wandb as w; w.Image; "
        "print(sorted(m for m in ('torch','keras','lightning','transformers','xgboost','sklearn',"
        "'pandas','wandb') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_plain_fwtrack_ignores_variables_set_for_wandb(tmp_path: Path) -> None:
    """Without the shim, WANDB_* variables meant for real W&B runs never steer fwtrack."""
    program = (
        "import fwtrack\n"
        "run = fwtrack.init()\n"
        "print(run.project, run.dir.startswith(r'%s'))\n"
        "fwtrack.finish()\n" % (tmp_path / "wandb-dir")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "FWTRACK_"))}
    env.update(
        WANDB_PROJECT="for-wandb",
        WANDB_DIR=str(tmp_path / "wandb-dir"),
        FWTRACK_DIR=str(tmp_path / "fw"),
        FWTRACK_MODE="offline",
    )
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["uncategorized", "False"], out.stderr
