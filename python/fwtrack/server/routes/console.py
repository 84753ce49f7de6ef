"""A run's captured console lines (stdout and stderr), read from the run's index: a page
(the last one, polled while a run writes) reads only its own lines."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from fwtrack import _core
from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer
from fwtrack.server.routes.log_cache import UNREADABLE, index_dir, unreadable
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
    index = index_dir(paths)
    lines: list[tuple[int, str, float, str]] = []
    total = 0
    try:
        if index is None:
            pass
        elif not q:
            total, lines = _core.console_page(index, stream, offset, limit)
        else:
            needle = q.casefold()
            matching = [
                n
                for n, text in _core.console_search(index, stream, needle)
                if text is None or needle in text.casefold()
            ]
            total = len(matching)
            lines = _core.console_lines(index, matching[offset : offset + limit])
    except _core.CorruptLogError as exc:
        raise unreadable(exc) from exc
    out = [{"n": n, "stream": s, "ts": t, "text": text} for n, s, t, text in lines]
    following = offset + limit
    return JsonResponse(
        json_safe({"lines": out, "total": total, "next": following if following < total else None})
    )
