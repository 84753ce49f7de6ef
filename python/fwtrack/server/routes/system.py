"""A run's system metrics (CPU, memory, GPU... samples), read from the run's index."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query

from fwtrack import _core
from fwtrack.server.jsonutil import JsonResponse, series_list
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer
from fwtrack.server.routes.log_cache import UNREADABLE, index_dir, unreadable
from fwtrack.server.routes.run_request import RUN, keys_arg, run_paths

__all__ = ["router"]

router = APIRouter(responses=ERRORS)


def _nullable(values: Any) -> list[float | None]:
    """Floats with null where a sample lacks the key (NaN)."""
    arr = np.asarray(values, dtype=np.float64)
    out: list[float | None] = arr.tolist()
    for i in np.flatnonzero(~np.isfinite(arr)).tolist():
        out[i] = None
    return out


@router.get(RUN + "/system", tags=["system"], responses=UNREADABLE)
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
    _, paths = run_paths(ctx, user, entity, project, run_id)
    wanted = keys_arg(keys)
    where = index_dir(paths)
    columns: dict[str, Any] = {}
    if where is not None:
        try:
            columns = _core.system_columns(where, wanted)
        except _core.CorruptLogError as exc:
            raise unreadable(exc) from exc
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
