"""Runs whose every user-controlled string is markup, for `injection.spec.ts`.

injection_fixtures.py --url URL --key KEY --work DIR --out expected.json [--label TEXT...]
    logs two runs online (FWTRACK_BASE_URL/FWTRACK_API_KEY) to `admin/injection` of the server
    at URL: run names, tags, notes, group, job type, config keys and values, summary keys and
    values, metric and histogram keys, console lines (stdout and stderr), the command line
    (the `--label` arguments, recorded in the run's metadata), a table's column names and
    cells, media captions and keys, an html media value, and the text of saved files all
    carry script-injection payloads. Then saves a workspace layout whose added panel plots
    one payload metric against another. Writes the payloads and keys as JSON.

Names the server restricts (entity, project, run id, file names) stay plain.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from fixtures import go_online, request_json  # beside this script (run as a script)

import fwtrack

PROJECT = "injection"
IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=1</script>"
JS = "javascript:window.__pwned=1"
SVG = '"><svg onload=window.__pwned=1>'
PAYLOADS = [IMG, SCRIPT, JS, SVG]

# metric keys: one per section shape (a payload section, a payload leaf, no section)
KEY_LEAF = f"train/{IMG}"
KEY_SECTION = f"{SVG}/loss"
KEY_BARE = SCRIPT
HIST_KEY = f"weights/{IMG}"
MEDIA_IMAGE = f"examples/{SVG}"
MEDIA_HTML = "examples/html"
MEDIA_TABLE = f"tables/{IMG}"
TABLE_COLUMNS = [IMG, SVG, "link", "n"]


def _run(run_id: str, name: str, root: Path, lr: float) -> None:
    run = fwtrack.init(
        project=PROJECT,
        id=run_id,
        name=name,
        config={
            IMG: SCRIPT,
            "link": JS,
            "lr": lr,
            "nested": {SVG: IMG, "homepage": JS},
        },
        tags=PAYLOADS,
        notes=f"notes {SCRIPT} {IMG} {JS} {SVG}",
        group=SVG,
        job_type=JS,
        dir=root,
    )
    for line in PAYLOADS:
        print(f"stdout {line}", flush=True)
        print(f"stderr {line}", file=sys.stderr, flush=True)
    rng = np.random.default_rng(7)
    for step in range(12):
        row: dict[str, Any] = {
            KEY_LEAF: 1.0 / (step + 1) + lr,
            KEY_SECTION: 2.0 / (step + 1) + lr,
            KEY_BARE: float(step) * lr,
        }
        if step % 4 == 0:
            row[HIST_KEY] = fwtrack.Histogram(rng.normal(step, 1.0, size=200), num_bins=8)
        if step == 0:
            pixels = np.zeros((16, 16, 3), dtype=np.uint8)
            pixels[4:12, 4:12] = 255
            row[MEDIA_IMAGE] = fwtrack.Image(pixels, caption=IMG)
            row[MEDIA_HTML] = fwtrack.Html(
                f"<h1>report {SVG}</h1>{SCRIPT}"
                '<img src=x onerror="parent.__pwned=1;top.__pwned=1">'
                '<a id="js" href="javascript:top.__pwned=1">js</a>'
            )
            table = fwtrack.Table(columns=TABLE_COLUMNS)
            table.add_data(SCRIPT, IMG, JS, 1)
            table.add_data(SVG, SCRIPT, JS, 2)
            row[MEDIA_TABLE] = table
        run.log(row, step=step)
    run.summary[SCRIPT] = IMG
    run.summary["homepage"] = JS
    run.summary[SVG] = {IMG: SCRIPT}
    payload_text = "\n".join(PAYLOADS) + "\n"
    for file_name, text in (
        ("payload.txt", payload_text),
        ("payload.html", f"<!doctype html>{payload_text}"),
        ("payload.json", json.dumps({IMG: SCRIPT, "link": JS, SVG: [SVG]})),
        ("payload.patch", "".join(f"+{p}\n-{p}\n" for p in PAYLOADS)),
    ):
        src = root / f"{run_id}-{file_name}"
        src.write_text(text)
        run.save(src, name=file_name)
    run.finish()


def main() -> int:
    parser = argparse.ArgumentParser(description="Runs with markup in every string")
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--label", nargs="*", default=[], help="only recorded (command line)")
    args = parser.parse_args()
    go_online(args.url, args.key)
    root = Path(args.work) / "injection-client"
    root.mkdir(parents=True, exist_ok=True)
    runs = {"inj-a": f"run-a {IMG}", "inj-b": f"run-b {SVG}"}
    for i, (run_id, name) in enumerate(runs.items()):
        _run(run_id, name, root, 0.1 * (i + 1))
    layout = {
        "version": 1,
        "added": [{"id": "payload-panel", "key": KEY_LEAF, "options": {"x": KEY_BARE}}],
    }
    request_json(
        f"{args.url}/api/v1/projects/admin/{PROJECT}/workspace", args.key, "PUT", {"charts": layout}
    )
    expected = {
        "project": PROJECT,
        "runs": runs,
        "payloads": PAYLOADS,
        "keys": {"leaf": KEY_LEAF, "section": KEY_SECTION, "bare": KEY_BARE, "hist": HIST_KEY},
        "media": {"image": MEDIA_IMAGE, "html": MEDIA_HTML, "table": MEDIA_TABLE},
        "table_columns": TABLE_COLUMNS,
        "files": ["payload.txt", "payload.html", "payload.json", "payload.patch"],
    }
    Path(args.out).write_text(json.dumps(expected, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
