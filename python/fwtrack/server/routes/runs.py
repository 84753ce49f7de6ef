"""Runs: listing, detail, edit, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from fwtrack import _core
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project, Run, now
from fwtrack.server.errors import ApiError, check_run_id
from fwtrack.server.fields import run_field_keys
from fwtrack.server.ingest import delete_run
from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.queries import RunQuery, apply_field_edits, list_runs, run_json
from fwtrack.server.routes.deps import (
    ERRORS,
    Ctx,
    CurrentViewer,
    error,
    find_project,
    find_run,
    reach,
)
from fwtrack.server.routes.run_request import RUN

__all__ = ["edit_run_row", "refuse_if_written", "remove_run", "router"]

router = APIRouter(responses=ERRORS)

MAX_IDS = 1000


class RunPatchIn(BaseModel):
    """Fields a user may edit; the log no longer overrides an edited field."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=256)
    tags: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, max_length=256
    )
    notes: str | None = Field(default=None, max_length=65536)
    summary: dict[Annotated[str, Field(min_length=1, max_length=256)], Any] | None = Field(
        default=None, max_length=4096
    )
    summary_delete: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, max_length=4096
    )
    config: dict[Annotated[str, Field(min_length=1, max_length=256)], Any] | None = Field(
        default=None, max_length=4096
    )
    config_delete: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        default=None, max_length=4096
    )


@router.get("/runs/{entity}/{project}", tags=["runs"])
def runs_list(
    entity: str,
    project: str,
    user: CurrentViewer,
    ctx: Ctx,
    filter: Annotated[str, Query(max_length=4096)] = "",
    search: Annotated[str, Query(max_length=256)] = "",
    sort: Annotated[str, Query(max_length=300)] = "-created_at",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    ids: Annotated[str, Query(max_length=66000)] = "",
) -> JsonResponse:
    """Runs of a project: `{"runs": [...], "total"}` (see docs/server.md, "Runs list");
    `ids=a,b,c` keeps only those runs (the dashboard's comparison and selection)."""
    reach(user, entity, project)
    wanted = tuple(dict.fromkeys(i.strip() for i in ids.split(",") if i.strip()))
    if len(wanted) > MAX_IDS:
        raise ApiError(400, f"ids: at most {MAX_IDS} run ids, got {len(wanted)}")
    for run_id in wanted:
        check_run_id(run_id)
    proj = find_project(ctx, entity, project)
    query = RunQuery(
        filter=filter, search=search, sort=sort, limit=limit, offset=offset, ids=wanted
    )
    with ctx.db.read() as session:
        rows, total = list_runs(session, proj, query, ctx.db.dialect, ctx.stale_after)
    return JsonResponse(
        {"runs": [run_json(r, proj, ctx.stale_after) for r in rows], "total": total}
    )


@router.get(RUN, tags=["runs"])
def run_detail(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """One run object."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    return JsonResponse(run_json(run, proj, ctx.stale_after))


@router.patch(RUN, tags=["runs"])
def run_edit(
    entity: str, project: str, run_id: str, body: RunPatchIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Edit a run's name, tags or notes, and set (`summary`, `config`: top-level keys to
    values) or remove (`summary_delete`, `config_delete`: keys) summary and config values.
    The key needs what uploading the run needs. An edited field or key is kept over what
    the run logs later."""
    reach(user, entity, project, run_id, write=True)
    proj, run = find_run(ctx, entity, project, run_id)
    changes = body.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is None:
        raise ApiError(400, "name cannot be null; send a string of 1-256 characters")
    if "tags" in changes and changes["tags"] is None:
        changes["tags"] = []
    fields: dict[str, tuple[dict[str, Any], list[str]]] = {}
    fields["summary"] = (
        changes.pop("summary", None) or {},
        changes.pop("summary_delete", None) or [],
    )
    fields["config"] = (changes.pop("config", None) or {}, changes.pop("config_delete", None) or [])
    for root, (values, delete) in fields.items():
        both = sorted(set(values) & set(delete))
        if both:
            raise ApiError(400, f"{root} keys {both[:5]} are both set and deleted; send one")
    with ctx.db.write() as session:
        row = session.get(Run, run.id)
        if row is None:
            raise ApiError(404, f"no run {run_id!r} in project {entity}/{project}")
        edit_run_row(row, changes, fields)
        session.flush()
        out = run_json(row, proj, ctx.stale_after)
    return JsonResponse(out)


def edit_run_row(
    row: Run,
    changes: dict[str, Any],
    fields: dict[str, tuple[dict[str, Any], list[str]]] | None = None,
) -> None:
    """Apply a run edit to its row (in the caller's transaction): `changes` sets `name`,
    `tags`, `notes`; `fields` sets and deletes `summary`/`config` keys. What is edited is
    kept over what the run logs later (`edited`). The one edit path of `PATCH` and the bulk
    tag actions."""
    for field, value in changes.items():
        setattr(row, field, json_safe(value))
    edited = [*changes]
    for root, (values, delete) in (fields or {}).items():
        if values or delete:
            current = dict(getattr(row, root) or {})
            updated, keys = apply_field_edits(current, root, json_safe(values), delete)
            setattr(row, root, updated)
            edited += keys
    row.field_keys, row.field_keys_hash = run_field_keys(row.config, row.summary)
    row.edited = sorted({*(row.edited or []), *edited})
    row.updated_at = now()


@router.delete(RUN, tags=["runs"], responses=error(409, "The local run is still being written"))
def run_delete(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Delete a run: its row and everything stored for it."""
    reach(user, entity, project, run_id, write=True)
    proj, run = find_run(ctx, entity, project, run_id)
    remove_run(ctx, proj, run)
    return JsonResponse({"id": run_id, "deleted": True})


def refuse_if_written(ctx: AppContext, project: Project, run: Run) -> None:
    """`fwtrack ui`: 409 while the local run is still being written (its lock is held)."""
    paths = ctx.blobs.paths(project, run)
    if ctx.blobs.in_place and paths.run_dir.exists() and _core.is_locked(str(paths.run_dir)):
        raise ApiError(409, f"run {run.run_id!r} is still being written; finish it first")


def remove_run(ctx: AppContext, project: Project, run: Run) -> None:
    """Delete a run (refused while `fwtrack ui`'s local run is being written): the one delete
    path of `DELETE` and the bulk delete."""
    refuse_if_written(ctx, project, run)
    delete_run(ctx.db, ctx.blobs, project, run)
