"""Custom charts: a table plus a Vega-Lite spec, logged with `log()` like any media and drawn
by the dashboard (docs/charts.md). The signatures are W&B's (`wandb.plot.*`).

    fwtrack.log({"roc": fwtrack.plot.roc_curve(y_test, model.predict_proba(X_test))})

numpy is imported on first use, never by `import fwtrack`.
"""

from fwtrack.plot.charts import bar, histogram, line, line_series, scatter
from fwtrack.plot.custom_chart import CustomChart, plot_table
from fwtrack.plot.metrics import confusion_matrix, pr_curve, roc_curve

__all__ = [
    "CustomChart",
    "bar",
    "confusion_matrix",
    "histogram",
    "line",
    "line_series",
    "plot_table",
    "pr_curve",
    "roc_curve",
    "scatter",
]
