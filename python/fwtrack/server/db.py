"""SQL metadata: the ORM models, the engine (SQLite or PostgreSQL) and migrations at start.

The run log in the blob store is the truth about a run; the `runs` row is a cache of what the
history index knows about it (name, tags, config, summary, state, keys, ...) so that listing and
filtering runs happens in SQL.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from fwtrack.server.filemodes import FILE_MODE, private_dir, private_file, tighten

__all__ = [
    "Alert",
    "ApiKey",
    "ArtifactAlias",
    "ArtifactBlob",
    "ArtifactCollection",
    "ArtifactEdge",
    "ArtifactManifest",
    "ArtifactVersion",
    "Base",
    "Blob",
    "BlobUpload",
    "Database",
    "EntityName",
    "LoginThrottle",
    "Project",
    "RegisteredModel",
    "RegisteredModelAlias",
    "RegisteredModelMaintainer",
    "RegisteredModelVersion",
    "RegistryAudit",
    "Run",
    "RunFileRow",
    "Sweep",
    "SweepAgent",
    "SweepTrial",
    "Team",
    "TeamMember",
    "User",
    "Webhook",
    "WebhookDelivery",
    "Workspace",
    "now",
]

_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x66777472  # "fwtr": the advisory lock id taken while migrating


def now() -> float:
    """The current time as Unix seconds (the API's time format)."""
    return time.time()


class Base(DeclarativeBase):
    """Declarative base of the server's tables."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: sa.JSON,
        list[str]: sa.JSON,
        float: sa.Double,
    }


class User(Base):
    """A person (or a service) with API keys; its name is also an entity."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(256), default=None)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[float] = mapped_column(default=now)
    # Set while an admin has disabled the user: its keys and password do not work.
    disabled_at: Mapped[float | None] = mapped_column(default=None)


class EntityName(Base):
    """Every user and team name, lowercased: one primary key makes the names of users and
    teams unique together and regardless of case, even for concurrent creates."""

    __tablename__ = "entity_names"

    name_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class LoginThrottle(Base):
    """Failed `POST /login` attempts of one username (`user:<name lowercased>`) or one client
    address (`addr:<address>`), shared by every server process (fwtrack.server.throttle)."""

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[float | None] = mapped_column(default=None)
    last_failure_at: Mapped[float | None] = mapped_column(default=None)
    locked_until: Mapped[float | None] = mapped_column(default=None)
    lockouts: Mapped[int] = mapped_column(default=0)


class Team(Base):
    """A group of users; its name is an entity that every member reaches."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[float] = mapped_column(default=now)


class TeamMember(Base):
    """Membership of a user in a team."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # "admin" (manages the team: members, roles, its webhooks and protected aliases),
    # "member" (reads and writes) or "viewer" (reads and comments; every write is refused).
    role: Mapped[str] = mapped_column(sa.String(16), default="member", server_default="member")


class ApiKey(Base):
    """An API key: only its SHA-256 (hex) and a short prefix for display are stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.String(256), default="")
    created_at: Mapped[float] = mapped_column(default=now)
    last_used_at: Mapped[float | None] = mapped_column(default=None)
    revoked_at: Mapped[float | None] = mapped_column(default=None)
    expires_at: Mapped[float | None] = mapped_column(default=None)


class Project(Base):
    """A project of an entity (a user's or a team's name)."""

    __tablename__ = "projects"
    __table_args__ = (sa.UniqueConstraint("entity", "name", name="uq_projects_entity_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(128))
    created_at: Mapped[float] = mapped_column(default=now)
    last_activity: Mapped[float] = mapped_column(default=now)


class Run(Base):
    """A run: identity, the fields derived from its log, and the user's edits."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "run_id", name="uq_runs_project_run"),
        sa.Index("ix_runs_project_created", "project_id", "created_at"),
        sa.Index("ix_runs_project_updated", "project_id", "updated_at"),
        # name sort, and text search (name or id) read from the index alone
        sa.Index("ix_runs_project_name", "project_id", "name", "run_id"),
        sa.Index("ix_runs_project_fields", "project_id", "field_keys_hash"),
        sa.Index("ix_runs_project_sweep", "project_id", "sweep_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(256), default="")
    state: Mapped[str] = mapped_column(sa.String(16), default="running")
    tags: Mapped[list[str]] = mapped_column(default=list)
    notes: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_at: Mapped[float] = mapped_column(default=now)
    updated_at: Mapped[float] = mapped_column(default=now)
    heartbeat_at: Mapped[float] = mapped_column(default=now)
    runtime: Mapped[float] = mapped_column(default=0.0)
    exit_code: Mapped[int | None] = mapped_column(default=None)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    keys: Mapped[list[str]] = mapped_column(default=list)
    log_size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # The sequence number the next uploaded frame must start at or above (valid for log_size).
    next_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Fields the user changed with PATCH (name, tags, notes): the log no longer overrides them.
    edited: Mapped[list[str]] = mapped_column(default=list)
    # The flattened config and summary keys (fwtrack.server.fields) and their hash, so the
    # dashboard's column picker reads one row per distinct set of keys.
    field_keys: Mapped[str | None] = mapped_column(sa.Text, default=None)
    field_keys_hash: Mapped[str | None] = mapped_column(sa.String(40), default=None)
    # The sweep whose trial this run is (the start record's `sweep_id`), else NULL.
    sweep_id: Mapped[str | None] = mapped_column(sa.String(16), default=None)


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: a rowid alias


class Blob(Base):
    """A blob kept for an entity (user or team), shared by its runs: one row per address.

    `stored` is set once the bytes are in the store and cleared by the collector before it
    removes them. `candidate` marks a blob that may have lost its last reference (new, or
    released by a deleted run or a replaced file): the collector looks at those only, once
    `touched_at` (its last upload or `blobs/missing` answer) is older than the grace period.
    """

    __tablename__ = "blobs"
    __table_args__ = (
        sa.UniqueConstraint("entity", "address", name="uq_blobs_entity_address"),
        sa.Index("ix_blobs_candidate", "candidate", "touched_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(80))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    stored: Mapped[bool] = mapped_column(default=False)
    candidate: Mapped[bool] = mapped_column(default=True)
    touched_at: Mapped[float] = mapped_column(default=now)


class BlobUpload(Base):
    """A large blob on its way straight into the bucket: the one multipart upload under way
    for an entity's address (`fwtrack.server.store.presign`). `id` names it in the API;
    `upload_id` is the bucket's. Removed when it completes (or is refused), or by the
    collector once untouched for a day."""

    __tablename__ = "blob_uploads"
    __table_args__ = (
        sa.UniqueConstraint("entity", "address", name="uq_blob_uploads_entity_address"),
        sa.Index("ix_blob_uploads_touched_at", "touched_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(80))
    size: Mapped[int] = mapped_column(sa.BigInteger)
    part_size: Mapped[int] = mapped_column(sa.BigInteger)
    upload_id: Mapped[str] = mapped_column(sa.String(1024))
    created_at: Mapped[float] = mapped_column(default=now)
    touched_at: Mapped[float] = mapped_column(default=now)
    # Set while one request completes and verifies it (a second one is told to retry).
    completing_at: Mapped[float | None] = mapped_column(default=None)


class Alert(Base):
    """An alert a run raised (`fwtrack.alert`), in log order (`seq`, from 0), stored as the
    run's log is ingested (`fwtrack.server.alerts`)."""

    __tablename__ = "alerts"

    run_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    ts: Mapped[float]
    title: Mapped[str] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text)
    level: Mapped[str] = mapped_column(sa.String(8))


class RunFileRow(Base):
    """A run's file: its path and the blob holding its bytes (the run's file manifest)."""

    __tablename__ = "run_files"

    run_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    blob_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("blobs.id", ondelete="RESTRICT"), index=True
    )
    size: Mapped[int] = mapped_column(sa.BigInteger)


class ArtifactCollection(Base):
    """An artifact's name in a project (`mnist-train`), its type and description; its
    versions are `ArtifactVersion` rows (fwtrack.server.artifacts)."""

    __tablename__ = "artifact_collections"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "name", name="uq_artifact_collections_project_name"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(128))
    type: Mapped[str] = mapped_column(sa.String(128))
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_at: Mapped[float] = mapped_column(default=now)
    updated_at: Mapped[float] = mapped_column(default=now)


class ArtifactVersion(Base):
    """One committed, immutable version `v<index>` of a collection: its digest (the content
    address of its manifest), the log call's id (`client_id`, which makes a commit
    idempotent) and the run that logged it (NULL once that run is deleted)."""

    __tablename__ = "artifact_versions"
    __table_args__ = (
        sa.UniqueConstraint("collection_id", "index", name="uq_artifact_versions_collection_index"),
        sa.UniqueConstraint(
            "collection_id", "digest", name="uq_artifact_versions_collection_digest"
        ),
        sa.UniqueConstraint("client_id", name="uq_artifact_versions_client_id"),
        sa.Index("ix_artifact_versions_run_pk", "run_pk"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("artifact_collections.id", ondelete="CASCADE")
    )
    index: Mapped[int] = mapped_column("index", sa.Integer)
    digest: Mapped[str] = mapped_column(sa.String(80))
    client_id: Mapped[str] = mapped_column(sa.String(64))
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    files: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    run_pk: Mapped[int | None] = mapped_column(
        sa.ForeignKey("runs.id", ondelete="SET NULL"), default=None
    )
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[float] = mapped_column(default=now)


class ArtifactAlias(Base):
    """An alias (`best`, `prod`) of a collection, naming one of its versions at a time
    (`latest` is never stored: it is the highest index)."""

    __tablename__ = "artifact_aliases"
    __table_args__ = (sa.Index("ix_artifact_aliases_version_id", "version_id"),)

    collection_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("artifact_collections.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    version_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE")
    )


class ArtifactManifest(Base):
    """A version's manifest: its address (the version's digest), its entries (path →
    `{"address", "size"}` or `{"ref", ...}`) and its size in bytes."""

    __tablename__ = "artifact_manifests"

    version_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), primary_key=True
    )
    address: Mapped[str] = mapped_column(sa.String(80))
    entries: Mapped[dict[str, Any]] = mapped_column()
    nbytes: Mapped[int] = mapped_column("bytes", sa.BigInteger)


class ArtifactBlob(Base):
    """A blob a committed version's manifest names (its entries' and the manifest itself):
    the collector keeps every blob a row here references, as it does for `run_files`."""

    __tablename__ = "artifact_blobs"
    __table_args__ = (sa.Index("ix_artifact_blobs_blob_id", "blob_id"),)

    version_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE"), primary_key=True
    )
    blob_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("blobs.id", ondelete="RESTRICT"), primary_key=True
    )


class ArtifactEdge(Base):
    """Lineage: run `run_pk` logged (`output`) or used (`input`) the version of
    `project_id`/`name` with `digest` (which may not be on the server yet)."""

    __tablename__ = "artifact_edges"
    __table_args__ = (
        sa.UniqueConstraint(
            "run_pk", "direction", "project_id", "name", "digest", name="uq_artifact_edges_key"
        ),
        sa.Index("ix_artifact_edges_target", "project_id", "name", "digest"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    run_pk: Mapped[int] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(sa.String(8))
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(128))
    digest: Mapped[str] = mapped_column(sa.String(80))
    ref: Mapped[str | None] = mapped_column(sa.String(512), default=None)
    created_at: Mapped[float] = mapped_column(default=now)


class RegisteredModel(Base):
    """A model in the registry of an entity (a team or a user): its name, description,
    metadata, tags and the aliases only its maintainers and the entity's admins may move
    (`fwtrack.server.registry`, docs/server.md "Model registry")."""

    __tablename__ = "registered_models"
    __table_args__ = (
        sa.UniqueConstraint("entity", "name", name="uq_registered_models_entity_name"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(128))
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    protected_aliases: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[float] = mapped_column(default=now)
    updated_at: Mapped[float] = mapped_column(default=now)
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class RegisteredModelMaintainer(Base):
    """A user who may move the protected aliases of a model (besides the entity's admins)."""

    __tablename__ = "registered_model_maintainers"

    model_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class RegisteredModelVersion(Base):
    """Model version `v<index>` of a model: a link to one artifact version (of type `model`),
    made by `linked_by` (and by run `run_pk` when a run linked it)."""

    __tablename__ = "registered_model_versions"
    __table_args__ = (
        sa.UniqueConstraint("model_id", "index", name="uq_registered_model_versions_model_index"),
        sa.UniqueConstraint(
            "model_id",
            "artifact_version_id",
            name="uq_registered_model_versions_model_artifact",
        ),
        sa.Index("ix_registered_model_versions_artifact", "artifact_version_id"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    model_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("registered_models.id", ondelete="CASCADE")
    )
    index: Mapped[int] = mapped_column("index", sa.Integer)
    artifact_version_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("artifact_versions.id", ondelete="CASCADE")
    )
    linked_at: Mapped[float] = mapped_column(default=now)
    linked_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    run_pk: Mapped[int | None] = mapped_column(
        sa.ForeignKey("runs.id", ondelete="SET NULL"), default=None
    )


class RegisteredModelAlias(Base):
    """An alias (`staging`, `production`, ...) of a model, naming one of its versions at a
    time (`latest` is never stored: it is the highest index)."""

    __tablename__ = "registered_model_aliases"
    __table_args__ = (sa.Index("ix_registered_model_aliases_version_id", "version_id"),)

    model_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    version_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("registered_model_versions.id", ondelete="CASCADE")
    )


class RegistryAudit(Base):
    """One change of a model: a link, an alias set or removed (`from_version` → `to_version`,
    as `v<N>`), a protection, the maintainers or the description/metadata/tags edited."""

    __tablename__ = "registry_audit"
    __table_args__ = (sa.Index("ix_registry_audit_model_at", "model_id", "at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    model_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("registered_models.id", ondelete="CASCADE")
    )
    at: Mapped[float] = mapped_column(default=now)
    user: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    action: Mapped[str] = mapped_column(sa.String(32))
    alias: Mapped[str | None] = mapped_column(sa.String(128), default=None)
    from_version: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    to_version: Mapped[str | None] = mapped_column(sa.String(16), default=None)
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)


class Workspace(Base):
    """A project's saved dashboard layout: the JSON text exactly as the dashboard sent it."""

    __tablename__ = "workspaces"

    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    layout: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[float] = mapped_column(default=now)
    updated_by: Mapped[str] = mapped_column(sa.String(64), default="")


class Database:
    """One engine per process, sessions for reads and for writes, migrations at start.

    On SQLite (WAL mode, busy timeout) a write session starts with `BEGIN IMMEDIATE`, so two
    writers queue on the busy timeout instead of failing when one upgrades a read transaction.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = sa.engine.make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(url)
        elif self.dialect == "postgresql":
            self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(fwtrack_write=True), expire_on_commit=False
        )

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries (committed, i.e. closed, at the end)."""
        with self._read() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction, committed at the end unless it raises."""
        with self._write() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision, under a lock shared by every process."""
        with self.migration_lock() as connection:
            self.upgrade(connection)

    @contextlib.contextmanager
    def migration_lock(self) -> Iterator[sa.Connection]:
        """Hold the cross-process start-up lock (`pg_advisory_lock` on PostgreSQL, a file lock
        beside the database on SQLite) and yield a connection."""
        if self.dialect == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(
                    sa.text("SELECT pg_advisory_lock(:id)"), {"id": _PG_MIGRATION_LOCK}
                )
                connection.commit()
                try:
                    yield connection
                finally:
                    connection.rollback()
                    connection.execute(
                        sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_MIGRATION_LOCK}
                    )
                    connection.commit()
            return
        database = sa.engine.make_url(self.url).database or ""
        lock_path = f"{database}.lock" if database and database != ":memory:" else None
        if lock_path:
            private_file(Path(lock_path))
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE) if lock_path else None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            with self.engine.connect() as connection:
                yield connection
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def upgrade(self, connection: sa.Connection, revision: str = "head") -> None:
        """Run Alembic's `upgrade <revision>` on `connection` and commit (the caller holds the
        lock; tests upgrade to an old revision to build the database an older server left)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: str) -> Engine:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        # Key and password hashes live here: 0600 from the start (SQLite gives its -wal and
        # -shm files the database's mode), and tightened when an older version left 0644.
        path = Path(database)
        if not path.parent.exists():
            private_dir(path.parent)
        private_file(path)
        for suffix in ("-wal", "-shm", ".lock"):
            tighten(Path(f"{database}{suffix}"), FILE_MODE)
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how a transaction starts (see `_on_begin`).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        immediate = connection.get_execution_options().get("fwtrack_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Webhook(Base):
    """A URL that receives the registry events of an entity (`events`), signed with its
    `secret` (`fwtrack.server.webhooks`, docs/server.md "Webhooks")."""

    __tablename__ = "webhooks"
    __table_args__ = (sa.Index("ix_webhooks_entity", "entity"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    url: Mapped[str] = mapped_column(sa.Text)
    secret: Mapped[str] = mapped_column(sa.String(128))
    events: Mapped[list[str]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[float] = mapped_column(default=now)
    created_by: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)


class WebhookDelivery(Base):
    """One event for one webhook: the exact JSON body sent, and where its delivery stands
    (`pending` until a 2xx answer makes it `delivered`, or the last attempt `failed`).
    `claimed_until` is the lease of the server process sending it right now."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(_ID, sa.ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[float] = mapped_column(default=now)
    claimed_until: Mapped[float | None] = mapped_column(default=None)
    last_status: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_at: Mapped[float] = mapped_column(default=now)
    delivered_at: Mapped[float | None] = mapped_column(default=None)


# -- sweeps (fwtrack.sweeps.controller) ------------------------------------------------------
# No foreign key leaves these three tables, so the local sweep store (fwtrack.sweeps.local)
# creates just them in its own SQLite file.


class Sweep(Base):
    """A sweep of a project: its config (as the user gave it, W&B's keys), its state
    (`running`, `paused`, `stopped`, `cancelled`, `finished`), the seed every suggestion derives
    from and how many trials were created so far (`next_number`)."""

    __tablename__ = "sweeps"
    __table_args__ = (
        sa.Index("ix_sweeps_entity_project_created", "entity", "project", "created_at"),
    )

    id: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    project: Mapped[str] = mapped_column(sa.String(128))
    name: Mapped[str] = mapped_column(sa.String(256), default="")
    description: Mapped[str | None] = mapped_column(sa.Text, default=None)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    method: Mapped[str] = mapped_column(sa.String(8))
    state: Mapped[str] = mapped_column(sa.String(16), default="running")
    seed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(default=now)
    updated_at: Mapped[float] = mapped_column(default=now)
    created_by: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    run_cap: Mapped[int | None] = mapped_column(default=None)
    next_number: Mapped[int] = mapped_column(default=0)


class SweepAgent(Base):
    """An agent working on a sweep (`host`, `pid`): `running` while it heartbeats, `done` once
    told so, `lost` once silent for two heartbeat intervals."""

    __tablename__ = "sweep_agents"
    __table_args__ = (sa.Index("ix_sweep_agents_sweep_id", "sweep_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    sweep_id: Mapped[str] = mapped_column(
        sa.String(16), sa.ForeignKey("sweeps.id", ondelete="CASCADE")
    )
    host: Mapped[str] = mapped_column(sa.String(256), default="")
    pid: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(sa.String(16), default="running")
    created_at: Mapped[float] = mapped_column(default=now)
    heartbeat_at: Mapped[float] = mapped_column(default=now)


class SweepTrial(Base):
    """Trial `number` of a sweep: its parameters, the run that runs it now (`run_id`; earlier
    attempts' runs in `past_run_ids`), its state (`queued`, `running`, `finished`, `failed`,
    `stopped`, `crashed`), the metric's values in logged order and its summary value.

    `grid_key` (a grid's canonical parameters) is unique per sweep: a grid point cannot be
    claimed twice, whatever the locking does."""

    __tablename__ = "sweep_trials"
    __table_args__ = (
        sa.UniqueConstraint("sweep_id", "number", name="uq_sweep_trials_sweep_number"),
        sa.UniqueConstraint("sweep_id", "grid_key", name="uq_sweep_trials_sweep_grid_key"),
        sa.UniqueConstraint("sweep_id", "run_id", name="uq_sweep_trials_sweep_run"),
        sa.Index("ix_sweep_trials_sweep_state", "sweep_id", "state"),
        sa.Index("ix_sweep_trials_agent_id", "agent_id"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    sweep_id: Mapped[str] = mapped_column(
        sa.String(16), sa.ForeignKey("sweeps.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column()
    attempt: Mapped[int] = mapped_column(default=0)
    run_id: Mapped[str] = mapped_column(sa.String(64))
    past_run_ids: Mapped[list[str]] = mapped_column(default=list)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    grid_key: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    agent_id: Mapped[int | None] = mapped_column(
        _ID, sa.ForeignKey("sweep_agents.id", ondelete="SET NULL"), default=None
    )
    value: Mapped[float | None] = mapped_column(default=None)
    history: Mapped[list[float | None]] = mapped_column(sa.JSON, default=list)
    stop_requested: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[float] = mapped_column(default=now)
    started_at: Mapped[float | None] = mapped_column(default=None)
    heartbeat_at: Mapped[float | None] = mapped_column(default=None)
    ended_at: Mapped[float | None] = mapped_column(default=None)


class Report(Base):
    """A report of a project: its title, description and ordered blocks (docs/reports.md).
    `version` counts saved changes; every saved change is also a `ReportVersion`."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    report_id: Mapped[str] = mapped_column(sa.String(16), unique=True)
    project_id: Mapped[int] = mapped_column(
        sa.ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(sa.String(256))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    frozen_at: Mapped[float | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[float] = mapped_column(default=now)
    updated_by: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[float] = mapped_column(default=now)


class ReportVersion(Base):
    """One saved state of a report (who saved it, when, and a note such as `restored v3`)."""

    __tablename__ = "report_versions"
    __table_args__ = (
        sa.UniqueConstraint("report_pk", "version", name="uq_report_versions_report_pk"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    report_pk: Mapped[int] = mapped_column(_ID, sa.ForeignKey("reports.id", ondelete="CASCADE"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(256))
    description: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    blocks: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    frozen_at: Mapped[float | None] = mapped_column(default=None)
    author: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[float] = mapped_column(default=now)
    note: Mapped[str] = mapped_column(sa.String(256), default="", server_default="")


class ReportAsset(Base):
    """An image uploaded into a report, kept as a blob of the report's entity."""

    __tablename__ = "report_assets"

    report_pk: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    blob_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("blobs.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    media_type: Mapped[str] = mapped_column(sa.String(64))


class Comment(Base):
    """A comment (markdown) on a run, a report or a registered model of `entity`.
    `target_key` is `<project>/<run id>` for a run, the report id for a report and the model
    name for a model. A reply has a `parent_id`; a deleted comment keeps its row (its replies
    stay) with `deleted_at` set and its body emptied."""

    __tablename__ = "comments"
    __table_args__ = (sa.Index("ix_comments_target", "entity", "target", "target_key"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str] = mapped_column(sa.String(16))
    target_key: Mapped[str] = mapped_column(sa.String(300))
    parent_id: Mapped[int | None] = mapped_column(
        _ID, sa.ForeignKey("comments.id", ondelete="CASCADE"), default=None
    )
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[float] = mapped_column(default=now)
    edited_at: Mapped[float | None] = mapped_column(default=None)
    deleted_at: Mapped[float | None] = mapped_column(default=None)


class Mention(Base):
    """An `@name` of a user in a comment: one entry of that user's mentions inbox."""

    __tablename__ = "mentions"

    comment_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[float] = mapped_column(default=now)
    read_at: Mapped[float | None] = mapped_column(default=None)


class Invitation(Base):
    """A one-time link that joins a team with a role: only the token's SHA-256 is stored."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    note: Mapped[str] = mapped_column(sa.String(256), default="", server_default="")
    created_by: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[float] = mapped_column(default=now)
    expires_at: Mapped[float]
    used_at: Mapped[float | None] = mapped_column(default=None)
    used_by: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    revoked_at: Mapped[float | None] = mapped_column(default=None)


class AuditEvent(Base):
    """One admin action: who (`actor`) did what (`action`, e.g. `team.role`) to what
    (`target`), in which entity, with its details."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    at: Mapped[float] = mapped_column(default=now, index=True)
    actor: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(48))
    entity: Mapped[str | None] = mapped_column(sa.String(64), default=None, index=True)
    target: Mapped[str] = mapped_column(sa.String(300), default="", server_default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, default=None)
