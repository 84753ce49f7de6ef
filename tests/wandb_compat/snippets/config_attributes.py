# "Configure experiments" (docs.wandb.ai/guides/track/config; wandb/docs
# models/track/config.mdx): set config keys as attributes, update with a dict, read them back
# as attributes (wandb.config.lr). Changed: the import line.
import fwtrack.wandb as wandb

wandb.init(project="config_example")
wandb.config.epochs = 4
wandb.config.batch_size = 32
wandb.config.update({"lr": 0.1, "channels": 16})
print("lr", wandb.config.lr)
print("epochs", wandb.config["epochs"])
wandb.finish()
