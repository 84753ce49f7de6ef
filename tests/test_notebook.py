"""Runs in a real Jupyter kernel (ipykernel, driven by nbclient executing a notebook written
with nbformat): the rich output of `init`, the live panel of `run`, console capture without
touching the kernel's descriptors, `finish` and a second `init`, and the code snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import fwtrack

TIMEOUT = 180

CELLS = [
    "import sys\nimport fwtrack\n"
    "run = fwtrack.init(project='nb', name='nb-run', settings={'system_interval': 0})",
    "print('hello from a cell')\nprint('to stderr', file=sys.stderr)\n"
    "print('progress 1\\rprogress 2')",
    "run",
    "for i in range(5):\n    run.log({'loss': 1 / (i + 1), 'acc': i / 10})",
    "fwtrack.finish()",
    "run2 = fwtrack.init(project='nb', name='second', settings={'system_interval': 0})\n"
    "print('in the second run')\nrun2.log({'a': 1})\nrun2.finish()",
    "print('after both runs')\nprint(run.id, run2.id)",
    "run3 = fwtrack.init(project='nb', name='third', settings={'system_interval': 0})\n"
    "raise ValueError('a failing cell')",
    "run3.log({'after': 1})\nrun3.finish()\nprint(run3.id)",
]


def execute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, session: bool) -> Any:
    """Write the notebook into `tmp_path` and run it in a fresh kernel there; with `session`,
    the kernel learns the notebook's path as Jupyter Server tells it (`JPY_SESSION_NAME`)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    path = tmp_path / "train.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("FWTRACK_DIR", str(tmp_path / "fwtrack"))
    if session:
        monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    else:
        monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": tmp_path}},
    )
    client.execute()
    return nb


def outputs(cell: Any, kind: str) -> list[Any]:
    return [o for o in cell.outputs if o.output_type == kind]


def stream_text(cell: Any, name: str) -> str:
    return "".join(o.text for o in outputs(cell, "stream") if o.name == name)


def ids(nb: Any) -> list[str]:
    return stream_text(nb.cells[6], "stdout").splitlines()[-1].split()


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 60)
def test_notebook_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = execute(tmp_path, monkeypatch, session=True)
    run_id, second_id = ids(nb)
    api = fwtrack.Api(tmp_path / "fwtrack")

    # init: the status block as rich output (updated in place to the final state and values).
    (status,) = outputs(nb.cells[0], "display_data")
    html = status.data["text/html"]
    assert "nb-run" in html
    assert f"nb/{run_id}" in html
    assert "finished" in html  # updated at finish
    assert "fwtrack run nb-run (finished)" in status.data["text/plain"]

    # The kernel's own output is untouched: the cell shows what it printed.
    assert stream_text(nb.cells[1], "stdout") == "hello from a cell\nprogress 1\rprogress 2\n"
    assert stream_text(nb.cells[1], "stderr") == "to stderr\n"

    # `run` in a cell: a live panel, updated with the logged values (and at finish).
    (panel,) = outputs(nb.cells[2], "display_data")
    html = panel.data["text/html"]
    assert 'class="fwtrack-metrics"' in html
    assert ">loss</td>" in html
    assert ">acc</td>" in html
    assert ">0.2</td>" in html  # the last loss
    assert ">0.4</td>" in html  # the last acc
    assert "<polyline" in html  # the sparkline

    # Console capture through the streams, into the run's log.
    stored = api.run(run_id)
    assert stored.state == "finished"
    lines = [(line.stream, line.text) for line in stored.logs()]
    assert ("stdout", "hello from a cell") in lines
    assert ("stderr", "to stderr") in lines
    assert ("stdout", "progress 2") in lines  # a \r redraw keeps its final text
    assert ("stdout", "in the second run") not in lines
    assert ("stdout", "after both runs") not in lines  # capture stopped at finish
    assert list(stored.history()["loss"]) == [1.0, 0.5, 1 / 3, 0.25, 0.2]

    # A second init in a later cell works; its console is its own.
    second = api.run(second_id)
    assert second.state == "finished"
    assert [(line.stream, line.text) for line in second.logs()] == [("stdout", "in the second run")]
    assert "after both runs" in stream_text(nb.cells[6], "stdout")

    # A failing cell leaves the run open and running (the kernel lives on); it goes on.
    assert outputs(nb.cells[7], "error")[0].evalue == "a failing cell"
    third = api.run(stream_text(nb.cells[8], "stdout").split()[-1])
    assert third.state == "finished"
    assert list(third.history()["after"]) == [1]

    # The code snapshot is the notebook file.
    code = Path(stored.dir) / "files" / "code" / "train.ipynb"
    saved = nbformat.read(code, as_version=4)
    assert [c.source for c in saved.cells] == CELLS


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT + 60)
def test_notebook_without_its_file_saves_the_executed_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = execute(tmp_path, monkeypatch, session=False)
    run_id, second_id = ids(nb)
    api = fwtrack.Api(tmp_path / "fwtrack")
    first = Path(api.run(run_id).dir) / "files" / "code"
    assert [p.name for p in first.iterdir()] == ["_session_history.ipynb"]
    saved = nbformat.read(first / "_session_history.ipynb", as_version=4)
    nbformat.validate(saved)
    # The cells executed when the run finished (cell 5 finished it).
    assert [c.source for c in saved.cells] == CELLS[:5]
    second = Path(api.run(second_id).dir) / "files" / "code" / "_session_history.ipynb"
    assert [c.source for c in nbformat.read(second, as_version=4).cells] == CELLS[:6]


def test_panel_keeps_bounded_history_and_the_last_value(tmp_dir: Path) -> None:
    from fwtrack.sdk import notebook

    run = fwtrack.init(project="nb", settings={"console": False, "system_interval": 0})
    try:
        assert run._notebook is None  # not a kernel: nothing shown, nothing kept
        panel = notebook.Panel(run)
        for i in range(1000):
            panel.observe({"loss": float(i), "text": "x", "flag": True})
        for k in range(notebook.PANEL_KEYS + 3):
            panel.observe({f"k{k:02d}": 1})
        series = panel._series
        assert len(series["loss"]) <= notebook.PANEL_POINTS
        assert series["loss"][-1] == 999.0
        assert "text" not in series
        assert "flag" not in series
        assert len(series) == notebook.PANEL_KEYS  # the first keys logged
        html = notebook.run_html(run, panel)
        assert ">999</td>" in html
        assert "running" in html
        assert run.name in run._repr_html_()
    finally:
        run.finish()
    notebook.finished(run, panel, 1)
    assert "failed" in notebook.run_html(run, panel)
