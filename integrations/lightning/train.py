"""Train a small classifier with Lightning, log it to fwtrack and register the best checkpoint.

    python integrations/lightning/train.py [--epochs 5] [--project lightning-example]

Synthetic data (two noisy blobs in 16 dimensions), an MLP, CPU; about ten seconds of training.
The fwtrack line is the `logger=` argument of the Trainer: `FwTrackLogger(log_model=True)`
logs the checkpoints of `ModelCheckpoint` at the end of training as versions of the artifact
`model-<run id>` (`best` and `latest` aliases). Hyperparameters come from
`save_hyperparameters()`; checkpoints land in the run directory. The best checkpoint is then
linked to the model registry as `registry/lightning-example` with the alias `candidate`:

    path = fwtrack.use_model("registry/lightning-example:candidate")  # in another run
    model = Classifier.load_from_checkpoint(os.path.join(path, "model.ckpt"))
"""

from __future__ import annotations

import argparse

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

import fwtrack
from fwtrack.integrations.lightning import FwTrackLogger

REGISTERED_MODEL = "registry/lightning-example"


def make_data(n: int = 2048, dim: int = 16) -> TensorDataset:
    labels = torch.randint(0, 2, (n,))
    centers = torch.randn(2, dim)
    x = centers[labels] + 1.5 * torch.randn(n, dim)
    return TensorDataset(x, labels)


class Classifier(LightningModule):
    def __init__(self, dim: int = 16, hidden: int = 32, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("eval/loss", F.cross_entropy(logits, y))
        self.log("eval/accuracy", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)


def main(argv: list[str] | None = None) -> Classifier:
    """Train, register the best checkpoint, and return the model loaded from it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--project", default="lightning-example")
    args = parser.parse_args(argv)

    seed_everything(0, verbose=False)
    train, val = random_split(make_data(), [0.8, 0.2])
    # A run of our own (the logger logs into it and leaves it open), to link the model after
    # training; `FwTrackLogger(project=...)` alone starts and finishes one.
    run = fwtrack.init(project=args.project)
    logger = FwTrackLogger(log_model=True)  # <- the fwtrack line
    checkpoint = ModelCheckpoint(monitor="eval/loss", save_top_k=2)
    trainer = Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        logger=logger,
        log_every_n_steps=5,
        callbacks=[checkpoint],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(
        Classifier(),
        DataLoader(train, batch_size=64, shuffle=True),
        DataLoader(val, batch_size=256),
    )
    best = logger.best_model_artifact
    assert best is not None
    best.wait()  # committed: its version is known
    registered = run.link_artifact(best, REGISTERED_MODEL, aliases=["candidate"]).wait()
    assert registered is not None
    run.finish()
    print(f"run id: {logger.version}")
    print(f"run dir: {logger.log_dir}")
    print(f"best checkpoint: {checkpoint.best_model_path}")
    print(f"{best.qualified_name} registered as {registered.ref} {sorted(registered.aliases)}")
    return Classifier.load_from_checkpoint(checkpoint.best_model_path)


if __name__ == "__main__":
    main()
