"""Reports and collaboration: reports with their saved versions and image assets, comments
and mentions, team invitations and the audit of admin actions (docs/reports.md,
docs/collaboration.md). A team member's role may now also be `viewer` (read and comment).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("report_id", sa.String(16), nullable=False, unique=True),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("frozen_at", sa.Double(), nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
    )
    op.create_table(
        "report_versions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "report_pk", _ID, sa.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("blocks", sa.JSON(), nullable=False),
        sa.Column("frozen_at", sa.Double(), nullable=True),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("note", sa.String(256), nullable=False, server_default=""),
        sa.UniqueConstraint("report_pk", "version", name="uq_report_versions_report_pk"),
    )
    op.create_table(
        "report_assets",
        sa.Column(
            "report_pk",
            _ID,
            sa.ForeignKey("reports.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "blob_id",
            _ID,
            sa.ForeignKey("blobs.id", ondelete="RESTRICT"),
            primary_key=True,
            index=True,
        ),
        sa.Column("media_type", sa.String(64), nullable=False),
    )
    op.create_table(
        "comments",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("target_key", sa.String(300), nullable=False),
        sa.Column(
            "parent_id", _ID, sa.ForeignKey("comments.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column(
            "author_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("edited_at", sa.Double(), nullable=True),
        sa.Column("deleted_at", sa.Double(), nullable=True),
        sa.Index("ix_comments_target", "entity", "target", "target_key"),
    )
    op.create_table(
        "mentions",
        sa.Column(
            "comment_id",
            _ID,
            sa.ForeignKey("comments.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("read_at", sa.Double(), nullable=True),
    )
    op.create_table(
        "invitations",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "team_id",
            sa.Integer(),
            sa.ForeignKey("teams.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("note", sa.String(256), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("used_at", sa.Double(), nullable=True),
        sa.Column("used_by", sa.String(64), nullable=True),
        sa.Column("revoked_at", sa.Double(), nullable=True),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("at", sa.Double(), nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("entity", sa.String(64), nullable=True, index=True),
        sa.Column("target", sa.String(300), nullable=False, server_default=""),
        sa.Column("detail", sa.JSON(), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "audit_events",
        "invitations",
        "mentions",
        "comments",
        "report_assets",
        "report_versions",
        "reports",
    ):
        op.drop_table(table)
