"""The writer queue's byte budget (`Settings.queue_bytes`, `FWTRACK_QUEUE_BYTES`): a small
budget makes `log()` wait for the writer, never drop, and a bad budget is refused up front."""

from __future__ import annotations

import numpy as np
import pytest

import fwtrack
from fwtrack import _core

pytestmark = pytest.mark.usefixtures("tmp_dir")

KEYS = [f"layer{k}/grad_norm" for k in range(100)]


def test_a_tiny_budget_still_records_every_point() -> None:
    run = fwtrack.init(settings={"queue_bytes": 64 * 1024})
    assert run.settings.queue_bytes == 65536
    rows = 3000  # about 15 MB of rows through a 64 KiB queue
    for i in range(rows):
        run.log({k: i + j / 1000 for j, k in enumerate(KEYS)} | {"phase": f"epoch-{i // 100}"})
    run.finish()
    h = _core.RunReader(run.dir).history()
    assert list(h["_step"]) == list(range(rows))
    for j, k in enumerate(KEYS):
        np.testing.assert_array_equal(h[k], np.arange(rows) + j / 1000)
    assert list(h["phase"]) == [f"epoch-{i // 100}" for i in range(rows)]


def test_a_size_string_is_taken_from_settings_and_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert fwtrack.Settings().queue_bytes == 4 * 2**20
    assert fwtrack.Settings(queue_bytes="64KiB").queue_bytes == 65536  # type: ignore[arg-type]
    monkeypatch.setenv("FWTRACK_QUEUE_BYTES", "2MB")
    assert fwtrack.Settings().queue_bytes == 2_000_000
    assert fwtrack.Settings(queue_bytes=4096).queue_bytes == 4096  # the argument wins


@pytest.mark.parametrize("bad", [0, -1, "0", "-5MiB", "lots"])
def test_a_budget_out_of_range_is_refused_with_the_fix(bad: object) -> None:
    with pytest.raises(ValueError, match=r"Settings\.queue_bytes.*(4MiB|a size)"):
        fwtrack.init(settings={"queue_bytes": bad})
    assert fwtrack.run is None


@pytest.mark.parametrize("bad", [1.5, True, None, [1024]])
def test_a_budget_of_the_wrong_type_is_refused_with_the_fix(bad: object) -> None:
    with pytest.raises(TypeError, match=r"Settings\.queue_bytes must be an int of bytes"):
        fwtrack.Settings(queue_bytes=bad)  # type: ignore[arg-type]


def test_a_bad_environment_budget_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FWTRACK_QUEUE_BYTES", "0")
    with pytest.raises(ValueError, match=r"FWTRACK_QUEUE_BYTES=0 is out of range: use bytes"):
        fwtrack.init()
