"""A small Keras classifier on synthetic data, tracked with fwtrack.

    python integrations/keras/train.py [--epochs 8] [--batch-size 64] [--lr 3e-3]
    KERAS_BACKEND=jax python integrations/keras/train.py

fwtrack takes one line: `callbacks=[FwTrackCallback(...)]`. Each epoch logs `train/loss`,
`train/accuracy`, `eval/loss`, `eval/accuracy` and `train/learning_rate` against `epoch`;
with `log_freq=10`, every tenth batch also logs `batch/loss`, `batch/accuracy` and
`batch/learning_rate` against `batch/step`. The arguments, the parameter count and the
model's and optimizer's configs become the run config. Runs go to `./fwtrack` (or
`FWTRACK_DIR`). Any Keras 3 backend works; torch is the default here.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # read once, when keras is imported

import keras
import numpy as np

from fwtrack.integrations.keras import FwTrackCallback


def make_blobs(n: int, classes: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`classes` overlapping Gaussian clusters in `features` dimensions."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=0.6, size=(classes, features))
    y = rng.integers(classes, size=n)
    x = centers[y] + rng.normal(scale=1.5, size=(n, features))
    return x.astype("float32"), y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

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

    tracker = FwTrackCallback(log_freq=10, project="keras-example", config=vars(args))
    history = model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_split=0.2,
        callbacks=[tracker],
        verbose=2,
    )

    print(f"final eval accuracy {history.history['val_accuracy'][-1]:.3f}")
    run = tracker.run
    assert run is not None
    print(f"fwtrack run {run.id} in {run.dir}")


if __name__ == "__main__":
    main()
