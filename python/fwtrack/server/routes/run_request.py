"""What the run routes read from a request: the run's URL, the run it names (after the access
check) and where its bytes live, the `keys` list, a `Range` header, an upload slot."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from fwtrack.server.auth import Viewer
from fwtrack.server.blobs import RunPaths
from fwtrack.server.context import AppContext
from fwtrack.server.errors import ApiError
from fwtrack.server.routes.deps import find_run, reach

__all__ = [
    "MAX_KEYS",
    "MAX_KEY_LEN",
    "OCTET_BODY",
    "RUN",
    "keys_arg",
    "parse_range",
    "run_paths",
    "upload_slot",
]

RUN = "/runs/{entity}/{project}/{run_id}"
MAX_KEYS = 1000
MAX_KEY_LEN = 256
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

OCTET_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
"""`openapi_extra` of a route whose body is raw bytes (read from the request, not declared)."""


def run_paths(
    ctx: AppContext, user: Viewer, entity: str, project: str, run_id: str
) -> tuple[dict[str, Any], RunPaths]:
    """The run's start info (as stored in SQL) and where its bytes live, brought up to date
    (`BlobStore.current`; 400/403/404 first)."""
    reach(user, entity, project, run_id)
    proj, run = find_run(ctx, entity, project, run_id)
    return dict(run.meta or {}), ctx.blobs.current(proj, run)


def keys_arg(keys: str | None) -> list[str] | None:
    """The `keys` query parameter (comma-separated) as a list; None when absent or empty."""
    if keys is None or not keys.strip():
        return None
    wanted = [k.strip() for k in keys.split(",") if k.strip()]
    if len(wanted) > MAX_KEYS or any(len(k) > MAX_KEY_LEN for k in wanted):
        raise ApiError(400, f"keys: at most {MAX_KEYS} keys of at most {MAX_KEY_LEN} characters")
    return wanted


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """`(start, end_exclusive)` of a single `bytes=` range; None when unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        raise ApiError(400, f"unsupported Range {header[:80]!r}: use 'bytes=<start>-[<end>]'")
    first, last = match.groups()
    if not first:
        length = int(last)
        if length == 0:
            return None
        return max(size - length, 0), size
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or end <= start:
        return None
    return start, end


@contextlib.asynccontextmanager
async def upload_slot(ctx: AppContext) -> AsyncIterator[None]:
    """One of the process's `--max-concurrent-uploads` upload slots (log frames or blobs), or
    429 with `Retry-After` when they are all taken."""
    if ctx.uploads_in_flight >= ctx.config.max_concurrent_uploads:
        raise ApiError(
            429,
            f"the server is handling {ctx.uploads_in_flight} uploads; retry after 1 s",
            headers={"Retry-After": "1"},
        )
    ctx.uploads_in_flight += 1
    try:
        yield
    finally:
        ctx.uploads_in_flight -= 1
