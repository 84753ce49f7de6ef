# Keras integration (docs.wandb.ai/guides/integrations/keras; wandb/docs
# models/integrations/keras.mdx): WandbMetricsLogger and WandbModelCheckpoint in model.fit.
# The docs' model and data are the reader's; here a tiny dense model on in-memory data.
# Changed: the import lines.
import keras
import numpy as np

import fwtrack.wandb as wandb
from fwtrack.wandb.integration.keras import WandbMetricsLogger, WandbModelCheckpoint

wandb.init(config={"bs": 12})

x = np.random.rand(48, 4).astype("float32")
y = np.random.rand(48, 1).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss="mse")
model.fit(
    x,
    y,
    batch_size=wandb.config.bs,
    epochs=2,
    validation_data=(x, y),
    verbose=0,
    callbacks=[WandbMetricsLogger(), WandbModelCheckpoint("models.keras")],
)
wandb.finish()
