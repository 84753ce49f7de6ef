"""What every importer shares (importers/_write.py): history as it happened, an interrupted
import redone, a run that was not imported left alone, and the upload to a server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sources import run_program

import fwtrack
from fwserver import Server
from fwtrack import _core
from fwtrack.importers import import_tensorboard
from fwtrack.importers._write import (
    IMPORT_FAILED,
    ImportReport,
    Progress,
    Row,
    SourceRun,
    write_run,
)

START = 1_700_000_000.0


def _source(rows: list[Row], run_id: str = "r1") -> SourceRun:
    return SourceRun(
        source="mlflow",
        source_path="test-source",
        id=run_id,
        project="p",
        start_time=START,
        name="imported",
        config={"lr": 0.1},
        summary={"best": 0.5},
        tags=["a", "a", " b "],
        rows=lambda: rows,
        system=[(START + 1, None, [("system/cpu.percent", 12.5)])],
        console=[(START + 2, "stdout", ["hello", "world"])],
        finish_ts=START + 10,
    )


def _write(src: SourceRun, root: Path) -> ImportReport:
    report = ImportReport(source="test", root=str(root))
    write_run(src, str(root), report, Progress(None))
    return report


def test_history_is_written_as_it_happened(tmp_path: Path) -> None:
    rows = [
        Row(step=0, ts=START + 0.5, data={"loss": 1.0}),
        Row(step=5, ts=START + 1.5, data={"loss": 0.5, "acc": 0.25}, rt=1.25),
        Row(step=3, ts=START + 2.5, data={"loss": 0.4}),  # below the last step: kept at 5
        Row(step=9, ts=START + 3.5, data={"loss": 0.1}),
    ]
    report = _write(_source(rows), tmp_path)
    assert (report.rows, report.points) == (4, 5)
    reader = _core.RunReader(str(tmp_path / "p" / "r1"))
    history = reader.history(["loss", "acc"])
    assert [int(s) for s in history["_step"]] == [0, 5, 9]
    stamps = list(history["_timestamp"])
    assert (stamps[0], stamps[2]) == pytest.approx((START + 0.5, START + 3.5))
    assert history["_runtime"][0] == pytest.approx(0.5)
    assert list(history["loss"]) == [1.0, 0.4, 0.1]  # the rows of step 5 merged, last wins
    meta = reader.meta()
    info = meta["starts"][0]
    assert info["tags"] == ["a", "b"]
    assert info["imported_from"]["source"] == "mlflow"
    assert meta["config"] == {"lr": 0.1}
    assert meta["summary"]["best"] == 0.5
    assert meta["finish"]["exit_code"] == 0
    assert meta["finish"]["timestamp"] == pytest.approx(START + 10)
    assert reader.console() == [(START + 2, "stdout", "hello"), (START + 2, "stdout", "world")]
    system = reader.system()
    assert list(system["_timestamp"]) == [START + 1]
    assert list(system["system/cpu.percent"]) == [12.5]


def test_an_interrupted_import_is_redone(tmp_path: Path) -> None:
    def failing() -> Iterator[Row]:
        yield Row(step=0, ts=START, data={"loss": 1.0})
        raise OSError("the source went away")

    src = _source([])
    src.rows = failing
    with pytest.raises(OSError, match="went away"):
        _write(src, tmp_path)
    run_dir = tmp_path / "p" / "r1"
    assert _core.RunReader(str(run_dir)).meta()["finish"]["reason"] == IMPORT_FAILED
    src.rows = lambda: [Row(step=s, ts=START + s, data={"loss": 1.0 / (s + 1)}) for s in range(3)]
    again = _write(src, tmp_path)
    assert again.imported == [str(run_dir)]
    meta = _core.RunReader(str(run_dir)).meta()
    assert len(meta["starts"]) == 1
    assert meta["rows"] == 3
    assert meta["finish"]["reason"] is None
    third = _write(src, tmp_path)
    assert third.skipped == [str(run_dir)]


def test_a_run_that_was_not_imported_is_left_alone(tmp_path: Path) -> None:
    run = fwtrack.init(project="p", id="r1", dir=tmp_path, mode="offline")
    run.log({"loss": 1.0})
    run.finish()
    size = (tmp_path / "p" / "r1" / _core.LOG_FILE_NAME).stat().st_size
    report = _write(_source([Row(step=0, ts=START, data={"x": 1.0})]), tmp_path)
    assert report.imported == []
    assert "holds a run that was not imported" in report.failed[0][1]
    assert (tmp_path / "p" / "r1" / _core.LOG_FILE_NAME).stat().st_size == size


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.usefixtures("client_dirs")
def test_online_imports_are_uploaded_as_sync_does(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_program("tb_torch.py", str(tmp_path / "logs"), tmp=tmp_path)  # train/ and eval/
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    report = import_tensorboard(tmp_path / "logs", project="tb-online", dir=tmp_path / "fw")
    assert report.failed == []
    assert sorted(report.uploaded) == sorted(report.imported)
    assert len(report.imported) == 2
    for run_dir in report.imported:
        run_id = Path(run_dir).name
        local = (Path(run_dir) / _core.LOG_FILE_NAME).read_bytes()
        assert server.stored_log("admin", "tb-online", run_id) == local
    train = next(d for d in report.imported if _name(d) == "train")
    history = server.get(
        f"/runs/admin/tb-online/{Path(train).name}/history", samples=0, keys="loss"
    )
    assert history["series"]["loss"]["step"] == list(range(25))
    again = import_tensorboard(tmp_path / "logs", project="tb-online", dir=tmp_path / "fw")
    assert again.imported == []
    assert sorted(again.uploaded) == sorted(report.imported)


def _name(run_dir: str) -> str:
    name: str = _core.RunReader(run_dir).meta()["starts"][0]["name"]
    return name
