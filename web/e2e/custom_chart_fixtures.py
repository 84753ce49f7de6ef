"""A run with every kind of custom chart, for `custom_charts.spec.ts`.

custom_chart_fixtures.py --dir DIR --out seeded.json
    logs the run `charts` offline in DIR (project `charts-e2e`, for `fwtrack ui --dir DIR`):
    line, scatter, bar, histogram and line_series charts of a table, and the confusion matrix,
    ROC and PR curves of a real scikit-learn classifier (`log_classifier` adds its other
    charts), plus a chart from a user's own Vega-Lite spec; a second run `charts-b` logs one
    line chart under the same key (the workspace panel draws both runs).
Writes what was seeded as JSON: the project, the runs and the marks each chart draws.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import fwtrack
from fwtrack.integrations.sklearn import log_classifier

PROJECT = "charts-e2e"


def seed(out: Path) -> None:
    rng = np.random.default_rng(0)
    table = fwtrack.Table(
        columns=["step", "loss", "acc", "name"],
        data=[[i, 1.0 / (i + 1), i / 10, f"item {i}"] for i in range(10)],
    )
    values = fwtrack.Table(columns=["v"], data=[[float(x)] for x in rng.normal(size=200)])
    data = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.4, random_state=0
    )
    model = LogisticRegression(max_iter=500).fit(x_train, y_train)
    probas = model.predict_proba(x_test)
    own = {
        "mark": {"type": "point", "shape": "diamond"},
        "title": "${string:title}",
        "encoding": {
            "x": {"field": "${field:x}", "type": "quantitative"},
            "y": {"field": "${field:y}", "type": "quantitative"},
            "color": {"value": "crimson"},
        },
    }
    run = fwtrack.init(project=PROJECT, id="charts", mode="offline")
    run.log({"loss": 1.0})
    run.log(
        {
            "charts/line": fwtrack.plot.line(table, "step", "loss", title="Loss"),
            "charts/scatter": fwtrack.plot.scatter(table, "loss", "acc", title="Loss vs acc"),
            "charts/bar": fwtrack.plot.bar(table, "name", "acc", title="Accuracy"),
            "charts/histogram": fwtrack.plot.histogram(values, "v", title="Values"),
            "charts/series": fwtrack.plot.line_series(
                [0, 1, 2, 3], [[1, 2, 3, 4], [4, 3, 2, 1]], keys=["up", "down"], xname="epoch"
            ),
            "charts/cm": fwtrack.plot.confusion_matrix(
                y_true=y_test, probs=probas, class_names=list(data.target_names)
            ),
            "charts/roc": fwtrack.plot.roc_curve(y_test, probas, labels=list(data.target_names)),
            "charts/pr": fwtrack.plot.pr_curve(y_test, probas, labels=list(data.target_names)),
            "charts/own": fwtrack.plot_table(
                own, table, {"x": "step", "y": "acc"}, {"title": "Own"}
            ),
        }
    )
    log_classifier(model, x_train, x_test, y_train, y_test, labels=list(data.target_names))
    run.finish()
    other = fwtrack.init(project=PROJECT, id="charts-b", mode="offline")
    other.log({"loss": 2.0, "charts/line": fwtrack.plot.line(table, "step", "acc", title="B")})
    other.finish()
    seeded: dict[str, Any] = {
        "entity": "local",
        "project": PROJECT,
        "run": "charts",
        "other": "charts-b",
        "rows": {"bar": 10, "scatter": 10, "cm_cells": 9, "classes": 3},
    }
    out.write_text(json.dumps(seeded))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ["FWTRACK_DIR"] = args.dir
    seed(Path(args.out))


if __name__ == "__main__":
    main()
