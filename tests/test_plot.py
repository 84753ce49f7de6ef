"""fwtrack.plot: the numbers match scikit-learn's and wandb's tables, the specs bind the
table's columns, every bad argument raises an error naming it, and a logged chart reads back
with its spec and rows (locally)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import wandb
from sklearn import metrics

import fwtrack
from fwtrack import _core
from fwtrack.plot import (
    CustomChart,
    bar,
    confusion_matrix,
    histogram,
    line,
    line_series,
    plot_table,
    pr_curve,
    roc_curve,
    scatter,
)
from fwtrack.plot.metrics import precision_recall, roc


def _probas(seed: int, n: int = 300, k: int = 3, ties: bool = False) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    p = rng.dirichlet(np.ones(k), n)
    if ties:
        p = np.round(p, 1)  # many equal scores
    return y, p


def _encodings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    found = [spec.get("encoding", {})]
    for layer in spec.get("layer", []):
        found.append(layer.get("encoding", {}))
    return found


def _fields_used(spec: dict[str, Any]) -> set[str]:
    return {
        ch["field"]
        for enc in _encodings(spec)
        for ch in enc.values()
        if isinstance(ch, dict) and "field" in ch
    }


# -- the numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, False), (3, True)])
def test_roc_and_pr_equal_sklearn(seed: int, ties: bool) -> None:
    y, p = _probas(seed, ties=ties)
    for c in range(3):
        for ours, theirs in zip(
            roc(y, p[:, c], c), metrics.roc_curve(y, p[:, c], pos_label=c), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
        for ours, theirs in zip(
            precision_recall(y, p[:, c], c),
            metrics.precision_recall_curve(y, p[:, c], pos_label=c),
            strict=True,
        ):
            np.testing.assert_array_equal(ours, theirs)


def test_roc_with_string_labels_equals_sklearn() -> None:
    rng = np.random.default_rng(5)
    y = rng.choice(np.array(["cat", "dog"]), 100)
    s = rng.random(100)
    for ours, theirs in zip(
        roc(y, s, "dog"), metrics.roc_curve(y, s, pos_label="dog"), strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("seed", [0, 1])
def test_curve_tables_equal_wandbs(seed: int) -> None:
    y, p = _probas(seed, ties=bool(seed))
    labels = ["a", "b", "c"]
    for ours, theirs in (
        (roc_curve(y, p, labels=labels), wandb.plot.roc_curve(y, p, labels=labels)),
        (pr_curve(y, p, labels=labels), wandb.plot.pr_curve(y, p, labels=labels)),
        (
            pr_curve(y, p, classes_to_plot=[1, 2], interp_size=11),
            wandb.plot.pr_curve(y, p, classes_to_plot=[1, 2], interp_size=11),
        ),
    ):
        assert ours.table.columns == theirs.table.columns
        want = [[str(r[0]), float(r[1]), float(r[2])] for r in theirs.table.data]
        assert ours.table.data == want


def test_confusion_matrix_equals_wandb_and_sklearn() -> None:
    y, p = _probas(3)
    preds = p.argmax(axis=1)
    ours = confusion_matrix(y_true=y, preds=preds)
    theirs = wandb.plot.confusion_matrix(y_true=y.tolist(), preds=preds.tolist())
    assert ours.table.columns == ["Actual", "Predicted", "nPredictions"]
    assert ours.table.data == [[a, b, int(n)] for a, b, n in theirs.table.data]
    counts = metrics.confusion_matrix(y, preds)
    assert [r[2] for r in ours.table.data] == counts.ravel().tolist()
    # probs gives the argmax; class_names name the indices
    named = confusion_matrix(probs=p, y_true=y, class_names=["x", "y", "z"])
    assert [r[:2] for r in named.table.data[:3]] == [["x", "x"], ["x", "y"], ["x", "z"]]
    assert [r[2] for r in named.table.data] == counts.ravel().tolist()


def test_roc_labels_and_classes_to_plot() -> None:
    y, p = _probas(4)
    chart = roc_curve(y, p, labels=["a", "b", "c"], classes_to_plot=[2])
    assert {r[0] for r in chart.table.data} == {"c"}
    fpr, tpr, _ = metrics.roc_curve(y, p[:, 2], pos_label=2)
    assert [r[1] for r in chart.table.data] == np.round(fpr, 3).tolist()
    assert [r[2] for r in chart.table.data] == np.round(tpr, 3).tolist()


# -- specs ------------------------------------------------------------------------------------


def _table() -> fwtrack.Table:
    return fwtrack.Table(
        columns=["step", "loss", "run", "name"],
        data=[[i, 1.0 / (i + 1), "a" if i % 2 else "b", f"n{i}"] for i in range(6)],
    )


@pytest.mark.parametrize(
    ("make", "preset", "bound"),
    [
        (lambda t: line(t, "step", "loss", title="Loss"), "line", {"step", "loss"}),
        (lambda t: line(t, "step", "loss", stroke="run"), "line", {"step", "loss", "run"}),
        (lambda t: scatter(t, "step", "loss", title="S"), "scatter", {"step", "loss"}),
        (lambda t: bar(t, "name", "loss", title="B"), "bar", {"name", "loss"}),
        (lambda t: histogram(t, "loss", title="H"), "histogram", {"loss"}),
    ],
)
def test_table_charts_bind_their_columns(make: Any, preset: str, bound: set[str]) -> None:
    chart = make(_table())
    assert isinstance(chart, CustomChart)
    assert chart.preset == preset
    spec = chart.spec
    assert spec["data"] == {"name": "table"}
    assert _fields_used(spec) == bound
    assert "${" not in json.dumps(spec)
    assert chart.table.columns == ["step", "loss", "run", "name"]


def test_title_is_kept_and_an_empty_title_leaves_none() -> None:
    assert line(_table(), "step", "loss", title="Loss").spec["title"] == "Loss"
    assert "title" not in line(_table(), "step", "loss").spec


def test_line_series_as_wandb() -> None:
    xs = [0, 1, 2]
    ys = [[1, 2, 3], [3, 2, 1]]
    ours = line_series(xs, ys, keys=["up", "down"], title="T", xname="epoch")
    theirs = wandb.plot.line_series(xs, ys, keys=["up", "down"], title="T", xname="epoch")
    assert ours.table.columns == theirs.table.columns == ["step", "lineKey", "lineVal"]
    assert ours.table.data == theirs.table.data
    assert ours.spec["encoding"]["x"]["title"] == "epoch"
    # default keys, one xs per series
    two = line_series([[0, 1], [5, 6]], [[1, 2], [3, 4]])
    assert two.table.data == [
        [0, "line_0", 1],
        [1, "line_0", 2],
        [5, "line_1", 3],
        [6, "line_1", 4],
    ]


def test_plot_table_resolves_placeholders() -> None:
    spec = {
        "title": "${string:title} by ${field:x}",
        "mark": "point",
        "encoding": {
            "x": {"field": "${field:x}", "type": "quantitative"},
            "y": {"field": "${field:y}", "type": "quantitative"},
        },
    }
    chart = plot_table(spec, _table(), {"x": "step", "y": "loss"}, {"title": "Loss"})
    assert chart.spec["title"] == "Loss by step"
    assert chart.spec["data"] == {"name": "table"}
    assert chart.preset == "custom"
    assert chart.fields == {"x": "step", "y": "loss"}
    assert chart.string_fields == {"title": "Loss"}
    # JSON text works too, and the caller's spec is not changed
    again = plot_table(json.dumps(spec), _table(), {"x": "step", "y": "loss"}, {"title": "L"})
    assert again.spec["title"] == "L by step"
    assert spec["title"] == "${string:title} by ${field:x}"
    # a spec with its own data keeps it
    inline = {"data": {"values": [{"a": 1}]}, "mark": "bar"}
    assert plot_table(inline, _table(), {}).spec["data"] == {"values": [{"a": 1}]}


# -- errors -----------------------------------------------------------------------------------

_POINT = {"mark": "point", "encoding": {"x": {"field": "${field:x}"}}}


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (lambda: plot_table(_POINT, [[1]], {"x": "step"}), TypeError, "fwtrack.Table"),
        (lambda: plot_table(_POINT, _table(), ["x"]), TypeError, "fields must be a dict"),
        (lambda: plot_table(_POINT, _table(), {"x": 3}), TypeError, "fields['x'] must be a str"),
        (lambda: plot_table(_POINT, _table(), {"x": "nope"}), ValueError, "'nope'"),
        (lambda: plot_table(_POINT, _table(), {"y": "step"}), ValueError, "fields has no 'x'"),
        (
            lambda: plot_table({"mark": "point", "title": "${string:t}"}, _table(), {}, {"u": "v"}),
            ValueError,
            "string_fields has no 't'",
        ),
        (lambda: plot_table(_POINT, _table(), {"x": "step"}, {"t": 1}), TypeError, "string_fields"),
        (lambda: plot_table("wandb/nope/v0", _table(), {}), ValueError, "not JSON"),
        (lambda: plot_table("wandb/line/v0", _table(), {"x": "step"}), ValueError, "missing ['y']"),
        (
            lambda: plot_table(_POINT, _table(), {"x": "step"}, vega_spec_name="wandb/bar/v0"),
            TypeError,
            "not both",
        ),
        (lambda: plot_table(data_table=_table(), fields={}), TypeError, "vega_spec is required"),
        (lambda: plot_table(_POINT, _table()), TypeError, "fields is required"),
        (lambda: plot_table(3, _table(), {}), TypeError, "Vega-Lite spec"),
        (lambda: plot_table({"encoding": {}}, _table(), {}), ValueError, "no 'mark'"),
        (
            lambda: plot_table(
                {"$schema": "https://vega.github.io/schema/vega/v5.json", "marks": []},
                _table(),
                {},
            ),
            ValueError,
            "is a Vega spec",
        ),
        (
            lambda: plot_table({"mark": "point", "x": "a" * 300_000}, _table(), {}),
            ValueError,
            "KiB",
        ),
        (lambda: line([[1, 2]], "a", "b"), TypeError, "table must be a fwtrack.Table"),
        (lambda: line(_table(), "step", 3), TypeError, "y must be a column name"),
        (lambda: line(_table(), "step", "nope"), ValueError, "column 'nope'"),
        (lambda: scatter(_table(), "step", "loss", title=3), TypeError, "title must be a str"),
        (lambda: bar(_table(), "nope", "loss"), ValueError, "column 'nope'"),
        (lambda: histogram(_table(), None), TypeError, "value must be a column name"),
        (lambda: line_series([0, 1], 5), TypeError, "ys must be a list of series"),
        (lambda: line_series([0, 1], [1, 2]), TypeError, "one list of values per line"),
        (lambda: line_series([0, 1], []), ValueError, "ys is empty"),
        (lambda: line_series([[0], [1], [2]], [[1], [2]]), ValueError, "x-series (3)"),
        (lambda: line_series([0], [[1], [2]], keys=["a"]), ValueError, "number of keys (1)"),
        (lambda: roc_curve([0, 1], None), ValueError, "y_probas is required"),
        (lambda: roc_curve([[0, 1]], [[0.5, 0.5]]), ValueError, "y_true must be 1-D"),
        (lambda: roc_curve([0, 1, 1], [0.2, 0.3, 0.4]), ValueError, "(n_samples, n_classes)"),
        (lambda: roc_curve([0, 1], [["a", "b"], ["c", "d"]]), TypeError, "must be numbers"),
        (
            lambda: roc_curve([0, 1], [[0.5, np.nan], [0.1, 0.9]]),
            ValueError,
            "NaN or infinite",
        ),
        (
            lambda: roc_curve([0, 1, 2], [[0.5, 0.5]] * 3),
            ValueError,
            "only 2 columns",
        ),
        (
            lambda: roc_curve([0, 1], [[0.5, 0.5]] * 2, classes_to_plot=[7]),
            ValueError,
            "matches none",
        ),
        (
            lambda: roc_curve([0, 1], [[0.5, 0.5]] * 2, labels=["a"]),
            ValueError,
            "no entry in labels",
        ),
        (lambda: pr_curve([0, 1], [[0.5, 0.5]] * 2, interp_size=1), ValueError, "interp_size"),
        (lambda: pr_curve(None, [[0.5, 0.5]]), ValueError, "y_true is required"),
        (
            lambda: confusion_matrix(probs=[[1, 0]], y_true=[0], preds=[0]),
            ValueError,
            "either probs or preds",
        ),
        (lambda: confusion_matrix(y_true=[0]), ValueError, "pass preds"),
        (lambda: confusion_matrix(preds=[0]), ValueError, "y_true is required"),
        (lambda: confusion_matrix(y_true=[0, 1], preds=[0]), ValueError, "1 predictions but 2"),
        (lambda: confusion_matrix(probs=[0.1, 0.9], y_true=[0, 1]), ValueError, "probs must"),
        (
            lambda: confusion_matrix(y_true=[0, 5], preds=[0, 1], class_names=["a", "b"]),
            ValueError,
            "y_true must be class indices 0..1, got 5",
        ),
    ],
)
def test_bad_arguments_name_the_problem(call: Any, exc: type[Exception], words: str) -> None:
    with pytest.raises(exc) as err:
        call()
    assert words in str(err.value)


# -- logged and read back ---------------------------------------------------------------------


def test_logged_charts_read_back_with_spec_and_rows(tmp_dir: Path) -> None:
    y, p = _probas(9)
    charts = {
        "loss": line(_table(), "step", "loss", title="Loss"),
        "roc": roc_curve(y, p),
        "cm": confusion_matrix(y_true=y, preds=p.argmax(axis=1)),
    }
    run = fwtrack.init(project="plots", mode="offline")
    table = _table()
    chart = line(table, "step", "loss")
    run.log(charts)
    run.log({"late": chart})
    table.add_data(99, 0.0, "c", "late")  # changing the table after log changes nothing logged
    run.finish()

    reader = _core.RunReader(run.dir)
    assert sorted(reader.media_keys()) == ["cm", "late", "loss", "roc"]
    (_, _, _, desc) = reader.media("roc")[0]
    assert desc["_type"] == "custom-chart"
    assert desc["path"].endswith(".table.json")
    assert desc["preset"] == "roc_curve"
    assert desc["spec"] == charts["roc"].spec
    assert desc["columns"] == ["class", "fpr", "tpr"]
    assert desc["nrows"] == len(charts["roc"].table)
    stored = json.loads((Path(run.dir) / "files" / desc["path"]).read_text())
    assert stored["data"] == charts["roc"].table.data

    hist = fwtrack.Api().run(run.id).history()
    got = hist["cm"][0]
    assert isinstance(got, CustomChart)
    assert got.spec == charts["cm"].spec
    assert got.fields == charts["cm"].fields
    assert got.table.data == charts["cm"].table.data
    assert len(hist["late"][1].table) == 6


def test_a_chart_with_image_cells_stores_the_images(tmp_dir: Path) -> None:
    img = fwtrack.Image(np.zeros((4, 4, 3), dtype=np.uint8))
    table = fwtrack.Table(columns=["x", "y", "img"], data=[[1, 2, img]])
    run = fwtrack.init(project="plots", mode="offline")
    run.log({"s": scatter(table, "x", "y")})
    run.finish()
    names = sorted(p.name for p in (Path(run.dir) / "files" / "media").iterdir())
    assert any(n.endswith(".png") for n in names)
    assert any(n.endswith(".table.json") for n in names)


def test_a_reader_that_never_imported_fwtrack_plot_reads_charts_back(tmp_dir: Path) -> None:
    run = fwtrack.init(project="plots", mode="offline")
    run.log({"bar": bar(_table(), "name", "loss", title="B")})
    run.finish()
    program = (
        "import sys, fwtrack\n"
        "chart = fwtrack.Api().run(sys.argv[1]).history()['bar'][0]\n"
        "print(type(chart).__name__, chart.preset, len(chart.table))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", program, run.id], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["CustomChart", "bar", "6"]


@pytest.mark.parametrize(
    ("preset", "fields", "mark"),
    [
        ("wandb/line/v0", {"x": "step", "y": "loss", "stroke": None}, "line"),
        ("wandb/line/v0", {"x": "step", "y": "loss", "stroke": "run"}, "line"),
        ("wandb/scatter/v0", {"x": "step", "y": "loss"}, "point"),
        ("wandb/bar/v0", {"label": "name", "value": "loss"}, "bar"),
        ("wandb/histogram/v0", {"value": "loss"}, "bar"),
    ],
)
def test_wandbs_preset_ids_are_drawn_as_our_charts(
    preset: str, fields: dict[str, Any], mark: str
) -> None:
    chart = plot_table(preset, _table(), fields, {"title": "T"})
    spec = chart.spec
    got = spec["mark"]["type"] if isinstance(spec["mark"], dict) else spec["mark"]
    assert got == mark
    assert _fields_used(spec) == {v for v in fields.values() if v is not None}
    assert spec["title"] == "T"
    # W&B's keyword spelling
    again = plot_table(vega_spec_name=preset, data_table=_table(), fields=fields)
    assert _fields_used(again.spec) == _fields_used(spec)


def test_wandb_curve_and_confusion_presets() -> None:
    y, p = _probas(2)
    roc_table = wandb.plot.roc_curve(y, p).table
    table = fwtrack.Table(columns=roc_table.columns, data=[list(r) for r in roc_table.data])
    chart = plot_table(
        "wandb/area-under-curve/v0",
        table,
        {"x": "fpr", "y": "tpr", "class": "class"},
        {"title": "ROC"},
    )
    assert _fields_used(chart.spec) == {"fpr", "tpr", "class"}
    cm = fwtrack.Table(columns=["Actual", "Predicted", "nPredictions"], data=[["a", "a", 3]])
    chart = plot_table(
        "wandb/confusion_matrix/v1",
        cm,
        {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
    )
    assert _fields_used(chart.spec) == {"Actual", "Predicted", "nPredictions"}
