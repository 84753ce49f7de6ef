"""`import_tensorboard` / `fwtrack import tensorboard` on event files written by torch's
SummaryWriter and by tf.summary, compared with TensorBoard's own EventAccumulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sources import run_cli, run_program

from fwtrack import _core
from fwtrack.errors import ImportSourceError
from fwtrack.importers import import_tensorboard

# Making the source data runs the real trackers (TensorFlow loads in tens of seconds).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tb-source")
    run_program("tb_torch.py", str(tmp / "logs"), tmp=tmp)
    run_program("tb_tf.py", str(tmp / "logs"), tmp=tmp)
    return tmp / "logs"


def _accumulator(run_dir: Path) -> object:
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def _run_dir(root: Path, project: str, name: str) -> Path:
    for run_dir in (root / project).iterdir():
        if _core.RunReader(str(run_dir)).meta()["starts"][0]["name"] == name:
            return run_dir
    raise AssertionError(f"no imported run named {name!r}")


def test_torch_summary_writer_scalars_point_for_point(logdir: Path, tmp_path: Path) -> None:
    report = import_tensorboard(logdir, dir=tmp_path)
    assert report.failed == []
    assert len(report.imported) == 3
    acc = _accumulator(logdir / "train")
    reader = _core.RunReader(str(_run_dir(tmp_path, "logs", "train")))
    history = reader.history(["loss", "lr"])
    first_time: dict[int, float] = {}
    for tag in ("loss", "lr"):
        events = acc.Scalars(tag)  # type: ignore[attr-defined]
        assert len(events) == 25
        for i, ev in enumerate(events):
            assert int(history["_step"][i]) == ev.step
            assert history[tag][i] == pytest.approx(ev.value, rel=1e-7)
            first_time[ev.step] = min(first_time.get(ev.step, ev.wall_time), ev.wall_time)
    # A row's time is the first wall time of its step.
    assert list(history["_timestamp"]) == pytest.approx([first_time[s] for s in range(25)])
    [(step, hist)] = reader.histograms("weights")
    assert step == 10
    assert int(np.sum(hist.counts)) == 200
    assert hist.edges[0] == pytest.approx(-2.0)
    assert hist.edges[-1] >= 2.0
    [(img_step, _, key, desc)] = reader.media("digit")
    assert (img_step, key) == (12, "digit")
    assert (desc["width"], desc["height"]) == (8, 8)
    rows = list(reader.scan(["notes"]))
    assert [(r["_step"], r["notes"]) for r in rows if "notes" in r] == [(5, "first epoch done")]
    evaluation = _core.RunReader(str(_run_dir(tmp_path, "logs", "eval"))).history(["accuracy"])
    assert [int(s) for s in evaluation["_step"]] == [0, 5, 10, 15, 20]
    meta = reader.meta()
    assert meta["finish"]["exit_code"] == 0
    assert meta["starts"][0]["imported_from"]["source"] == "tensorboard"


def test_tf_summary_values(logdir: Path, tmp_path: Path) -> None:
    import_tensorboard(logdir, project="tf-proj", dir=tmp_path)
    reader = _core.RunReader(str(_run_dir(tmp_path, "tf-proj", "tf")))
    history = reader.history(["loss"])
    assert [int(s) for s in history["_step"]] == list(range(12))
    assert list(history["loss"]) == pytest.approx([2.0 / (s + 1) for s in range(12)])
    [(step, hist)] = reader.histograms("activations")
    assert step == 4
    assert int(np.sum(hist.counts)) == 64
    images = reader.media("picture")
    assert len(images) == 1
    assert images[0][0] == 6
    rows = [r for r in reader.scan(["comment"]) if "comment" in r]
    assert [(r["_step"], r["comment"]) for r in rows] == [(7, "from tf.summary")]


def test_importing_twice_adds_nothing_and_bad_paths_fail(logdir: Path, tmp_path: Path) -> None:
    first = import_tensorboard(logdir / "train", project="p", dir=tmp_path)
    assert len(first.imported) == 1
    sizes = {d: (Path(d) / _core.LOG_FILE_NAME).stat().st_size for d in first.imported}
    second = import_tensorboard(logdir / "train", project="p", dir=tmp_path)
    assert second.imported == []
    assert second.skipped == first.imported
    assert {d: (Path(d) / _core.LOG_FILE_NAME).stat().st_size for d in first.imported} == sizes
    with pytest.raises(ImportSourceError, match="does not exist"):
        import_tensorboard(tmp_path / "nothing", dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportSourceError, match="no TensorBoard event files"):
        import_tensorboard(tmp_path / "empty", dir=tmp_path)


def test_cli(logdir: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "--dir", str(tmp_path / "fw"), "import", "tensorboard", str(logdir), "-p", "cli",
        tmp=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("importing tensorboard run") == 3
    assert "imported 3 run(s)" in proc.stdout
