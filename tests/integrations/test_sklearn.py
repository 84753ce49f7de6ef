"""fwtrack.integrations.sklearn with real scikit-learn models: what log_classifier and
log_regressor log, the values against scikit-learn's own, W&B's plot_* helpers, the errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

import fwtrack
from fwtrack.errors import NoActiveRunError
from fwtrack.integrations import sklearn as fsk
from fwtrack.plot import CustomChart


def _iris() -> tuple[Any, ...]:
    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0
    )
    return x_train, x_test, y_train, y_test, list(data.target_names)


def _read(run: Any) -> tuple[Any, dict[str, Any]]:
    got = fwtrack.Api().run(run.id)
    return got.history(), got.summary


def test_log_classifier_logs_every_chart_in_one_row(tmp_dir: Path) -> None:
    x_train, x_test, y_train, y_test, names = _iris()
    model = DecisionTreeClassifier(random_state=0).fit(x_train, y_train)
    with fwtrack.init(project="sk", mode="offline") as run:
        charts = fsk.log_classifier(model, x_train, x_test, y_train, y_test, labels=names)
    assert sorted(charts) == [
        "class_proportions",
        "confusion_matrix",
        "feature_importances",
        "pr",
        "roc",
        "summary_metrics",
    ]
    hist, summary = _read(run)
    assert len(hist) == 1
    for key in charts:
        assert isinstance(hist[key][0], CustomChart), key
    y_pred = model.predict(x_test)
    assert summary["accuracy_score"] == pytest.approx(metrics.accuracy_score(y_test, y_pred))
    assert summary["f1_score"] == pytest.approx(
        metrics.f1_score(y_test, y_pred, average="weighted")
    )
    cm = hist["confusion_matrix"][0].table
    assert [r[2] for r in cm.data] == metrics.confusion_matrix(y_test, y_pred).ravel().tolist()
    assert cm.data[0][:2] == ["setosa", "setosa"]
    fi = hist["feature_importances"][0].table.data
    assert [r[1] for r in fi] == sorted(model.feature_importances_.tolist(), reverse=True)
    props = hist["class_proportions"][0].table.data
    assert props[0] == ["setosa", "train", int((y_train == 0).sum())]
    roc = hist["roc"][0].table
    assert {r[0] for r in roc.data} == set(names)


def test_binary_classifier_gets_a_calibration_curve_and_a_learning_curve(tmp_dir: Path) -> None:
    x, y = make_classification(n_samples=200, n_features=5, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    model = LogisticRegression().fit(x_train, y_train)
    with fwtrack.init(project="sk", mode="offline") as run:
        charts = fsk.log_classifier(
            model, x_train, x_test, y_train, y_test, log_learning_curve=True
        )
    assert {"calibration_curve", "learning_curve", "feature_importances"} <= set(charts)
    from sklearn.calibration import calibration_curve

    frac, mean = calibration_curve(y_test, model.predict_proba(x_test)[:, 1], n_bins=10)
    rows = [r for r in charts["calibration_curve"].table.data if r[0] == "Classifier"]
    assert [r[2] for r in rows] == np.round(frac, 4).tolist()
    assert [r[1] for r in rows] == np.round(mean, 4).tolist()
    lc = charts["learning_curve"].table
    assert lc.columns == ["train_size", "dataset", "score"]
    assert {r[1] for r in lc.data} == {"train", "test"}
    hist, _ = _read(run)
    assert isinstance(hist["learning_curve"][0], CustomChart)


def test_model_without_probabilities_skips_roc_and_pr(tmp_dir: Path) -> None:
    x_train, x_test, y_train, y_test, _ = _iris()
    from sklearn.svm import LinearSVC

    model = LinearSVC().fit(x_train, y_train)
    with fwtrack.init(project="sk", mode="offline"):
        charts = fsk.log_classifier(model, x_train, x_test, y_train, y_test)
    assert "roc" not in charts
    assert "pr" not in charts
    assert "feature_importances" in charts  # coef_


def test_log_regressor(tmp_dir: Path) -> None:
    x, y = make_regression(n_samples=120, n_features=4, noise=5.0, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    model = LinearRegression().fit(x_train, y_train)
    with fwtrack.init(project="sk", mode="offline") as run:
        charts = fsk.log_regressor(model, x_train, x_test, y_train, y_test)
    assert sorted(charts) == ["learning_curve", "residuals", "summary_metrics"]
    _, summary = _read(run)
    pred = model.predict(x_test)
    assert summary["mae"] == pytest.approx(metrics.mean_absolute_error(y_test, pred))
    assert summary["mse"] == pytest.approx(metrics.mean_squared_error(y_test, pred))
    assert summary["r2_score"] == pytest.approx(metrics.r2_score(y_test, pred))
    res = charts["residuals"].table.data
    assert [r[1] for r in res] == pytest.approx((y_test - pred).tolist())


def test_plot_helpers_log_under_wandbs_keys(tmp_dir: Path) -> None:
    x_train, x_test, y_train, y_test, names = _iris()
    model = KNeighborsClassifier().fit(x_train, y_train)
    probas = model.predict_proba(x_test)
    y_pred = model.predict(x_test)
    with fwtrack.init(project="sk", mode="offline") as run:
        fsk.plot_roc(y_test, probas, names)
        fsk.plot_precision_recall(y_test, probas, names)
        fsk.plot_confusion_matrix(y_test, y_pred, names, normalize=True)
        fsk.plot_class_proportions(y_train, y_test, names)
        fsk.plot_summary_metrics(model, x_train, y_train, x_test, y_test)
        fsk.plot_learning_curve(model, x_train, y_train)
        fsk.plot_classifier(model, x_train, x_test, y_train, y_test, y_pred, probas, names)
    hist, _ = _read(run)
    assert len(hist) == 7
    for step, key in enumerate(
        ["roc", "pr", "confusion_matrix", "class_proportions", "summary_metrics", "learning_curve"]
    ):
        assert isinstance(hist[key][step], CustomChart), key
    cm = hist["confusion_matrix"][2].table.data
    want = metrics.confusion_matrix(y_test, y_pred, normalize="true").round(2)
    assert [r[2] for r in cm] == want.ravel().tolist()


def test_confusion_matrix_selection_of_labels(tmp_dir: Path) -> None:
    with fwtrack.init(project="sk", mode="offline"):
        chart = fsk.plot_confusion_matrix(
            [0, 1, 2, 2], [0, 2, 2, 1], ["a", "b", "c"], true_labels=[2], pred_labels=[2]
        )
    assert chart.table.data == [["c", "c", 1]]


@pytest.mark.parametrize(
    ("call", "exc", "words"),
    [
        (
            lambda: fsk.log_classifier(DecisionTreeClassifier(), [[0]], [[0]], [0], [0]),
            ValueError,
            "DecisionTreeClassifier is not fitted; call model.fit",
        ),
        (
            lambda: fsk.plot_feature_importances(object()),
            TypeError,
            "must be a scikit-learn estimator",
        ),
        (
            lambda: fsk.plot_feature_importances(KNeighborsClassifier().fit([[0], [1]], [0, 1])),
            TypeError,
            "neither feature_importances_ nor coef_",
        ),
        (
            lambda: fsk.plot_feature_importances(
                DecisionTreeClassifier().fit([[0, 1], [1, 0]], [0, 1]), feature_names=["a"]
            ),
            ValueError,
            "1 feature_names for 2 features",
        ),
        (
            lambda: fsk.plot_calibration_curve(
                DecisionTreeClassifier().fit([[0], [1], [2]], [0, 1, 2]), [[0]], [0]
            ),
            ValueError,
            "binary classifier",
        ),
        (
            lambda: fsk.plot_confusion_matrix([0, 1], [0]),
            ValueError,
            "1-D and of one length",
        ),
        (lambda: fsk.plot_confusion_matrix(None, [0]), ValueError, "y_true and y_pred"),
        (
            lambda: fsk.plot_confusion_matrix([0, 1], [0, 1], true_labels=[7]),
            ValueError,
            "true_labels names 7",
        ),
        (lambda: fsk.plot_class_proportions([0], None), ValueError, "y_train and y_test"),
        (lambda: fsk.plot_learning_curve(None, None, None), ValueError, "model, X and y"),
        (
            lambda: fsk.plot_residuals(LinearRegression().fit([[0], [1]], [0, 1]), [[0]], [0, 1]),
            ValueError,
            "2 targets for 1 predictions",
        ),
    ],
)
def test_errors_name_the_problem(
    tmp_dir: Path, call: Any, exc: type[Exception], words: str
) -> None:
    with fwtrack.init(project="sk", mode="offline"), pytest.raises(exc) as err:
        call()
    assert words in str(err.value)


def test_no_active_run_names_init(tmp_dir: Path) -> None:
    with pytest.raises(NoActiveRunError, match=r"fwtrack.init\(\)"):
        fsk.plot_roc([0, 1], [[0.9, 0.1], [0.2, 0.8]])


def test_run_argument_logs_to_that_run(tmp_dir: Path) -> None:
    run = fwtrack.init(project="sk", mode="offline")
    fsk.plot_class_proportions([0, 1, 1], [0, 1], run=run)
    run.finish()
    hist, _ = _read(run)
    assert isinstance(hist["class_proportions"][0], CustomChart)
