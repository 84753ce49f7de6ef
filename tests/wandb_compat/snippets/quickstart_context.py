# W&B quickstart, "Initialize a run and track hyperparameters" (docs.wandb.ai/quickstart;
# wandb/docs models/quickstart.mdx): login, then a run as a context manager. Changed: the
# import line.
import fwtrack.wandb as wandb

wandb.login()

project = "my-awesome-project"
config = {"epochs": 10, "lr": 0.01}

with wandb.init(project=project, config=config) as run:
    run.log({"accuracy": 0.9, "loss": 0.1})
