"""A run's captured console lines (stdout and stderr), read from the stored run log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer
from fwtrack.server.routes.log_cache import UNREADABLE, decoded, part
from fwtrack.server.routes.run_request import RUN, run_paths

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

MAX_LOG_LINES = 10_000


@router.get(RUN + "/logs", tags=["system"], responses=UNREADABLE)
def logs(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_LINES)] = 1000,
    q: Annotated[str, Query(max_length=1024)] = "",
    stream: Literal["stdout", "stderr"] | None = None,
) -> JsonResponse:
    """Captured console lines: `{"lines": [{"n", "stream", "ts", "text"}], "total", "next"}`,
    `n` being the line's number in the whole log, `total` the number of lines matching
    `stream` and `q` (case-insensitive text), `next` the offset of the next page or null."""
    _, paths = run_paths(ctx, user, entity, project, run_id)
    log = decoded(paths)
    lines = part(log, "console")
    if stream is None and not q:
        total = len(lines)
        numbers: list[int] | range = range(offset, min(offset + limit, total))
    else:
        needle = q.casefold()
        texts = part(log, "console_text") if needle else []
        matching = [
            n
            for n, line in enumerate(lines)
            if (stream is None or line[1] == stream) and (not needle or needle in texts[n])
        ]
        total = len(matching)
        numbers = matching[offset : offset + limit]
    out = [{"n": n, "stream": lines[n][1], "ts": lines[n][0], "text": lines[n][2]} for n in numbers]
    following = offset + limit
    return JsonResponse(
        json_safe({"lines": out, "total": total, "next": following if following < total else None})
    )
