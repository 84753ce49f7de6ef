"""`FwTrackLogger(log_model=...)`: checkpoints of `ModelCheckpoint` as versions of a `model`
artifact, against the real Lightning (CPU, tiny models), read back through `fwtrack.Api`."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.demos.boring_classes import BoringModel

import fwtrack
from fwserver import Server
from fwtrack.integrations._checkpoints import SNAPSHOT_PREFIX
from fwtrack.integrations.lightning import FwTrackLogger

pytestmark = [
    pytest.mark.usefixtures("tmp_dir"),
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated"),
    pytest.mark.filterwarnings("ignore:.*does not have many workers:UserWarning"),
]

# The validation loss of each epoch. With save_top_k=2 every epoch is saved (each beats the
# worse of the two kept) and epochs 3 and 4 are the two kept at the end, 3 the best.
VAL_LOSSES = [0.9, 0.5, 0.7, 0.1, 0.3]


class ScriptedModel(BoringModel):
    """Trains for real; its validation loss is the scripted one of the epoch."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.step(batch)

    def on_validation_epoch_end(self) -> None:
        self.log("val_loss", torch.tensor(VAL_LOSSES[self.current_epoch]))


def fit(logger: FwTrackLogger, checkpoint: ModelCheckpoint, epochs: int = 5, **kw: Any) -> Trainer:
    trainer = Trainer(
        logger=logger,
        callbacks=[checkpoint, *kw.pop("callbacks", [])],
        accelerator="cpu",
        devices=kw.pop("devices", 1),
        max_epochs=epochs,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )
    trainer.fit(ScriptedModel())
    return trainer


def versions(logger: FwTrackLogger, project: str) -> list[Any]:
    """The versions of the logger's model artifact, oldest first."""
    arts = fwtrack.Api().artifacts(project, name=logger.checkpoint_name)
    return sorted(arts, key=lambda a: int(a.version[1:]))


def state_of(path: str | os.PathLike[str]) -> tuple[int, int, dict[str, torch.Tensor]]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return ckpt["epoch"], ckpt["global_step"], ckpt["state_dict"]


def same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_log_model_all_top_k(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="ckpt", log_model="all")
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2)
    trainer = fit(logger, checkpoint)
    run = fwtrack.Api().run(f"ckpt/{logger.version}")
    assert run.state == "finished"
    assert logger.checkpoint_name == f"model-{logger.version}"

    got = versions(logger, "ckpt")
    # One version per checkpoint saved, in the order they were saved.
    assert [a.version for a in got] == ["v0", "v1", "v2", "v3", "v4"]
    assert all(a.type == "model" for a in got)
    assert [a.metadata["epoch"] for a in got] == [0, 1, 2, 3, 4]
    assert [a.metadata["step"] for a in got] == [2, 4, 6, 8, 10]
    assert [a.metadata["score"] for a in got] == pytest.approx(VAL_LOSSES)
    for a in got:
        assert a.metadata["monitor"] == "val_loss"
        assert a.metadata["mode"] == "min"
        assert a.metadata["save_top_k"] == 2
        assert a.metadata["original_filename"] == (
            f"epoch={a.metadata['epoch']}-step={a.metadata['step']}.ckpt"
        )
        assert [e.path for e in a.files()] == ["model.ckpt"]

    # Top-2 kept epochs 3 and 4 on disk: the others were removed, and their versions lost
    # their aliases (epoch 1 was `best` until epoch 3). `best` is epoch 3 (the best score),
    # `latest` the last saved.
    kept = sorted(Path(trainer.checkpoint_callback.dirpath).glob("*.ckpt"))  # type: ignore[union-attr]
    assert [p.name for p in kept] == ["epoch=3-step=8.ckpt", "epoch=4-step=10.ckpt"]
    assert [a.aliases for a in got] == [[], [], [], ["best"], ["latest"]]
    assert trainer.checkpoint_callback.best_model_path == str(kept[0])  # type: ignore[union-attr]
    best = fwtrack.Api().artifact(f"ckpt/{logger.checkpoint_name}:best")
    assert best.metadata["epoch"] == 3

    # Bytes stay: every version downloads, each the state of its epoch; the kept ones are
    # the checkpoints on disk byte for byte.
    for a in got:
        root = Path(a.download(tmp_dir / "dl" / a.version))
        epoch, step, _ = state_of(root / "model.ckpt")
        assert (epoch, step) == (a.metadata["epoch"], a.metadata["step"])
        on_disk = [p for p in kept if p.name == a.metadata["original_filename"]]
        if on_disk:
            assert (root / "model.ckpt").read_bytes() == on_disk[0].read_bytes()
    # The snapshots taken while training are gone.
    assert not list(tmp_dir.rglob(SNAPSHOT_PREFIX + "*"))


def test_log_model_true_logs_at_the_end(tmp_dir: Path) -> None:
    seen: list[int] = []

    class Count(Callback):
        def on_validation_end(self, trainer: Trainer, pl_module: Any) -> None:
            seen.append(len(fwtrack.Api().artifacts("end", name=f"model-{logger.version}")))

    logger = FwTrackLogger(project="end", log_model=True)
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2, save_last=True)
    trainer = fit(logger, checkpoint, callbacks=[Count()])
    assert seen == [0, 0, 0, 0, 0]  # nothing during training

    got = versions(logger, "end")
    # The checkpoints on disk at the end, oldest first: epoch 3, epoch 4 and last.ckpt, which
    # holds the same bytes as epoch 4 and so is the same version.
    assert [(a.metadata["original_filename"], a.aliases) for a in got] == [
        ("epoch=3-step=8.ckpt", ["best"]),
        ("epoch=4-step=10.ckpt", ["latest"]),
    ]
    last = Path(trainer.checkpoint_callback.last_model_path)  # type: ignore[union-attr]
    assert (Path(got[1].download(tmp_dir / "last")) / "model.ckpt").read_bytes() == (
        last.read_bytes()
    )
    assert [a.metadata["epoch"] for a in got] == [3, 4]
    assert got[0].metadata["score"] == pytest.approx(0.1)
    best_path = trainer.checkpoint_callback.best_model_path  # type: ignore[union-attr]
    _, _, best_state = state_of(best_path)
    _, _, logged_state = state_of(Path(got[0].download(tmp_dir / "best")) / "model.ckpt")
    assert same_state(best_state, logged_state)


def test_log_model_false_logs_nothing(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="none")
    trainer = fit(logger, ModelCheckpoint(monitor="val_loss"), epochs=2)
    assert Path(trainer.checkpoint_callback.best_model_path).is_file()  # type: ignore[union-attr]
    assert fwtrack.Api().artifacts("none") == []
    with pytest.raises(ValueError, match="log_model must be True, False or 'all'"):
        FwTrackLogger(log_model="end")  # type: ignore[arg-type]


class Boom(Callback):
    def on_train_epoch_start(self, trainer: Trainer, pl_module: Any) -> None:
        if trainer.current_epoch == 2:
            raise RuntimeError("boom")


def test_failed_fit_logs_no_checkpoint_at_the_end(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="failed", log_model=True)
    with pytest.raises(RuntimeError, match="boom"):
        fit(logger, ModelCheckpoint(monitor="val_loss"), callbacks=[Boom()])
    assert fwtrack.Api().run(f"failed/{logger.version}").state == "failed"
    assert fwtrack.Api().artifacts("failed") == []  # as WandbLogger: on success only


def test_log_model_true_with_save_top_k_all_logs_during_training(tmp_dir: Path) -> None:
    """`save_top_k=-1` removes nothing: each checkpoint is logged as it is saved, so those
    saved before a failure are there."""
    logger = FwTrackLogger(project="every", log_model=True, checkpoint_name="mlp")
    assert logger.checkpoint_name == "mlp"
    with pytest.raises(RuntimeError, match="boom"):
        fit(logger, ModelCheckpoint(monitor="val_loss", save_top_k=-1), callbacks=[Boom()])
    got = versions(logger, "every")
    assert [a.metadata["epoch"] for a in got] == [0, 1]
    assert [a.aliases for a in got] == [[], ["best", "latest"]]
    assert got[0].metadata["save_top_k"] == -1


def test_pickles_after_logging_checkpoints(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="pickled", log_model="all")
    trainer = fit(logger, ModelCheckpoint(monitor="val_loss", save_top_k=1), epochs=2)
    copy = pickle.loads(pickle.dumps(logger))
    again = pickle.loads(pickle.dumps(trainer))
    assert copy.checkpoint_name == logger.checkpoint_name
    assert again.logger.checkpoint_name == logger.checkpoint_name
    # The copy continues the run and logs what its own trainer saves.
    fit(copy, ModelCheckpoint(tmp_dir / "more", monitor="val_loss", save_top_k=1), epochs=1)
    assert len(versions(logger, "pickled")) == 3


@pytest.mark.timeout(300)
def test_ddp_spawn_logs_checkpoints_on_rank_zero(tmp_dir: Path) -> None:
    logger = FwTrackLogger(project="ddp", log_model="all")
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2)
    trainer = fit(logger, checkpoint, epochs=3, devices=2, strategy="ddp_spawn")
    assert trainer.state.finished, trainer.state
    run = fwtrack.Api().run(f"ddp/{logger.version}")
    assert run.state == "finished"
    got = versions(logger, "ddp")
    # Rank 0 alone logged: one version per checkpoint, not one per process; epoch 0 was
    # removed (top-2).
    assert [a.metadata["epoch"] for a in got] == [0, 1, 2]
    assert [a.aliases for a in got] == [[], ["best"], ["latest"]]
    assert [a.metadata["score"] for a in got] == pytest.approx(VAL_LOSSES[:3])
    assert [a.logged_by().run_id for a in got] == [logger.version] * 3  # type: ignore[union-attr]


@pytest.mark.slow
def test_log_model_all_online(
    tmp_dir: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a real server: the versions, the aliases top-k takes away, and the best one
    registered and loaded back."""
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    monkeypatch.setenv("FWTRACK_UPLOAD_TIMEOUT", "120")
    run = fwtrack.init(project="ckpt-online", settings={"console": False, "system_interval": 0})
    assert run.mode == "online"
    logger = FwTrackLogger(log_model="all")
    trainer = fit(logger, ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2))
    best = logger.best_model_artifact
    assert best is not None
    linked = run.link_artifact(best, "registry/ckpt-online", aliases=["candidate"]).wait(120)
    run.finish()

    api = fwtrack.Api(base_url=server.url, api_key=server.key)
    got = sorted(
        api.artifacts(f"{linked.entity}/ckpt-online", name=logger.checkpoint_name),
        key=lambda a: int(a.version[1:]),
    )
    assert [a.metadata["epoch"] for a in got] == [0, 1, 2, 3, 4]
    assert [a.aliases for a in got] == [[], [], [], ["best"], ["latest"]]
    version = api.registry.version(f"{linked.entity}/registry/ckpt-online:candidate")
    assert version.artifact.digest == got[3].digest
    path = version.download(tmp_dir / "registry") / "model.ckpt"
    _, _, logged = state_of(path)
    _, _, on_disk = state_of(trainer.checkpoint_callback.best_model_path)  # type: ignore[union-attr]
    assert same_state(logged, on_disk)
    # Versions of removed checkpoints still download.
    _, step, _ = state_of(Path(got[0].download(tmp_dir / "v0")) / "model.ckpt")
    assert step == 2
