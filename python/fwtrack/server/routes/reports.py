"""Reports: a project's live documents of markdown, panels and images (docs/reports.md).

Reads need the entity's reach; every write (create, save, delete, restore, freeze, assets)
needs write access, so a team's viewer is refused (403).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from fwtrack.server import audit, manifest
from fwtrack.server import reports as doc
from fwtrack.server.addresses import address_of, check_address
from fwtrack.server.blobs import BlobStore
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project
from fwtrack.server.errors import ApiError
from fwtrack.server.ingest import get_or_create_project
from fwtrack.server.jsonutil import JsonResponse, loads_bounded
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_project, reach
from fwtrack.server.store.base import BlobKey, Store

__all__ = ["MAX_ASSET_BYTES", "asset_store", "router"]

router = APIRouter(responses=ERRORS)

MAX_ASSET_BYTES = 32 * 1024 * 1024
"""Largest image uploaded into a report."""

VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
"""A report version in a path: 1 up to the largest version a row holds."""

_LIST = "/reports/{entity}/{project}"
_ONE = _LIST + "/{report_id}"
_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in doc.ASSET_TYPES
        },
    }
}


def asset_store(ctx: AppContext) -> Store:
    """Where report images are kept: the server's store, or for `fwtrack ui` a directory
    store in its state folder (`<dir>/.fwtrack-ui/report-assets`)."""
    if isinstance(ctx.blobs, BlobStore):
        return ctx.blobs.store
    return doc.local_asset_store(ctx.config.data_dir)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return loads_bounded(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from exc


def _answer(ctx: AppContext, request: Request, row: Any, project: Project) -> JsonResponse:
    return JsonResponse(
        doc.report_json(row, project, _base_url(request)), headers={"Cache-Control": "no-store"}
    )


@router.get(_LIST, tags=["reports"])
def reports_list(
    entity: str, project: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The project's reports, most recently updated first: `{"reports": [{"id", "title",
    "updated_by", "updated_at", "version", "frozen_at", "url"}]}` (an unknown project has
    none)."""
    reach(user, entity, project)
    try:
        proj = find_project(ctx, entity, project)
    except ApiError as exc:
        if exc.status == 404:
            return JsonResponse({"reports": []})
        raise
    base = _base_url(request)
    return JsonResponse(
        {
            "reports": [
                {
                    "id": r.report_id,
                    "title": r.title,
                    "description": r.description,
                    "created_by": r.created_by,
                    "created_at": r.created_at,
                    "updated_by": r.updated_by,
                    "updated_at": r.updated_at,
                    "version": r.version,
                    "frozen_at": r.frozen_at,
                    "url": doc.report_url(base, entity, project, r.report_id),
                }
                for r in doc.list_reports(ctx.db, proj)
            ]
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post(_LIST, tags=["reports"], openapi_extra=_JSON_BODY)
async def report_create(
    entity: str, project: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Create a report from `{"title", "description", "blocks"}` (the project is made when it
    has no run yet); answers the Report."""
    reach(user, entity, project, write=True)
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, 'body: must be {"title": ..., "description": ..., "blocks": [...]}')
    unknown = sorted(set(body) - {"title", "description", "blocks"})
    if unknown:
        raise ApiError(
            400, f"body: unknown field(s) {', '.join(unknown)}; send title, description, blocks"
        )

    def create() -> JsonResponse:
        doc.check_title(body.get("title"))
        proj = get_or_create_project(ctx.db, entity, project)
        row = doc.create_report(
            ctx.db,
            proj,
            user.name,
            body.get("title"),
            body.get("description", ""),
            body.get("blocks", []),
        )
        return _answer(ctx, request, row, proj)

    return await run_in_threadpool(create)


@router.get(_ONE, tags=["reports"])
def report_get(
    entity: str, project: str, report_id: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """One report."""
    reach(user, entity, project)
    proj = find_project(ctx, entity, project)
    return _answer(ctx, request, doc.find_report(ctx.db, proj, report_id), proj)


@router.patch(_ONE, tags=["reports"], openapi_extra=_JSON_BODY)
async def report_patch(
    entity: str, project: str, report_id: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Save edits: `{"base_version", "ops": [...]}` applied to the current document, merged
    per block; answers `{"report", "conflicts"}` (docs/reports.md, "Saving")."""
    reach(user, entity, project, write=True)
    body = await _json_body(request)

    def patch() -> JsonResponse:
        proj = find_project(ctx, entity, project)
        row, conflicts = doc.patch_report(ctx.db, proj, report_id, user.name, body)
        return JsonResponse(
            {
                "report": doc.report_json(row, proj, _base_url(request)),
                "conflicts": [c.json() for c in conflicts],
            },
            headers={"Cache-Control": "no-store"},
        )

    return await run_in_threadpool(patch)


@router.delete(_ONE, tags=["reports"])
def report_delete(
    entity: str, project: str, report_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Delete a report, its versions and its images."""
    reach(user, entity, project, write=True)
    proj = find_project(ctx, entity, project)
    blob_ids = doc.delete_report(ctx.db, proj, report_id)
    if isinstance(ctx.blobs, BlobStore):
        ctx.blobs.released(blob_ids)
    with ctx.db.write() as session:
        audit.record(
            session, user.name, "report.delete", entity=entity, target=f"{project}/{report_id}"
        )
    return JsonResponse({"id": report_id, "deleted": True})


@router.get(_ONE + "/versions", tags=["reports"])
def report_versions(
    entity: str, project: str, report_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The saved versions, newest first: `{"versions": [{"version", "author", "at",
    "note"}]}`."""
    reach(user, entity, project)
    proj = find_project(ctx, entity, project)
    return JsonResponse(
        {"versions": doc.versions_list(ctx.db, proj, report_id)},
        headers={"Cache-Control": "no-store"},
    )


@router.get(_ONE + "/versions/{number}", tags=["reports"])
def report_version(
    entity: str,
    project: str,
    report_id: str,
    number: VersionNumber,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """The document as version `number` held it (Report JSON with that version's fields)."""
    reach(user, entity, project)
    proj = find_project(ctx, entity, project)
    return JsonResponse(doc.version_json(ctx.db, proj, report_id, number, _base_url(request)))


@router.post(_ONE + "/versions/{number}/restore", tags=["reports"])
def report_restore(
    entity: str,
    project: str,
    report_id: str,
    number: VersionNumber,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """Make a new version with version `number`'s content (note `restored vN`)."""
    reach(user, entity, project, write=True)
    proj = find_project(ctx, entity, project)
    row = doc.restore_version(ctx.db, proj, report_id, number, user.name)
    return _answer(ctx, request, row, proj)


@router.post(_ONE + "/freeze", tags=["reports"], responses=error(409, "Already frozen"))
def report_freeze(
    entity: str, project: str, report_id: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Freeze the report now: every filter run set becomes the ids it matches (the filter
    kept as `frozen_from`); panels read history up to `frozen_at`."""
    reach(user, entity, project, write=True)
    proj = find_project(ctx, entity, project)
    row = doc.freeze(ctx.db, proj, report_id, user.name, ctx.stale_after)
    return _answer(ctx, request, row, proj)


@router.post(_ONE + "/unfreeze", tags=["reports"], responses=error(409, "Not frozen"))
def report_unfreeze(
    entity: str, project: str, report_id: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Make the report live again: frozen run sets get their filters back."""
    reach(user, entity, project, write=True)
    proj = find_project(ctx, entity, project)
    row = doc.unfreeze(ctx.db, proj, report_id, user.name)
    return _answer(ctx, request, row, proj)


@router.post(
    _ONE + "/assets",
    tags=["reports"],
    openapi_extra=_IMAGE_BODY,
    responses={
        **error(413, f"The image is larger than {MAX_ASSET_BYTES} bytes"),
        **error(415, "Not a PNG, JPEG, GIF or WebP image (SVG is refused)"),
    },
)
async def report_asset_upload(
    entity: str, project: str, report_id: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Upload an image (the raw bytes, with its Content-Type) into the report: answers
    `{"src": "asset:<address>"}` for an image block."""
    reach(user, entity, project, write=True)
    data = await request.body()
    if len(data) > MAX_ASSET_BYTES:
        raise ApiError(413, f"the image is {len(data)} bytes; at most {MAX_ASSET_BYTES}")
    media = doc.check_asset(request.headers.get("content-type"), data)

    def store() -> str:
        proj = find_project(ctx, entity, project)
        row = doc.find_report(ctx.db, proj, report_id)
        address = address_of(data)
        manifest.keep(ctx.db, asset_store(ctx), entity, [(address, len(data), data)])
        doc.record_asset(ctx.db, row, entity, address, media)
        return address

    address = await run_in_threadpool(store)
    return JsonResponse({"src": f"asset:{address}"})


@router.get(
    _ONE + "/assets/{address}",
    tags=["reports"],
    responses={200: {"content": {m: {} for m in doc.ASSET_TYPES}}},
)
def report_asset_get(
    entity: str, project: str, report_id: str, address: str, user: CurrentViewer, ctx: Ctx
) -> Response:
    """An image of the report: its bytes with its media type."""
    reach(user, entity, project)
    try:
        address = check_address(address)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    proj = find_project(ctx, entity, project)
    row = doc.find_report(ctx.db, proj, report_id)
    media, _ = doc.find_asset(ctx.db, row, entity, address)
    store = asset_store(ctx)
    try:
        with store.open(BlobKey(entity, address)) as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ApiError(404, f"the image {address} is missing from the store") from None
    return Response(
        data,
        media_type=media,
        headers={
            "Cache-Control": "private, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.get("/report-ids/{report_id}", tags=["reports"])
def report_locate(report_id: str, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """`{"entity", "project"}` of a report id (so a bare id resolves); 404 for an unknown
    id or one in an entity the viewer does not reach."""
    entity, project = doc.locate(ctx.db, report_id)
    if not user.reaches(entity):
        raise ApiError(404, f"no report {report_id!r}")
    return JsonResponse({"entity": entity, "project": project})
