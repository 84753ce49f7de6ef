"""Metric history (one run, or several of a project) and histograms."""

from __future__ import annotations

import os
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from fwtrack import _core
from fwtrack.server import core
from fwtrack.server.auth import Viewer
from fwtrack.server.context import AppContext
from fwtrack.server.db import Run
from fwtrack.server.errors import ApiError
from fwtrack.server.jsonutil import JsonResponse, json_safe, series_list
from fwtrack.server.routes.deps import (
    ERRORS,
    Ctx,
    CurrentViewer,
    error,
    find_project,
    find_run,
    reach,
)
from fwtrack.server.routes.log_cache import index_dir, unreadable
from fwtrack.server.routes.run_request import MAX_KEY_LEN, MAX_KEYS, RUN, keys_arg

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

MAX_RUNS_PER_HISTORY = 100

SERIES_MEDIA_TYPE = "application/x-fwtrack-series"
"""The binary answer of `POST /history` (docs/server.md, "Binary series"), sent to a client
whose `Accept` names it; every other client gets JSON."""

_READ_WORKERS = max(1, min(4, os.cpu_count() or 1))
"""Threads reading the runs of one binary answer (the Rust encoder, GIL released)."""


class MultiHistoryIn(BaseModel):
    """Many runs' series in one request."""

    model_config = ConfigDict(extra="forbid")
    runs: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]] = Field(
        min_length=1, max_length=MAX_RUNS_PER_HISTORY
    )
    keys: list[Annotated[str, Field(min_length=1, max_length=MAX_KEY_LEN)]] | None = Field(
        default=None, max_length=MAX_KEYS
    )
    samples: int = Field(
        default=1000,
        ge=0,
        le=1_000_000,
        description="Points per series at most (0 = full resolution).",
    )
    min_step: float | None = None
    max_step: float | None = None
    until: float | None = None
    timestamps: bool = Field(
        default=True,
        description="Send each point's timestamp (false when the chart's x-axis is the step).",
    )
    budget: int | None = Field(
        default=None,
        ge=1,
        le=100_000_000,
        description="Points per key over all the runs found: each run gets "
        "max(min_samples, budget // runs) samples, never more than `samples` (when not 0).",
    )
    min_samples: int = Field(
        default=100, ge=1, le=1_000_000, description="The fewest samples a run gets from `budget`."
    )


def samples_per_run(samples: int, budget: int | None, min_samples: int, runs: int) -> int:
    """The samples each of `runs` runs gets: `samples`, or with a `budget` of points per key,
    `max(min_samples, budget // runs)`, never more than `samples` (0 = no bound)."""
    if budget is None or runs <= 0:
        return samples
    share = max(min_samples, budget // runs)
    return share if samples == 0 else min(samples, share)


def wants_series(request: Request) -> bool:
    """Whether the client's `Accept` names the binary series answer (with a q above 0)."""
    for item in request.headers.get("accept", "").split(","):
        media, _, params = item.partition(";")
        if media.strip().lower() != SERIES_MEDIA_TYPE:
            continue
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def _read_series(
    index: str,
    keys: list[str] | None,
    samples: int,
    min_step: float | None,
    max_step: float | None,
    until: float | None,
) -> dict[str, Any]:
    """The index's series; with `until` (unix seconds: a frozen report's moment) only the
    points logged at or before it, downsampled after the cut."""
    if until is None:
        return core.read_series(index, keys, samples, min_step, max_step)
    series = core.read_series(index, keys, 0, min_step, max_step)
    out: dict[str, Any] = {}
    for key, columns in series.items():
        keep = columns["timestamp"] <= until
        if not keep.any():
            continue
        out[key] = _core.downsample(
            columns["step"][keep], columns["value"][keep], columns["timestamp"][keep], samples
        )
    return out


def _series_json(series: dict[str, Any], timestamps: bool = True) -> tuple[dict[str, Any], bool]:
    out: dict[str, Any] = {}
    downsampled = False
    for key, columns in series.items():
        item = {
            "step": series_list(columns["step"], integral=True),
            "value": series_list(columns["value"]),
        }
        if timestamps:
            item["timestamp"] = series_list(columns["timestamp"])
        if "min" in columns and "max" in columns:
            downsampled = True
            item["min"] = series_list(columns["min"])
            item["max"] = series_list(columns["max"])
        out[key] = item
    return out, downsampled


def _check_steps(
    min_step: float | None, max_step: float | None, until: float | None = None
) -> None:
    for name, value in (("min_step", min_step), ("max_step", max_step), ("until", until)):
        if value is not None and value != value:
            raise ApiError(400, f"{name} must be a number, got NaN")


@router.get(RUN + "/history", tags=["history"])
def history(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    keys: Annotated[str | None, Query(max_length=65536)] = None,
    samples: Annotated[int, Query(ge=0, le=1_000_000)] = 1000,
    min_step: float | None = None,
    max_step: float | None = None,
    until: float | None = None,
) -> JsonResponse:
    """Metric series, min/max-preserving downsampled to about `samples` points (0 = all);
    `until` (unix seconds) keeps only the points logged at or before it (a frozen report)."""
    reach(user, entity, project, run_id)
    _check_steps(min_step, max_step, until)
    wanted = keys_arg(keys)
    proj, run = find_run(ctx, entity, project, run_id)
    paths = ctx.blobs.current(proj, run)
    series = _read_series(str(paths.index), wanted, samples, min_step, max_step, until)
    out, downsampled = _series_json(series)
    return JsonResponse({"run": run_id, "series": out, "downsampled": downsampled})


_MANY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": 'JSON (`{"runs": [{"run", "series", "downsampled"}], '
        '"missing", "samples"}`), or for a client whose `Accept` names '
        f"`{SERIES_MEDIA_TYPE}` the same series as little-endian columns: the magic `FWSR`, "
        "u32 version (1), u32 header length, the header (JSON: runs, keys, lengths, each "
        "column's type `f8`/`f4` and offset), zero bytes up to a multiple of 8, then the "
        "columns, each at an offset from there that is a multiple of 8 (docs/server.md).",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            SERIES_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
    },
}


@router.post(
    "/history/{entity}/{project}",
    tags=["history"],
    response_class=Response,
    responses=_MANY_RESPONSES,
)
def history_many(
    entity: str,
    project: str,
    body: MultiHistoryIn,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> Response:
    """Series of several runs of one project: `{"runs": [{"run", "series", "downsampled"}],
    "missing": [run ids not found], "samples": points per series asked of each run}`; `until`
    as for one run's history; without `timestamps` the series hold no `timestamp`; a
    `budget` of points per key shares them among the runs found. A client whose `Accept`
    names `application/x-fwtrack-series` gets the same series as binary columns."""
    reach(user, entity, project)
    _check_steps(body.min_step, body.max_step, body.until)
    proj = find_project(ctx, entity, project)
    with ctx.db.read() as session:
        found = {
            row.run_id: row
            for row in session.scalars(
                sa.select(Run).where(Run.project_id == proj.id, Run.run_id.in_(body.runs))
            )
        }
    asked = list(dict.fromkeys(body.runs))
    present = [r for r in asked if r in found]
    missing = [r for r in asked if r not in found]
    samples = samples_per_run(body.samples, body.budget, body.min_samples, len(present))
    indexes = [(r, str(ctx.blobs.current(proj, found[r]).index)) for r in present]
    headers = {"Vary": "Accept"}
    if wants_series(request):
        data = _core.encode_history(
            indexes,
            missing,
            body.keys,
            samples,
            body.min_step,
            body.max_step,
            body.until,
            body.timestamps,
            _READ_WORKERS,
        )
        return Response(data, media_type=SERIES_MEDIA_TYPE, headers=headers)
    results = []
    for run_id, index in indexes:
        series = _read_series(index, body.keys, samples, body.min_step, body.max_step, body.until)
        out, downsampled = _series_json(series, body.timestamps)
        results.append({"run": run_id, "series": out, "downsampled": downsampled})
    return JsonResponse({"runs": results, "missing": missing, "samples": samples}, headers=headers)


def _stored_index(
    ctx: AppContext, user: Viewer, entity: str, project: str, run_id: str
) -> str | None:
    """The run's index (histograms are read from it, never from the log), or None while the
    log holds no record yet (404 for an unknown or unreachable run, 409 for a log that
    cannot be read)."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    return index_dir(ctx.blobs.current(proj, run))


def _histogram_keys(index: str) -> list[str]:
    try:
        return _core.histogram_keys(index)
    except _core.CorruptLogError as exc:
        raise unreadable(exc) from exc


@router.get(
    RUN + "/histograms",
    tags=["history"],
    responses=error(409, "The run log cannot be read"),
)
def histograms(
    entity: str,
    project: str,
    run_id: str,
    user: CurrentViewer,
    ctx: Ctx,
    key: Annotated[str, Query(min_length=1, max_length=MAX_KEY_LEN)],
) -> Response:
    """Every histogram logged under `key`: `{"key", "steps", "edges", "counts", "nan",
    "pos_inf", "neg_inf"}` with one entry per step."""
    index = _stored_index(ctx, user, entity, project, run_id)
    if index is None:
        raise ApiError(404, f"run {run_id!r} has no histograms under {key!r}")
    available = _histogram_keys(index)
    if key not in available:
        names = ", ".join(repr(k) for k in available[:20]) or "none"
        raise ApiError(404, f"run {run_id!r} has no histograms under {key!r}; it has: {names}")
    try:
        text = _core.histograms_json(index, key)  # the JSON written in Rust
        if text is not None:
            return Response(text, media_type=JsonResponse.media_type)
        body = {"key": key, **_core.histograms(index, key)}  # non-finite edges
    except _core.CorruptLogError as exc:
        raise unreadable(exc) from exc
    return JsonResponse(json_safe(body))


@router.get(
    RUN + "/histograms/keys",
    tags=["history"],
    responses=error(409, "The run log cannot be read"),
)
def histogram_keys(
    entity: str, project: str, run_id: str, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The keys the run logged histograms under, sorted: `{"keys": [...]}`."""
    index = _stored_index(ctx, user, entity, project, run_id)
    if index is None:
        return JsonResponse({"keys": []})
    return JsonResponse(json_safe({"keys": _histogram_keys(index)}))
