"""A small Keras classifier on synthetic data, tracked with fwtrack, its best checkpoint
registered as a model.

    python integrations/keras/train.py [--epochs 8] [--batch-size 64] [--lr 3e-3]
    KERAS_BACKEND=jax python integrations/keras/train.py

fwtrack takes a few lines. `FwTrackCallback` logs, each epoch, `train/loss`,
`train/accuracy`, `eval/loss`, `eval/accuracy` and `train/learning_rate` against `epoch`;
with `log_freq=10`, every tenth batch also logs `batch/loss`, `batch/accuracy` and
`batch/learning_rate` against `batch/step`. The arguments, the parameter count and the
model's and optimizer's configs become the run config. `FwTrackModelCheckpoint` saves the
model whenever `val_loss` improves and logs each of these checkpoints as a version of the
artifact `model-<run id>` (aliases `best`, `epoch_<n>`). Early stopping restores the best
weights, and the best checkpoint is linked to the model registry as `registry/keras-example`
with the alias `candidate`:

    fwtrack.Api().registry.version("registry/keras-example:candidate").download()

Runs go to `./fwtrack` (or `FWTRACK_DIR`). Any Keras 3 backend works; torch is the default.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # read once, when keras is imported

import keras
import numpy as np

import fwtrack
from fwtrack.integrations.keras import FwTrackCallback, FwTrackModelCheckpoint

REGISTERED_MODEL = "registry/keras-example"


def make_blobs(n: int, classes: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`classes` overlapping Gaussian clusters in `features` dimensions."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=0.6, size=(classes, features))
    y = rng.integers(classes, size=n)
    x = centers[y] + rng.normal(scale=1.5, size=(n, features))
    return x.astype("float32"), y


def main(argv: list[str] | None = None) -> keras.Model:
    """Train, register the best checkpoint, and return the model (with the best weights)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--checkpoints", default="checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    x, y = make_blobs(args.samples, args.classes, features=16, seed=args.seed)

    model = keras.Sequential(
        [
            keras.Input(shape=(x.shape[1],)),
            keras.layers.Dense(args.hidden, activation="relu"),
            keras.layers.Dropout(args.dropout),
            keras.layers.Dense(args.hidden, activation="relu"),
            keras.layers.Dense(args.classes, activation="softmax"),
        ],
        name="blobs_mlp",
    )
    steps_per_epoch = -(-int(len(x) * 0.8) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr, decay_steps=args.epochs * steps_per_epoch, alpha=0.1
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )

    run = fwtrack.init(project="keras-example", config=vars(args))
    checkpoint = FwTrackModelCheckpoint(
        os.path.join(args.checkpoints, "blobs_mlp.keras"), monitor="val_loss", save_best_only=True
    )
    # The same monitor and rule as the checkpoint: the weights restored at the end are the
    # best checkpoint's.
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=args.patience, restore_best_weights=True
    )
    history = model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_split=0.2,
        callbacks=[FwTrackCallback(log_freq=10), checkpoint, stop],
        verbose=2,
    )
    print(f"final eval accuracy {history.history['val_accuracy'][-1]:.3f}")

    best = checkpoint.best_artifact
    assert best is not None
    best.wait()  # committed: its version is known
    registered = run.link_artifact(best, REGISTERED_MODEL, aliases=["candidate"]).wait()
    print(
        f"best epoch {best.metadata['epoch']} (eval loss {best.metadata['score']:.4f}): "
        f"{best.qualified_name} registered as {registered.ref} {sorted(registered.aliases)}"
    )
    run.finish()
    print(f"fwtrack run {run.id} in {run.dir}")
    return model


if __name__ == "__main__":
    main()
