"""Large blobs through presigned URLs: one row per multipart upload under way into the
bucket (one per entity and address), so that any server process resumes, completes or
aborts it (`fwtrack.server.store.presign`, docs/server.md "Large blobs").

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "blob_uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("address", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("upload_id", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("touched_at", sa.Double(), nullable=False),
        sa.Column("completing_at", sa.Double(), nullable=True),
        sa.UniqueConstraint("entity", "address", name="uq_blob_uploads_entity_address"),
    )
    op.create_index("ix_blob_uploads_touched_at", "blob_uploads", ["touched_at"])


def downgrade() -> None:
    op.drop_index("ix_blob_uploads_touched_at", table_name="blob_uploads")
    op.drop_table("blob_uploads")
