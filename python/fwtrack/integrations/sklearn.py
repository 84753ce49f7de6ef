"""scikit-learn: log a fitted model's evaluation charts with `fwtrack.plot`.

    from fwtrack.integrations.sklearn import log_classifier, log_regressor

    with fwtrack.init(project="iris"):
        clf = RandomForestClassifier().fit(X_train, y_train)
        log_classifier(clf, X_train, X_test, y_train, y_test, labels=iris.target_names)

`log_classifier` logs, in one row, the summary metrics (accuracy, weighted precision, recall
and F1, also as scalars), the confusion matrix, ROC and precision-recall curves, feature
importances (when the model has them), class proportions, the calibration curve (binary
models) and, with `log_learning_curve=True`, the learning curve. `log_regressor` logs the
summary metrics (MAE, MSE, R²), residuals and the learning curve. The `plot_*` helpers are
W&B's (`wandb.sklearn.plot_*`, same names, arguments and keys): each logs one chart to the
active run (or `run=`) and returns it. See docs/charts.md.

scikit-learn and numpy are imported on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fwtrack import plot
from fwtrack.data_types.table import Table
from fwtrack.integrations._common import require
from fwtrack.plot.custom_chart import CustomChart, _make
from fwtrack.plot.metrics import confusion_chart

if TYPE_CHECKING:
    from fwtrack.sdk.run import Run

__all__ = [
    "log_classifier",
    "log_regressor",
    "plot_calibration_curve",
    "plot_class_proportions",
    "plot_classifier",
    "plot_confusion_matrix",
    "plot_feature_importances",
    "plot_learning_curve",
    "plot_precision_recall",
    "plot_regressor",
    "plot_residuals",
    "plot_roc",
    "plot_summary_metrics",
]

_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"


def _sklearn() -> Any:
    return require("sklearn", "sklearn")


def _run(run: Run | None, what: str) -> Run:
    if run is not None:
        return run
    from fwtrack.sdk.run import _active

    return _active(f"integrations.sklearn.{what}")


def _check_fitted(model: Any, what: str) -> None:
    sk = _sklearn()
    from sklearn.exceptions import NotFittedError  # type: ignore[import-untyped]
    from sklearn.utils.validation import check_is_fitted  # type: ignore[import-untyped]

    if not isinstance(model, sk.base.BaseEstimator):
        raise TypeError(
            f"{what}: model must be a scikit-learn estimator, got {type(model).__name__}"
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise ValueError(
            f"{what}: {type(model).__name__} is not fitted; call model.fit(X_train, y_train) first"
        ) from None


def _log(run: Run | None, what: str, values: dict[str, Any]) -> None:
    _run(run, what).log(values)


# -- charts (no logging) ---------------------------------------------------------------------


def _summary_metrics(model: Any, X_test: Any, y_test: Any) -> dict[str, float]:
    sk = _sklearn()
    from sklearn import metrics  # type: ignore[import-untyped]

    y_pred = model.predict(X_test)
    if sk.base.is_classifier(model):
        return {
            "accuracy_score": float(metrics.accuracy_score(y_test, y_pred)),
            "precision": float(
                metrics.precision_score(y_test, y_pred, average="weighted", zero_division=0)
            ),
            "recall": float(
                metrics.recall_score(y_test, y_pred, average="weighted", zero_division=0)
            ),
            "f1_score": float(
                metrics.f1_score(y_test, y_pred, average="weighted", zero_division=0)
            ),
        }
    if sk.base.is_regressor(model):
        return {
            "mae": float(metrics.mean_absolute_error(y_test, y_pred)),
            "mse": float(metrics.mean_squared_error(y_test, y_pred)),
            "r2_score": float(metrics.r2_score(y_test, y_pred)),
        }
    raise TypeError(
        f"plot_summary_metrics: {type(model).__name__} is neither a classifier nor a regressor"
    )


def _summary_chart(values: dict[str, float], model_name: str) -> CustomChart:
    table = Table(
        columns=["metric_name", "metric_value", "model_name"],
        data=[[k, round(v, 2), model_name] for k, v in values.items()],
    )
    return plot.bar(table, "metric_name", "metric_value", title="Summary metrics")


def _grouped_bar(
    fn: str, table: Table, label: str, value: str, group: str, title: str
) -> CustomChart:
    spec = {
        "$schema": _SCHEMA,
        "title": "${string:title}",
        "width": "container",
        "height": 260,
        "mark": "bar",
        "encoding": {
            "x": {"field": "${field:label}", "type": "nominal", "title": None},
            "xOffset": {"field": "${field:group}"},
            "y": {"field": "${field:value}", "type": "quantitative"},
            "color": {"field": "${field:group}", "type": "nominal", "title": None},
        },
    }
    return _make(
        fn, spec, table, {"label": label, "value": value, "group": group}, {"title": title}
    )


# -- W&B's helpers: each logs one chart and returns it ----------------------------------------


def plot_summary_metrics(
    model: Any = None,
    X: Any = None,
    y: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    *,
    run: Run | None = None,
) -> CustomChart:
    """A bar chart of the model's test metrics under `summary_metrics` (the metrics also as
    scalars: `accuracy_score`, `precision`, `recall`, `f1_score` or `mae`, `mse`,
    `r2_score`)."""
    del X, y
    _check_fitted(model, "plot_summary_metrics")
    values = _summary_metrics(model, X_test, y_test)
    chart = _summary_chart(values, type(model).__name__)
    _log(run, "plot_summary_metrics", {"summary_metrics": chart, **values})
    return chart


def plot_confusion_matrix(
    y_true: Any = None,
    y_pred: Any = None,
    labels: Sequence[Any] | None = None,
    true_labels: Sequence[Any] | None = None,
    pred_labels: Sequence[Any] | None = None,
    normalize: bool = False,
    *,
    run: Run | None = None,
) -> CustomChart:
    """The confusion matrix under `confusion_matrix`. `labels[i]` names class index `i`;
    `true_labels` / `pred_labels` restrict the rows / columns to those classes; `normalize`
    divides each row by its total (rounded to 2 places, as W&B)."""
    chart = _confusion(y_true, y_pred, labels, true_labels, pred_labels, normalize)
    _log(run, "plot_confusion_matrix", {"confusion_matrix": chart})
    return chart


def _confusion(
    y_true: Any,
    y_pred: Any,
    labels: Sequence[Any] | None,
    true_labels: Sequence[Any] | None,
    pred_labels: Sequence[Any] | None,
    normalize: bool,
) -> CustomChart:
    import numpy as np

    if y_true is None or y_pred is None:
        raise ValueError("plot_confusion_matrix: y_true and y_pred are required")
    truth, pred = np.asarray(y_true), np.asarray(y_pred)
    if truth.shape != pred.shape or truth.ndim != 1:
        raise ValueError(
            f"plot_confusion_matrix: y_true and y_pred must be 1-D and of one length, got "
            f"shapes {truth.shape} and {pred.shape}"
        )
    classes = np.unique(np.concatenate([truth, pred]))
    index = {c.item() if hasattr(c, "item") else c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.float64)
    np.add.at(counts, ([index[t] for t in truth.tolist()], [index[p] for p in pred.tolist()]), 1)

    def name(c: Any) -> str:
        if labels is not None and isinstance(c, int | np.integer) and 0 <= int(c) < len(labels):
            return str(labels[int(c)])
        return str(c.item() if hasattr(c, "item") else c)

    names = [name(c) for c in classes]
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        counts = np.round(np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0), 2)
    cells: list[list[Any]] = counts.tolist() if normalize else counts.astype(np.int64).tolist()
    rows_keep = _keep(classes, true_labels, labels, "true_labels")
    cols_keep = _keep(classes, pred_labels, labels, "pred_labels")
    # The chart's axes take both selections; a cell outside either is 0.
    keep = sorted(set(rows_keep) | set(cols_keep))
    sub = [[cells[i][j] if i in rows_keep and j in cols_keep else 0 for j in keep] for i in keep]
    return confusion_chart([names[i] for i in keep], sub, "Confusion Matrix")


def _keep(
    classes: Any, wanted: Sequence[Any] | None, labels: Sequence[Any] | None, arg: str
) -> list[int]:
    if wanted is None:
        return list(range(len(classes)))
    names = [str(x) for x in (labels or [])]
    out = []
    for w in wanted:
        hits = [
            i
            for i, c in enumerate(classes)
            if c == w or (str(w) in names and names.index(str(w)) == c)
        ]
        if not hits:
            raise ValueError(
                f"plot_confusion_matrix: {arg} names {w!r}, which is not a class of y_true or "
                f"y_pred ({classes.tolist()})"
            )
        out.extend(hits)
    return sorted(set(out))


def plot_roc(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[Any] | None = None,
    plot_micro: bool = True,
    plot_macro: bool = True,
    classes_to_plot: Sequence[Any] | None = None,
    *,
    run: Run | None = None,
) -> CustomChart:
    """One ROC curve per class under `roc` (`fwtrack.plot.roc_curve`). `plot_micro` /
    `plot_macro` are accepted for W&B compatibility; the averaged curves are not drawn."""
    del plot_micro, plot_macro
    chart = plot.roc_curve(
        y_true, y_probas, labels=_labels(labels), classes_to_plot=_list(classes_to_plot)
    )
    _log(run, "plot_roc", {"roc": chart})
    return chart


def plot_precision_recall(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[Any] | None = None,
    plot_micro: bool = True,
    classes_to_plot: Sequence[Any] | None = None,
    *,
    run: Run | None = None,
) -> CustomChart:
    """One precision-recall curve per class under `pr` (`fwtrack.plot.pr_curve`)."""
    del plot_micro
    chart = plot.pr_curve(
        y_true, y_probas, labels=_labels(labels), classes_to_plot=_list(classes_to_plot)
    )
    _log(run, "plot_precision_recall", {"pr": chart})
    return chart


def _labels(labels: Sequence[Any] | None) -> list[str] | None:
    return None if labels is None else [str(x) for x in labels]


def _list(values: Sequence[Any] | None) -> list[Any] | None:
    return None if values is None else list(values)


def _importances(model: Any, feature_names: Sequence[Any] | None, max_num_features: int) -> Table:
    import numpy as np

    if hasattr(model, "feature_importances_"):
        values = np.asarray(model.feature_importances_, dtype=np.float64)
    elif hasattr(model, "coef_"):
        coef = np.asarray(model.coef_, dtype=np.float64)
        values = np.abs(coef).mean(axis=0) if coef.ndim == 2 else np.abs(coef)
    else:
        raise TypeError(
            f"plot_feature_importances: {type(model).__name__} has neither feature_importances_ "
            "nor coef_; use a tree ensemble or a linear model"
        )
    if feature_names is None:
        feature_names = getattr(model, "feature_names_in_", None)
    names = (
        [str(n) for n in feature_names]
        if feature_names is not None
        else [f"feature_{i}" for i in range(len(values))]
    )
    if len(names) != len(values):
        raise ValueError(
            f"plot_feature_importances: {len(names)} feature_names for {len(values)} features"
        )
    order = np.argsort(-values, kind="stable")[:max_num_features]
    return Table(
        columns=["feature_names", "importance"],
        data=[[names[i], float(values[i])] for i in order],
    )


def plot_feature_importances(
    model: Any = None,
    feature_names: Sequence[Any] | None = None,
    title: str = "Feature Importance",
    max_num_features: int = 50,
    *,
    run: Run | None = None,
) -> CustomChart:
    """The model's feature importances (`feature_importances_`, or the mean |`coef_`|), largest
    first, under `feature_importances`."""
    _check_fitted(model, "plot_feature_importances")
    table = _importances(model, feature_names, max_num_features)
    chart = plot.bar(table, "feature_names", "importance", title=title)
    _log(run, "plot_feature_importances", {"feature_importances": chart})
    return chart


def plot_class_proportions(
    y_train: Any = None,
    y_test: Any = None,
    labels: Sequence[Any] | None = None,
    *,
    run: Run | None = None,
) -> CustomChart:
    """How many samples of each class the train and test sets hold, under
    `class_proportions`."""
    chart = _class_proportions(y_train, y_test, labels)
    _log(run, "plot_class_proportions", {"class_proportions": chart})
    return chart


def _class_proportions(y_train: Any, y_test: Any, labels: Sequence[Any] | None) -> CustomChart:
    import numpy as np

    if y_train is None or y_test is None:
        raise ValueError("plot_class_proportions: y_train and y_test are required")
    train, test = np.asarray(y_train), np.asarray(y_test)
    classes = np.unique(np.concatenate([train, test]))
    rows: list[list[Any]] = []
    for c in classes:
        if labels is not None and isinstance(c, np.integer) and 0 <= int(c) < len(labels):
            name = str(labels[int(c)])
        else:
            name = str(c.item())
        rows.append([name, "train", int((train == c).sum())])
        rows.append([name, "test", int((test == c).sum())])
    table = Table(columns=["class", "dataset", "count"], data=rows)
    return _grouped_bar(
        "class_proportions", table, "class", "count", "dataset", "Class Proportions"
    )


def plot_learning_curve(
    model: Any = None,
    X: Any = None,
    y: Any = None,
    cv: Any = None,
    shuffle: bool = False,
    random_state: Any = None,
    train_sizes: Any = None,
    n_jobs: int | None = 1,
    scoring: Any = None,
    *,
    run: Run | None = None,
) -> CustomChart:
    """Train and cross-validation scores against the train set size
    (`sklearn.model_selection.learning_curve`, fitting clones of `model`), under
    `learning_curve`."""
    chart = _learning_curve(model, X, y, cv, shuffle, random_state, train_sizes, n_jobs, scoring)
    _log(run, "plot_learning_curve", {"learning_curve": chart})
    return chart


def _learning_curve(
    model: Any,
    X: Any,
    y: Any,
    cv: Any,
    shuffle: bool,
    random_state: Any,
    train_sizes: Any,
    n_jobs: int | None,
    scoring: Any,
) -> CustomChart:
    _sklearn()
    import numpy as np
    from sklearn.model_selection import learning_curve  # type: ignore[import-untyped]

    if model is None or X is None or y is None:
        raise ValueError("plot_learning_curve: model, X and y are required")
    sizes, train, test = learning_curve(
        model,
        X,
        y,
        cv=cv,
        n_jobs=n_jobs,
        train_sizes=np.linspace(0.1, 1.0, 5) if train_sizes is None else train_sizes,
        scoring=scoring,
        shuffle=shuffle,
        random_state=random_state,
    )
    rows: list[list[Any]] = []
    for n, tr, te in zip(sizes.tolist(), train.mean(axis=1), test.mean(axis=1), strict=True):
        rows.append([n, "train", round(float(tr), 4)])
        rows.append([n, "test", round(float(te), 4)])
    table = Table(columns=["train_size", "dataset", "score"], data=rows)
    return plot.line(table, "train_size", "score", stroke="dataset", title="Learning Curve")


def plot_calibration_curve(
    clf: Any = None,
    X: Any = None,
    y: Any = None,
    clf_name: str = "Classifier",
    *,
    n_bins: int = 10,
    run: Run | None = None,
) -> CustomChart:
    """The fraction of positives against the mean predicted probability, in `n_bins` bins, of
    a fitted binary classifier on `X`, `y` (`sklearn.calibration.calibration_curve`), under
    `calibration_curve`. W&B's version also refits calibrated copies of the model; this one
    draws the model as it is."""
    chart = _calibration(clf, X, y, clf_name, n_bins)
    _log(run, "plot_calibration_curve", {"calibration_curve": chart})
    return chart


def _calibration(clf: Any, X: Any, y: Any, clf_name: str, n_bins: int) -> CustomChart:
    _check_fitted(clf, "plot_calibration_curve")
    import numpy as np
    from sklearn.calibration import calibration_curve  # type: ignore[import-untyped]

    classes = getattr(clf, "classes_", None)
    if classes is None or len(classes) != 2 or not hasattr(clf, "predict_proba"):
        raise ValueError(
            f"plot_calibration_curve: needs a fitted binary classifier with predict_proba; "
            f"{type(clf).__name__} has classes {None if classes is None else list(classes)}"
        )
    probas = clf.predict_proba(X)[:, 1]
    frac, mean = calibration_curve(np.asarray(y) == classes[1], probas, n_bins=n_bins)
    rows = [
        [clf_name, round(float(m), 4), round(float(f), 4)] for m, f in zip(mean, frac, strict=True)
    ]
    rows += [["Perfectly calibrated", 0.0, 0.0], ["Perfectly calibrated", 1.0, 1.0]]
    table = Table(columns=["model", "mean_predicted_value", "fraction_of_positives"], data=rows)
    return plot.line(
        table,
        "mean_predicted_value",
        "fraction_of_positives",
        stroke="model",
        title="Calibration Curve",
    )


def plot_residuals(
    regressor: Any = None,
    X: Any = None,
    y: Any = None,
    *,
    run: Run | None = None,
) -> CustomChart:
    """Residuals (`y - prediction`) against the predictions of a fitted regressor on `X`, `y`,
    under `residuals`."""
    chart = _residuals(regressor, X, y)
    _log(run, "plot_residuals", {"residuals": chart})
    return chart


def _residuals(regressor: Any, X: Any, y: Any) -> CustomChart:
    _check_fitted(regressor, "plot_residuals")
    import numpy as np

    pred = np.asarray(regressor.predict(X), dtype=np.float64).ravel()
    truth = np.asarray(y, dtype=np.float64).ravel()
    if pred.shape != truth.shape:
        raise ValueError(
            f"plot_residuals: {truth.size} targets for {pred.size} predictions; pass X and y of "
            "one length"
        )
    table = Table(
        columns=["y_pred", "residual"],
        data=[[float(p), float(t - p)] for p, t in zip(pred, truth, strict=True)],
    )
    return plot.scatter(table, "y_pred", "residual", title="Residuals")


# -- everything for a model ------------------------------------------------------------------


def log_classifier(
    model: Any,
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    labels: Sequence[Any] | None = None,
    *,
    y_pred: Any = None,
    y_probas: Any = None,
    model_name: str = "Classifier",
    feature_names: Sequence[Any] | None = None,
    log_learning_curve: bool = False,
    run: Run | None = None,
) -> dict[str, CustomChart]:
    """Log a fitted classifier's evaluation on the test set in one row: the summary metrics
    (chart and scalars), `confusion_matrix`, `roc` and `pr` (when it has `predict_proba` or
    `y_probas` is given), `feature_importances` (when it has them), `class_proportions`,
    `calibration_curve` (binary, with `predict_proba`) and, with `log_learning_curve=True`,
    `learning_curve` (refits clones on `X_train`). Returns the charts by key."""
    _check_fitted(model, "log_classifier")
    target = _run(run, "log_classifier")
    if y_pred is None:
        y_pred = model.predict(X_test)
    if y_probas is None and hasattr(model, "predict_proba"):
        y_probas = model.predict_proba(X_test)
    values = _summary_metrics(model, X_test, y_test)
    charts: dict[str, CustomChart] = {"summary_metrics": _summary_chart(values, model_name)}
    charts["confusion_matrix"] = _confusion(y_test, y_pred, labels, None, None, False)
    if y_probas is not None:
        charts["roc"] = plot.roc_curve(y_test, y_probas, labels=_labels(labels))
        charts["pr"] = plot.pr_curve(y_test, y_probas, labels=_labels(labels))
    if hasattr(model, "feature_importances_") or hasattr(model, "coef_"):
        charts["feature_importances"] = plot.bar(
            _importances(model, feature_names, 50),
            "feature_names",
            "importance",
            title="Feature Importance",
        )
    charts["class_proportions"] = _class_proportions(y_train, y_test, labels)
    if hasattr(model, "predict_proba") and len(getattr(model, "classes_", [])) == 2:
        charts["calibration_curve"] = _calibration(model, X_test, y_test, model_name, 10)
    if log_learning_curve:
        charts["learning_curve"] = _learning_curve(
            model, X_train, y_train, None, False, None, None, 1, None
        )
    target.log({**charts, **values})
    return charts


def log_regressor(
    model: Any,
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    *,
    model_name: str = "Regressor",
    log_learning_curve: bool = True,
    run: Run | None = None,
) -> dict[str, CustomChart]:
    """Log a fitted regressor's evaluation in one row: the summary metrics (chart and
    scalars `mae`, `mse`, `r2_score`), `residuals` on the test set, and the `learning_curve`
    (refits clones on `X_train`; `log_learning_curve=False` skips it). Returns the charts."""
    _check_fitted(model, "log_regressor")
    target = _run(run, "log_regressor")
    values = _summary_metrics(model, X_test, y_test)
    charts: dict[str, CustomChart] = {"summary_metrics": _summary_chart(values, model_name)}
    charts["residuals"] = _residuals(model, X_test, y_test)
    if log_learning_curve:
        charts["learning_curve"] = _learning_curve(
            model, X_train, y_train, None, False, None, None, 1, None
        )
    target.log({**charts, **values})
    return charts


def plot_classifier(
    model: Any,
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    y_pred: Any,
    y_probas: Any,
    labels: Sequence[Any] | None,
    is_binary: bool = False,
    model_name: str = "Classifier",
    feature_names: Sequence[Any] | None = None,
    log_learning_curve: bool = False,
    *,
    run: Run | None = None,
) -> dict[str, CustomChart]:
    """W&B's `plot_classifier` signature over `log_classifier`."""
    del is_binary
    return log_classifier(
        model,
        X_train,
        X_test,
        y_train,
        y_test,
        labels,
        y_pred=y_pred,
        y_probas=y_probas,
        model_name=model_name,
        feature_names=feature_names,
        log_learning_curve=log_learning_curve,
        run=run,
    )


def plot_regressor(
    model: Any,
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    model_name: str = "Regressor",
    *,
    run: Run | None = None,
) -> dict[str, CustomChart]:
    """W&B's `plot_regressor` signature over `log_regressor`."""
    return log_regressor(model, X_train, X_test, y_train, y_test, model_name=model_name, run=run)
