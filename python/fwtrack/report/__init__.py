"""Reports from Python: `fwtrack.Report(project, title, blocks=[...]).save()` returns the
report's URL (docs/reports.md, "Python"). Block names follow `wandb_workspaces.reports.v2`::

    import fwtrack
    from fwtrack import report as fr

    url = fwtrack.Report(
        "mnist",
        "Learning rate sweep",
        blocks=[
            fr.H1("Results"),
            fr.Markdown("The loss of every run with `lr > 0.01`:"),
            fr.LinePlot(runs="config.lr > 0.01", y=["train/loss"], smoothing=0.6),
        ],
    ).save()
"""

from __future__ import annotations

from fwtrack.report.blocks import (
    H1,
    H2,
    H3,
    BarPlot,
    Block,
    Grouping,
    Histogram,
    Image,
    Lineage,
    LinePlot,
    Markdown,
    MediaBrowser,
    P,
    ParallelCoordinates,
    ParallelCoordinatesPlot,
    RunComparer,
    Runset,
    RunsTable,
    ScalarChart,
    block_from_json,
)
from fwtrack.report.report import Report, load

__all__ = [
    "H1",
    "H2",
    "H3",
    "BarPlot",
    "Block",
    "Grouping",
    "Histogram",
    "Image",
    "LinePlot",
    "Lineage",
    "Markdown",
    "MediaBrowser",
    "P",
    "ParallelCoordinates",
    "ParallelCoordinatesPlot",
    "Report",
    "RunComparer",
    "RunsTable",
    "Runset",
    "ScalarChart",
    "block_from_json",
    "load",
]
