"""A run's alerts (`fwtrack.alert`): `GET /runs/{entity}/{project}/{run_id}/alerts`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from fwtrack.server import alerts as run_alerts
from fwtrack.server import core
from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, find_run, reach
from fwtrack.server.routes.run_request import RUN

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

MAX_ALERTS = 1000


@router.get(RUN + "/alerts", tags=["runs"])
def list_alerts(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_ALERTS)] = 100,
) -> JsonResponse:
    """The run's alerts in the order it raised them: `{"alerts": [{"seq", "ts", "title",
    "text", "level"}], "total", "next"}` (`next`: the offset of the next page, or null)."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    if ctx.blobs.in_place:  # `fwtrack ui`: read from the run's history index
        paths = ctx.blobs.current(proj, run)
        try:
            meta = core.index_read_meta(str(paths.index)).get("meta") or {}
        except (OSError, ValueError):
            meta = {}
        found = meta.get("alerts")
        if not isinstance(found, list):
            found = []
        every: list[dict[str, Any]] = [
            {"seq": seq, **run_alerts.clean(a)} for seq, a in enumerate(found)
        ]
        page, total = every[offset : offset + limit], len(every)
    else:
        with ctx.db.read() as session:
            page, total = run_alerts.list_alerts(session, run.id, offset, limit)
    following = offset + limit
    return JsonResponse(
        json_safe(
            {"alerts": page, "total": total, "next": following if following < total else None}
        )
    )
