"""Classifier charts: `confusion_matrix`, `roc_curve`, `pr_curve` (W&B's signatures), computed
with numpy (the same values as scikit-learn's `roc_curve` / `precision_recall_curve`;
scikit-learn is not needed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fwtrack.data_types.table import Table
from fwtrack.plot.custom_chart import CustomChart, _make

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "auc_spec",
    "binary_clf_curve",
    "confusion_chart",
    "confusion_matrix",
    "confusion_spec",
    "pr_curve",
    "precision_recall",
    "roc",
    "roc_curve",
]

_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"


def binary_clf_curve(
    y_true: npt.NDArray[Any], y_score: npt.NDArray[Any], pos_label: Any
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[Any]]:
    """False and true positives at each distinct score, highest score first, and the scores
    (scikit-learn's `_binary_clf_curve`)."""
    import numpy as np

    positive = (y_true == pos_label).astype(np.float64)
    order = np.argsort(y_score, kind="mergesort")[::-1]
    score = y_score[order]
    positive = positive[order]
    distinct = np.where(np.diff(score))[0]
    idx = np.r_[distinct, positive.size - 1]
    tps = np.cumsum(positive)[idx]
    fps = 1 + idx - tps
    return fps, tps, score[idx]


def roc(
    y_true: npt.NDArray[Any], y_score: npt.NDArray[Any], pos_label: Any
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """`(fpr, tpr, thresholds)` as `sklearn.metrics.roc_curve(..., drop_intermediate=True)`."""
    import numpy as np

    fps, tps, thr = binary_clf_curve(y_true, y_score, pos_label)
    if len(fps) > 2:
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps, thr = fps[keep], tps[keep], thr[keep]
    tps = np.r_[0.0, tps]
    fps = np.r_[0.0, fps]
    thr = np.r_[np.inf, thr.astype(np.float64)]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr, thr


def precision_recall(
    y_true: npt.NDArray[Any], y_score: npt.NDArray[Any], pos_label: Any
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[Any]]:
    """`(precision, recall, thresholds)` as `sklearn.metrics.precision_recall_curve`."""
    import numpy as np

    fps, tps, thr = binary_clf_curve(y_true, y_score, pos_label)
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=ps != 0)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    return np.hstack((precision[::-1], 1.0)), np.hstack((recall[::-1], 0.0)), thr[::-1]


def _arrays(fn: str, y_true: Any, y_probas: Any) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    import numpy as np

    if y_true is None or y_probas is None:
        missing = "y_true" if y_true is None else "y_probas"
        raise ValueError(f"fwtrack.plot.{fn}: {missing} is required")
    truth = np.asarray(y_true)
    probas = np.asarray(y_probas)
    if truth.ndim != 1:
        raise ValueError(
            f"fwtrack.plot.{fn}: y_true must be 1-D (one label per sample), got shape {truth.shape}"
        )
    if probas.ndim != 2 or probas.shape[0] != truth.shape[0]:
        raise ValueError(
            f"fwtrack.plot.{fn}: y_probas must have shape (n_samples, n_classes) = "
            f"({truth.shape[0]}, n_classes), got {probas.shape}; for a binary classifier pass "
            "model.predict_proba(X), both columns"
        )
    if probas.dtype.kind not in "iuf":
        raise TypeError(f"fwtrack.plot.{fn}: y_probas must be numbers, got dtype {probas.dtype}")
    if probas.dtype.kind == "f" and not np.isfinite(probas).all():
        raise ValueError(f"fwtrack.plot.{fn}: y_probas holds NaN or infinite values")
    classes = np.unique(truth)
    if probas.shape[1] < len(classes):
        raise ValueError(
            f"fwtrack.plot.{fn}: y_true has {len(classes)} classes but y_probas only "
            f"{probas.shape[1]} columns; give one column per class (in sorted class order)"
        )
    return truth, probas


def _plotted(
    fn: str, classes: npt.NDArray[Any], labels: Sequence[Any] | None, classes_to_plot: Any
) -> list[tuple[int, str]]:
    """(column index, display label) of each class to plot, as W&B picks them."""
    import numpy as np

    wanted = classes if classes_to_plot is None else np.asarray(classes_to_plot)
    indices = np.where(np.isin(classes, wanted))[0]
    if len(indices) == 0:
        raise ValueError(
            f"fwtrack.plot.{fn}: classes_to_plot {list(wanted)} matches none of the classes in "
            f"y_true {classes.tolist()}"
        )
    out = []
    for i in indices:
        c = classes[i]
        if labels is not None and isinstance(c, int | np.integer):
            if not 0 <= int(c) < len(labels):
                raise ValueError(
                    f"fwtrack.plot.{fn}: class {int(c)} has no entry in labels (it has "
                    f"{len(labels)}); give one label per class index"
                )
            out.append((int(i), str(labels[int(c)])))
        else:
            out.append((int(i), str(c.item() if hasattr(c, "item") else c)))
    return out


def auc_spec(title: str, diagonal: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "mark": {"type": "line", "interpolate": "linear"},
        "encoding": {
            "x": {
                "field": "${field:x}",
                "type": "quantitative",
                "title": "${string:x-axis-title}",
                "scale": {"domain": [0, 1]},
            },
            "y": {
                "field": "${field:y}",
                "type": "quantitative",
                "title": "${string:y-axis-title}",
                "scale": {"domain": [0, 1]},
            },
            "color": {"field": "${field:class}", "type": "nominal", "title": None},
        },
    }
    layers = [line]
    if diagonal:
        layers.append(
            {
                "data": {"values": [{"a": 0, "b": 0}, {"a": 1, "b": 1}]},
                "mark": {"type": "line", "strokeDash": [4, 4], "color": "#999"},
                "encoding": {
                    "x": {"field": "a", "type": "quantitative"},
                    "y": {"field": "b", "type": "quantitative"},
                },
            }
        )
    return {
        "$schema": _SCHEMA,
        "title": "${string:title}" if title else None,
        "width": "container",
        "height": 260,
        "layer": layers,
    }


def _curve_chart(
    fn: str,
    title: str,
    columns: tuple[str, str],
    order: tuple[str, str],
    rows: list[list[Any]],
    x_title: str,
    y_title: str,
    diagonal: bool,
) -> CustomChart:
    x, y = columns
    table = Table(columns=["class", *order], data=rows)
    spec = {k: v for k, v in auc_spec(title, diagonal).items() if v is not None}
    return _make(
        fn,
        spec,
        table,
        {"x": x, "y": y, "class": "class"},
        {"title": title, "x-axis-title": x_title, "y-axis-title": y_title},
    )


def roc_curve(
    y_true: Sequence[Any],
    y_probas: Sequence[Sequence[float]] | None = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    title: str = "ROC Curve",
    split_table: bool = False,
) -> CustomChart:
    """One ROC curve per class (one-vs-rest): `y_true` the labels `(n_samples,)`, `y_probas`
    the scores `(n_samples, n_classes)` with columns in sorted class order; `labels[i]` names
    class index `i`. The table has the columns `class`, `fpr`, `tpr` (rounded to 3 places,
    as W&B's)."""
    import numpy as np

    del split_table
    truth, probas = _arrays("roc_curve", y_true, y_probas)
    classes = np.unique(truth)
    rows: list[list[Any]] = []
    for i, name in _plotted("roc_curve", classes, labels, classes_to_plot):
        fpr, tpr, _ = roc(truth, probas[:, i], classes[i])
        rows.extend(
            [name, round(float(a), 3), round(float(b), 3)] for a, b in zip(fpr, tpr, strict=True)
        )
    return _curve_chart(
        "roc_curve",
        title,
        ("fpr", "tpr"),
        ("fpr", "tpr"),
        rows,
        "False positive rate",
        "True positive rate",
        True,
    )


def pr_curve(
    y_true: Sequence[Any] | None = None,
    y_probas: Sequence[Sequence[float]] | None = None,
    labels: list[str] | None = None,
    classes_to_plot: list[Any] | None = None,
    interp_size: int = 21,
    title: str = "Precision-Recall Curve",
    split_table: bool = False,
) -> CustomChart:
    """One precision-recall curve per class (one-vs-rest), precision made monotone and read at
    `interp_size` evenly spaced recalls from 1 to 0, as W&B's. Columns `class`, `recall`,
    `precision`."""
    import numpy as np

    del split_table
    if isinstance(interp_size, bool) or not isinstance(interp_size, int) or interp_size < 2:
        raise ValueError(
            f"fwtrack.plot.pr_curve: interp_size must be an int >= 2, got {interp_size!r}"
        )
    truth, probas = _arrays("pr_curve", y_true, y_probas)
    classes = np.unique(truth)
    grid = np.linspace(0, 1, interp_size)[::-1]
    rows: list[list[Any]] = []
    for i, name in _plotted("pr_curve", classes, labels, classes_to_plot):
        precision, recall, _ = precision_recall(truth, probas[:, i], classes[i])
        precision = np.maximum.accumulate(precision)[::-1]
        recall = recall[::-1]
        at = precision[np.searchsorted(recall, grid, side="left")]
        rows.extend(
            [name, round(float(p), 3), round(float(r), 3)] for r, p in zip(grid, at, strict=True)
        )
    return _curve_chart(
        "pr_curve",
        title,
        ("recall", "precision"),
        ("precision", "recall"),
        rows,
        "Recall",
        "Precision",
        False,
    )


def confusion_matrix(
    probs: Sequence[Sequence[float]] | None = None,
    y_true: Sequence[Any] | None = None,
    preds: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion Matrix Curve",
    split_table: bool = False,
) -> CustomChart:
    """Counts of (actual, predicted) pairs: `y_true` with either `preds` (labels) or `probs`
    (scores `(n_samples, n_classes)`, the prediction is the argmax). With `class_names`, labels
    are class indices `0..len(class_names)-1`; without, the classes are the sorted labels
    seen, named `Class_1`, `Class_2`, ... as W&B's. Columns `Actual`, `Predicted`,
    `nPredictions`."""
    import numpy as np

    del split_table
    if probs is not None and preds is not None:
        raise ValueError("fwtrack.plot.confusion_matrix: pass either probs or preds, not both")
    if y_true is None:
        raise ValueError("fwtrack.plot.confusion_matrix: y_true is required")
    if probs is not None:
        p = np.asarray(probs)
        if p.ndim != 2:
            raise ValueError(
                f"fwtrack.plot.confusion_matrix: probs must have shape (n_samples, n_classes), "
                f"got {p.shape}"
            )
        pred_list = np.argmax(p, axis=1).tolist()
    elif preds is not None:
        pred_list = np.asarray(preds).tolist()
    else:
        raise ValueError("fwtrack.plot.confusion_matrix: pass preds (labels) or probs (scores)")
    true_list = np.asarray(y_true).tolist()
    if len(pred_list) != len(true_list):
        raise ValueError(
            f"fwtrack.plot.confusion_matrix: {len(pred_list)} predictions but {len(true_list)} "
            "true labels; give one prediction per label"
        )
    if class_names is not None:
        names = [str(n) for n in class_names]
        n = len(names)
        for what, values in (("y_true", true_list), ("predictions", pred_list)):
            bad = [
                v for v in values if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n
            ]
            if bad:
                raise ValueError(
                    f"fwtrack.plot.confusion_matrix: with class_names ({n} names) {what} must be "
                    f"class indices 0..{n - 1}, got {bad[0]!r}"
                )
        index: dict[Any, int] = {i: i for i in range(n)}
    else:
        seen = sorted(set(pred_list) | set(true_list))
        n = len(seen)
        names = [f"Class_{i + 1}" for i in range(n)]
        index = {v: i for i, v in enumerate(seen)}
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, ([index[t] for t in true_list], [index[p] for p in pred_list]), 1)
    return confusion_chart(names, counts.tolist(), title)


def confusion_chart(names: list[str], counts: list[list[Any]], title: str) -> CustomChart:
    """The confusion-matrix chart of `counts[actual][predicted]` over classes `names`."""
    n = len(names)
    rows = [[names[i], names[j], counts[i][j]] for i in range(n) for j in range(n)]
    table = Table(columns=["Actual", "Predicted", "nPredictions"], data=rows)
    fields = {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"}
    return _make("confusion_matrix", confusion_spec(names, title), table, fields, {"title": title})


def confusion_spec(names: list[str] | None, title: str) -> dict[str, Any]:
    """The heatmap spec of a confusion matrix (axes in the order `names` when given)."""
    order: dict[str, Any] = {"sort": names} if names is not None else {}
    spec = {
        "$schema": _SCHEMA,
        "title": "${string:title}",
        "width": "container",
        "height": 260,
        "encoding": {
            "x": {"field": "${field:Predicted}", "type": "nominal", **order},
            "y": {"field": "${field:Actual}", "type": "nominal", **order},
        },
        "layer": [
            {
                "mark": "rect",
                "encoding": {
                    "color": {
                        "field": "${field:nPredictions}",
                        "type": "quantitative",
                        "title": "count",
                    }
                },
            },
            {
                "mark": {"type": "text"},
                "encoding": {"text": {"field": "${field:nPredictions}", "type": "quantitative"}},
            },
        ],
    }
    if not title:
        spec.pop("title")
    return spec
