"""Two runs whose ids pick the same palette entry by hash, for `colors.spec.ts`.

colors_fixtures.py --url URL --key KEY --work DIR --out seeded.json
    logs runs `clash-<i>` and `clash-<j>` (the first two ids of that form whose hash, the
    dashboard's `hash32(id) % 12`, is equal) online to project `admin/colors-e2e` of the
    server at URL as KEY, and a third run `other-0`; writes the ids and their shared entry.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fixtures import _small_run, go_online

PROJECT = "colors-e2e"
PALETTE_SIZE = 12  # web/src/lib/colors.ts PALETTE


def hash32(s: str) -> int:
    """web/src/lib/colors.ts `hash32`: FNV-1a over UTF-16 code units, then an avalanche."""
    h = 0x811C9DC5
    for unit in s.encode("utf-16-le")[::2]:
        h = ((h ^ unit) * 0x01000193) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    return h


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    seen: dict[int, str] = {}
    clash: list[str] = []
    for i in range(100):
        run_id = f"clash-{i}"
        slot = hash32(run_id) % PALETTE_SIZE
        if slot in seen:
            clash = [seen[slot], run_id]
            break
        seen[slot] = run_id
    go_online(args.url, args.key)
    root = Path(args.work)
    for n, run_id in enumerate([*clash, "other-0"]):
        spec = {"name": run_id, "config": {"lr": 0.01 * (n + 1)}, "tags": [], "steps": 20}
        _small_run(PROJECT, run_id, spec, root)
    seeded = {
        "entity": "admin",
        "project": PROJECT,
        "clash": clash,
        "slot": hash32(clash[0]) % PALETTE_SIZE,
        "other": "other-0",
    }
    Path(args.out).write_text(json.dumps(seeded, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
