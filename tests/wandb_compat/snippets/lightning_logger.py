# PyTorch Lightning integration (docs.wandb.ai/guides/integrations/lightning; wandb/docs
# models/integrations/lightning.mdx): WandbLogger passed to the Trainer, config set through
# the experiment, a table logged. The docs train on MNIST; here a tiny model on in-memory data.
# Unchanged: run with `python -m fwtrack.wandb`, so Lightning's own WandbLogger is fwtrack's.
import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import WandbLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitModel(pl.LightningModule):
    def __init__(self, lr=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


wandb_logger = WandbLogger(project="MNIST", log_model=False)
wandb_logger.experiment.config["batch_size"] = 8

data = TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
trainer = pl.Trainer(
    logger=wandb_logger,
    max_epochs=2,
    log_every_n_steps=2,
    enable_progress_bar=False,
    enable_checkpointing=False,
)
trainer.fit(LitModel(), DataLoader(data, batch_size=8))

columns = ["caption", "score"]
data = [["a", 0.1], ["b", 0.2]]
wandb_logger.log_table(key="samples", columns=columns, data=data)
import wandb  # noqa: E402

wandb.finish()
