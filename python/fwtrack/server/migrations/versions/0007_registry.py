"""Model registry: team roles, registered models of an entity, their versions (links to
artifact versions), aliases, maintainers and the audit trail (`fwtrack.server.registry`,
docs/server.md "Model registry").

Every membership that exists before this revision becomes an admin: until now every member
could manage the team.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "team_members",
        sa.Column("role", sa.String(16), nullable=False, server_default="member"),
    )
    op.execute("UPDATE team_members SET role = 'admin'")
    op.create_table(
        "registered_models",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("entity", sa.String(64), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("protected_aliases", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.UniqueConstraint("entity", "name", name="uq_registered_models_entity_name"),
    )
    op.create_table(
        "registered_model_maintainers",
        sa.Column(
            "model_id",
            _ID,
            sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_table(
        "registered_model_versions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "model_id",
            _ID,
            sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column(
            "artifact_version_id",
            _ID,
            sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("linked_at", sa.Double(), nullable=False),
        sa.Column(
            "linked_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column(
            "run_pk", sa.Integer(), sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
        ),
        sa.UniqueConstraint("model_id", "index", name="uq_registered_model_versions_model_index"),
        sa.UniqueConstraint(
            "model_id",
            "artifact_version_id",
            name="uq_registered_model_versions_model_artifact",
        ),
    )
    op.create_index(
        "ix_registered_model_versions_artifact",
        "registered_model_versions",
        ["artifact_version_id"],
    )
    op.create_table(
        "registered_model_aliases",
        sa.Column(
            "model_id",
            _ID,
            sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column(
            "version_id",
            _ID,
            sa.ForeignKey("registered_model_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_registered_model_aliases_version_id", "registered_model_aliases", ["version_id"]
    )
    op.create_table(
        "registry_audit",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "model_id",
            _ID,
            sa.ForeignKey("registered_models.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("user", sa.String(64), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(128), nullable=True),
        sa.Column("from_version", sa.String(16), nullable=True),
        sa.Column("to_version", sa.String(16), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_registry_audit_model_at", "registry_audit", ["model_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_registry_audit_model_at", table_name="registry_audit")
    op.drop_table("registry_audit")
    op.drop_index("ix_registered_model_aliases_version_id", table_name="registered_model_aliases")
    op.drop_table("registered_model_aliases")
    op.drop_index("ix_registered_model_versions_artifact", table_name="registered_model_versions")
    op.drop_table("registered_model_versions")
    op.drop_table("registered_model_maintainers")
    op.drop_table("registered_models")
    with op.batch_alter_table("team_members") as batch:
        batch.drop_column("role")
