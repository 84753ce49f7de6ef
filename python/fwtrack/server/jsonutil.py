"""JSON that every client and both databases accept: non-finite floats as strings."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.responses import JSONResponse

__all__ = [
    "MAX_JSON_DEPTH",
    "JsonDepthError",
    "JsonResponse",
    "clean_text",
    "json_safe",
    "loads_bounded",
    "series_list",
]

_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
MAX_JSON_DEPTH = 64
"""The deepest nesting of objects and arrays accepted in JSON from a client."""
_MAX_DEPTH = MAX_JSON_DEPTH


class JsonDepthError(ValueError):
    """JSON from a client nested deeper than `MAX_JSON_DEPTH`."""


def _too_deep(value: Any, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` levels (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def loads_bounded(
    text: str | bytes,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """`json.loads(text)` for JSON from a client: nesting deeper than `max_depth` levels of
    objects and arrays raises `JsonDepthError` (never `RecursionError`), other bad JSON
    `ValueError` as `json.loads` does."""
    too_deep = JsonDepthError(
        f"JSON nested deeper than {max_depth} levels of objects and arrays (the limit); "
        "hint: flatten it"
    )
    try:
        value = json.loads(text, parse_constant=parse_constant)
    except RecursionError:
        raise too_deep from None
    if _too_deep(value, max_depth):
        raise too_deep
    return value


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else _NON_FINITE[value]


def clean_text(value: str) -> str:
    """Text without NUL characters (PostgreSQL text refuses them)."""
    return value.replace("\x00", "") if "\x00" in value else value


def json_safe(value: Any, depth: int = 0) -> Any:
    """`value` with non-finite floats as `"NaN"`/`"Infinity"`/`"-Infinity"`, numpy scalars
    as Python numbers, bytes as text, and anything else unknown as its `str`."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return clean_text(value)
    if depth > _MAX_DEPTH:
        return str(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, np.generic):
        return json_safe(value.item(), depth)
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), depth)
    if isinstance(value, bytes):
        return clean_text(value.decode("utf-8", errors="replace"))
    return clean_text(str(value))


def series_list(values: npt.NDArray[np.float64], *, integral: bool = False) -> list[Any]:
    """A float64 array as a JSON-ready list (non-finite values as strings; `integral`
    gives ints where the values are whole numbers, as steps are)."""
    arr = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(arr)
    if integral and finite.all() and (arr == np.floor(arr)).all():
        return [int(v) for v in arr.astype(np.int64).tolist()]
    items: list[Any] = arr.tolist()
    if finite.all():
        return items
    for i in np.flatnonzero(~finite).tolist():
        items[i] = _float(items[i])
    return items


class JsonResponse(JSONResponse):
    """A compact JSON response that refuses NaN (callers pass `json_safe` data)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
