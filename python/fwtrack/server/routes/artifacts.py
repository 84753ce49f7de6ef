"""Artifacts: committing a version from a run, and reading collections, versions, manifests,
files, lineage and diffs (docs/server.md, "Artifacts"; the logic is in
`fwtrack.server.artifacts`).

Access is that of runs: a key reaching the entity reads and writes its projects' artifacts
(401/403 first, decided on the entity's name alone, then 404). `fwtrack ui` serves the local
registry read-only: every write answers 405.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from fwtrack.artifacts.manifest import check_entry_path
from fwtrack.server import artifact_fetch, artifacts, manifest
from fwtrack.server.addresses import check_address
from fwtrack.server.auth import Viewer
from fwtrack.server.blobs import BlobStore
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project
from fwtrack.server.errors import ApiError, check_project
from fwtrack.server.ingest import get_or_create_project
from fwtrack.server.jsonutil import JsonResponse
from fwtrack.server.pack import MAX_ADDRESS_LEN
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_project, find_run
from fwtrack.server.routes.deps import reach as _reach
from fwtrack.server.routes.files import FILE_RESPONSES, serve_file
from fwtrack.server.routes.run_request import RUN

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["artifacts"])

ART = "/artifacts/{entity}/{project}"
VERSION = ART + "/collections/{name}/versions/{ref}"

_READ_ONLY = error(405, "This server (`fwtrack ui`) serves local artifacts read-only")
_MISSING: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "A blob the manifest names (or the manifest itself) is not stored: "
        "`missing` lists them; send them and commit again. Nothing was recorded. Also: the "
        "id was committed under another name, or the collection has another type.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "missing": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["detail"],
                }
            }
        },
    }
}

Name = Annotated[str, Path(min_length=1, max_length=128)]
Ref = Annotated[str, Path(min_length=1, max_length=200)]


# -- models (the answers' shapes, for the OpenAPI document) ------------------------------------


class RunRef(BaseModel):
    entity: str
    project: str
    id: str


class VersionOut(BaseModel):
    """VersionJSON: one committed version."""

    id: str = Field(description="The log call's id (32 hex)")
    entity: str | None
    project: str
    name: str
    type: str
    version: str = Field(description="`v<index>`")
    index: int
    digest: str = Field(description="The content address of the manifest")
    size: int = Field(description="Bytes of all entries (references without a size count 0)")
    files: int = Field(description="Entries in the manifest")
    aliases: list[str] = Field(description="Sorted; holds `latest` when it is the newest")
    description: str | None
    metadata: dict[str, Any]
    created_at: float
    created_by: str | None = Field(description="The user whose key committed it")
    run: RunRef | None = Field(description="The run that logged it (null once deleted)")


class CollectionOut(BaseModel):
    """CollectionJSON: an artifact's name in a project and its versions at a glance."""

    entity: str
    project: str
    name: str
    type: str
    description: str | None
    versions: int
    latest: str | None
    aliases: dict[str, str] = Field(description="alias → `v<N>` (`latest` not included)")
    size: int = Field(description="Bytes of the latest version")
    created_at: float
    updated_at: float


class CollectionDetailOut(CollectionOut):
    versions_list: list[VersionOut] = Field(description="Every version, newest first")


class TypeOut(BaseModel):
    type: str
    collections: int
    versions: int


class CommitIn(BaseModel):
    """A version to commit: the pending commit a client wrote, without `blob_dir`."""

    model_config = ConfigDict(extra="forbid", str_max_length=65536)
    id: str = Field(pattern=r"^[0-9a-f]{32}$", description="The log call's id (32 hex)")
    project: str | None = Field(
        None, max_length=128, description="The artifact's project (default: the run's)"
    )
    name: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=128)
    digest: str = Field(min_length=1, max_length=MAX_ADDRESS_LEN)
    aliases: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list, max_length=artifacts.MAX_ALIASES
    )
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: float | None = Field(None, ge=0, le=1e11)
    blob_dir: str | None = Field(None, description="Ignored (the client's staging folder)")


class MissingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    addresses: list[Annotated[str, Field(min_length=1, max_length=MAX_ADDRESS_LEN)]] = Field(
        max_length=manifest.MAX_ADDRESSES
    )


class FetchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    addresses: list[Annotated[str, Field(min_length=1, max_length=MAX_ADDRESS_LEN)]] = Field(
        max_length=manifest.MAX_ADDRESSES,
        description="Blobs a committed version of the project names (at most 10,000)",
    )


class MissingOut(BaseModel):
    missing: list[str] = Field(description="The addresses the entity has not stored")


class PatchIn(BaseModel):
    """What may change on a committed version: its aliases (the full set) and description."""

    model_config = ConfigDict(extra="forbid")
    aliases: list[Annotated[str, Field(max_length=128)]] | None = Field(
        None, max_length=artifacts.MAX_ALIASES
    )
    description: str | None = Field(None, max_length=65536)


class DirOut(BaseModel):
    name: str
    files: int = Field(description="Files below it, at any depth")
    size: int


class FileOut(BaseModel):
    path: str
    size: int | None
    address: str | None = None
    ref: str | None = None
    etag: str | None = None
    version_id: str | None = None


class FilesOut(BaseModel):
    prefix: str
    dirs: list[DirOut]
    files: list[FileOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class UsedByOut(BaseModel):
    entity: str
    project: str
    run_id: str
    name: str
    state: str
    used_at: float


class NodeOut(BaseModel):
    id: str = Field(description="`run:<entity>/<project>/<run_id>` or "
                    "`artifact:<project>/<name>:<version>`")  # fmt: skip
    kind: str = Field(description="`run` or `artifact`")
    entity: str | None = None
    project: str
    run_id: str | None = None
    name: str
    state: str | None = None
    version: str | None = None
    type: str | None = None
    digest: str | None = None


class EdgeOut(BaseModel):
    from_: str = Field(alias="from")
    to: str


class LineageOut(BaseModel):
    nodes: list[NodeOut]
    edges: list[EdgeOut] = Field(description="run → artifact (logged), artifact → run (used)")


class EntryChange(BaseModel):
    path: str
    a: dict[str, Any]
    b: dict[str, Any]


class PathSize(BaseModel):
    path: str
    size: int | None


class MetadataDiff(BaseModel):
    added: dict[str, Any]
    removed: dict[str, Any]
    changed: dict[str, list[Any]] = Field(description="key → [old, new]")


class DiffOut(BaseModel):
    a: VersionOut
    b: VersionOut
    added: list[PathSize]
    removed: list[PathSize]
    changed: list[EntryChange]
    unchanged: int
    metadata: MetadataDiff


class RunArtifactOut(BaseModel):
    """A VersionJSON, or `{"project", "name", "digest", "version": null}` for a version
    that is not on the server (yet)."""

    model_config = ConfigDict(extra="allow")
    project: str
    name: str
    digest: str
    version: str | None


class RunArtifactsOut(BaseModel):
    logged: list[RunArtifactOut]
    used: list[RunArtifactOut]


# -- helpers -----------------------------------------------------------------------------------


def _store(ctx: AppContext) -> BlobStore:
    if not isinstance(ctx.blobs, BlobStore):
        raise ApiError(405, "`fwtrack ui` serves local artifacts read-only")
    return ctx.blobs


def _project(
    ctx: AppContext, user: Viewer, entity: str, project: str, *, write: bool = False
) -> Project:
    _reach(user, entity, project, write=write)
    return find_project(ctx, entity, project)


def _resolved(
    ctx: AppContext, user: Viewer, entity: str, project: str, name: str, ref: str
) -> artifacts.Found:
    """The version `ref` names (401/403, then 404), without its VersionJSON (a few
    queries fewer: a download asks for one file after another)."""
    proj = _project(ctx, user, entity, project)
    artifacts.check_artifact_name(name)
    with ctx.db.read() as session:
        collection = artifacts.find_collection(session, proj, name)
        return artifacts.resolve(session, proj, collection, ref)


def _found(
    ctx: AppContext, user: Viewer, entity: str, project: str, name: str, ref: str
) -> tuple[artifacts.Found, dict[str, Any]]:
    """The version `ref` names and its VersionJSON."""
    found = _resolved(ctx, user, entity, project, name, ref)
    with ctx.db.read() as session:
        return found, artifacts.version_json(session, found)


# -- writes ------------------------------------------------------------------------------------


@router.post(
    RUN + "/artifacts",
    response_model=VersionOut,
    responses={**_MISSING, **_READ_ONLY},
)
def artifact_commit(
    entity: str, project: str, run_id: str, body: CommitIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Commit a version logged by the run: the manifest blob (named by `digest`) is read from
    the entity's store and checked (JSON, version 1, safe entry paths), and every blob it
    names must be stored (`409` with `missing` otherwise; nothing is recorded). Idempotent on
    `id`; content already in the collection (the same digest) answers that version, with the
    new aliases moved onto it; otherwise the next version (`v0`, `v1`, ...). `latest` among
    the aliases is ignored (it always names the newest version)."""
    _reach(user, entity, project, run_id, write=True)
    blobs = _store(ctx)
    art_project = check_project(body.project) if body.project is not None else project
    artifacts.check_artifact_name(body.name)
    artifacts.check_type(body.type)
    try:
        digest = check_address(body.digest)
    except ValueError as exc:
        raise ApiError(400, f"digest: {exc}") from None
    if not digest.startswith("blake3:"):
        raise ApiError(400, f"digest {digest[:80]!r}: an artifact's digest is a blake3: address")
    aliases = [artifacts.check_alias(a) for a in body.aliases if a != "latest"]
    _, run = find_run(ctx, entity, project, run_id)
    proj = get_or_create_project(ctx.db, entity, art_project)
    request = artifacts.CommitIn(
        id=body.id,
        project=art_project,
        name=body.name,
        type=body.type,
        digest=digest,
        aliases=aliases,
        description=body.description,
        metadata=body.metadata,
        created_at=body.created_at,
    )
    out = artifacts.commit(ctx.db, blobs.store, proj, run, request, user.id)
    return JsonResponse(out)


@router.post(ART + "/blobs/missing", response_model=MissingOut, responses={**_READ_ONLY})
def artifact_blobs_missing(
    entity: str, project: str, body: MissingIn, user: CurrentViewer, ctx: Ctx
) -> MissingOut:
    """Which of `addresses` (at most 10,000) the entity has not stored, as the run-scoped
    `blobs/missing` answers (the stored ones are touched: kept for the grace period); the
    project need not exist yet."""
    _reach(user, entity, project, write=True)
    _store(ctx)
    wanted = []
    for address in body.addresses:
        try:
            wanted.append(check_address(address))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    wanted = list(dict.fromkeys(wanted))
    present = manifest.touch(ctx.db, entity, wanted)
    return MissingOut(missing=[a for a in wanted if a not in present])


_PACK_MEDIA_TYPE = "application/x-fwtrack-blobs"
_FETCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The blobs asked for, in that order (each once), as a pack: entries "
        "back to back, each u16 LE address length, the address (ASCII), u64 LE size, then "
        "the bytes. Content-Length is set; verify each blob against its address.",
        "content": {_PACK_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    },
    404: {
        "description": "The project does not exist, or some addresses are not named by a "
        "committed version of it (`missing` lists them); nothing is sent.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "detail": {"type": "string"},
                        "missing": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["detail"],
                }
            }
        },
    },
    **error(413, "The blobs add up to more than 64 MiB: ask for fewer at a time"),
}


@router.post(ART + "/blobs/fetch", response_class=Response, responses=_FETCH_RESPONSES)
def artifact_blobs_fetch(
    entity: str, project: str, body: FetchIn, user: CurrentViewer, ctx: Ctx
) -> Response:
    """Download many blobs in one answer (`application/x-fwtrack-blobs`, streamed): the
    blobs named by `addresses` (at most 10,000, together at most 64 MiB), each of which a
    committed version of the project must name (its files' blobs or its manifest; `404`
    with `missing` otherwise). Read access to the project is enough. Meant for many small
    files; a large one is better read with `GET .../files/{path}` (which may redirect to
    the object store)."""
    proj = _project(ctx, user, entity, project)
    wanted: list[str] = []
    for address in body.addresses:
        try:
            wanted.append(check_address(address))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    wanted = list(dict.fromkeys(wanted))
    with ctx.db.read() as session:
        sizes = artifact_fetch.referenced(
            session, proj, wanted, local=not isinstance(ctx.blobs, BlobStore)
        )
    missing = [a for a in wanted if a not in sizes]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ApiError(
            404,
            f"{len(missing)} of the blobs asked for are not in a committed version of "
            f"{proj.entity}/{proj.name}: {shown}; hint: read a version's manifest for its "
            "files' addresses",
            extra={"missing": missing},
        )
    items = [(a, sizes[a]) for a in wanted]
    total = sum(size for _, size in items)
    if total > artifact_fetch.MAX_FETCH_BYTES:
        raise ApiError(
            413,
            f"the {len(items)} blobs asked for hold {total} bytes, over the limit of "
            f"{artifact_fetch.MAX_FETCH_BYTES} for one answer; hint: ask for them in smaller "
            "groups (a large file alone with GET .../files/{path})",
        )
    return StreamingResponse(
        artifact_fetch.stream_pack(ctx.blobs, proj.entity, items),
        media_type=_PACK_MEDIA_TYPE,
        headers={
            "Content-Length": str(artifact_fetch.pack_length(items)),
            "Cache-Control": "private, no-store",
        },
    )


@router.patch(VERSION, response_model=VersionOut, responses={**_READ_ONLY})
def artifact_version_edit(
    entity: str,
    project: str,
    name: Name,
    ref: Ref,
    body: PatchIn,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """Set a version's aliases (the full set: aliases it had and that are not listed are
    removed; listed ones held by another version of the collection move here; `latest` and
    `v<N>` are refused with 400) and/or its description."""
    proj = _project(ctx, user, entity, project, write=True)
    _store(ctx)
    artifacts.check_artifact_name(name)
    changes = body.model_dump(exclude_unset=True)
    out = artifacts.set_aliases(
        ctx.db,
        proj,
        name,
        ref,
        changes.get("aliases"),
        changes.get("description"),
        "description" in changes,
    )
    return JsonResponse(out)


# -- reads -------------------------------------------------------------------------------------


@router.get(ART + "/types", response_model=list[TypeOut])
def artifact_types(entity: str, project: str, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """The project's artifact types, each with its number of collections and versions."""
    proj = _project(ctx, user, entity, project)
    with ctx.db.read() as session:
        return JsonResponse(artifacts.types(session, proj))


@router.get(ART + "/collections", response_model=list[CollectionOut])
def artifact_collections(
    entity: str,
    project: str,
    user: CurrentViewer,
    ctx: Ctx,
    type: Annotated[str | None, Query(max_length=128)] = None,
) -> JsonResponse:
    """The project's artifacts (collections), by name; `type` keeps one type."""
    proj = _project(ctx, user, entity, project)
    with ctx.db.read() as session:
        rows = artifacts.collections(session, proj, type)
        return JsonResponse(artifacts.collection_json(session, proj, rows))


@router.get(ART + "/collections/{name}", response_model=CollectionDetailOut)
def artifact_collection(
    entity: str, project: str, name: Name, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """One artifact (collection) with every version, newest first (`versions_list`)."""
    proj = _project(ctx, user, entity, project)
    artifacts.check_artifact_name(name)
    with ctx.db.read() as session:
        collection = artifacts.find_collection(session, proj, name)
        out = artifacts.collection_json(session, proj, [collection])[0]
        found = artifacts.versions(session, proj, name=name)
        found.sort(key=lambda f: f.version.index, reverse=True)
        out["versions_list"] = artifacts.versions_json(session, found)
    return JsonResponse(out)


@router.get(ART + "/versions", response_model=list[VersionOut])
def artifact_versions(
    entity: str,
    project: str,
    user: CurrentViewer,
    ctx: Ctx,
    type: Annotated[str | None, Query(max_length=128)] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
) -> JsonResponse:
    """Every version of the project's artifacts, newest first (`type`, `name` filter)."""
    proj = _project(ctx, user, entity, project)
    with ctx.db.read() as session:
        found = artifacts.versions(session, proj, name=name, type_=type)
        return JsonResponse(artifacts.versions_json(session, found))


@router.get(VERSION, response_model=VersionOut)
def artifact_version(
    entity: str, project: str, name: Name, ref: Ref, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """One version: `ref` is `v<N>`, an alias, `latest` or the version's `blake3:` digest
    (404 naming what exists)."""
    _, out = _found(ctx, user, entity, project, name, ref)
    return JsonResponse(out)


@router.get(
    VERSION + "/manifest",
    responses={
        200: {
            "description": 'The manifest: `{"version": 1, "entries": {path: {"address", '
            '"size"} or {"ref", ...}}}`',
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def artifact_manifest(
    entity: str, project: str, name: Name, ref: Ref, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The version's manifest, as committed (its content address is the version's digest)."""
    found = _resolved(ctx, user, entity, project, name, ref)
    with ctx.db.read() as session:
        entries = artifacts.entries_of(session, found.version)
    return JsonResponse(
        {"version": 1, "entries": entries},
        headers={"ETag": f'"{found.version.digest}"', "Cache-Control": "private, no-cache"},
    )


@router.get(VERSION + "/files", response_model=FilesOut, response_model_exclude_none=True)
def artifact_files(
    entity: str,
    project: str,
    name: Name,
    ref: Ref,
    user: CurrentViewer,
    ctx: Ctx,
    prefix: Annotated[str, Query(max_length=1024)] = "",
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> JsonResponse:
    """One level of the version's files under `prefix` (a folder path, `""` for the top):
    its folders (with the files and bytes below each) first, then its files, by name; at
    most `limit`, the next page from `next_cursor`."""
    found = _resolved(ctx, user, entity, project, name, ref)
    prefix = prefix.strip("/")
    if prefix:
        try:
            check_entry_path(prefix)
        except ValueError as exc:
            raise ApiError(400, f"prefix: {exc}") from None
    start = 0
    if cursor:
        if not cursor.isdigit():
            raise ApiError(400, f"cursor {cursor[:20]!r} is not one this server gave")
        start = int(cursor)
    with ctx.db.read() as session:
        entries = artifacts.entries_of(session, found.version)
    return JsonResponse(artifacts.list_dir(entries, prefix, limit, start))


@router.get(VERSION + "/files/{path:path}", responses=FILE_RESPONSES)
def artifact_file(
    entity: str,
    project: str,
    name: Name,
    ref: Ref,
    path: str,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> Response:
    """One file of the version, as run files are served: Content-Type from its extension,
    its address as ETag (cached for good), one `Range`, and `307` to a presigned URL for a
    large blob on an S3-compatible store. A reference entry answers 409 naming its URI."""
    found = _resolved(ctx, user, entity, project, name, ref)
    try:
        check_entry_path(path)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    with ctx.db.read() as session:
        entry = artifacts.entries_of(session, found.version).get(path)
    if entry is None:
        raise ApiError(
            404,
            f"{found.project.name}/{found.collection.name}:v{found.version.index} has no file "
            f"{path[:200]!r}; hint: GET .../files lists them",
        )
    if "address" not in entry:
        raise ApiError(
            409,
            f"{path[:200]!r} is a reference to {entry.get('ref')}: its bytes are not on this "
            "server; hint: read them from there",
        )
    stored = ctx.blobs.blob_file(found.project.entity, entry["address"], int(entry["size"]), path)
    return serve_file(ctx, request, found.project.entity, stored, immutable=True)


@router.get(VERSION + "/used_by", response_model=list[UsedByOut])
def artifact_used_by(
    entity: str, project: str, name: Name, ref: Ref, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The runs that used the version (those in entities the key reaches), oldest use
    first."""
    found = _resolved(ctx, user, entity, project, name, ref)
    with ctx.db.read() as session:
        return JsonResponse(artifacts.used_by(session, found, user.reaches))


@router.get(VERSION + "/lineage", response_model=LineageOut)
def artifact_lineage(
    entity: str,
    project: str,
    name: Name,
    ref: Ref,
    user: CurrentViewer,
    ctx: Ctx,
    depth: Annotated[int, Query(ge=1, le=5)] = 2,
) -> JsonResponse:
    """The lineage graph around the version, `depth` hops (1-5) each way: the runs that
    logged it and used it, what those runs logged and used, and so on. The version itself is
    a node."""
    found = _resolved(ctx, user, entity, project, name, ref)

    def work() -> dict[str, Any]:
        with ctx.db.read() as session:
            return artifacts.lineage(session, found, depth, user.reaches)

    return JsonResponse(work())


@router.get(ART + "/collections/{name}/diff", response_model=DiffOut)
async def artifact_diff(
    entity: str,
    project: str,
    name: Name,
    user: CurrentViewer,
    ctx: Ctx,
    a: Annotated[str, Query(min_length=1, max_length=200)],
    b: Annotated[str, Query(min_length=1, max_length=200)],
) -> JsonResponse:
    """What changed from version `a` to version `b` (refs as for one version): files added,
    removed and changed (address, size, or a reference's ETag), the number unchanged, and
    the metadata's keys added, removed and changed."""

    def work() -> dict[str, Any]:
        fa, va = _found(ctx, user, entity, project, name, a)
        fb, vb = _found(ctx, user, entity, project, name, b)
        with ctx.db.read() as session:
            ea = artifacts.entries_of(session, fa.version)
            eb = artifacts.entries_of(session, fb.version)
        return {
            "a": va,
            "b": vb,
            **artifacts.diff(ea, eb, va["metadata"], vb["metadata"]),
        }

    return JsonResponse(await run_in_threadpool(work))


@router.get(RUN + "/artifacts", response_model=RunArtifactsOut)
def run_artifacts(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The versions the run logged and used, in log order (from its lineage records and its
    commits); a version not on the server (yet) has `"version": null`."""
    _reach(user, entity, project, run_id)
    _, run = find_run(ctx, entity, project, run_id)
    with ctx.db.read() as session:
        return JsonResponse(artifacts.run_artifacts(session, run.id, user.reaches))
