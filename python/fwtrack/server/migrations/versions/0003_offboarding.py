"""Offboarding and login throttling: disabled users, expiring API keys, one case-insensitive
namespace for user and team names, and the failed-login counters.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("disabled_at", sa.Double(), nullable=True))
    op.add_column("api_keys", sa.Column("expires_at", sa.Double(), nullable=True))
    op.create_table(
        "entity_names",
        sa.Column("name_key", sa.String(64), primary_key=True),
    )
    # Existing names that differ only by case (created before this revision) share one row:
    # they keep working, and no new name may take their lowercased form.
    op.execute(
        "INSERT INTO entity_names (name_key) SELECT DISTINCT lower(n.name) FROM "
        "(SELECT name FROM users UNION SELECT name FROM teams) AS n"
    )
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.Double(), nullable=True),
        sa.Column("last_failure_at", sa.Double(), nullable=True),
        sa.Column("locked_until", sa.Double(), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_table("entity_names")
    op.drop_column("api_keys", "expires_at")
    op.drop_column("users", "disabled_at")
