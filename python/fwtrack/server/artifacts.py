"""Artifacts on the server: committing versions, resolving references, reading manifests,
listings, lineage and diffs (tables `artifact_*`, docs/server.md "Artifacts").

A version is committed once its manifest blob and every blob its entries name are stored for
the entity (the blob protocol, `fwtrack.server.manifest`). The guarantees rest on the same
row locks as run files, taken in one order: the run's row (key share), the collection's row
(`SELECT ... FOR UPDATE`: the next index is decided under it, so two committers get two
versions), then the rows of the blobs the manifest names (share locks, `stored` ones only:
anything else is answered `409 missing` and nothing is recorded). The version's
`artifact_blobs` rows reference those blob rows, and the collector keeps every blob such a
row references, exactly as it keeps blobs of `run_files` (`fwtrack.server.collector`).
On SQLite every write transaction holds the database's write lock, so commits run one after
the other.

Manifests, entry paths, artifact names, types and aliases are checked with the client's rules
(`fwtrack.artifacts.manifest`, `fwtrack.artifacts.registry`): a manifest the client builds is
one the server takes. A rule's ValueError becomes a `400` with its message.

`fwtrack ui` imports the local registry (`<dir>/.artifacts`) into the same tables
(`import_local`); its versions have no `artifact_blobs` rows (there is no collector) and
their bytes are read from `<dir>/.artifacts/blobs`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fwtrack import path_names
from fwtrack.artifacts import registry
from fwtrack.artifacts.manifest import Manifest
from fwtrack.server.addresses import address_of, check_address
from fwtrack.server.db import (
    ArtifactAlias,
    ArtifactBlob,
    ArtifactCollection,
    ArtifactEdge,
    ArtifactManifest,
    ArtifactVersion,
    Blob,
    Database,
    Project,
    Run,
    User,
    now,
)
from fwtrack.server.errors import ApiError
from fwtrack.server.jsonutil import json_safe, loads_bounded
from fwtrack.server.store.base import BlobKey, Store

__all__ = [
    "MAX_MANIFEST_BYTES",
    "CommitIn",
    "Found",
    "check_alias",
    "check_artifact_name",
    "check_type",
    "collection_json",
    "collections",
    "commit",
    "diff",
    "entries_of",
    "find_collection",
    "lineage",
    "list_dir",
    "parse_manifest",
    "record_edges",
    "resolve",
    "run_artifacts",
    "set_aliases",
    "types",
    "used_by",
    "version_json",
    "versions",
    "versions_json",
]

log = logging.getLogger("fwtrack.server")

MAX_MANIFEST_BYTES = 64 << 20
"""The largest manifest the server takes (about 300,000 entries)."""
MAX_ALIASES = 64
_VERSION_REF = re.compile(r"^v(\d{1,9})$")
_IN = 500


# -- names -------------------------------------------------------------------------------------


def _checked(rule: Callable[[object], str], value: object) -> str:
    """`rule(value)`, its TypeError or ValueError answered `400` with the rule's message."""
    try:
        return rule(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None


def check_artifact_name(name: object) -> str:
    """An artifact (collection) name: the rules of a project name; 400 naming it."""
    return _checked(registry.check_name, name)


def check_type(value: object) -> str:
    """An artifact type (`dataset`, `model`): the rules of a project name; 400 otherwise."""
    return _checked(registry.check_type, value)


def check_alias(alias: object) -> str:
    """An alias a user may set: `[A-Za-z0-9_.-]{1,128}`, not `latest` (computed) and not
    `v<digits>` (a version's own name); 400 naming the rule."""
    return _checked(registry.check_alias, alias)


# -- the manifest ------------------------------------------------------------------------------


def parse_manifest(data: bytes) -> Manifest:
    """The manifest of `data`, read by the client's codec with the JSON depth bound of data
    from a client; ValueError naming the first problem."""
    return Manifest.from_bytes(data, loads=loads_bounded)


class _Entries:
    """A small LRU of parsed manifests by (version id, digest): versions never change."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[int, str], dict[str, dict[str, Any]]] = OrderedDict()

    def get(self, session: Session, version: ArtifactVersion) -> dict[str, dict[str, Any]]:
        key = (version.id, version.digest)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        entries = session.scalar(
            sa.select(ArtifactManifest.entries).where(ArtifactManifest.version_id == version.id)
        )
        result: dict[str, dict[str, Any]] = dict(entries or {})
        with self._lock:
            self._items[key] = result
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return result


_ENTRIES = _Entries()


def entries_of(session: Session, version: ArtifactVersion) -> dict[str, dict[str, Any]]:
    """The version's manifest entries (path → entry)."""
    return _ENTRIES.get(session, version)


# -- answers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A version with its collection and project (what a VersionJSON needs)."""

    version: ArtifactVersion
    collection: ArtifactCollection
    project: Project


def _chunks(items: Sequence[Any], size: int = _IN) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _latest(session: Session, collection_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(collection_ids))
    out: dict[int, int] = {}
    for chunk in _chunks(ids):
        for cid, top in session.execute(
            sa.select(ArtifactVersion.collection_id, sa.func.max(ArtifactVersion.index))
            .where(ArtifactVersion.collection_id.in_(chunk))
            .group_by(ArtifactVersion.collection_id)
        ):
            out[cid] = top
    return out


def versions_json(session: Session, found: Sequence[Found]) -> list[dict[str, Any]]:
    """VersionJSON of each of `found` (a few queries for all of them)."""
    if not found:
        return []
    ids = [f.version.id for f in found]
    aliases: dict[int, list[str]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        for vid, alias in session.execute(
            sa.select(ArtifactAlias.version_id, ArtifactAlias.alias).where(
                ArtifactAlias.version_id.in_(chunk)
            )
        ):
            aliases[vid].append(alias)
    latest = _latest(session, (f.collection.id for f in found))
    run_pks = sorted({f.version.run_pk for f in found if f.version.run_pk is not None})
    runs: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(run_pks):
        for pk, run_id, entity, project in session.execute(
            sa.select(Run.id, Run.run_id, Project.entity, Project.name)
            .join(Project, Project.id == Run.project_id)
            .where(Run.id.in_(chunk))
        ):
            runs[pk] = {"entity": entity, "project": project, "id": run_id}
    user_ids = sorted({f.version.created_by for f in found if f.version.created_by is not None})
    users: dict[int, str] = {}
    if user_ids:
        query = sa.select(User.id, User.name).where(User.id.in_(user_ids))
        users = {uid: name for uid, name in session.execute(query)}
    out = []
    for f in found:
        v = f.version
        names = set(aliases[v.id])
        if latest.get(f.collection.id) == v.index:
            names.add("latest")
        out.append(
            {
                "id": v.client_id,
                "entity": f.project.entity,
                "project": f.project.name,
                "name": f.collection.name,
                "type": f.collection.type,
                "version": f"v{v.index}",
                "index": v.index,
                "digest": v.digest,
                "size": v.size,
                "files": v.files,
                "aliases": sorted(names),
                "description": v.description,
                "metadata": v.meta or {},
                "created_at": v.created_at,
                "created_by": users.get(v.created_by) if v.created_by is not None else None,
                "run": runs.get(v.run_pk) if v.run_pk is not None else None,
            }
        )
    return out


def version_json(session: Session, found: Found) -> dict[str, Any]:
    return versions_json(session, [found])[0]


def collection_json(
    session: Session, project: Project, collections_: Sequence[ArtifactCollection]
) -> list[dict[str, Any]]:
    """CollectionJSON of each collection of `project`."""
    ids = [c.id for c in collections_]
    counts: dict[int, int] = {}
    sizes: dict[int, tuple[int, int]] = {}
    aliases: dict[int, dict[str, str]] = {i: {} for i in ids}
    latest = _latest(session, ids)
    for chunk in _chunks(ids):
        for cid, count in session.execute(
            sa.select(ArtifactVersion.collection_id, sa.func.count())
            .where(ArtifactVersion.collection_id.in_(chunk))
            .group_by(ArtifactVersion.collection_id)
        ):
            counts[cid] = count
        for cid, alias, index in session.execute(
            sa.select(ArtifactAlias.collection_id, ArtifactAlias.alias, ArtifactVersion.index)
            .join(ArtifactVersion, ArtifactVersion.id == ArtifactAlias.version_id)
            .where(ArtifactAlias.collection_id.in_(chunk))
        ):
            aliases[cid][alias] = f"v{index}"
    tops = [(cid, top) for cid, top in latest.items()]
    for chunk in _chunks(tops):
        cond = sa.or_(
            *[
                sa.and_(ArtifactVersion.collection_id == cid, ArtifactVersion.index == top)
                for cid, top in chunk
            ]
        )
        for cid, index, size in session.execute(
            sa.select(
                ArtifactVersion.collection_id, ArtifactVersion.index, ArtifactVersion.size
            ).where(cond)
        ):
            sizes[cid] = (index, size)
    out = []
    for c in collections_:
        top = latest.get(c.id)
        out.append(
            {
                "entity": project.entity,
                "project": project.name,
                "name": c.name,
                "type": c.type,
                "description": c.description,
                "versions": counts.get(c.id, 0),
                "latest": None if top is None else f"v{top}",
                "aliases": dict(sorted(aliases[c.id].items())),
                "size": sizes.get(c.id, (0, 0))[1],
                "created_at": c.created_at,
                "updated_at": c.updated_at,
            }
        )
    return out


# -- lookups -----------------------------------------------------------------------------------


def find_collection(session: Session, project: Project, name: str) -> ArtifactCollection:
    """The collection `name` of `project`, or 404 naming it and what exists."""
    found = session.scalar(
        sa.select(ArtifactCollection).where(
            ArtifactCollection.project_id == project.id, ArtifactCollection.name == name
        )
    )
    if found is None:
        names = session.scalars(
            sa.select(ArtifactCollection.name)
            .where(ArtifactCollection.project_id == project.id)
            .order_by(ArtifactCollection.name)
            .limit(20)
        ).all()
        have = ", ".join(names) if names else "none"
        raise ApiError(
            404,
            f"no artifact {name!r} in project {project.entity}/{project.name} (its artifacts: "
            f"{have}); hint: GET .../collections lists them",
        )
    return found


def resolve(session: Session, project: Project, collection: ArtifactCollection, ref: str) -> Found:
    """The version `ref` names: `v<N>`, an alias, `latest`, or a `blake3:` digest; 404
    naming what was asked and what exists."""
    query = sa.select(ArtifactVersion).where(ArtifactVersion.collection_id == collection.id)
    version: ArtifactVersion | None = None
    numbered = _VERSION_REF.fullmatch(ref)
    if numbered is not None:
        version = session.scalar(query.where(ArtifactVersion.index == int(numbered.group(1))))
    elif ref == "latest":
        version = session.scalar(query.order_by(ArtifactVersion.index.desc()).limit(1))
    elif ":" in ref:
        version = session.scalar(query.where(ArtifactVersion.digest == ref.lower()))
    elif registry.ALIAS_RE.fullmatch(ref) is not None:
        version = session.scalar(
            query.join(ArtifactAlias, ArtifactAlias.version_id == ArtifactVersion.id).where(
                ArtifactAlias.collection_id == collection.id, ArtifactAlias.alias == ref
            )
        )
    if version is None:
        indexes = session.scalars(
            sa.select(ArtifactVersion.index)
            .where(ArtifactVersion.collection_id == collection.id)
            .order_by(ArtifactVersion.index)
        ).all()
        alias_names = session.scalars(
            sa.select(ArtifactAlias.alias)
            .where(ArtifactAlias.collection_id == collection.id)
            .order_by(ArtifactAlias.alias)
        ).all()
        if indexes:
            span = f"v{indexes[0]}" if len(indexes) == 1 else f"v{indexes[0]}..v{indexes[-1]}"
            have = f"versions {span}, aliases {', '.join(['latest', *alias_names])}"
        else:
            have = "no versions"
        raise ApiError(
            404,
            f"no version {ref[:100]!r} of artifact {project.name}/{collection.name} (it has "
            f"{have}); hint: use v<N>, an alias, 'latest' or a blake3: digest",
        )
    return Found(version, collection, project)


def versions(
    session: Session, project: Project, *, name: str | None = None, type_: str | None = None
) -> list[Found]:
    """Every version of the project (of collection `name`, of type `type_`), newest first."""
    query = (
        sa.select(ArtifactVersion, ArtifactCollection)
        .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersion.collection_id)
        .where(ArtifactCollection.project_id == project.id)
    )
    if name is not None:
        query = query.where(ArtifactCollection.name == name)
    if type_ is not None:
        query = query.where(ArtifactCollection.type == type_)
    query = query.order_by(ArtifactVersion.created_at.desc(), ArtifactVersion.id.desc())
    return [Found(v, c, project) for v, c in session.execute(query)]


def collections(
    session: Session, project: Project, type_: str | None = None
) -> list[ArtifactCollection]:
    query = sa.select(ArtifactCollection).where(ArtifactCollection.project_id == project.id)
    if type_ is not None:
        query = query.where(ArtifactCollection.type == type_)
    return list(session.scalars(query.order_by(ArtifactCollection.name)))


def types(session: Session, project: Project) -> list[dict[str, Any]]:
    """`[{"type", "collections", "versions"}]` of the project, by type."""
    rows = session.execute(
        sa.select(
            ArtifactCollection.type,
            sa.func.count(sa.distinct(ArtifactCollection.id)),
            sa.func.count(ArtifactVersion.id),
        )
        .outerjoin(ArtifactVersion, ArtifactVersion.collection_id == ArtifactCollection.id)
        .where(ArtifactCollection.project_id == project.id)
        .group_by(ArtifactCollection.type)
        .order_by(ArtifactCollection.type)
    ).all()
    return [{"type": t, "collections": c, "versions": v} for t, c, v in rows]


# -- commit ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitIn:
    """A commit request (the pending JSON of docs/artifacts.md without `blob_dir`)."""

    id: str
    project: str
    name: str
    type: str
    digest: str
    aliases: list[str]
    description: str | None
    metadata: dict[str, Any]
    created_at: float | None


def _insert(dialect: str, table: Any) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _read_manifest(store: Store, entity: str, digest: str, size: int) -> bytes:
    if size > MAX_MANIFEST_BYTES:
        raise ApiError(
            400,
            f"the manifest {digest} is {size} bytes, over the server's limit of "
            f"{MAX_MANIFEST_BYTES}; hint: split the artifact",
        )
    try:
        with store.open(BlobKey(entity, digest)) as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise ApiError(
            409,
            f"the manifest blob {digest} is not stored; hint: send it and commit again",
            extra={"missing": [digest]},
        ) from None
    except OSError as exc:
        raise ApiError(
            503,
            f"the server could not read the manifest from its store ({exc}); retry later",
            headers={"Retry-After": "5"},
        ) from exc
    if address_of(data) != digest:
        raise ApiError(
            409,
            f"the stored manifest blob does not hash to {digest}; hint: send it again",
            extra={"missing": [digest]},
        )
    return data


def _stored(session: Session, entity: str, addresses: Sequence[str]) -> dict[str, tuple[int, int]]:
    """`{address: (blob id, size)}` of the stored ones, share-locked (ordered by address)."""
    found: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(sorted(addresses)):
        for blob_id, address, size in session.execute(
            sa.select(Blob.id, Blob.address, Blob.size)
            .where(Blob.entity == entity, Blob.address.in_(chunk), Blob.stored.is_(True))
            .order_by(Blob.address)
            .with_for_update(read=True)
        ):
            found[address] = (blob_id, size)
    return found


def _by_client_id(session: Session, client_id: str) -> Found | None:
    row = session.execute(
        sa.select(ArtifactVersion, ArtifactCollection, Project)
        .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersion.collection_id)
        .join(Project, Project.id == ArtifactCollection.project_id)
        .where(ArtifactVersion.client_id == client_id)
    ).one_or_none()
    return None if row is None else Found(*row)


def _same_call(found: Found, entity: str, body: CommitIn) -> Found:
    if (found.project.entity, found.project.name, found.collection.name) != (
        entity,
        body.project,
        body.name,
    ):
        raise ApiError(
            409,
            f"the log call id {body.id} was committed already as "
            f"{found.project.entity}/{found.project.name}/{found.collection.name}; hint: "
            "a new log call takes a new id",
        )
    return found


def _lock_collection(
    session: Session, dialect: str, project: Project, name: str, type_: str, t: float
) -> ArtifactCollection:
    """The collection row, created when missing, locked for this transaction."""
    session.execute(
        _insert(dialect, ArtifactCollection)
        .values(project_id=project.id, name=name, type=type_, created_at=t, updated_at=t)
        .on_conflict_do_nothing(index_elements=["project_id", "name"])
    )
    collection = session.scalars(
        sa.select(ArtifactCollection)
        .where(ArtifactCollection.project_id == project.id, ArtifactCollection.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    return collection


def _move_aliases(
    session: Session, dialect: str, collection_id: int, version_id: int, aliases: Iterable[str]
) -> None:
    for alias in sorted(set(aliases)):
        session.execute(
            _insert(dialect, ArtifactAlias)
            .values(collection_id=collection_id, alias=alias, version_id=version_id)
            .on_conflict_do_update(
                index_elements=["collection_id", "alias"], set_={"version_id": version_id}
            )
        )


def _edge(
    session: Session,
    dialect: str,
    run_pk: int,
    direction: str,
    project_id: int,
    name: str,
    digest: str,
    ref: str | None,
    t: float,
) -> None:
    session.execute(
        _insert(dialect, ArtifactEdge)
        .values(
            run_pk=run_pk,
            direction=direction,
            project_id=project_id,
            name=name,
            digest=digest,
            ref=ref,
            created_at=t,
        )
        .on_conflict_do_nothing(
            index_elements=["run_pk", "direction", "project_id", "name", "digest"]
        )
    )


def commit(
    db: Database,
    store: Store,
    project: Project,
    run: Run,
    body: CommitIn,
    user_id: int | None,
) -> dict[str, Any]:
    """Commit one version of `project`/`body.name` logged by `run`; its VersionJSON.

    Idempotent on `body.id`; content already in the collection (same digest) answers that
    version, with `body.aliases` moved onto it. 409 with `missing` when the manifest or a
    blob it names is not stored for the entity (nothing is recorded), 400 for a manifest that
    is not one."""
    entity = project.entity
    with db.read() as session:
        earlier = _by_client_id(session, body.id)
        if earlier is not None:
            return version_json(session, _same_call(earlier, entity, body))
        manifest_size = session.scalar(
            sa.select(Blob.size).where(
                Blob.entity == entity, Blob.address == body.digest, Blob.stored.is_(True)
            )
        )
    if manifest_size is None:
        raise ApiError(
            409,
            f"the manifest blob {body.digest} is not stored for {entity!r}; hint: send it "
            "(POST .../blobs or PUT .../blobs/{address}) and commit again",
            extra={"missing": [body.digest]},
        )
    data = _read_manifest(store, entity, body.digest, int(manifest_size))
    try:
        manifest = parse_manifest(data)
    except ValueError as exc:
        raise ApiError(400, f"the manifest {body.digest} is not valid: {exc}") from None
    entries: dict[str, dict[str, Any]] = manifest.to_json()["entries"]
    addresses = sorted(manifest.addresses() | {body.digest})
    size = manifest.size
    t = now()
    created_at = body.created_at if body.created_at is not None else t
    for attempt in range(3):
        try:
            with db.write() as session:
                return _commit_locked(
                    session, db.dialect, project, run, body, user_id, entries, addresses,
                    size, len(data), created_at, t,
                )  # fmt: skip
        except IntegrityError:
            # A concurrent commit of the same id (or a run deleted meanwhile): look again.
            if attempt == 2:
                raise
            with db.read() as session:
                earlier = _by_client_id(session, body.id)
                if earlier is not None:
                    return version_json(session, _same_call(earlier, entity, body))
                if session.get(Run, run.id) is None:
                    raise ApiError(404, "the run was deleted during this request") from None
    raise AssertionError("unreachable")


def _commit_locked(
    session: Session,
    dialect: str,
    project: Project,
    run: Run,
    body: CommitIn,
    user_id: int | None,
    entries: dict[str, dict[str, Any]],
    addresses: list[str],
    size: int,
    manifest_bytes: int,
    created_at: float,
    t: float,
) -> dict[str, Any]:
    entity = project.entity
    if (
        session.scalar(sa.select(Run.id).where(Run.id == run.id).with_for_update(key_share=True))
        is None
    ):
        raise ApiError(404, "the run was deleted during this request")
    collection = _lock_collection(session, dialect, project, body.name, body.type, t)
    if collection.type != body.type:
        raise ApiError(
            409,
            f"artifact {project.name}/{body.name} is of type {collection.type!r}, not "
            f"{body.type!r}; hint: log it with type={collection.type!r} or under another name",
        )
    earlier = _by_client_id(session, body.id)  # a commit of this id that won the lock first
    if earlier is not None:
        return version_json(session, _same_call(earlier, entity, body))
    found = _stored(session, entity, addresses)
    missing = [a for a in addresses if a not in found]
    if missing:
        raise ApiError(
            409,
            f"{len(missing)} blob(s) named by the manifest are not stored (e.g. {missing[0]});"
            " hint: send them (POST .../blobs or PUT .../blobs/{address}) and commit again",
            extra={"missing": missing},
        )
    for path, entry in entries.items():
        if "address" in entry and found[entry["address"]][1] != entry["size"]:
            raise ApiError(
                400,
                f"the manifest's entry {path[:80]!r} says {entry['size']} bytes, but its blob "
                f"{entry['address']} holds {found[entry['address']][1]}; hint: hash the file "
                "again and log the artifact again",
            )
    version = session.scalar(
        sa.select(ArtifactVersion).where(
            ArtifactVersion.collection_id == collection.id,
            ArtifactVersion.digest == body.digest,
        )
    )
    if version is None:
        top = session.scalar(
            sa.select(sa.func.max(ArtifactVersion.index)).where(
                ArtifactVersion.collection_id == collection.id
            )
        )
        version = ArtifactVersion(
            collection_id=collection.id,
            index=0 if top is None else top + 1,
            digest=body.digest,
            client_id=body.id,
            size=size,
            files=len(entries),
            meta=json_safe(body.metadata),
            description=body.description,
            run_pk=run.id,
            created_by=user_id,
            created_at=created_at,
        )
        session.add(version)
        session.flush()
        session.add(
            ArtifactManifest(
                version_id=version.id, address=body.digest, entries=entries, nbytes=manifest_bytes
            )
        )
        blob_ids = sorted({found[a][0] for a in addresses})
        for chunk in _chunks(blob_ids):
            session.execute(
                sa.insert(ArtifactBlob), [{"version_id": version.id, "blob_id": b} for b in chunk]
            )
        if body.description is not None:
            collection.description = body.description
    collection.updated_at = t
    _move_aliases(session, dialect, collection.id, version.id, body.aliases)
    _edge(session, dialect, run.id, "output", project.id, body.name, body.digest, None, t)
    session.flush()
    return version_json(session, Found(version, collection, project))


def set_aliases(
    db: Database,
    project: Project,
    name: str,
    ref: str,
    aliases: list[str] | None,
    description: str | None,
    description_set: bool,
) -> dict[str, Any]:
    """PATCH of a version: its full set of aliases (moved from other versions of the
    collection) and/or its description; its VersionJSON."""
    with db.write() as session:
        collection = find_collection(session, project, name)
        locked = session.scalar(
            sa.select(ArtifactCollection).where(ArtifactCollection.id == collection.id)
            .with_for_update()
        )  # fmt: skip
        if locked is None:
            raise ApiError(404, f"artifact {project.name}/{name} was deleted meanwhile")
        found = resolve(session, project, locked, ref)
        version = found.version
        if aliases is not None:
            wanted = {check_alias(a) for a in aliases}
            session.execute(
                sa.delete(ArtifactAlias).where(
                    ArtifactAlias.version_id == version.id,
                    ArtifactAlias.alias.not_in(wanted) if wanted else sa.true(),
                )
            )
            _move_aliases(session, db.dialect, locked.id, version.id, wanted)
        if description_set:
            version.description = description
        locked.updated_at = now()
        session.flush()
        return version_json(session, found)


# -- lineage edges from run logs ----------------------------------------------------------------


def _edge_project(
    session: Session, run_entity: str, entity: object, project: object
) -> Project | None:
    """The project an edge names, when the run's uploader may name it: projects of the run's
    own entity (created when missing, as an upload creates them) and existing ones of
    another entity; None otherwise (or for a bad name)."""
    entity = run_entity if entity is None else entity
    try:
        path_names.check_entity(entity)
        path_names.check_project(project)
    except ValueError:
        return None
    assert isinstance(entity, str)
    assert isinstance(project, str)
    row = session.scalar(
        sa.select(Project).where(Project.entity == entity, Project.name == project)
    )
    if row is None and entity == run_entity:
        t = now()
        row = Project(entity=entity, name=project, created_at=t, last_activity=t)
        session.add(row)
        session.flush()
    return row


def record_edges(
    db: Database, run_pk: int, run_entity: str, run_project: str, meta: Mapping[str, Any]
) -> int:
    """Upsert the lineage edges a run's log records (`meta["artifacts"]`: `logged` →
    output, `used` → input). Tolerates a meta without them; bad records are skipped. Returns
    the number of records seen."""
    records = meta.get("artifacts") if isinstance(meta, Mapping) else None
    if not isinstance(records, Mapping):
        return 0
    wanted: list[tuple[str, Any, Any, str, str, str | None, float]] = []
    for kind, direction in (("logged", "output"), ("used", "input")):
        for rec in records.get(kind) or []:
            if not isinstance(rec, Mapping):
                continue
            name, digest = rec.get("name"), rec.get("digest")
            if not isinstance(name, str) or not isinstance(digest, str):
                continue
            try:
                path_names.check_project(name)
                digest = check_address(digest)
            except (ValueError, TypeError):
                continue
            ref = rec.get("ref")
            ts = rec.get("ts")
            at = float(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else now()
            wanted.append(
                (
                    direction,
                    rec.get("entity") if direction == "input" else None,
                    rec.get("project") or run_project,
                    name,
                    digest,
                    ref[:512] if isinstance(ref, str) else None,
                    at,
                )
            )
    if not wanted:
        return 0
    try:
        with db.write() as session:
            if session.get(Run, run_pk) is None:
                return 0
            known: set[tuple[str, int, str, str]] = {
                (d, p, n, g)
                for d, p, n, g in session.execute(
                    sa.select(
                        ArtifactEdge.direction,
                        ArtifactEdge.project_id,
                        ArtifactEdge.name,
                        ArtifactEdge.digest,
                    ).where(ArtifactEdge.run_pk == run_pk)
                )
            }
            projects: dict[tuple[Any, Any], Project | None] = {}
            for direction, entity, project, name, digest, ref, ts in wanted:
                key = (entity, project)
                if key not in projects:
                    projects[key] = _edge_project(session, run_entity, entity, project)
                proj = projects[key]
                if proj is None or (direction, proj.id, name, digest) in known:
                    continue
                known.add((direction, proj.id, name, digest))
                _edge(session, db.dialect, run_pk, direction, proj.id, name, digest, ref, ts)
    except IntegrityError as exc:  # the run was deleted meanwhile: nothing to link
        log.info("lineage edges of run %d not recorded: %s", run_pk, exc)
    return len(wanted)


# -- reading edges -----------------------------------------------------------------------------


def _version_by_target(
    session: Session, targets: Iterable[tuple[int, str, str]]
) -> dict[tuple[int, str, str], Found]:
    """The versions named by `(project id, name, digest)`."""
    out: dict[tuple[int, str, str], Found] = {}
    wanted = sorted(set(targets))
    for chunk in _chunks(wanted, 200):
        cond = sa.or_(
            *[
                sa.and_(
                    ArtifactCollection.project_id == pid,
                    ArtifactCollection.name == name,
                    ArtifactVersion.digest == digest,
                )
                for pid, name, digest in chunk
            ]
        )
        for v, c, p in session.execute(
            sa.select(ArtifactVersion, ArtifactCollection, Project)
            .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersion.collection_id)
            .join(Project, Project.id == ArtifactCollection.project_id)
            .where(cond)
        ):
            out[(p.id, c.name, v.digest)] = Found(v, c, p)
    return out


def run_artifacts(session: Session, run_pk: int, reaches: Any) -> dict[str, list[dict[str, Any]]]:
    """`{"logged": [...], "used": [...]}` of a run: VersionJSON of each edge's version, or
    `{"project", "name", "digest", "version": null, ...}` while that version is not on the
    server (or in an entity the viewer does not reach)."""
    edges = session.execute(
        sa.select(ArtifactEdge, Project)
        .join(Project, Project.id == ArtifactEdge.project_id)
        .where(ArtifactEdge.run_pk == run_pk)
        .order_by(ArtifactEdge.created_at, ArtifactEdge.id)
    ).all()
    resolved = _version_by_target(
        session, [(e.project_id, e.name, e.digest) for e, p in edges if reaches(p.entity)]
    )
    as_json = dict(
        zip(
            resolved,
            versions_json(session, list(resolved.values())),
            strict=True,
        )
    )
    out: dict[str, list[dict[str, Any]]] = {"logged": [], "used": []}
    for edge, project in edges:
        key = (edge.project_id, edge.name, edge.digest)
        item = as_json.get(key)
        if item is None:
            item = {
                "entity": project.entity,
                "project": project.name,
                "name": edge.name,
                "digest": edge.digest,
                "version": None,
                "type": None,
                "aliases": [],
            }
        else:
            item = dict(item)
        if edge.ref is not None:
            item["ref"] = edge.ref
        out["logged" if edge.direction == "output" else "used"].append(item)
    return out


def used_by(session: Session, found: Found, reaches: Any) -> list[dict[str, Any]]:
    """The runs that used this version (input edges), oldest use first."""
    rows = session.execute(
        sa.select(ArtifactEdge.created_at, Run.run_id, Run.name, Run.state, Project)
        .join(Run, Run.id == ArtifactEdge.run_pk)
        .join(Project, Project.id == Run.project_id)
        .where(
            ArtifactEdge.direction == "input",
            ArtifactEdge.project_id == found.project.id,
            ArtifactEdge.name == found.collection.name,
            ArtifactEdge.digest == found.version.digest,
        )
        .order_by(ArtifactEdge.created_at, ArtifactEdge.id)
    ).all()
    return [
        {
            "entity": p.entity,
            "project": p.name,
            "run_id": run_id,
            "name": name,
            "state": state,
            "used_at": at,
        }
        for at, run_id, name, state, p in rows
        if reaches(p.entity)
    ]


def _artifact_node(f: Found) -> dict[str, Any]:
    return {
        "id": f"artifact:{f.project.name}/{f.collection.name}:v{f.version.index}",
        "kind": "artifact",
        "entity": f.project.entity,
        "project": f.project.name,
        "name": f.collection.name,
        "version": f"v{f.version.index}",
        "type": f.collection.type,
        "digest": f.version.digest,
    }


def lineage(session: Session, start: Found, depth: int, reaches: Any) -> dict[str, Any]:
    """The graph around `start` up to `depth` hops: runs that logged a version (its edges
    and its producer run) → the version → runs that used it → ..."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str]] = set()
    run_nodes: dict[int, str] = {}

    def add_artifact(f: Found) -> str:
        node = _artifact_node(f)
        nodes.setdefault(node["id"], node)
        return str(node["id"])

    def add_runs(pks: Iterable[int]) -> None:
        new = sorted(set(pks) - set(run_nodes))
        for chunk in _chunks(new):
            for pk, run_id, name, state, p in session.execute(
                sa.select(Run.id, Run.run_id, Run.name, Run.state, Project)
                .join(Project, Project.id == Run.project_id)
                .where(Run.id.in_(chunk))
            ):
                if not reaches(p.entity):
                    continue
                node_id = f"run:{p.entity}/{p.name}/{run_id}"
                run_nodes[pk] = node_id
                nodes[node_id] = {
                    "id": node_id,
                    "kind": "run",
                    "entity": p.entity,
                    "project": p.name,
                    "run_id": run_id,
                    "name": name,
                    "state": state,
                }

    frontier_versions: dict[str, Found] = {add_artifact(start): start}
    frontier_runs: set[int] = set()
    seen_versions: set[str] = set(frontier_versions)
    seen_runs: set[int] = set()
    for _ in range(depth):
        next_runs: set[int] = set()
        next_versions: dict[str, Found] = {}
        if frontier_versions:  # versions -> their producers and consumers
            targets = {
                (f.project.id, f.collection.name, f.version.digest): node
                for node, f in frontier_versions.items()
            }
            links: list[tuple[int, str, str]] = []  # (run pk, direction, node)
            for chunk in _chunks(list(targets), 200):
                cond = sa.or_(
                    *[
                        sa.and_(
                            ArtifactEdge.project_id == pid,
                            ArtifactEdge.name == name,
                            ArtifactEdge.digest == digest,
                        )
                        for pid, name, digest in chunk
                    ]
                )
                for run_pk, direction, pid, name, digest in session.execute(
                    sa.select(
                        ArtifactEdge.run_pk,
                        ArtifactEdge.direction,
                        ArtifactEdge.project_id,
                        ArtifactEdge.name,
                        ArtifactEdge.digest,
                    ).where(cond)
                ):
                    links.append((run_pk, direction, targets[(pid, name, digest)]))
            for node, f in frontier_versions.items():
                if f.version.run_pk is not None:
                    links.append((f.version.run_pk, "output", node))
            add_runs(pk for pk, _, _ in links)
            for pk, direction, node in links:
                run_node = run_nodes.get(pk)
                if run_node is None:
                    continue
                edges.add((run_node, node) if direction == "output" else (node, run_node))
                if pk not in seen_runs:
                    next_runs.add(pk)
        if frontier_runs:  # runs -> what they logged and used
            run_edges: list[Any] = []
            for chunk in _chunks(sorted(frontier_runs)):
                run_edges += session.execute(
                    sa.select(
                        ArtifactEdge.run_pk,
                        ArtifactEdge.direction,
                        ArtifactEdge.project_id,
                        ArtifactEdge.name,
                        ArtifactEdge.digest,
                    ).where(ArtifactEdge.run_pk.in_(chunk))
                ).all()
            resolved = _version_by_target(session, [(p, n, d) for _, _, p, n, d in run_edges])
            produced: list[Any] = []
            for chunk in _chunks(sorted(frontier_runs)):
                produced += session.execute(
                    sa.select(ArtifactVersion, ArtifactCollection, Project)
                    .join(
                        ArtifactCollection, ArtifactCollection.id == ArtifactVersion.collection_id
                    )
                    .join(Project, Project.id == ArtifactCollection.project_id)
                    .where(ArtifactVersion.run_pk.in_(chunk))
                ).all()
            pairs: list[tuple[int, str, Found]] = [
                (pk, direction, resolved[(p, n, d)])
                for pk, direction, p, n, d in run_edges
                if (p, n, d) in resolved
            ]
            pairs += [
                (v.run_pk, "output", Found(v, c, p)) for v, c, p in produced if v.run_pk is not None
            ]
            for pk, direction, f in pairs:
                if not reaches(f.project.entity) or pk not in run_nodes:
                    continue
                node = add_artifact(f)
                run_node = run_nodes[pk]
                edges.add((run_node, node) if direction == "output" else (node, run_node))
                if node not in seen_versions:
                    next_versions[node] = f
        seen_runs |= frontier_runs
        seen_versions |= set(frontier_versions)
        frontier_runs = next_runs - seen_runs
        frontier_versions = {k: v for k, v in next_versions.items() if k not in seen_versions}
        if not frontier_runs and not frontier_versions:
            break
    return {
        "nodes": list(nodes.values()),
        "edges": [{"from": a, "to": b} for a, b in sorted(edges)],
    }


# -- files and diffs ---------------------------------------------------------------------------


def list_dir(
    entries: Mapping[str, Mapping[str, Any]], prefix: str, limit: int, cursor: int
) -> dict[str, Any]:
    """One level of the manifest under `prefix` (folders first, then files, by name), from
    item `cursor` on, at most `limit` items."""
    base = f"{prefix}/" if prefix else ""
    dirs: dict[str, list[int]] = {}
    files: list[dict[str, Any]] = []
    for path, entry in entries.items():
        if not path.startswith(base):
            continue
        rest = path[len(base) :]
        head, sep, _ = rest.partition("/")
        if sep:
            agg = dirs.setdefault(head, [0, 0])
            agg[0] += 1
            agg[1] += int(entry.get("size") or 0)
        else:
            item: dict[str, Any] = {"path": path, "size": entry.get("size")}
            for key in ("address", "ref", "etag", "version_id"):
                if entry.get(key) is not None:
                    item[key] = entry[key]
            files.append(item)
    if prefix and not dirs and not files:
        raise ApiError(404, f"the artifact has no folder {prefix[:200]!r}")
    items: list[tuple[str, dict[str, Any]]] = [
        ("dir", {"name": name, "files": n, "size": s}) for name, (n, s) in sorted(dirs.items())
    ]
    items += [("file", f) for f in sorted(files, key=lambda f: str(f["path"]))]
    page = items[cursor : cursor + limit]
    end = cursor + len(page)
    return {
        "prefix": prefix,
        "dirs": [item for kind, item in page if kind == "dir"],
        "files": [item for kind, item in page if kind == "file"],
        "next_cursor": str(end) if end < len(items) else None,
    }


def _identity(entry: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"size": entry.get("size")}
    if entry.get("address") is not None:
        out["address"] = entry["address"]
    else:
        out["ref"] = entry.get("ref")
        for key in ("etag", "version_id"):
            if entry.get(key) is not None:
                out[key] = entry[key]
    return out


def diff(
    a: Mapping[str, Mapping[str, Any]],
    b: Mapping[str, Mapping[str, Any]],
    meta_a: Mapping[str, Any],
    meta_b: Mapping[str, Any],
) -> dict[str, Any]:
    """Files added, removed and changed from `a` to `b` (sorted by path), the count of
    unchanged ones, and the metadata's added, removed and changed keys."""
    added = [{"path": p, "size": b[p].get("size")} for p in sorted(set(b) - set(a))]
    removed = [{"path": p, "size": a[p].get("size")} for p in sorted(set(a) - set(b))]
    changed = []
    unchanged = 0
    for path in sorted(set(a) & set(b)):
        ia, ib = _identity(a[path]), _identity(b[path])
        if ia == ib:
            unchanged += 1
        else:
            changed.append({"path": path, "a": ia, "b": ib})
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "unchanged": unchanged,
        "metadata": {
            "added": {k: meta_b[k] for k in sorted(set(meta_b) - set(meta_a))},
            "removed": {k: meta_a[k] for k in sorted(set(meta_a) - set(meta_b))},
            "changed": {
                k: [meta_a[k], meta_b[k]]
                for k in sorted(set(meta_a) & set(meta_b))
                if json.dumps(meta_a[k], sort_keys=True) != json.dumps(meta_b[k], sort_keys=True)
            },
        },
    }
