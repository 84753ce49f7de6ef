"""Content-addressed blobs: one row per blob an entity keeps (shared by its runs), and each
run's file manifest (path → blob). Files stored before this revision (under
`<data>/blobs/<project id>/<run id>/files/`) are imported into the store at the next start
(`fwtrack.server.legacy`).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("address", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("stored", sa.Boolean(), nullable=False),
        sa.Column("candidate", sa.Boolean(), nullable=False),
        sa.Column("touched_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("entity", "address", name="uq_blobs_entity_address"),
    )
    op.create_index("ix_blobs_candidate", "blobs", ["candidate", "touched_at"])
    op.create_table(
        "run_files",
        sa.Column(
            "run_pk",
            sa.Integer(),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("path", sa.String(512), primary_key=True),
        sa.Column(
            "blob_id",
            _ID,
            sa.ForeignKey("blobs.id", ondelete="RESTRICT"),
            nullable=False,
        ),
        sa.Column("size", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_run_files_blob_id", "run_files", ["blob_id"])


def downgrade() -> None:
    op.drop_index("ix_run_files_blob_id", table_name="run_files")
    op.drop_table("run_files")
    op.drop_index("ix_blobs_candidate", table_name="blobs")
    op.drop_table("blobs")
