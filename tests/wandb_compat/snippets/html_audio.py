# "Log media": HTML and audio (docs.wandb.ai/guides/track/log/media; wandb/docs
# models/track/log/media.mdx). The docs' audio comes from a file; here a numpy tone.
# Changed: the import line.
import numpy as np

import fwtrack.wandb as wandb

run = wandb.init(project="media")
wandb.log({"custom_string": wandb.Html("<h1>Hello</h1><p>World</p>")})
sample_rate = 16000
tone = np.sin(2 * np.pi * 440 * np.arange(sample_rate) / sample_rate).astype(np.float32)
wandb.log({"examples": [wandb.Audio(tone, caption="A440", sample_rate=sample_rate)]})
run.finish()
