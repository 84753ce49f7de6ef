"""Real runs and a report with one block of each panel type, for `report_panels.spec.ts`.

report_panels_fixtures.py --url URL --key KEY --work DIR --out seeded.json
    logs three runs online to project `admin/report-panels-e2e` of the server at URL as KEY:
    config `lr` and `seed`, a `loss` history of STEPS steps, a histogram `weights` at every
    step, an image `samples` at steps 0, 3 and 6 (logged by `fwtrack.Image`), summary `acc`.
    Run `prep` logs the artifact `panel-data` (a dataset), run `train` uses it. Then creates
    through the reports API one report holding a line, runs_table, parallel, media, histogram,
    scalar (bars), scalar (number), lineage and compare block. Writes what was seeded as JSON:
    the report id, and per run its lr, seed, last loss and acc.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

import fwtrack

PROJECT = "report-panels-e2e"
STEPS = 8
RUNS = {"pa": (0.001, 1), "pb": (0.01, 2), "pc": (0.1, 1)}
IMAGE_STEPS = (0, 3, 6)


def loss(step: int, lr: float) -> float:
    return round(1.0 / (step + 1) + 10 * lr, 6)


def acc(lr: float, seed: int) -> float:
    return round(0.9 - lr - 0.01 * seed, 6)


def image(step: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[:, :, 0] = step * 30
    return img


def log_runs(work: Path) -> dict[str, dict[str, float]]:
    runs: dict[str, dict[str, float]] = {}
    rng = np.random.default_rng(0)
    for run_id, (lr, seed) in RUNS.items():
        run = fwtrack.init(
            project=PROJECT, id=run_id, name=f"run-{run_id}", config={"lr": lr, "seed": seed}
        )
        for step in range(STEPS):
            row: dict[str, Any] = {
                "loss": loss(step, lr),
                "weights": fwtrack.Histogram(rng.normal(step, 1.0, size=200), num_bins=16),
            }
            if step in IMAGE_STEPS:
                row["samples"] = fwtrack.Image(image(step), caption=f"step {step}")
            run.log(row, step=step)
        run.summary["acc"] = acc(lr, seed)
        run.finish()
        runs[run_id] = {"lr": lr, "seed": seed, "loss": loss(STEPS - 1, lr), "acc": acc(lr, seed)}

    data = work / "data.csv"
    data.write_text("x,y\n1,2\n")
    prep = fwtrack.init(project=PROJECT, id="prep", name="prep", job_type="prepare")
    art = fwtrack.Artifact("panel-data", type="dataset")
    art.add_file(str(data))
    prep.log_artifact(art).wait()
    prep.finish()
    train = fwtrack.init(project=PROJECT, id="train", name="train", job_type="train")
    train.use_artifact("panel-data:latest")
    train.finish()
    return runs


def create_report(url: str, key: str) -> str:
    runs = {"filter": "config.lr > 0"}
    blocks: list[dict[str, Any]] = [
        {"id": "line", "type": "line", "runs": runs, "y": ["loss"], "title": "Loss"},
        {
            "id": "table",
            "type": "runs_table",
            "runs": runs,
            "columns": ["config.lr", "summary.acc"],
            "sort": "config.lr",
        },
        {
            "id": "parallel",
            "type": "parallel",
            "runs": runs,
            "columns": ["config.lr", "config.seed"],
            "color": "summary.acc",
        },
        {"id": "media", "type": "media", "runs": {"ids": ["pb"]}, "key": "samples", "step": 4},
        {
            "id": "hist",
            "type": "histogram",
            "runs": {"ids": ["pa"]},
            "key": "weights",
            "step": None,
        },
        {"id": "bars", "type": "scalar", "runs": runs, "key": "summary.acc", "style": "bar"},
        {
            "id": "number",
            "type": "scalar",
            "runs": runs,
            "key": "summary.acc",
            "style": "number",
            "agg": "max",
        },
        {"id": "lineage", "type": "lineage", "artifact": "panel-data:latest"},
        {"id": "compare", "type": "compare", "runs": {"ids": ["pa", "pb"]}, "diff_only": True},
    ]
    body = json.dumps({"title": "Panels", "description": "", "blocks": blocks}).encode()
    req = urllib.request.Request(
        f"{url}/api/v1/reports/admin/{PROJECT}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        report: dict[str, Any] = json.loads(resp.read())
    return str(report["id"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.environ.update(FWTRACK_BASE_URL=args.url, FWTRACK_API_KEY=args.key, FWTRACK_DIR=args.work)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    runs = log_runs(work)
    report = create_report(args.url, args.key)
    seeded = {
        "entity": "admin",
        "project": PROJECT,
        "report": report,
        "runs": runs,
        "steps": STEPS,
        "image_steps": list(IMAGE_STEPS),
    }
    Path(args.out).write_text(json.dumps(seeded))


if __name__ == "__main__":
    main()
