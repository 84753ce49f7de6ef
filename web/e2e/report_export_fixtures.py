"""Runs and a report for `report_export.spec.ts`.

report_export_fixtures.py --url URL --key KEY --work DIR --out seeded.json
    logs three runs online to project `admin/report-export-e2e` of the server at URL as KEY
    (config `lr`, a `loss` history of STEPS steps, summary `acc`), then creates through the
    reports API a report of a markdown block with a heading and math, a line panel of `loss`,
    a runs table and a scalar panel (the largest `acc`, number style). Writes what was seeded as
    JSON: entity, project, report id and title, and per run its last loss, lr and acc.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import fwtrack

PROJECT = "report-export-e2e"
STEPS = 12
LRS = {"exp-a": 0.001, "exp-b": 0.01, "exp-c": 0.1}
TITLE = "Export study: lr </script> & math"
MARKDOWN = (
    "## Learning rates\n\n"
    "The loss we minimize is $L = \\frac{1}{n} \\sum_{i=1}^{n} \\ell_i$, and\n\n"
    "$$\\sigma(z) = \\frac{1}{1 + e^{-z}}$$\n\n"
    "- three runs\n- one per `lr`\n"
)


def loss(step: int, lr: float) -> float:
    return round(1.0 / (step + 1) + 10 * lr, 6)


def acc(lr: float) -> float:
    return round(0.9 - lr, 6)


def seed(url: str, key: str, out: Path) -> None:
    runs: dict[str, dict[str, float]] = {}
    for run_id, lr in LRS.items():
        run = fwtrack.init(project=PROJECT, id=run_id, name=run_id, config={"lr": lr})
        for step in range(STEPS):
            run.log({"loss": loss(step, lr)}, step=step)
        run.summary["acc"] = acc(lr)
        run.finish()
        runs[run_id] = {"lr": lr, "loss": loss(STEPS - 1, lr), "acc": acc(lr)}
    runset = {"filter": "config.lr > 0"}
    blocks: list[dict[str, Any]] = [
        {"id": "intro", "type": "markdown", "text": MARKDOWN},
        {"id": "loss", "type": "line", "runs": runset, "y": ["loss"], "title": "Loss"},
        {
            "id": "table",
            "type": "runs_table",
            "runs": runset,
            "columns": ["name", "config.lr", "summary.acc"],
            "sort": "name",
            "title": "Runs",
        },
        {
            "id": "best",
            "type": "scalar",
            "runs": runset,
            "key": "summary.acc",
            "style": "number",
            "agg": "max",
            "title": "Best accuracy",
        },
    ]
    body = json.dumps({"title": TITLE, "description": "", "blocks": blocks}).encode()
    req = urllib.request.Request(
        f"{url}/api/v1/reports/admin/{PROJECT}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        report = json.loads(resp.read())
    seeded = {
        "entity": "admin",
        "project": PROJECT,
        "report": report["id"],
        "title": TITLE,
        "runs": runs,
        "best_acc": max(r["acc"] for r in runs.values()),
    }
    out.write_text(json.dumps(seeded))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ.update(FWTRACK_BASE_URL=args.url, FWTRACK_API_KEY=args.key, FWTRACK_DIR=args.work)
    seed(args.url, args.key, Path(args.out))


if __name__ == "__main__":
    main()
