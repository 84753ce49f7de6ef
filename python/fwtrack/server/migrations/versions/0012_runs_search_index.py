"""The runs list at 100,000 runs: the project's name index also holds the run id, so a text
search (a substring of the name or the id) and its count read that index alone instead of
every run's row with its config and summary.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index("ix_runs_project_name", table_name="runs")
    op.create_index("ix_runs_project_name", "runs", ["project_id", "name", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_project_name", table_name="runs")
    op.create_index("ix_runs_project_name", "runs", ["project_id", "name"])
