# "Configure experiments", argparse (docs.wandb.ai/guides/track/config; wandb/docs
# models/track/config.mdx): an argparse Namespace as config. Changed: the import line.
import argparse

import fwtrack.wandb as wandb

parser = argparse.ArgumentParser()
parser.add_argument("-b", "--batch-size", type=int, default=8, metavar="N")
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args([])

wandb.init(project="argparse_example", config=args)
wandb.config.update({"dropout": 0.2})
wandb.log({"loss": 0.5})
wandb.finish()
