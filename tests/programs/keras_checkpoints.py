"""`FwTrackModelCheckpoint` scenarios and the Keras example with its registry link, for
tests/integrations/test_keras.py; run by tests/programs/keras_driver.py in a process of one
Keras backend.

Each scenario trains a tiny model, records the model's predictions on a probe at every
checkpoint, then reads every logged version back (`fwtrack.Api`), loads its file in Keras and
reports how far its predictions are from the recorded ones, with the ids the test reads the
rest with.
"""

from __future__ import annotations

import os
import pickle
import runpy
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

import fwtrack
from fwtrack.integrations.keras import FwTrackCallback, FwTrackModelCheckpoint

rng = np.random.default_rng(1)
X = rng.random((64, 4), dtype="float32")
Y = X.sum(axis=1, keepdims=True)
VAL = (X[:16] + 0.05, Y[:16])
PROBE = rng.random((8, 4), dtype="float32")


def tiny(lr: float | None = 0.01) -> Any:
    """The model, compiled with Adam(lr) (lr None: not compiled)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)],
        name="tiny",
    )
    if lr is not None:
        model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", metrics=["mae"])
    return model


def predict(model: Any, x: np.ndarray = PROBE) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))


class Recorder(keras.callbacks.Callback):
    """The model's predictions on the probe after every epoch, and after every batch."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.at: dict[str, np.ndarray] = {}

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.at[f"{self.epoch}/{batch}"] = predict(self.model)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.at[str(epoch)] = predict(self.model)


def read_back(
    project: str, run_id: str, recorder: Recorder, load: Callable[[Path], Any]
) -> dict[str, Any]:
    """Every version of `model-<run id>`: its files, and the largest difference between the
    predictions of the model loaded from it and those recorded when it was saved."""
    versions = fwtrack.Api().artifacts(project, name=f"model-{run_id}")
    out: dict[str, Any] = {}
    for art in versions:
        root = Path(art.download(Path("downloads") / f"{run_id}-{art.version}"))
        files = sorted(p.name for p in root.iterdir())
        meta = art.metadata
        key = str(meta["epoch"]) if "batch" not in meta else f"{meta['epoch']}/{meta['batch']}"
        loaded = load(root / files[0])
        diff = float(np.max(np.abs(predict(loaded) - recorder.at[key])))
        out[str(art.version)] = {"files": files, "diff": diff}
    return out


def every_epoch(base: Path) -> dict[str, Any]:
    """Full `.keras` files every epoch, by a callback with a run of its own, shared with
    `FwTrackCallback`; `{epoch}` in the file name."""
    recorder = Recorder()
    ckpt = FwTrackModelCheckpoint(base / "every" / "e{epoch:02d}.keras", project="ckpt-every")
    history = (
        tiny()
        .fit(
            X,
            Y,
            batch_size=16,
            epochs=3,
            validation_data=VAL,
            callbacks=[ckpt, FwTrackCallback(), recorder],
            verbose=0,
        )
        .history
    )
    assert ckpt.run is not None
    return {
        "id": ckpt.run.id,
        "history": history,
        "left_open": fwtrack.run is not None,
        "files": sorted(os.listdir(base / "every")),
        "versions": read_back("ckpt-every", ckpt.run.id, recorder, keras.models.load_model),
    }


def best_only(base: Path) -> dict[str, Any]:
    """`save_best_only` into one file, overwritten at each improvement, in the user's run;
    a learning rate large enough for the validation loss to go up and down."""
    run = fwtrack.init(project="ckpt-best")
    recorder = Recorder()
    ckpt = FwTrackModelCheckpoint(base / "best" / "best.keras", save_best_only=True)
    history = (
        tiny(lr=0.3)
        .fit(
            X,
            Y,
            batch_size=16,
            epochs=8,
            validation_data=VAL,
            callbacks=[ckpt, recorder],
            verbose=0,
        )
        .history
    )
    left_open = fwtrack.run is run and not run.finished
    best = ckpt.best_artifact
    assert best is not None
    assert ckpt.last_artifact is best
    best.wait()
    run.finish()
    return {
        "id": run.id,
        "history": history,
        "left_open": left_open,
        "best": best.version,
        "versions": read_back("ckpt-best", run.id, recorder, keras.models.load_model),
    }


def weights_by_batch(base: Path) -> dict[str, Any]:
    """Weights only, every 2 batches, monitoring the training loss Keras reports per batch;
    a callback that went through pickle."""
    run = fwtrack.init(project="ckpt-weights")
    recorder = Recorder()
    ckpt = FwTrackModelCheckpoint(
        base / "weights" / "e{epoch}-b{batch}.weights.h5",
        monitor="loss",
        save_weights_only=True,
        save_freq=2,
    )
    ckpt = pickle.loads(pickle.dumps(ckpt))
    tiny().fit(X, Y, batch_size=16, epochs=2, callbacks=[ckpt, recorder], verbose=0)
    run.finish()

    def load(path: Path) -> Any:
        model = tiny(lr=None)
        model.load_weights(path)
        return model

    return {"id": run.id, "versions": read_back("ckpt-weights", run.id, recorder, load)}


def bad_arguments() -> dict[str, str]:
    errors = {}
    for label, kwargs in [("kwargs", {"projet": "typo"}), ("suffix", {})]:
        try:
            FwTrackModelCheckpoint("model.txt" if label == "suffix" else "m.keras", **kwargs)
        except (TypeError, ValueError) as exc:
            errors[label] = f"{type(exc).__name__}: {exc}"
    return errors


def example(path: str) -> dict[str, Any]:
    """The example's `main()`, then its registered model read back through the registry and
    through `use_model` in a run of its own, loaded, and compared with the trained model."""
    x = np.random.default_rng(7).normal(size=(32, 16)).astype("float32")
    module = runpy.run_path(path, run_name="example")
    model = module["main"](["--epochs", "6", "--samples", "1000", "--patience", "2"])
    expected = predict(model, x)

    version = fwtrack.Api().registry.version("registry/keras-example:candidate")
    root = version.download(Path("downloads") / "registry")
    (file,) = sorted(root.iterdir())
    from_registry = keras.models.load_model(file)

    user = fwtrack.init(project="keras-example", job_type="evaluate")
    used = Path(user.use_model("registry/keras-example:candidate"))
    (used_file,) = sorted(used.iterdir())
    from_use = keras.models.load_model(used_file)
    user.finish()
    return {
        "version": version.version,
        "aliases": version.aliases,
        "artifact": version.artifact_version,
        "file": file.name,
        "user_run": user.id,
        "diff_registry": float(np.max(np.abs(predict(from_registry, x) - expected))),
        "diff_use_model": float(np.max(np.abs(predict(from_use, x) - expected))),
    }


def run_all(base: Path, example_path: str | None) -> dict[str, Any]:
    """Every scenario; a failing one reports its traceback under "error"."""
    scenarios: dict[str, Callable[[], Any]] = {
        "every_epoch": lambda: every_epoch(base),
        "best_only": lambda: best_only(base),
        "weights_by_batch": lambda: weights_by_batch(base),
        "errors": bad_arguments,
    }
    if example_path:
        scenarios["example"] = lambda: example(example_path)
    out: dict[str, Any] = {}
    for name, scenario in scenarios.items():
        try:
            out[name] = scenario()
        except Exception:
            out[name] = {"error": traceback.format_exc()}
            if fwtrack.run is not None:
                fwtrack.run.finish(exit_code=1)
    return out
