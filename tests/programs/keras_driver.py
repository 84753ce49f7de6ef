"""The Keras driver of tests/integrations/test_keras.py: every scenario of one backend
(`KERAS_BACKEND`, set by the test) in one interpreter, since Keras picks its backend once, at
import, and an import costs seconds. Prints `RESULT <json>` as its last line; the test reads
the runs back through `fwtrack.Api`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from pathlib import Path

import keras
import keras_checkpoints  # tests/programs, next to this file
import numpy as np

import fwtrack
from fwtrack.integrations.keras import FwTrackCallback, _metrics

backend = keras.backend.backend()
rng = np.random.default_rng(0)
x = rng.random((64, 4), dtype="float32")
y = x.sum(axis=1, keepdims=True)
val = (x[:16], y[:16])
out = {"backend": backend}


def schedule():
    return keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=4, decay_rate=0.5)


def tiny(lr=0.01, steps_per_execution=1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)],
        name="tiny",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss="mse",
        metrics=["mae"],
        steps_per_execution=steps_per_execution,
    )
    return model


def fit(model, cb, **kwargs):
    kwargs.setdefault("epochs", 2)
    return model.fit(x, y, batch_size=16, callbacks=[cb], verbose=0, **kwargs).history


# Keras keeps dispatching batch hooks asynchronously with the callback in the list.
out["async"] = {
    str(freq): keras.callbacks.CallbackList([FwTrackCallback(freq)], model=tiny())._async_train
    for freq in ("epoch", "batch", 3)
}

errors = {}
for label, kwargs in [
    ("0", {"log_freq": 0}),
    ("True", {"log_freq": True}),
    ("'step'", {"log_freq": "step"}),
    ("kwargs", {"projet": "typo"}),
]:
    try:
        FwTrackCallback(**kwargs)
    except (TypeError, ValueError) as exc:
        errors[label] = f"{type(exc).__name__}: {exc}"
out["errors"] = errors

# Metrics Keras could not turn into floats (one-element tensors) are converted, others skipped.
tensors = {"a": keras.ops.convert_to_tensor(1.5), "b": keras.ops.ones((1,)), "c": 2}
tensors.update(skipped=keras.ops.ones((2,)), text="x")
out["metrics"] = dict(_metrics(tensors))

# Epoch rows with validation and a learning-rate schedule; the callback's own run.
cb = FwTrackCallback(project="keras-test", name="epochs", config={"seed": 0})
history = fit(tiny(schedule()), cb, epochs=3, validation_data=val)
out["epochs"] = {"id": cb.run.id, "history": history, "left_open": fwtrack.run is not None}

# A row per batch, in batch order (JAX runs batch hooks in worker threads, out of order);
# no project anywhere: "keras".
cb = FwTrackCallback("batch")
history = fit(tiny(schedule()), cb, validation_data=val)
out["batch"] = {"id": cb.run.id, "history": history}

# Every 3 batches (on JAX with 2 batches per execution); the project from FWTRACK_PROJECT;
# a callback that went through pickle.
os.environ["FWTRACK_PROJECT"] = "from-env"
spe = 2 if backend == "jax" else 1  # torch allows only 1
cb = pickle.loads(pickle.dumps(FwTrackCallback(3)))
fit(tiny(steps_per_execution=spe), cb)
del os.environ["FWTRACK_PROJECT"]
out["every"] = {"id": cb.run.id}

# A run the user started: used, left open, steps continued by a second fit.
run = fwtrack.init(project="mine", config={"epochs": 99})
model = tiny()
first = FwTrackCallback("batch", project="ignored", config={"extra": 1})
second = FwTrackCallback("batch")
fit(model, first)
open_after_first = fwtrack.run is run and not run.finished
fit(model, second, initial_epoch=2, epochs=4)
out["existing"] = {
    "id": run.id,
    "callback_runs": [first.run.id, second.run.id],
    "left_open": open_after_first and fwtrack.run is run and not run.finished,
}
run.log({"after": 1})
run.finish()


# A model whose config Keras cannot produce (an `__init__` argument it cannot serialize).
class Mlp(keras.Model):
    def __init__(self, width, rng):
        super().__init__()
        self.rng = rng
        self.hidden = keras.layers.Dense(width, activation="relu")
        self.head = keras.layers.Dense(1)

    def call(self, inputs):
        return self.head(self.hidden(inputs))


mlp = Mlp(8, np.random.default_rng(0))
mlp.compile(optimizer="sgd", loss="mse")
try:
    mlp.get_config()
    raise AssertionError("get_config() should fail for this model")
except NotImplementedError:
    pass
cb = FwTrackCallback(project="subclassed")
fit(mlp, cb, epochs=1)
out["subclassed"] = {"id": cb.run.id, "repr": repr(mlp)}


# A fit that raises leaves the callback's run open; the callback's next fit fails it.
class Boom(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("boom")


cb = FwTrackCallback(project="failing")
model = tiny()
with contextlib.suppress(RuntimeError):
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[cb, Boom()], verbose=0)
failed = cb.run
out["failed"] = {"id": failed.id, "active_after_raise": fwtrack.run is failed}
fit(model, cb, epochs=1)
out["failed"]["next_id"] = cb.run.id

# FwTrackModelCheckpoint, and the example (in one of the two backends).
out["checkpoints"] = keras_checkpoints.run_all(Path.cwd(), os.environ.get("RUN_EXAMPLE"))

print("RESULT " + json.dumps(out))
