"""Media a run logged (its keys, the values under one key) and pages of its logged tables.

Media values are read from the run's index (see `log_cache`); their payloads are run
files (`GET .../files/{path}`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from fwtrack import _core
from fwtrack.server.blobs import RunPaths
from fwtrack.server.errors import ApiError, check_file_path
from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, find_run, reach
from fwtrack.server.routes.log_cache import UNREADABLE, index_dir, unreadable
from fwtrack.server.routes.run_request import MAX_KEY_LEN, RUN, run_paths
from fwtrack.server.tables import TableCache, TableError

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

MAX_TABLE_ROWS = 1000
_TABLES = TableCache()

# -- media -----------------------------------------------------------------------------------


def _media(paths: RunPaths, key: str | None = None) -> list[tuple[int, float, str, Any]]:
    """The run's media values in log order (of `key` only, when given)."""
    index = index_dir(paths)
    if index is None:
        return []
    try:
        return _core.media_items(index, key)
    except _core.CorruptLogError as exc:
        raise unreadable(exc) from exc


def _media_keys(paths: RunPaths) -> list[tuple[str, int, Any]]:
    """`(key, count, type of the newest)` of each media key, in order of first use."""
    index = index_dir(paths)
    if index is None:
        return []
    try:
        return _core.media_keys(index)
    except _core.CorruptLogError as exc:
        raise unreadable(exc) from exc


@router.get(RUN + "/media/keys", tags=["media"], responses=UNREADABLE)
def media_keys(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The keys the run logged media under, sorted: `{"keys": [{"key", "type", "count"}]}`
    (`type` of the newest value: image, audio, video, html, table or gallery)."""
    _, paths = run_paths(ctx, user, entity, project, run_id)
    found = [{"key": k, "type": t, "count": n} for k, n, t in sorted(_media_keys(paths))]
    return JsonResponse(json_safe({"keys": found}))


@router.get(RUN + "/media", tags=["media"], responses=UNREADABLE)
def media(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    key: Annotated[str, Query(min_length=1, max_length=MAX_KEY_LEN)],
) -> JsonResponse:
    """Every value logged under media `key`, in log order: `{"key", "items": [{"step", "ts",
    "value": descriptor}]}`; payloads come from `GET .../files/{value.path}`."""
    _, paths = run_paths(ctx, user, entity, project, run_id)
    items = [{"step": s, "ts": t, "value": d} for s, t, _, d in _media(paths, key)]
    if not items:
        keys = sorted(k for k, _, _ in _media_keys(paths))
        names = ", ".join(repr(k) for k in keys[:20]) or "none"
        raise ApiError(404, f"run {run_id!r} has no media under {key!r}; it has: {names}")
    return JsonResponse(json_safe({"key": key, "items": items}))


# -- tables ----------------------------------------------------------------------------------


@router.get(RUN + "/table", tags=["media"], responses=UNREADABLE)
def table(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    path: Annotated[str, Query(min_length=1, max_length=512)],
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_TABLE_ROWS)] = 50,
    sort: Annotated[str | None, Query(max_length=1024)] = None,
    order: Literal["asc", "desc"] = "asc",
    q: Annotated[str, Query(max_length=1024)] = "",
) -> JsonResponse:
    """A page of a logged table (`path` = a descriptor's `path`, e.g.
    `media/<sha256>.table.json`): `{"columns", "total", "offset", "rows", "row_ids"}` where
    `total` counts the rows matching `q` (case-insensitive text of any cell), sorted by column
    `sort` (numbers numerically, text case-insensitively, nulls last in either `order`)."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    if not path.endswith(".table.json"):
        raise ApiError(
            400,
            f"path {path[:80]!r} is not a table file: pass the `path` of a table's descriptor "
            "(media/<sha256>.table.json)",
        )
    check_file_path(path)
    stored = ctx.blobs.files(proj, run).get(path)
    try:
        parsed = _TABLES.get(stored.cache_key, stored.size, stored.read)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ApiError(
            404, f"run {run_id!r} has no file {path!r}; GET .../files lists them"
        ) from None
    except TableError as exc:
        raise ApiError(409, f"{path!r} cannot be read as a table: {exc}") from exc
    column: int | None = None
    if sort is not None and sort != "":
        if sort not in parsed.columns:
            names = ", ".join(repr(c) for c in parsed.columns[:50])
            raise ApiError(400, f"sort: the table has no column {sort!r}; use one of: {names}")
        column = parsed.columns.index(sort)
    ids = parsed.view(column, order == "desc", q.casefold())
    page = ids[offset : offset + limit]
    return JsonResponse(
        json_safe(
            {
                "columns": parsed.columns,
                "total": len(ids),
                "offset": offset,
                "rows": [parsed.rows[i] for i in page],
                "row_ids": page,
            }
        )
    )
