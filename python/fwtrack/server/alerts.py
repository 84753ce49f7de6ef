"""A run's alerts on the server: stored in SQL as its log is ingested, listed by
`routes/alerts.py`, and sent to the entity's webhooks as `run.alert` (docs/alerts.md).

The history index folds every `Alert` record of a log into its metadata (`meta["alerts"]`, in
log order), so storing is comparing: the alerts past the ones the `alerts` table already holds
for the run are new. That happens in the transaction that records the upload (the run row
locked on PostgreSQL), so an alert is stored, and its webhook deliveries recorded, exactly once
however the upload is retried or healed after a crash.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack.server import webhooks
from fwtrack.server.db import Alert, Project, Run
from fwtrack.server.jsonutil import clean_text

__all__ = ["LEVELS", "MAX_TEXT", "MAX_TITLE", "clean", "list_alerts", "store_alerts"]

LEVELS = ("INFO", "WARN", "ERROR")
MAX_TITLE = 1024
"""Longest title kept (characters)."""
MAX_TEXT = 65536
"""Longest text kept (characters)."""


def clean(alert: Any) -> dict[str, Any]:
    """An alert of the index metadata as stored: `ts`, `title`, `text`, `level`."""
    if not isinstance(alert, dict):
        alert = {}  # kept as an empty alert: the numbering stays the log's
    ts = alert.get("ts")
    if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
        ts = 0.0
    level = alert.get("level")
    return {
        "ts": float(ts),
        "title": clean_text(str(alert.get("title") or ""))[:MAX_TITLE],
        "text": clean_text(str(alert.get("text") or ""))[:MAX_TEXT],
        "level": level if level in LEVELS else "INFO",
    }


def store_alerts(session: Session, project: Project, row: Run, meta: dict[str, Any]) -> int:
    """Store the alerts of `meta["alerts"]` that `row`'s run has not stored yet and record a
    `run.alert` webhook delivery for each; the number stored (call `webhooks.wake` after the
    commit when it is not 0)."""
    found = meta.get("alerts")
    if not isinstance(found, list) or not found:
        return 0
    have = session.scalar(sa.select(sa.func.count()).where(Alert.run_pk == row.id)) or 0
    added = 0
    for seq in range(int(have), len(found)):
        alert = clean(found[seq])
        session.add(Alert(run_pk=row.id, seq=seq, **alert))
        webhooks.enqueue(
            session,
            project.entity,
            webhooks.RUN_ALERT,
            {
                "project": project.name,
                "run": row.run_id,
                "run_name": row.name,
                "alert": {"seq": seq, **alert},
            },
        )
        added += 1
    return added


def list_alerts(
    session: Session, run_pk: int, offset: int = 0, limit: int = 1000
) -> tuple[list[dict[str, Any]], int]:
    """A page of a run's alerts in log order, and how many it has."""
    total = session.scalar(sa.select(sa.func.count()).where(Alert.run_pk == run_pk)) or 0
    rows = session.scalars(
        sa.select(Alert)
        .where(Alert.run_pk == run_pk)
        .order_by(Alert.seq)
        .offset(offset)
        .limit(limit)
    ).all()
    out = [
        {"seq": a.seq, "ts": a.ts, "title": a.title, "text": a.text, "level": a.level} for a in rows
    ]
    return out, int(total)
