"""`fwtrack.integrations.keras.FwTrackCallback` with the real Keras 3 on the torch and JAX
backends (CPU, a tiny Dense model, synthetic data).

Keras picks its backend once, when it is imported, and an import costs seconds: each
backend runs every scenario in one fresh interpreter (`DRIVER`), the two started side by
side, and the tests read the runs back here through `fwtrack.Api`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fwtrack
from fwtrack.api import Run as StoredRun

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "integrations" / "keras" / "train.py"
BACKENDS = ("torch", "jax")
TIMEOUT = 280  # seconds for a driver: two Keras imports on a busy two-core machine

# keras is not imported here: each driver process picks its backend before importing it.

DRIVER = r"""
import contextlib
import io
import json
import os
import pickle
import runpy
import sys

import numpy as np
import keras

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
try:
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[cb, Boom()], verbose=0)
except RuntimeError:
    pass
failed = cb.run
out["failed"] = {"id": failed.id, "active_after_raise": fwtrack.run is failed}
fit(model, cb, epochs=1)
out["failed"]["next_id"] = cb.run.id

if os.environ.get("RUN_EXAMPLE"):
    stdout = io.StringIO()
    sys.argv = [os.environ["RUN_EXAMPLE"], "--epochs", "3", "--samples", "1000"]
    with contextlib.redirect_stdout(stdout):
        runpy.run_path(os.environ["RUN_EXAMPLE"], run_name="__main__")
    out["example"] = {"stdout": stdout.getvalue()}

print("RESULT " + json.dumps(out))
"""


class Driver:
    """One backend's driver process, started at once and waited for on first use."""

    def __init__(self, backend: str, root: Path) -> None:
        self.backend = backend
        self.dir = root / "fwtrack"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
        env.update(
            FWTRACK_DIR=str(self.dir),
            KERAS_BACKEND=backend,
            JAX_PLATFORMS="cpu",
            PYTHONPATH=os.pathsep.join(
                p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
            ),
        )
        if backend == "jax":  # the example runs once, in the faster of the two imports
            env["RUN_EXAMPLE"] = str(EXAMPLE)
        root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(DRIVER)],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._result: dict[str, Any] | None = None
        self._failure: str | None = None

    def result(self) -> dict[str, Any]:
        """The driver's report; a failed or hung driver fails every test that asks for it."""
        if self._result is None and self._failure is None:
            try:
                stdout, stderr = self.proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.stop()
                self._failure = f"{self.backend} driver did not finish in {TIMEOUT} s"
            else:
                lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
                if self.proc.returncode == 0 and lines:
                    self._result = json.loads(lines[-1][len("RESULT ") :])
                else:
                    self._failure = (
                        f"{self.backend} driver exited with {self.proc.returncode}\n"
                        f"--- stdout\n{stdout}\n--- stderr\n{stderr}"
                    )
        if self._result is None:
            raise AssertionError(self._failure)
        return self._result

    def run(self, scenario: str, key: str = "id") -> StoredRun:
        return fwtrack.Api(self.dir).run(self.result()[scenario][key])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture(scope="module")
def drivers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Driver]]:
    root = tmp_path_factory.mktemp("keras")
    started = {backend: Driver(backend, root / backend) for backend in BACKENDS}
    yield started
    for driver in started.values():
        driver.stop()


@pytest.fixture(params=BACKENDS)
def driver(request: pytest.FixtureRequest, drivers: dict[str, Driver]) -> Driver:
    return drivers[request.param]


def column(run: StoredRun, key: str) -> list[Any]:
    """The logged values of `key`, in row order."""
    history = run.history([key])
    return [v for v in history[key] if not (isinstance(v, float) and np.isnan(v))]


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_batch_hooks_stay_asynchronous(driver: Driver) -> None:
    assert driver.result()["async"] == {"epoch": True, "batch": True, "3": True}


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_tensor_metrics_are_converted(driver: Driver) -> None:
    assert driver.result()["metrics"] == {"a": 1.5, "b": 1.0, "c": 2}


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_bad_arguments(driver: Driver) -> None:
    errors = driver.result()["errors"]
    for log_freq in ("0", "True", "'step'"):
        assert errors[log_freq] == (
            f"ValueError: log_freq={log_freq} is not valid\n"
            'hint: use "epoch", "batch" or a number of batches (an int >= 1)'
        )
    assert errors["kwargs"].startswith(
        "TypeError: FwTrackCallback got unexpected argument(s) 'projet'\n"
        "hint: the fwtrack.init arguments are"
    )


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_epoch_metrics_config_and_summary(driver: Driver) -> None:
    result = driver.result()["epochs"]
    assert not result["left_open"]  # the callback finished the run it started
    history = result["history"]
    run = driver.run("epochs")
    assert (run.project, run.name, run.state) == ("keras-test", "epochs", "finished")

    rows = run.history()
    assert list(rows["epoch"]) == [0, 1, 2]
    assert list(rows["train/loss"]) == history["loss"]
    assert list(rows["train/mae"]) == history["mae"]
    assert list(rows["eval/loss"]) == history["val_loss"]
    assert list(rows["eval/mae"]) == history["val_mae"]
    # ExponentialDecay(0.01, decay_steps=4, decay_rate=0.5) after 4, 8, 12 batches.
    assert list(rows["train/learning_rate"]) == pytest.approx([0.005, 0.0025, 0.00125], rel=1e-6)
    assert not [key for key in rows.columns if key.startswith("batch/")]
    assert {m["name"]: m["step_metric"] for m in run.metrics} == {
        "train/*": "epoch",
        "eval/*": "epoch",
    }

    config = run.config
    assert config["seed"] == 0
    assert config["model/class"] == "Sequential"
    assert (
        config["model/num_parameters"] == config["model/trainable_parameters"] == 4 * 8 + 8 + 8 + 1
    )
    assert config["model/config"]["name"] == "tiny"
    assert [layer["class_name"] for layer in config["model/config"]["layers"]] == [
        "InputLayer",
        "Dense",
        "Dense",
    ]
    assert config["optimizer/config"]["learning_rate"]["class_name"] == "ExponentialDecay"
    assert (config["epochs"], config["steps_per_epoch"]) == (3, 4)
    assert config["keras/backend"] == driver.backend

    summary = run.summary
    assert summary["epoch"] == 2
    assert summary["train/loss"] == history["loss"][-1]
    assert summary["eval/loss"] == history["val_loss"][-1]


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_batch_rows_in_order(driver: Driver) -> None:
    result = driver.result()["batch"]
    run = driver.run("batch")
    assert run.project == "keras"  # no project argument, no FWTRACK_PROJECT
    assert run.state == "finished"
    rows = run.history()
    # Four batch rows, then the epoch's row, per epoch.
    kinds = ["batch" if not np.isnan(s) else "epoch" for s in rows["batch/step"]]
    assert kinds == (["batch"] * 4 + ["epoch"]) * 2
    steps = column(run, "batch/step")
    assert steps == list(range(1, 9))
    assert column(run, "batch/learning_rate") == pytest.approx(
        [0.01 * 0.5 ** (s / 4) for s in steps], rel=1e-6
    )
    losses = column(run, "batch/loss")
    assert len(losses) == 8
    assert all(np.isfinite(losses))
    # Keras' epoch loss is the running mean its last batch reports.
    assert losses[3] == result["history"]["loss"][0]
    assert losses[7] == result["history"]["loss"][1]
    assert column(run, "eval/loss") == result["history"]["val_loss"]
    assert {m["name"]: m["step_metric"] for m in run.metrics}["batch/*"] == "batch/step"
    assert run.summary["batch/step"] == 8


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_every_n_batches(driver: Driver) -> None:
    run = driver.run("every")
    assert run.project == "from-env"
    assert run.state == "finished"
    # 2 epochs of 4 batches; a row when a multiple of 3 batches is passed. On JAX the
    # hooks see 2 batches at a time (steps_per_execution=2): rows after batches 4 and 6.
    expected = [4, 6] if driver.backend == "jax" else [3, 6]
    assert column(run, "batch/step") == expected
    assert column(run, "epoch") == [0, 1]
    assert column(run, "batch/learning_rate") == pytest.approx([0.01, 0.01])


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_existing_run_is_used_and_left_open(driver: Driver) -> None:
    result = driver.result()["existing"]
    assert result["left_open"]
    assert result["callback_runs"] == [result["id"], result["id"]]
    run = driver.run("existing")
    assert run.project == "mine"
    assert run.state == "finished"  # finished by the script, after both fits
    config = run.config
    assert config["epochs"] == 99  # the user's own value is kept
    assert config["extra"] == 1
    assert config["model/num_parameters"] == 49
    # The second fit continues the optimizer's step count and the epochs.
    assert column(run, "batch/step") == list(range(1, 17))
    assert column(run, "epoch") == [0, 1, 2, 3]
    assert column(run, "after") == [1]


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_model_without_config(driver: Driver) -> None:
    run = driver.run("subclassed")
    config = run.config
    assert config["model/class"] == "Mlp"
    assert config["model/num_parameters"] == 49
    assert config["model/config"] == driver.result()["subclassed"]["repr"]
    assert config["optimizer/config"]["name"] == "sgd"
    assert column(run, "epoch") == [0]


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_failed_fit_fails_the_run(driver: Driver) -> None:
    result = driver.result()["failed"]
    assert result["active_after_raise"]
    assert result["next_id"] != result["id"]
    failed = driver.run("failed")
    assert failed.state == "failed"
    assert failed.exit_code == 1
    assert driver.run("failed", "next_id").state == "finished"


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_example(drivers: dict[str, Driver]) -> None:
    driver = drivers["jax"]
    stdout = driver.result()["example"]["stdout"]
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("fwtrack run ")
    run_id = last.split()[2]
    run = fwtrack.Api(driver.dir).run(run_id)
    assert run.project == "keras-example"
    assert run.state == "finished"
    assert last.endswith(str(run.dir))

    config = run.config
    assert (config["epochs"], config["batch_size"], config["samples"]) == (3, 64, 1000)
    assert config["model/config"]["name"] == "blobs_mlp"
    assert config["model/num_parameters"] == 16 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4
    assert config["optimizer/config"]["learning_rate"]["class_name"] == "CosineDecay"

    rows = run.history()
    epochs = rows[rows["epoch"].notna()]
    assert list(epochs["epoch"]) == [0, 1, 2]
    for key in ("train/loss", "train/accuracy", "eval/loss", "eval/accuracy"):
        assert np.isfinite(epochs[key]).all(), key
    assert (epochs["train/learning_rate"].diff().dropna() < 0).all()  # cosine decay
    # 800 training samples in batches of 64: 13 batches an epoch, a row every 10.
    assert column(run, "batch/step") == [10, 20, 30]
