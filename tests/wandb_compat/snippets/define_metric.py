# "Customize log axes" and "Summary metrics" (docs.wandb.ai/guides/track/log/customize-logging-axes;
# wandb/docs models/track/log/customize-logging-axes.mdx): a custom step metric for a key glob,
# and min/max summaries. Changed: the import line.
import fwtrack.wandb as wandb

wandb.init(project="define_metric_example")
wandb.define_metric("train/step")
wandb.define_metric("train/*", step_metric="train/step")
wandb.define_metric("val/loss", summary="min")
wandb.define_metric("val/acc", summary="max")

for i in range(10):
    log_dict = {
        "train/step": 2**i,
        "train/loss": 0.1 * i,
        "val/loss": 1.0 / (i + 1),
        "val/acc": 0.1 * (i % 5),
    }
    wandb.log(log_dict)
wandb.finish()
