# W&B quickstart, "Track metrics" (docs.wandb.ai/quickstart; wandb/docs models/quickstart.mdx),
# with `import wandb` kept and W&B's settings from the environment (WANDB_PROJECT, WANDB_NAME,
# WANDB_TAGS, WANDB_NOTES, set by the test). Changed: one line before the import.
import fwtrack.wandb

fwtrack.wandb.install()
import wandb  # noqa: E402

run = wandb.init(config={"epochs": 3})
for epoch in range(wandb.config.epochs):
    wandb.log({"acc": 0.5 + epoch / 10, "loss": 1.0 - epoch / 10})
wandb.finish()
