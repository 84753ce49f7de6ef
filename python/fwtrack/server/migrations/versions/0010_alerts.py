"""Alerts: the alerts a run raised (`fwtrack.alert`), stored as its log is ingested, in log
order (`seq`), listed on the run page and sent to the team's webhooks as `run.alert`
(`fwtrack.server.alerts`, docs/alerts.md).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column(
            "run_pk",
            sa.Integer(),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alerts")
