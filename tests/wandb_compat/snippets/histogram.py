# "Log media": histograms (docs.wandb.ai/guides/track/log/media; wandb/docs
# models/track/log/media.mdx), from a sequence and from np.histogram. Changed: the import line.
import numpy as np

import fwtrack.wandb as wandb

run = wandb.init(project="histograms")
rng = np.random.default_rng(0)
gradients = rng.normal(size=1000)
wandb.log({"gradients": wandb.Histogram(gradients)})
data = rng.normal(size=500)
wandb.log({"np_histogram": wandb.Histogram(np_histogram=np.histogram(data))})
run.finish()
