"""`FwTrackLogger` and `FwTrackFabricLogger` against the real Lightning (CPU, tiny models).

Reproduces Lightning's generic logger contract (upstream `tests/tests_pytorch/loggers/
test_all.py`): the (step, keys) sequence of fit + test, pickling of the logger and of a Trainer
holding it, `ddp_spawn` on two CPU processes with rank-zero-only logging, prefix, default name.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import runpy
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning  # noqa: F401
import pytest
import torch
from lightning.fabric import Fabric
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.loggers.logger import DummyExperiment

import fwtrack
from fwtrack.integrations.lightning import FwTrackFabricLogger, FwTrackLogger

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.usefixtures("tmp_dir"),
    # Lightning 2.6 on torch >= 2.10 (its own pytree helper), and its hint on machines with
    # more than two cores: neither is about the logger.
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated"),
    pytest.mark.filterwarnings("ignore:.*does not have many workers:UserWarning"),
]


def make_trainer(logger: Any, **kwargs: Any) -> Trainer:
    options: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 1,
        "limit_train_batches": 1,
        "limit_val_batches": 1,
        "log_every_n_steps": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    options.update(kwargs)
    return Trainer(logger=logger, **options)


class CustomModel(BoringModel):
    """Upstream's model for the fit + test sequence (with float values: no reduction warning)."""

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        loss = self.step(batch)
        self.log("train_some_val", loss)
        return {"loss": loss}

    def on_validation_epoch_end(self) -> None:
        self.log_dict({"early_stop_on": torch.tensor(1.0), "val_loss": torch.tensor(0.5)})

    def on_test_epoch_end(self) -> None:
        self.log("test_loss", torch.tensor(2.0))


class StoreHistoryLogger(FwTrackLogger):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history: list[tuple[int | None, dict[str, Any]]] = []

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        super().log_metrics(metrics, step)
        self.history.append((step, dict(metrics)))


def test_fit_and_test_sequence(tmp_dir: Path) -> None:
    logger = StoreHistoryLogger(project="contract", config={"lr": 0.1})
    trainer = make_trainer(logger)
    model = CustomModel()
    trainer.fit(model)
    trainer.test(model)

    assert [(s, sorted(m)) for s, m in logger.history] == [
        (0, ["epoch", "train_some_val"]),
        (0, ["early_stop_on", "epoch", "val_loss"]),
        (1, ["epoch", "test_loss"]),
    ]
    run = fwtrack.Api().run(logger.version)
    assert run.project == "contract"
    assert run.state == "finished"
    history = run.history()
    # One row per log_metrics call: fwtrack's step counts rows, Lightning's is a metric.
    assert history["_step"].tolist() == [0, 1, 2]
    assert history["trainer/global_step"].tolist() == [0, 0, 1]
    assert history["epoch"].tolist() == [0, 0, 1]
    assert history["val_loss"].tolist()[1] == 0.5
    assert history["test_loss"].tolist()[2] == 2.0
    assert {
        "name": "*",
        "step_metric": "trainer/global_step",
        "summary": [],
        "goal": None,
        "hidden": False,
        "step_sync": None,
    } in run.metrics
    assert run.config == {"lr": 0.1}
    assert len(run.starts) == 2  # fit finished the run, test continued it

    # ModelCheckpoint saves into the run directory.
    assert logger.log_dir == str(run.dir)
    best = Path(trainer.checkpoint_callback.best_model_path)  # type: ignore[union-attr]
    assert best.parent == run.dir / "checkpoints"
    assert best.is_file()


class MediaModel(BoringModel):
    """Logs a gallery, audio and a table from validation, as with `WandbLogger`."""

    def on_validation_epoch_end(self) -> None:
        logger = self.logger
        assert isinstance(logger, FwTrackLogger)
        images = [torch.full((3, 4, 5), 0.5), torch.zeros(4, 5)]
        logger.log_image("val/samples", images, caption=["half", "black"])
        logger.log_audio("val/clip", [torch.zeros(160).numpy()], sample_rate=[16000])
        logger.log_table("val/preds", columns=["x", "y"], data=[[1, "a"], [2, "b"]])


def test_log_image_audio_and_table(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="media")
    make_trainer(logger, num_sanity_val_steps=0).fit(MediaModel())
    run = fwtrack.Api().run(logger.version)
    assert run.media_keys() == ["val/clip", "val/preds", "val/samples"]
    history = run.history()
    (gallery,) = history["val/samples"].dropna()
    assert [img.caption for img in gallery] == ["half", "black"]
    assert gallery[0].to_numpy().shape == (4, 5, 3)
    assert int(gallery[0].to_numpy()[0, 0, 0]) in (127, 128)
    assert gallery[1].to_numpy().max() == 0
    (clips,) = history["val/clip"].dropna()
    assert clips[0].to_numpy()[1] == 16000
    (table,) = history["val/preds"].dropna()
    assert table.to_pandas().to_dict("list") == {"x": [1, 2], "y": ["a", "b"]}
    with pytest.raises(ValueError, match="one entry per item"):
        logger.log_image("bad", [torch.zeros(2, 2)], caption=["a", "b"])


def test_name_version_and_dirs(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logger = FwTrackLogger()
    assert logger.name == "lightning_logs"
    assert logger.version == logger.version
    assert len(logger.version) == 8
    assert logger.save_dir == str(tmp_dir / "fwtrack")
    assert logger.log_dir == os.path.join(logger.save_dir, "lightning_logs", logger.version)
    # The constructor only stores settings.
    assert not (tmp_dir / "fwtrack").exists()
    assert fwtrack.run is None

    monkeypatch.setenv("FWTRACK_PROJECT", "from-env")
    assert FwTrackLogger().name == "from-env"
    assert FwTrackLogger(project="mine").name == "mine"
    other = FwTrackLogger(id="abc-1", save_dir=tmp_dir / "elsewhere")
    assert other.version == "abc-1"
    assert other.log_dir == str(tmp_dir / "elsewhere" / "from-env" / "abc-1")

    with pytest.raises(ValueError, match="invalid project"):
        FwTrackLogger(project="no spaces")
    with pytest.raises(ValueError, match="invalid run id"):
        FwTrackLogger(id="a/b")
    with pytest.raises(TypeError, match="tags must be a list of str"):
        FwTrackLogger(tags="one")  # type: ignore[arg-type]


def test_prefix(tmp_dir: Path) -> None:
    logger = FwTrackLogger(prefix="tmp")
    logger.log_metrics({"test": 1.0}, step=0)
    logger.log_metrics({"test": 2.0})
    logger.finalize("success")
    history = fwtrack.Api().run(logger.version).history()
    assert list(history.columns) == [
        "_step",
        "_timestamp",
        "_runtime",
        "tmp-test",
        "trainer/global_step",
    ]
    assert history["tmp-test"].tolist() == [1.0, 2.0]
    assert history["trainer/global_step"].tolist()[0] == 0


def test_pickle_logger_and_trainer(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="pickle")
    _ = logger.experiment
    logger.log_metrics({"a": 1})
    logger.save()
    pickle.dumps(logger)

    trainer = make_trainer(logger)
    trainer2 = pickle.loads(pickle.dumps(trainer))
    trainer2.logger.log_metrics({"acc": 1.0})
    assert trainer2.logger.name == logger.name
    assert trainer2.logger.save_dir == logger.save_dir
    assert trainer2.logger.version == logger.version
    # Both copies log into the one run this process has open.
    assert trainer2.logger.experiment is logger.experiment
    logger.log_metrics({"a": 2})
    trainer2.logger.finalize("success")

    run = fwtrack.Api().run(logger.version)
    assert run.state == "finished"
    history = run.history()
    assert history["a"].tolist()[0] == 1
    assert history["acc"].tolist()[1] == 1.0
    assert history["a"].tolist()[2] == 2


class RankZeroLoggerCheck(Callback):
    """Module level so that spawned workers can unpickle it."""

    def on_train_batch_start(self, trainer: Trainer, pl_module: Any, batch: Any, idx: int) -> None:
        experiment = trainer.logger.experiment  # type: ignore[union-attr]
        if trainer.is_global_zero:
            assert isinstance(experiment, fwtrack.Run)
        else:
            assert isinstance(experiment, DummyExperiment)
            assert experiment.log({"x": 1}) is None
        # Every rank calls it; only rank 0's call may be recorded.
        trainer.logger.log_metrics(  # type: ignore[union-attr]
            {"logged_by_rank": trainer.global_rank}, step=trainer.global_step
        )


class StepModel(BoringModel):
    def training_step(self, batch: Any, batch_idx: int) -> Any:
        loss = self.step(batch)
        self.log("train/loss", loss)
        return {"loss": loss}


@pytest.mark.timeout(240)
def test_ddp_spawn_logs_on_rank_zero_only(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="ddp")
    # The main process opens the run before the workers start: pickling the logger for the
    # spawned workers hands the run over to them.
    logger.log_hyperparams({"world": 2})
    trainer = make_trainer(
        logger,
        devices=2,
        strategy="ddp_spawn",
        limit_train_batches=3,
        limit_val_batches=0,
        callbacks=[RankZeroLoggerCheck()],
    )
    trainer.fit(StepModel())
    assert trainer.state.finished, trainer.state

    run = fwtrack.Api().run(logger.version)
    assert run.state == "finished"  # the worker finished it: this process can continue it
    history = run.history()
    callback_rows = history[history["logged_by_rank"].notna()]
    assert callback_rows["logged_by_rank"].tolist() == [0, 0, 0]
    assert callback_rows["trainer/global_step"].tolist() == [0, 1, 2]
    loss_rows = history[history["train/loss"].notna()]
    assert loss_rows["trainer/global_step"].tolist() == [0, 1, 2]
    assert run.config == {"world": 2}

    logger.log_metrics({"after": 1.0})
    logger.finalize("success")
    assert fwtrack.Api().run(logger.version).history()["after"].tolist()[-1] == 1.0


class FailingModel(BoringModel):
    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if batch_idx == 1:
            raise RuntimeError("boom")
        loss = self.step(batch)
        self.log("train/loss", loss)
        return {"loss": loss}


def test_failed_fit_finishes_the_run_as_failed(tmp_dir: Path) -> None:
    logger = FwTrackLogger()
    trainer = make_trainer(logger, limit_train_batches=3, limit_val_batches=0)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(FailingModel())
    run = fwtrack.Api().run(logger.version)
    assert run.state == "failed"
    assert run.exit_code == 1
    assert run.history()["train/loss"].notna().sum() == 1


def test_finalize_finished_leaves_the_run_resumable(tmp_dir: Path) -> None:
    """SLURM auto-requeue: `finalize("finished")`, then the job is killed and started again."""
    logger = FwTrackLogger(project="requeue", id="job-42")
    with warnings.catch_warnings():
        # Python >= 3.12 warns about fork() in a process with threads; the child only logs.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the first job
        code = 1
        try:
            logger.log_metrics({"loss": 1.0}, step=0)
            logger.log_metrics({"loss": 0.5}, step=1)
            logger.finalize("finished")
            run = fwtrack.Api().run("requeue/job-42")
            code = 0 if (run.state, run.row_count) == ("running", 2) else 2
        finally:
            os._exit(code)  # killed: no atexit hook, no finish record
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    run = fwtrack.Api().run("requeue/job-42")
    assert run.state == "crashed"  # neither finished nor failed: resumable
    assert run.history()["loss"].tolist() == [1.0, 0.5]

    # The requeued job builds the same logger and continues the run.
    again = FwTrackLogger(project="requeue", id="job-42")
    again.log_metrics({"loss": 0.25}, step=2)
    assert again.experiment.resumed
    again.finalize("success")
    assert run.state == "finished"
    history = run.history()
    assert history["_step"].tolist() == [0, 1, 2]
    assert history["trainer/global_step"].tolist() == [0, 1, 2]


def test_finalize_statuses(tmp_dir: Path) -> None:
    ok, bad, open_ = FwTrackLogger(), FwTrackLogger(), FwTrackLogger()
    for logger, status in ((ok, "success"), (bad, "failed"), (open_, "finished")):
        logger.log_metrics({"x": 1.0}, step=0)
        logger.finalize(status)
    api = fwtrack.Api()
    assert api.run(ok.version).state == "finished"
    assert api.run(bad.version).state == "failed"
    assert api.run(open_.version).state == "running"
    assert api.run(open_.version).row_count == 1
    open_.log_metrics({"x": 2.0}, step=1)  # still open for logging
    open_.finalize("success")
    assert api.run(open_.version).state == "finished"
    # Nothing to do on a logger that never logged (the main process under ddp_spawn).
    FwTrackLogger().finalize("success")


@dataclasses.dataclass
class Optim:
    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)


class HParamsModel(BoringModel):
    def __init__(self, hidden: int = 4, optim: Optim | None = None, act: Any = torch.nn.ReLU):
        super().__init__()
        self.save_hyperparameters()


def test_log_hyperparams(tmp_dir: Path) -> None:
    logger = FwTrackLogger(config={"seed": 1})
    trainer = make_trainer(logger, limit_val_batches=0)
    trainer.fit(HParamsModel(hidden=8, optim=Optim()))
    config = fwtrack.Api().run(logger.version).config
    # save_hyperparameters(): an AttributeDict, with a dataclass and a class in it
    assert config == {
        "seed": 1,
        "hidden": 8,
        "optim": {"lr": 0.01, "betas": [0.9, 0.999]},
        "act": "ReLU",
    }

    logger = FwTrackLogger()
    logger.log_hyperparams(argparse.Namespace(batch_size=32, data={"path": "x", "splits": [1, 2]}))
    logger.log_hyperparams({"model": {"layers": 2, "opt": argparse.Namespace(name="adam")}})
    logger.log_hyperparams(Optim(lr=0.5))
    logger.log_hyperparams({"fn": len})
    logger.finalize("success")
    assert fwtrack.Api().run(logger.version).config == {
        "batch_size": 32,
        "data": {"path": "x", "splits": [1, 2]},
        "model": {"layers": 2, "opt": {"name": "adam"}},
        "lr": 0.5,
        "betas": [0.9, 0.999],
        "fn": "len",
    }


def test_logs_into_the_run_the_user_started(tmp_dir: Path) -> None:
    run = fwtrack.init(project="mine", config={"a": 1})
    logger = FwTrackLogger(project="ignored", config={"b": 2})
    assert (logger.name, logger.version, logger.log_dir) == (run.project, run.id, run.dir)
    trainer = make_trainer(logger, limit_val_batches=0)
    trainer.fit(StepModel())
    assert not run.finished  # the user finishes it
    run.log({"extra": 1.0})
    run.finish()
    read = fwtrack.Api().run(run.id)
    assert read.config == {"a": 1, "b": 2}
    assert read.history()["train/loss"].notna().sum() == 1


def test_fabric_logger(tmp_dir: Path) -> None:
    logger = FwTrackFabricLogger(project="fabric", name="loop", prefix="f")
    fabric = Fabric(accelerator="cpu", devices=1, loggers=logger)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = fabric.setup(model, optimizer)
    fabric.logger.log_hyperparams({"lr": 0.1})
    for step in range(3):
        loss = model(torch.ones(2, 4)).pow(2).mean()
        fabric.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        fabric.log_dict({"loss": loss.detach(), "lr": 0.1}, step=step)
    fabric.log("final", 1.0)
    assert isinstance(fabric.logger.experiment, fwtrack.Run)
    logger.finalize("success")

    run = fwtrack.Api().run(logger.version)
    assert (run.name, run.state, run.config) == ("loop", "finished", {"lr": 0.1})
    history = run.history()
    assert history["fabric/step"].tolist()[:3] == [0, 1, 2]
    assert history["f-loss"].notna().sum() == 3
    assert history["f-final"].tolist()[-1] == 1.0
    assert logger.log_dir == str(run.dir)


def test_disabled_mode_writes_nothing(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_MODE", "disabled")
    logger = FwTrackLogger()
    trainer = make_trainer(logger, limit_val_batches=0, enable_checkpointing=False)
    trainer.fit(StepModel())
    assert logger.experiment.disabled
    assert not (tmp_dir / "fwtrack").exists()


def test_example_script(tmp_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = runpy.run_path(str(REPO / "integrations" / "lightning" / "train.py"), run_name="ex")
    trained = example["main"](["--epochs", "3"])
    stdout = capsys.readouterr().out
    run_id = stdout.split("run id: ")[1].split()[0]
    api = fwtrack.Api()
    run = api.run("lightning-example/" + run_id)
    assert run.state == "finished"
    assert run.config["hidden"] == 32
    assert run.config["lr"] == 0.05
    history = run.history()
    assert history["epoch"].max() == 2
    assert history["eval/accuracy"].dropna().iloc[-1] > 0.8
    assert history["train/loss"].notna().sum() >= 8
    best_path = Path(stdout.split("best checkpoint: ")[1].split()[0])
    assert best_path.parent == run.dir / "checkpoints"

    # The best checkpoint, registered as lightning-example:candidate, read back through the
    # registry and through `use_model` in another run, loads in Lightning and predicts what
    # the trained model predicts.
    version = api.registry.version("registry/lightning-example:candidate")
    assert (version.version, version.aliases) == ("v0", ["candidate", "latest"])
    artifact = version.artifact
    assert (artifact.name, artifact.type) == (f"model-{run_id}", "model")
    assert "best" in artifact.aliases
    assert artifact.metadata["original_filename"] == best_path.name
    assert artifact.metadata["monitor"] == "eval/loss"
    root = version.download(tmp_dir / "registry")
    user = fwtrack.init(project="lightning-example", job_type="evaluate")
    used = Path(user.use_model("registry/lightning-example:candidate"))
    user.finish()
    assert [a.digest for a in api.run(f"lightning-example/{user.id}").used_artifacts()] == [
        artifact.digest
    ]
    cls = example["Classifier"]
    probe = torch.randn(64, 16, generator=torch.Generator().manual_seed(3))
    trained.eval()
    with torch.no_grad():
        expected = trained(probe)
    for path in (root / "model.ckpt", used / "model.ckpt"):
        loaded = cls.load_from_checkpoint(path)
        loaded.eval()
        with torch.no_grad():
            assert torch.equal(loaded(probe), expected)
    assert api.registry.model("lightning-example").aliases == {"candidate": "v0"}
