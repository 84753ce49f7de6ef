"""The dashboard: saved layouts (one JSON document per project) and each run's flattened
config/summary keys with their hash (the column picker reads one row per distinct set).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_BATCH = 500


def _flat(doc: Mapping[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    # A copy of fwtrack.server.fields.flat_keys as of this revision.
    out: list[str] = []
    for key, value in doc.items():
        if isinstance(value, Mapping) and depth < 32:
            out += _flat(value, f"{prefix}{key}.", depth + 1)
        else:
            out.append(f"{prefix}{key}")
    return out


def _field_keys(config: Any, summary: Any) -> tuple[str, str]:
    doc = {
        "config": sorted(set(_flat(config))) if isinstance(config, Mapping) else [],
        "summary": sorted(set(_flat(summary))) if isinstance(summary, Mapping) else [],
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    return text, hashlib.sha1(text.encode("utf-8")).hexdigest()


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("layout", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.add_column("runs", sa.Column("field_keys", sa.Text(), nullable=True))
    op.add_column("runs", sa.Column("field_keys_hash", sa.String(40), nullable=True))
    op.create_index("ix_runs_project_fields", "runs", ["project_id", "field_keys_hash"])
    runs = sa.table(
        "runs",
        sa.column("id", sa.Integer()),
        sa.column("config", sa.JSON()),
        sa.column("summary", sa.JSON()),
        sa.column("field_keys", sa.Text()),
        sa.column("field_keys_hash", sa.String(40)),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(runs.c.id, runs.c.config, runs.c.summary)
            .where(runs.c.id > last)
            .order_by(runs.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for pk, config, summary in rows:
            text, digest = _field_keys(config, summary)
            bind.execute(
                sa.update(runs)
                .where(runs.c.id == pk)
                .values(field_keys=text, field_keys_hash=digest)
            )
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_runs_project_fields", "runs")
    op.drop_column("runs", "field_keys_hash")
    op.drop_column("runs", "field_keys")
    op.drop_table("workspaces")
