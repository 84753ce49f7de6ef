"""Artifacts: collections (a name in a project), their immutable versions with manifests,
aliases, the blobs each version's manifest names (kept from the collector), and the lineage
edges between runs and versions (`fwtrack.server.artifacts`, docs/server.md "Artifacts").

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "artifact_collections",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_artifact_collections_project_name"),
    )
    op.create_table(
        "artifact_versions",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "collection_id",
            _ID,
            sa.ForeignKey("artifact_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "run_pk", sa.Integer(), sa.ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "created_by",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.UniqueConstraint("collection_id", "index", name="uq_artifact_versions_collection_index"),
        sa.UniqueConstraint(
            "collection_id", "digest", name="uq_artifact_versions_collection_digest"
        ),
        sa.UniqueConstraint("client_id", name="uq_artifact_versions_client_id"),
    )
    op.create_index("ix_artifact_versions_run_pk", "artifact_versions", ["run_pk"])
    op.create_table(
        "artifact_aliases",
        sa.Column(
            "collection_id",
            _ID,
            sa.ForeignKey("artifact_collections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("alias", sa.String(128), primary_key=True),
        sa.Column(
            "version_id",
            _ID,
            sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
    )
    op.create_index("ix_artifact_aliases_version_id", "artifact_aliases", ["version_id"])
    op.create_table(
        "artifact_manifests",
        sa.Column(
            "version_id",
            _ID,
            sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("address", sa.String(80), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "artifact_blobs",
        sa.Column(
            "version_id",
            _ID,
            sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("blob_id", _ID, sa.ForeignKey("blobs.id", ondelete="RESTRICT"), primary_key=True),
    )
    op.create_index("ix_artifact_blobs_blob_id", "artifact_blobs", ["blob_id"])
    op.create_table(
        "artifact_edges",
        sa.Column("id", _ID, primary_key=True),
        sa.Column(
            "run_pk", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column(
            "project_id",
            sa.Integer(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("ref", sa.String(512), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.UniqueConstraint(
            "run_pk", "direction", "project_id", "name", "digest", name="uq_artifact_edges_key"
        ),
    )
    op.create_index("ix_artifact_edges_target", "artifact_edges", ["project_id", "name", "digest"])


def downgrade() -> None:
    op.drop_index("ix_artifact_edges_target", table_name="artifact_edges")
    op.drop_table("artifact_edges")
    op.drop_index("ix_artifact_blobs_blob_id", table_name="artifact_blobs")
    op.drop_table("artifact_blobs")
    op.drop_table("artifact_manifests")
    op.drop_index("ix_artifact_aliases_version_id", table_name="artifact_aliases")
    op.drop_table("artifact_aliases")
    op.drop_index("ix_artifact_versions_run_pk", table_name="artifact_versions")
    op.drop_table("artifact_versions")
    op.drop_table("artifact_collections")
