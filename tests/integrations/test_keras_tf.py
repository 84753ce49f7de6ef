"""The Keras callback's tests (tests/integrations/test_keras.py) on the TensorFlow backend:
the same scenarios, run by the same driver program in an interpreter started with
`KERAS_BACKEND=tensorflow` on tensorflow-cpu, read back through `fwtrack.Api`.

Only what differs on TensorFlow is written here: Keras' TensorFlow backend is not thread
safe (`IS_THREAD_SAFE = False`), so Keras calls every callback's batch hooks on the training
thread whatever the callback declares.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_keras import (
    TIMEOUT,
    Driver,
    test_bad_arguments,
    test_batch_rows_in_order,
    test_checkpoint_bad_arguments,
    test_checkpoint_best_only,
    test_checkpoint_every_epoch,
    test_checkpoint_weights_every_n_batches,
    test_epoch_metrics_config_and_summary,
    test_every_n_batches,
    test_existing_run_is_used_and_left_open,
    test_failed_fit_fails_the_run,
    test_model_without_config,
    test_tensor_metrics_are_converted,
)
from test_keras import test_example as _test_example

BACKEND = "tensorflow"

__all__ = [
    "test_bad_arguments",
    "test_batch_rows_in_order",
    "test_checkpoint_bad_arguments",
    "test_checkpoint_best_only",
    "test_checkpoint_every_epoch",
    "test_checkpoint_weights_every_n_batches",
    "test_epoch_metrics_config_and_summary",
    "test_every_n_batches",
    "test_existing_run_is_used_and_left_open",
    "test_failed_fit_fails_the_run",
    "test_model_without_config",
    "test_tensor_metrics_are_converted",
]


@pytest.fixture(scope="module")
def drivers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Driver]]:
    started = Driver(BACKEND, tmp_path_factory.mktemp("keras_tf") / BACKEND)
    yield {BACKEND: started}
    started.stop()


@pytest.fixture
def driver(drivers: dict[str, Driver]) -> Driver:
    return drivers[BACKEND]


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_batch_hooks_run_on_the_training_thread(driver: Driver) -> None:
    # Keras' TensorFlow backend dispatches no callback asynchronously (not even Keras' own);
    # the callback still runs, in batch order (test_batch_rows_in_order).
    assert driver.result()["async"] == {"epoch": False, "batch": False, "3": False}


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 20)
def test_example(drivers: dict[str, Driver]) -> None:
    """The Keras example (integrations/keras/train.py) trained on TensorFlow."""
    _test_example({"jax": drivers[BACKEND]})
