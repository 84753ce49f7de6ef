"""Bulk actions on a project's runs: tag, untag, move to another project, delete
(docs/collaboration.md, "Bulk actions").

`POST /api/v1/runs/{entity}/{project}/bulk` with `{"action", "run_ids", "tags",
"to_project"}` acts on each run on its own, through the paths the single-run routes take
(`routes.runs.edit_run_row` for tags, `routes.runs.remove_run` for delete,
`ingest.move_run` for move), and answers each run's outcome: a run that fails (unknown,
still being written, already in the target project) does not stop the others. Writers only;
bulk deletes and moves are recorded in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from fwtrack.server import audit
from fwtrack.server.context import AppContext
from fwtrack.server.db import Project, Run
from fwtrack.server.errors import ApiError, check_project, check_run_id
from fwtrack.server.ingest import get_or_create_project, move_run
from fwtrack.server.jsonutil import JsonResponse
from fwtrack.server.queries import run_json, state_of
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, find_project, reach
from fwtrack.server.routes.runs import edit_run_row, refuse_if_written, remove_run

__all__ = ["MAX_BULK_RUNS", "router"]

router = APIRouter(responses=ERRORS)

MAX_BULK_RUNS = 1000
"""The most runs one bulk request acts on."""

_MAX_TAGS = 256

Tag = Annotated[str, Field(min_length=1, max_length=256)]


class BulkIn(BaseModel):
    """A bulk action: `tags` for tag/untag, `to_project` (a project of the same entity,
    created when missing) for move."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["tag", "untag", "move", "delete"]
    run_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=MAX_BULK_RUNS
    )
    tags: list[Tag] | None = Field(default=None, max_length=_MAX_TAGS)
    to_project: str | None = Field(default=None, min_length=1, max_length=300)
    to_entity: str | None = Field(default=None, min_length=1, max_length=64)


def _target(entity: str, project: str, body: BulkIn) -> str:
    """The move's target project name (400 when missing, the same project, or another
    entity's)."""
    if not body.to_project:
        raise ApiError(400, "move needs to_project: the name of a project of the same entity")
    to_entity, _, to_project = body.to_project.rpartition("/")
    to_entity = to_entity or body.to_entity or entity
    if body.to_entity is not None and body.to_entity != to_entity:
        raise ApiError(400, f"to_entity {body.to_entity!r} and to_project disagree; send one")
    if to_entity != entity:
        raise ApiError(
            400,
            f"runs cannot move from {entity} to another entity ({to_entity}): a run's files "
            f"and media are blobs of its entity; hint: pick a project of {entity}",
        )
    check_project(to_project)
    if to_project == project:
        raise ApiError(400, f"the runs are already in {entity}/{project}; pick another project")
    return to_project


def _failure(run_id: str, status: int, detail: str) -> dict[str, Any]:
    return {"id": run_id, "ok": False, "status": status, "error": detail}


@router.post("/runs/{entity}/{project}/bulk", tags=["runs"])
def runs_bulk(
    entity: str, project: str, body: BulkIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Tag, untag, move or delete up to 1000 runs of a project. Answers `{"action",
    "results": [{"id", "ok", "status", "run"?, "error"?}], "succeeded", "failed"}` in the
    order of `run_ids`; a failed run (404 unknown, 409 still being written or already in the
    target project) leaves the others done."""
    reach(user, entity, project, write=True)
    ids = list(dict.fromkeys(body.run_ids))
    for run_id in ids:
        check_run_id(run_id)
    tags: list[str] = list(dict.fromkeys(body.tags or []))
    if body.action in ("tag", "untag") and not tags:
        raise ApiError(400, f"{body.action} needs tags: a list of 1 to {_MAX_TAGS} tags")
    if body.action not in ("tag", "untag") and body.tags is not None:
        raise ApiError(400, f"tags apply to tag and untag, not to {body.action}")
    if body.action != "move" and (body.to_project is not None or body.to_entity is not None):
        raise ApiError(400, f"to_project applies to move, not to {body.action}")
    to_name = _target(entity, project, body) if body.action == "move" else None
    proj = find_project(ctx, entity, project)
    with ctx.db.read() as session:
        found = {
            r.run_id: r
            for r in session.scalars(
                sa.select(Run).where(Run.project_id == proj.id, Run.run_id.in_(ids))
            )
        }
    to: Project | None = None
    if to_name is not None and found:
        to = get_or_create_project(ctx.db, entity, to_name)
    results: list[dict[str, Any]] = []
    for run_id in ids:
        run = found.get(run_id)
        if run is None:
            results.append(_failure(run_id, 404, f"no run {run_id!r} in {entity}/{project}"))
            continue
        try:
            results.append(_act(ctx, proj, run, body.action, tags, to))
        except ApiError as exc:
            results.append(_failure(run_id, exc.status, exc.detail))
    done = [r["id"] for r in results if r["ok"]]
    if done and body.action in ("move", "delete"):
        detail: dict[str, Any] = {"project": project, "runs": done}
        if to is not None:
            detail["to_project"] = to.name
        with ctx.db.write() as session:
            audit.record(
                session,
                user.name,
                f"runs.{body.action}",
                entity=entity,
                target=project,
                detail=detail,
            )
    return JsonResponse(
        {
            "action": body.action,
            "results": results,
            "succeeded": len(done),
            "failed": len(results) - len(done),
        }
    )


def _act(
    ctx: AppContext, proj: Project, run: Run, action: str, tags: list[str], to: Project | None
) -> dict[str, Any]:
    """One run's action; ApiError when it fails."""
    if action == "delete":
        remove_run(ctx, proj, run)
        return {"id": run.run_id, "ok": True, "status": 200}
    if action == "move":
        assert to is not None
        if run.sweep_id:
            raise ApiError(
                409,
                f"run {run.run_id!r} is a trial of sweep {run.sweep_id}; a sweep's runs stay "
                "in the sweep's project",
            )
        refuse_if_written(ctx, proj, run)
        if not ctx.blobs.in_place and state_of(run, ctx.stale_after) == "running":
            raise ApiError(
                409,
                f"run {run.run_id!r} is still running (its log is being uploaded); hint: "
                "move it once it finished",
            )
        move_run(ctx.db, ctx.blobs, proj, run, to)
        with ctx.db.read() as session:
            moved = session.get(Run, run.id)
            if moved is None:
                raise ApiError(404, f"run {run.run_id!r} was deleted meanwhile")
            return {
                "id": run.run_id,
                "ok": True,
                "status": 200,
                "run": run_json(moved, to, ctx.stale_after),
            }
    with ctx.db.write() as session:
        row = session.get(Run, run.id)
        if row is None:
            raise ApiError(404, f"no run {run.run_id!r} in {proj.entity}/{proj.name}")
        current = list(row.tags or [])
        if action == "tag":
            updated = current + [t for t in tags if t not in current]
            if len(updated) > _MAX_TAGS:
                raise ApiError(400, f"run {run.run_id!r} would have more than {_MAX_TAGS} tags")
        else:
            updated = [t for t in current if t not in tags]
        if updated != current:
            edit_run_row(row, {"tags": updated})
            session.flush()
        return {
            "id": run.run_id,
            "ok": True,
            "status": 200,
            "run": run_json(row, proj, ctx.stale_after),
        }
