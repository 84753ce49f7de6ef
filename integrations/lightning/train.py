"""Train a small classifier with Lightning and log it to fwtrack.

    python integrations/lightning/train.py [--epochs 5] [--project lightning-example]

Synthetic data (two noisy blobs in 16 dimensions), an MLP, CPU; about ten seconds of training.
The one fwtrack line is the `logger=` argument of the Trainer. Hyperparameters come from
`save_hyperparameters()`; checkpoints land in the run directory.
"""

from __future__ import annotations

import argparse

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

from fwtrack.integrations.lightning import FwTrackLogger


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--project", default="lightning-example")
    args = parser.parse_args()

    seed_everything(0, verbose=False)
    train, val = random_split(make_data(), [0.8, 0.2])
    logger = FwTrackLogger(project=args.project)  # <- the fwtrack line
    trainer = Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        logger=logger,
        log_every_n_steps=5,
        callbacks=[ModelCheckpoint(monitor="eval/loss")],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(
        Classifier(),
        DataLoader(train, batch_size=64, shuffle=True),
        DataLoader(val, batch_size=256),
    )
    print(f"run id: {logger.version}")
    print(f"run dir: {logger.log_dir}")
    print(f"best checkpoint: {trainer.checkpoint_callback.best_model_path}")


if __name__ == "__main__":
    main()
