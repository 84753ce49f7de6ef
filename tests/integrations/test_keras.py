"""`fwtrack.integrations.keras` (`FwTrackCallback`, `FwTrackModelCheckpoint`) and the Keras
example with the real Keras 3 on the torch and JAX backends (CPU, a tiny Dense model,
synthetic data).

Keras picks its backend once, when it is imported, and an import costs seconds: each
backend runs every scenario in one fresh interpreter (`DRIVER`, tests/programs/
keras_driver.py and keras_checkpoints.py), the two started side by side, and the tests read
the runs and artifacts back here through `fwtrack.Api`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
TIMEOUT = 420  # seconds for a driver: two Keras imports on a busy two-core machine

# keras is not imported here: each driver process picks its backend before importing it.
DRIVER = REPO / "tests" / "programs" / "keras_driver.py"


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
        if backend in ("jax", "tensorflow"):  # not on torch: its import is the slowest
            env["RUN_EXAMPLE"] = str(EXAMPLE)
        root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER)],
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


def checkpoints(driver: Driver, scenario: str) -> dict[str, Any]:
    """A checkpoint scenario's report (its traceback fails the test)."""
    result = driver.result()["checkpoints"][scenario]
    assert "error" not in result, result.get("error")
    return dict(result)


def logged_versions(driver: Driver, project: str, run_id: str) -> list[Any]:
    """The versions of `model-<run id>`, oldest first."""
    return fwtrack.Api(driver.dir).artifacts(project, name=f"model-{run_id}")[::-1]


def running_best(scores: list[float]) -> list[bool]:
    """Whether each score is lower than every score before it."""
    return [all(s < before for before in scores[:i]) for i, s in enumerate(scores)]


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_checkpoint_every_epoch(driver: Driver) -> None:
    result = checkpoints(driver, "every_epoch")
    val_loss = result["history"]["val_loss"]
    assert not result["left_open"]  # the checkpoint callback started the run and finished it
    run = fwtrack.Api(driver.dir).run(result["id"])
    assert (run.project, run.state) == ("ckpt-every", "finished")
    assert column(run, "epoch") == [0, 1, 2]  # FwTrackCallback logged into the same run
    assert result["files"] == ["e01.keras", "e02.keras", "e03.keras"]

    versions = logged_versions(driver, "ckpt-every", result["id"])
    assert [v.version for v in versions] == ["v0", "v1", "v2"]
    best = val_loss.index(min(val_loss))
    for epoch, version in enumerate(versions):
        assert version.type == "model"
        assert [e.path for e in version.files()] == [f"e{epoch + 1:02d}.keras"]
        expected = {f"epoch_{epoch}"} | ({"best"} if epoch == best else set())
        expected |= {"latest"} if epoch == 2 else set()
        assert set(version.aliases) == expected
        assert version.metadata == {
            "epoch": epoch,
            "monitor": "val_loss",
            "score": val_loss[epoch],
            "mode": "min",
            "best_score": min(val_loss[: epoch + 1]),
            "save_best_only": False,
            "save_weights_only": False,
            "original_filename": f"e{epoch + 1:02d}.keras",
            "keras_backend": driver.backend,
        }
        # The file read back from the artifact predicts what the model predicted when saved.
        assert result["versions"][version.version] == {
            "files": [f"e{epoch + 1:02d}.keras"],
            "diff": 0.0,
        }
    assert [a.version for a in run.logged_artifacts()] == ["v0", "v1", "v2"]


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_checkpoint_best_only(driver: Driver) -> None:
    result = checkpoints(driver, "best_only")
    assert result["left_open"]  # the user's run: used and left open
    val_loss = result["history"]["val_loss"]
    improved = running_best(val_loss)
    assert not all(improved)  # some epochs do not improve: nothing is saved or logged for them
    saved = [epoch for epoch, better in enumerate(improved) if better]

    run = fwtrack.Api(driver.dir).run(result["id"])
    assert (run.project, run.state) == ("ckpt-best", "finished")
    versions = logged_versions(driver, "ckpt-best", result["id"])
    assert [v.metadata["epoch"] for v in versions] == saved
    assert [v.metadata["score"] for v in versions] == [val_loss[e] for e in saved]
    assert [v.metadata["best_score"] for v in versions] == [val_loss[e] for e in saved]
    assert all(v.metadata["save_best_only"] for v in versions)
    assert len({v.digest for v in versions}) == len(versions)  # one file, overwritten
    assert all([e.path for e in v.files()] == ["best.keras"] for v in versions)
    # Each improvement takes `best` (and `latest`) from the version before it.
    assert [set(v.aliases) for v in versions] == [{f"epoch_{e}"} for e in saved[:-1]] + [
        {f"epoch_{saved[-1]}", "best", "latest"}
    ]
    assert result["best"] == versions[-1].version
    assert all(r == {"files": ["best.keras"], "diff": 0.0} for r in result["versions"].values())


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_checkpoint_weights_every_n_batches(driver: Driver) -> None:
    result = checkpoints(driver, "weights_by_batch")
    versions = logged_versions(driver, "ckpt-weights", result["id"])
    # 2 epochs of 4 batches, saved every 2 batches.
    positions = [(v.metadata["epoch"], v.metadata["batch"]) for v in versions]
    assert positions == [(0, 1), (0, 3), (1, 1), (1, 3)]
    names = [f"e{e + 1}-b{b + 1}.weights.h5" for e, b in positions]
    assert [[e.path for e in v.files()] for v in versions] == [[n] for n in names]
    scores = [v.metadata["score"] for v in versions]
    assert all(isinstance(s, float) for s in scores)  # Keras' running training loss
    assert {v.metadata["monitor"] for v in versions} == {"loss"}
    assert all(v.metadata["save_weights_only"] for v in versions)
    best = scores.index(min(scores))
    for i, (version, (epoch, batch)) in enumerate(zip(versions, positions, strict=True)):
        expected = {f"epoch_{epoch}_batch_{batch}"} | ({"best"} if i == best else set())
        assert set(version.aliases) == expected | ({"latest"} if i == 3 else set())
    assert result["versions"] == {
        v.version: {"files": [n], "diff": 0.0} for v, n in zip(versions, names, strict=True)
    }


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_checkpoint_bad_arguments(driver: Driver) -> None:
    errors = checkpoints(driver, "errors")
    assert errors["kwargs"].startswith(
        "TypeError: FwTrackModelCheckpoint got unexpected argument(s) 'projet'\n"
        "hint: the fwtrack.init arguments are"
    )
    assert errors["suffix"].startswith("ValueError: The filepath provided must end in `.keras`")


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_example(drivers: dict[str, Driver]) -> None:
    driver = drivers["jax"]
    result = checkpoints(driver, "example")
    api = fwtrack.Api(driver.dir)
    # The registered model, read back through the registry and through `use_model` in
    # another run, loaded in Keras, predicts what the trained model predicts.
    assert (result["diff_registry"], result["diff_use_model"]) == (0.0, 0.0)
    assert result["version"] == "v0"
    assert result["aliases"] == ["candidate", "latest"]
    assert result["file"] == "blobs_mlp.keras"
    model = api.registry.model("keras-example")
    assert (model.version_count, model.aliases) == (1, {"candidate": "v0"})

    artifact = result["artifact"]
    run = api.run(artifact["run"]["id"])
    assert artifact["name"] == f"model-{run.id}"
    assert artifact["type"] == "model"
    assert "best" in artifact["aliases"]
    assert run.project == "keras-example"
    assert run.state == "finished"

    config = run.config
    assert (config["epochs"], config["batch_size"], config["samples"]) == (6, 64, 1000)
    assert config["model/config"]["name"] == "blobs_mlp"
    assert config["model/num_parameters"] == 16 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4
    assert config["optimizer/config"]["learning_rate"]["class_name"] == "CosineDecay"

    rows = run.history()
    epochs = rows[rows["epoch"].notna()]
    trained = len(epochs)
    assert list(epochs["epoch"]) == list(range(trained))
    for key in ("train/loss", "train/accuracy", "eval/loss", "eval/accuracy"):
        assert np.isfinite(epochs[key]).all(), key
    assert (epochs["train/learning_rate"].diff().dropna() < 0).all()  # cosine decay
    # 800 training samples in batches of 64: 13 batches an epoch, a row every 10.
    assert column(run, "batch/step") == list(range(10, 13 * trained + 1, 10))
    # The registered checkpoint is the epoch of the lowest validation loss.
    eval_loss = list(epochs["eval/loss"])
    assert artifact["metadata"]["epoch"] == eval_loss.index(min(eval_loss))
    assert artifact["metadata"]["score"] == min(eval_loss)
    assert len(run.logged_artifacts()) == sum(running_best(eval_loss))

    used = api.run(result["user_run"]).used_artifacts()
    assert [(a.name, a.digest) for a in used] == [(artifact["name"], artifact["digest"])]
