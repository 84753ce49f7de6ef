"""The config and summary keys of runs, for the dashboard's column picker.

Each run row keeps its flattened keys (`field_keys`, canonical JSON) and their hash; runs of a
project mostly share one set of keys, so `GET /runs/{entity}/{project}/fields` reads one row
per distinct set (an index scan on `(project_id, field_keys_hash)`) instead of walking every
run's JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack.server.db import Run

__all__ = ["flat_keys", "keys_of_project", "run_field_keys"]

_MAX_DEPTH = 32


def flat_keys(doc: Mapping[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    """Keys of `doc` with nested objects walked (parts joined with `.`, as `config.<key>`
    filters name them); lists and scalars are leaves, empty objects have no keys."""
    out: list[str] = []
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < _MAX_DEPTH:
            out += flat_keys(value, name + ".", depth + 1)
        else:
            out.append(name)
    return out


def run_field_keys(config: Any, summary: Any) -> tuple[str, str]:
    """`(field_keys, field_keys_hash)` of a run: canonical JSON `{"config": [...], "summary":
    [...]}` (sorted keys) and its SHA-1 in hex."""
    doc = {
        "config": sorted(set(flat_keys(config))) if isinstance(config, Mapping) else [],
        "summary": sorted(set(flat_keys(summary))) if isinstance(summary, Mapping) else [],
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return text, hashlib.sha1(text.encode("utf-8")).hexdigest()


def keys_of_project(session: Session, project_id: int) -> dict[str, list[str]]:
    """Sorted union of the runs' config and summary keys: `{"config": [...], "summary": [...]}`."""
    one_per_set = (
        sa.select(sa.func.min(Run.id))
        .where(Run.project_id == project_id)
        .group_by(Run.field_keys_hash)
    )
    texts = session.scalars(sa.select(Run.field_keys).where(Run.id.in_(one_per_set))).all()
    config: set[str] = set()
    summary: set[str] = set()
    for text in texts:
        if not text:
            continue
        doc = json.loads(text)
        config.update(doc.get("config") or ())
        summary.update(doc.get("summary") or ())
    return {"config": sorted(config), "summary": sorted(summary)}
