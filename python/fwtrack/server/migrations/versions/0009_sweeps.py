"""Sweeps: the sweeps of a project, their agents and trials (`fwtrack.sweeps.controller`,
docs/sweeps.md), and `runs.sweep_id`, the sweep a run is a trial of.

No foreign key leaves the three sweep tables: the local sweep store creates just them.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("run_cap", sa.Integer(), nullable=True),
        sa.Column("next_number", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_sweeps_entity_project_created", "sweeps", ["entity", "project", "created_at"]
    )
    op.create_table(
        "sweep_agents",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "sweep_id",
            sa.String(16),
            sa.ForeignKey("sweeps.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("heartbeat_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_sweep_agents_sweep_id", "sweep_agents", ["sweep_id"])
    op.create_table(
        "sweep_trials",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "sweep_id",
            sa.String(16),
            sa.ForeignKey("sweeps.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("past_run_ids", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("grid_key", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column(
            "agent_id",
            _ID,
            sa.ForeignKey("sweep_agents.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=True),
        sa.Column("heartbeat_at", sa.Double(), nullable=True),
        sa.Column("ended_at", sa.Double(), nullable=True),
        sa.UniqueConstraint("sweep_id", "number", name="uq_sweep_trials_sweep_number"),
        sa.UniqueConstraint("sweep_id", "grid_key", name="uq_sweep_trials_sweep_grid_key"),
        sa.UniqueConstraint("sweep_id", "run_id", name="uq_sweep_trials_sweep_run"),
    )
    op.create_index("ix_sweep_trials_sweep_state", "sweep_trials", ["sweep_id", "state"])
    op.create_index("ix_sweep_trials_agent_id", "sweep_trials", ["agent_id"])
    op.add_column("runs", sa.Column("sweep_id", sa.String(16), nullable=True))
    op.create_index("ix_runs_project_sweep", "runs", ["project_id", "sweep_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_project_sweep", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("sweep_id")
    op.drop_index("ix_sweep_trials_agent_id", table_name="sweep_trials")
    op.drop_index("ix_sweep_trials_sweep_state", table_name="sweep_trials")
    op.drop_table("sweep_trials")
    op.drop_index("ix_sweep_agents_sweep_id", table_name="sweep_agents")
    op.drop_table("sweep_agents")
    op.drop_index("ix_sweeps_entity_project_created", table_name="sweeps")
    op.drop_table("sweeps")
