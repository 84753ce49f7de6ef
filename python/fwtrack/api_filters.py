"""`Api.runs(filters=..., order=...)`: W&B's MongoDB-style run filters and orders.

The same code decides which runs match, locally and on a server, so both answer alike: on a
server, the parts of a filter that the server's filter language (`server/queries.py`) says
the same way are sent along to narrow the listing, and every run the server answers is then
checked here against the whole filter.

Fields (W&B's names, and ours where they differ):

| Field | Meaning |
| --- | --- |
| `state` | `running`, `finished`, `failed`, `crashed`, `stopped` |
| `display_name` | the run's name |
| `name`, `id` | the run id (W&B calls the id `name`) |
| `tags` | the run's tags (a value matches when it is one of them) |
| `created_at` | when the run started: an ISO 8601 string, a `datetime` or Unix seconds |
| `config.<key>` | a config value, nested keys with `.`; W&B's `config.<key>.value` too |
| `summary_metrics.<key>` | a summary value (also `summary.<key>`) |
| `sweep` | the id of the sweep the run is a trial of |
| `group`, `jobType` (`job_type`), `notes`, `runtime` | as recorded |

Operators: `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`, `$nin`, `$regex`, `$exists`,
`$and`, `$or`, `$nor`, `$not`. A value compares with values of its own kind only (a number with
numbers, a string with strings), so `{"config.lr": {"$gt": 0.01}}` skips runs whose `lr` is a
string or missing; `$ne` and `$nin` also hold for a missing field, as in MongoDB.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fwtrack.api import Run

__all__ = [
    "FIELDS",
    "OPERATORS",
    "check_filters",
    "check_order",
    "matches",
    "server_clauses",
    "sort_runs",
]

OPERATORS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$regex",
    "$exists",
    "$and",
    "$or",
    "$nor",
    "$not",
)
_LOGICAL = ("$and", "$or", "$nor")
_STATES = ("running", "finished", "failed", "crashed", "stopped")
FIELDS = (
    "state",
    "display_name",
    "name",
    "id",
    "tags",
    "created_at",
    "config.<key>",
    "summary_metrics.<key>",
    "sweep",
    "group",
    "jobType",
    "job_type",
    "notes",
    "runtime",
)
_PLAIN = {f for f in FIELDS if "<" not in f}
_MISSING = object()


def _unsupported_operator(op: str) -> ValueError:
    return ValueError(
        f"unsupported filter operator {op!r}: supported operators are {', '.join(OPERATORS)}"
    )


def _unknown_field(field: str) -> ValueError:
    return ValueError(
        f"unknown run filter {field!r}: filter on {', '.join(FIELDS)} "
        "(e.g. {'config.lr': {'$gt': 0.01}, 'state': 'finished'})"
    )


def _check_field(field: str) -> None:
    root, dot, rest = field.partition(".")
    if root in ("config", "summary_metrics", "summary") and dot and rest:
        if any(not part for part in rest.split(".")):
            raise ValueError(f"run filter {field!r} has an empty key between dots")
        return
    if field not in _PLAIN:
        raise _unknown_field(field)


def _check_condition(field: str, cond: Any) -> None:
    if isinstance(cond, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in cond):
        for op, arg in cond.items():
            if op not in OPERATORS or op in _LOGICAL:
                raise _unsupported_operator(str(op))
            if op in ("$in", "$nin") and not isinstance(arg, list | tuple | set | frozenset):
                raise TypeError(f"filters[{field!r}][{op!r}] must be a list, got {arg!r}")
            if op == "$regex":
                if not isinstance(arg, str):
                    raise TypeError(f"filters[{field!r}]['$regex'] must be a str, got {arg!r}")
                try:
                    re.compile(arg)
                except re.error as exc:
                    raise ValueError(
                        f"filters[{field!r}]['$regex'] {arg!r} is not a regular expression: {exc}"
                    ) from None
            if op == "$not":
                _check_condition(field, arg)
            if field == "state" and op in ("$eq", "$ne", "$in", "$nin"):
                for v in arg if op in ("$in", "$nin") else [arg]:
                    _check_state(v)
        return
    if field in ("state", "sweep") and not isinstance(cond, str):
        if isinstance(cond, list | tuple) and all(isinstance(v, str) for v in cond):
            values: Any = cond  # a list of values: any of them (fwtrack's older form)
        else:
            raise TypeError(
                f"filters[{field!r}] must be a str or a list of str (or {{'$in': [...]}}), got "
                f"{cond!r}"
            )
    else:
        values = [cond]
    if field == "state":
        for v in values:
            _check_state(v)


def _check_state(value: Any) -> None:
    if value not in _STATES:
        raise ValueError(f"unknown run state {value!r} in filters: states are {', '.join(_STATES)}")


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """`filters` checked: a dict of W&B MongoDB-style conditions. Raises ValueError naming an
    unknown field or an unsupported operator (and the supported ones), TypeError for a value
    of the wrong kind."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise TypeError(
            f"filters must be a dict like {{'config.lr': {{'$gt': 0.01}}, 'state': 'finished'}}, "
            f"got {type(filters).__name__}"
        )
    for key, cond in filters.items():
        if not isinstance(key, str):
            raise TypeError(f"filter keys are field names (str), got {key!r}")
        if key.startswith("$"):
            if key not in _LOGICAL:
                raise _unsupported_operator(key)
            if not isinstance(cond, list | tuple) or not all(isinstance(c, Mapping) for c in cond):
                raise TypeError(f"filters[{key!r}] must be a list of filter dicts, got {cond!r}")
            for sub in cond:
                check_filters(sub)
            continue
        _check_field(key)
        _check_condition(key, cond)
    return dict(filters)


# -- evaluation ------------------------------------------------------------------------------


def _dig(value: Any, path: list[str]) -> Any:
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _timestamp(value: Any) -> Any:
    """A `created_at` operand as Unix seconds (ISO strings and datetimes converted)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"created_at filter value {value!r} is not an ISO 8601 time; use e.g. "
                "'2026-01-31T12:00:00' (UTC), a datetime or Unix seconds"
            ) from None
        return _timestamp(parsed)
    return value


def _field_value(run: Run, field: str) -> Any:
    root, _, rest = field.partition(".")
    if root == "config" and rest:
        config = run.config
        path = rest.split(".")
        value = _dig(config, path)
        if value is _MISSING and path[-1] == "value" and len(path) > 1:
            value = _dig(config, path[:-1])  # W&B's `config.lr.value` is our `config.lr`
        return value
    if root in ("summary_metrics", "summary") and rest:
        return _dig(run.summary, rest.split("."))
    getters: dict[str, Callable[[Run], Any]] = {
        "state": lambda r: r.state,
        "display_name": lambda r: r.name,
        "name": lambda r: r.id,
        "id": lambda r: r.id,
        "tags": lambda r: list(r.tags),
        "created_at": lambda r: r.created_at.timestamp(),
        "sweep": lambda r: r.sweep_id,
        "group": lambda r: r.group,
        "jobType": lambda r: r.job_type,
        "job_type": lambda r: r.job_type,
        "notes": lambda r: r.notes,
        "runtime": lambda r: r.runtime,
    }
    value = getters[field](run)
    return _MISSING if value is None else value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def _equal(a: Any, b: Any) -> bool:
    if b is None:
        return a is _MISSING or a is None
    if a is _MISSING:
        return False
    if _kind(a) != _kind(b):
        return False
    return bool(a == b)


def _compare(a: Any, op: str, b: Any) -> bool:
    if a is _MISSING or _kind(a) != _kind(b) or _kind(a) not in ("number", "string"):
        return False
    if isinstance(a, float) and math.isnan(a):
        return False
    if op == "$gt":
        return bool(a > b)
    if op == "$gte":
        return bool(a >= b)
    if op == "$lt":
        return bool(a < b)
    return bool(a <= b)


def _elements(value: Any) -> list[Any]:
    """What a condition is tried on: an array field's elements (and the array itself)."""
    if isinstance(value, list):
        return [*value, value]
    return [value]


def _operator(value: Any, op: str, arg: Any, field: str) -> bool:
    if field == "created_at" and op not in ("$exists", "$regex", "$not"):
        arg = [_timestamp(a) for a in arg] if op in ("$in", "$nin") else _timestamp(arg)
    if op == "$eq":
        return any(_equal(v, arg) for v in _elements(value))
    if op == "$ne":
        return not any(_equal(v, arg) for v in _elements(value))
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return any(_compare(v, op, arg) for v in _elements(value))
    if op == "$in":
        return any(_equal(v, a) for v in _elements(value) for a in arg)
    if op == "$nin":
        return not any(_equal(v, a) for v in _elements(value) for a in arg)
    if op == "$regex":
        pattern = re.compile(arg)
        return any(isinstance(v, str) and pattern.search(v) is not None for v in _elements(value))
    if op == "$exists":
        return (value is not _MISSING) == bool(arg)
    if op == "$not":
        return not _condition(value, arg, field)
    raise _unsupported_operator(op)


def _condition(value: Any, cond: Any, field: str) -> bool:
    if isinstance(cond, Mapping) and any(isinstance(k, str) and k.startswith("$") for k in cond):
        return all(_operator(value, op, arg, field) for op, arg in cond.items())
    if field in ("state", "sweep") and isinstance(cond, list | tuple):
        return _operator(value, "$in", list(cond), field)
    return _operator(value, "$eq", cond, field)


def matches(run: Run, filters: Mapping[str, Any]) -> bool:
    """Whether `run` passes `filters` (checked by `check_filters`)."""
    for key, cond in filters.items():
        if key == "$and":
            ok = all(matches(run, sub) for sub in cond)
        elif key == "$or":
            ok = any(matches(run, sub) for sub in cond)
        elif key == "$nor":
            ok = not any(matches(run, sub) for sub in cond)
        else:
            ok = _condition(_field_value(run, key), cond, key)
        if not ok:
            return False
    return True


# -- the server's share ----------------------------------------------------------------------

_SERVER_OPS = {"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def _server_clause(field: str, op: str, arg: Any) -> str | None:
    """One clause of the server's filter language that means the same, else None."""
    if field in ("state", "sweep") and op == "$eq" and isinstance(arg, str):
        return f"{field} = {json.dumps(arg)}"
    if field == "display_name" and op == "$eq" and isinstance(arg, str):
        return f"name = {json.dumps(arg)}"
    if field in ("name", "id") and op == "$eq" and isinstance(arg, str):
        return f"id = {json.dumps(arg)}"
    if field == "tags" and op == "$eq" and isinstance(arg, str):
        return f"tags = {json.dumps(arg)}"
    root, _, rest = field.partition(".")
    if root in ("config", "summary_metrics", "summary") and rest:
        if root == "config" and rest.split(".")[-1] == "value":
            return None  # `config.x.value` may mean `config.x`: checked on the client only
        if _kind(arg) != "number" or not math.isfinite(float(arg)):
            return None
        if not all(re.fullmatch(r"[\w\-/:]+", p) for p in rest.split(".")):
            return None
        target = "config" if root == "config" else "summary"
        return f"{target}.{rest} {_SERVER_OPS[op]} {json.dumps(arg)}"
    return None


def server_clauses(filters: Mapping[str, Any]) -> list[str]:
    """Clauses of the server's filter (`field op value`, joined by `and`) that every run
    matching `filters` passes: a narrowing of the listing, never a widening (every run the
    server answers is still checked with `matches`)."""
    out: list[str] = []
    for key, cond in filters.items():
        if key.startswith("$"):
            if key == "$and":
                for sub in cond:
                    out.extend(server_clauses(sub))
            continue
        if isinstance(cond, Mapping) and any(
            isinstance(k, str) and k.startswith("$") for k in cond
        ):
            items = list(cond.items())
        elif isinstance(cond, list | tuple):
            items = [("$in", list(cond))]
        else:
            items = [("$eq", cond)]
        for op, arg in items:
            if op in _SERVER_OPS:
                clause = _server_clause(key, op, arg)
            elif op == "$in" and len(arg) == 1:
                clause = _server_clause(key, "$eq", next(iter(arg)))
            else:
                clause = None
            if clause is not None:
                out.append(clause)
    return list(dict.fromkeys(out))[:32]


# -- order -----------------------------------------------------------------------------------

_ORDER_FIELDS = ("created_at", "heartbeat_at", "updated_at", "display_name", "name", "state")


def check_order(order: str | None) -> tuple[str, bool] | None:
    """`order` as (field, descending): W&B's `"+created_at"` / `"-created_at"` (a bare field
    is ascending), `config.<key>[.value]`, `summary_metrics.<key>`; None keeps newest first."""
    if order is None:
        return None
    if not isinstance(order, str) or not order.strip():
        raise TypeError(f"order must be a str like '-created_at', got {order!r}")
    text = order.strip()
    descending = text.startswith("-")
    field = text[1:] if text[0] in "+-" else text
    root, _, rest = field.partition(".")
    if field in _ORDER_FIELDS or field in ("runtime", "id"):
        return field, descending
    if root in ("config", "summary_metrics", "summary") and rest and all(rest.split(".")):
        return field, descending
    raise ValueError(
        f"cannot order runs by {order!r}: use created_at, heartbeat_at, display_name, name, "
        "state, runtime, config.<key> or summary_metrics.<key>, with '+' (ascending, the "
        "default) or '-' (descending) in front"
    )


def sort_runs(runs: list[Run], order: tuple[str, bool] | None) -> list[Run]:
    """`runs` in `order` (from `check_order`); runs lacking the field (or holding a value of
    another kind) come last, ties broken by run id."""
    if order is None:
        return sorted(runs, key=lambda r: (r.created_at.timestamp(), r.id), reverse=True)
    field, descending = order

    def value(run: Run) -> Any:
        if field in ("heartbeat_at", "updated_at"):
            stamp = getattr(run, "updated_at", None) or run.created_at
            return stamp.timestamp()
        if field == "id":
            return run.id
        return _field_value(run, field)

    present: list[tuple[Any, Run]] = []
    missing: list[Run] = []
    for run in runs:
        v = value(run)
        if v is _MISSING or _kind(v) not in ("number", "string") or v != v:
            missing.append(run)
        else:
            present.append((v, run))
    numbers = [(v, r) for v, r in present if _kind(v) == "number"]
    strings = [(v, r) for v, r in present if _kind(v) == "string"]
    out: list[Run] = []
    for group in (numbers, strings):
        group.sort(key=lambda vr: (vr[0], vr[1].id), reverse=descending)
        out.extend(r for _, r in group)
    return out + sorted(missing, key=lambda r: r.id)
