"""What a run records besides metrics: system samples, console lines, media, tables, and its
environment snapshot (docs/server.md, "System, console, media, tables").

Everything but tables and metadata is decoded from the stored run log with
`_core.RunReader`. Decoding a long log takes a while, so each log's decoded parts are kept
in a small LRU keyed by the log's path, size and mtime: repeated requests (paging, polling a
finished run) decode once, and a log that grew (a live run) is decoded again.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query

from fwtrack import _core
from fwtrack.run_files import merge_metadata
from fwtrack.server.auth import Viewer
from fwtrack.server.blobs import RunPaths
from fwtrack.server.context import AppContext
from fwtrack.server.errors import ApiError, check_file_path
from fwtrack.server.jsonutil import JsonResponse, json_safe, series_list
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, find_run, reach
from fwtrack.server.routes.runs import LOG_HEADER_LEN, MAX_KEY_LEN, RUN, keys_arg
from fwtrack.server.tables import TableCache, TableError

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

MAX_LOG_LINES = 10_000
MAX_TABLE_ROWS = 1000
_UNREADABLE = error(409, "The run log (or table file) cannot be read")


# -- decoded logs, cached --------------------------------------------------------------------


@dataclass
class _Decoded:
    """What these routes read from one log (at one size): its system samples, console lines
    (and their casefolded text, for `q`) and media values, all from one decoding on first use.
    The rows are not kept: they are large, and the history index serves them."""

    path: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    _parts: dict[str, Any] | None = None

    def part(self, name: str) -> Any:
        with self.lock:
            if self._parts is None:
                try:
                    reader = _core.RunReader(self.path)
                except FileNotFoundError:
                    self._parts = _empty_parts()
                else:
                    self._parts = {
                        "system": dict(reader.system()),
                        "console": list(reader.console()),
                        "media": list(reader.media()),
                    }
            if name == "console_text" and name not in self._parts:
                self._parts[name] = [text.casefold() for _, _, text in self._parts["console"]]
            return self._parts[name]


def _empty_parts() -> dict[str, Any]:
    """The parts of a log that holds no record yet."""
    return {"system": {}, "console": [], "console_text": [], "media": []}


class _LogCache:
    """At most `size` decoded logs, least recently used dropped first."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._logs: OrderedDict[tuple[str, int, int], _Decoded] = OrderedDict()

    def get(self, path: str, size: int, mtime_ns: int) -> _Decoded:
        key = (path, size, mtime_ns)
        with self._lock:
            decoded = self._logs.get(key)
            if decoded is None:
                decoded = self._logs[key] = _Decoded(path)
            self._logs.move_to_end(key)
            while len(self._logs) > self.size:
                self._logs.popitem(last=False)
            return decoded


_LOGS = _LogCache()
_TABLES = TableCache()


def _run_paths(
    ctx: AppContext, user: Viewer, entity: str, project: str, run_id: str
) -> tuple[dict[str, Any], RunPaths]:
    """The run's start info (as stored in SQL) and where its bytes live (400/403/404 first)."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    return dict(run.meta or {}), ctx.blobs.paths(proj.id, proj.name, run_id)


def _decoded(paths: RunPaths) -> _Decoded | None:
    """The run's decoded log, or None while it holds no record yet."""
    log = paths.stored_log()  # never a symbolic link
    try:
        st = log.stat()
    except FileNotFoundError:
        return None
    if st.st_size <= LOG_HEADER_LEN:
        return None
    return _LOGS.get(str(log), st.st_size, st.st_mtime_ns)


def _part(decoded: _Decoded | None, name: str) -> Any:
    """One part of the run's decoded log ("system", "console", "console_text", "media")."""
    if decoded is None:
        return _empty_parts()[name]
    try:
        return decoded.part(name)
    except _core.CorruptLogError as exc:
        raise ApiError(409, f"the stored log cannot be read: {exc}") from exc


# -- system metrics --------------------------------------------------------------------------


def _nullable(values: Any) -> list[float | None]:
    """Floats with null where a sample lacks the key (NaN)."""
    arr = np.asarray(values, dtype=np.float64)
    out: list[float | None] = arr.tolist()
    for i in np.flatnonzero(~np.isfinite(arr)).tolist():
        out[i] = None
    return out


@router.get(RUN + "/system", tags=["system"], responses=_UNREADABLE)
def system(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    keys: Annotated[str | None, Query(max_length=65536)] = None,
    samples: Annotated[int, Query(ge=0, le=1_000_000)] = 1000,
) -> JsonResponse:
    """System samples as columns: `{"timestamp", "runtime", "series": {key: [...]},
    "downsampled"}` (keys sorted, null where a sample lacks a key); longer than `samples`
    (0 = all), min/max-preserving downsampled with `"min"`/`"max"` per key."""
    _, paths = _run_paths(ctx, user, entity, project, run_id)
    wanted = keys_arg(keys)
    columns = _part(_decoded(paths), "system")
    timestamp = np.asarray(columns.get("_timestamp", ()), dtype=np.float64)
    runtime = np.asarray(columns.get("_runtime", ()), dtype=np.float64)
    names = sorted(k for k in columns if not k.startswith("_"))
    if wanted is not None:
        chosen = set(wanted)
        names = [k for k in names if k in chosen]
    body: dict[str, Any] = {"series": {}, "downsampled": False}
    if samples == 0 or len(timestamp) <= samples:
        body["timestamp"] = series_list(timestamp)
        body["runtime"] = series_list(runtime)
        for name in names:
            body["series"][name] = _nullable(columns[name])
        return JsonResponse(body)
    # Buckets are cut over the sample index, so every key keeps the same samples.
    index = np.arange(len(timestamp), dtype=np.float64)
    picked = _core.downsample(index, runtime, timestamp, samples)
    rows = picked["step"].astype(np.int64)
    body["timestamp"] = series_list(timestamp[rows])
    body["runtime"] = series_list(runtime[rows])
    body["downsampled"] = True
    body["min"], body["max"] = {}, {}
    for name in names:
        values = np.asarray(columns[name], dtype=np.float64)
        down = _core.downsample(index, values, timestamp, samples)
        body["series"][name] = _nullable(down["value"])
        body["min"][name] = _nullable(down["min"])
        body["max"][name] = _nullable(down["max"])
    return JsonResponse(body)


# -- console ---------------------------------------------------------------------------------


@router.get(RUN + "/logs", tags=["system"], responses=_UNREADABLE)
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
    _, paths = _run_paths(ctx, user, entity, project, run_id)
    decoded = _decoded(paths)
    lines = _part(decoded, "console")
    if stream is None and not q:
        total = len(lines)
        numbers: list[int] | range = range(offset, min(offset + limit, total))
    else:
        needle = q.casefold()
        texts = _part(decoded, "console_text") if needle else []
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


# -- media -----------------------------------------------------------------------------------


def _media(paths: RunPaths) -> list[tuple[int, float, str, dict[str, Any]]]:
    items: list[tuple[int, float, str, dict[str, Any]]] = _part(_decoded(paths), "media")
    return items


@router.get(RUN + "/media/keys", tags=["media"], responses=_UNREADABLE)
def media_keys(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The keys the run logged media under, sorted: `{"keys": [{"key", "type", "count"}]}`
    (`type` of the newest value: image, audio, video, html, table or gallery)."""
    _, paths = _run_paths(ctx, user, entity, project, run_id)
    found: dict[str, dict[str, Any]] = {}
    for _, _, key, desc in _media(paths):
        entry = found.setdefault(key, {"key": key, "type": None, "count": 0})
        entry["type"] = desc.get("_type") if isinstance(desc, dict) else None
        entry["count"] += 1
    return JsonResponse(json_safe({"keys": [found[k] for k in sorted(found)]}))


@router.get(RUN + "/media", tags=["media"], responses=_UNREADABLE)
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
    _, paths = _run_paths(ctx, user, entity, project, run_id)
    records = _media(paths)
    items = [{"step": s, "ts": t, "value": d} for s, t, k, d in records if k == key]
    if not items:
        names = ", ".join(repr(k) for k in sorted({k for _, _, k, _ in records})[:20]) or "none"
        raise ApiError(404, f"run {run_id!r} has no media under {key!r}; it has: {names}")
    return JsonResponse(json_safe({"key": key, "items": items}))


# -- tables ----------------------------------------------------------------------------------


@router.get(RUN + "/table", tags=["media"], responses=_UNREADABLE)
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
    _, paths = _run_paths(ctx, user, entity, project, run_id)
    if not path.endswith(".table.json"):
        raise ApiError(
            400,
            f"path {path[:80]!r} is not a table file: pass the `path` of a table's descriptor "
            "(media/<sha256>.table.json)",
        )
    check_file_path(path)
    target = paths.file(path)
    try:
        parsed = _TABLES.get(target)
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


# -- environment snapshot --------------------------------------------------------------------


@router.get(RUN + "/metadata", tags=["files"])
def metadata(entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """The run's environment: its start info (host, program, python, ...) with the keys of
    the snapshot `files/metadata.json` (git, command line, OS, CPU, GPUs, ...) it lacks, as
    `run.metadata` gives it; `{}` when neither exists."""
    start, paths = _run_paths(ctx, user, entity, project, run_id)
    try:
        snap = paths.file("metadata.json")  # never through a symbolic link
        raw: bytes | None = snap.read_bytes() if os.path.isfile(snap) else None
    except (ApiError, OSError):
        raw = None
    return JsonResponse(json_safe(merge_metadata(start, raw)))
