"""Runs listing in SQL: filter expressions, search, sort, pagination; the run JSON object.

Filter: clauses joined by ` and `, each `<field> <op> <value>`, with fields `id`, `name`,
`state`, `sweep` (the id of the sweep a run is a trial of), `tags`, `created_at`,
`updated_at`, `runtime`, `config.<key>`, `summary.<key>` (nested keys with `.`), ops
`= != < <= > >= ~` (`~` contains; for `tags`, has tag), values JSON literals or bare words.
JSON fields are compared by type: a number only matches numbers, a string only strings. The
expressions work on SQLite (json_extract/json_type) and PostgreSQL (`#>`/`#>>`/json_typeof).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from fwtrack.server.db import Project, Run, now
from fwtrack.server.errors import ApiError

__all__ = [
    "RunQuery",
    "apply_field_edits",
    "effective_state",
    "keep_edited",
    "list_runs",
    "parse_filter",
    "run_json",
]

_OPS = ("<=", ">=", "!=", "=", "<", ">", "~")
_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.\-/:]*)\s*(<=|>=|!=|=|<|>|~)\s*(.*?)\s*$", re.S)
_AND = re.compile(r"\s+and\s+", re.I)
_PLAIN_FIELDS = (
    "id",
    "name",
    "state",
    "sweep",
    "tags",
    "created_at",
    "updated_at",
    "runtime",
    "exit_code",
)
_STRING_FIELDS = {"id", "name", "state", "sweep"}
_NUMBER_FIELDS = {"created_at", "updated_at", "runtime", "exit_code"}
_STATES = ("running", "finished", "failed", "crashed", "stopped")
MAX_FILTER_LEN = 4096
MAX_CLAUSES = 32


def effective_state(stale_before: float | None) -> ColumnElement[str]:
    """The reported state: a `running` run silent since `stale_before` is `crashed`."""
    if stale_before is None:
        return Run.__table__.c.state
    return sa.case(
        (sa.and_(Run.state == "running", Run.heartbeat_at < stale_before), "crashed"),
        else_=Run.state,
    )


@dataclass(frozen=True)
class _Json:
    """Typed views of one JSON path in a JSON column, for one SQL dialect."""

    kind: ColumnElement[Any]  # normalized: number, string, true, false, null, array, object
    text: ColumnElement[Any]  # the value as text (strings unquoted)
    number: ColumnElement[Any]  # the value as a float where it is a number, else NULL


def _json_path(column: Any, path: list[str], dialect: str) -> _Json:
    if dialect == "postgresql":
        arr = sa.literal(path, type_=postgresql.ARRAY(sa.Text))
        node = column.op("#>", return_type=sa.JSON)(arr)
        raw_kind = sa.func.json_typeof(node)
        text = column.op("#>>", return_type=sa.Text)(arr)
        kind = sa.case(
            (raw_kind == "boolean", sa.case((text == "true", "true"), else_="false")),
            else_=raw_kind,
        )
        number = sa.case((raw_kind == "number", sa.cast(text, sa.Double)), else_=None)
        return _Json(kind, text, number)
    for key in path:
        if '"' in key or "\\" in key:
            raise ApiError(
                400, f"JSON key {key!r} in a filter or sort may not contain '\"' or '\\'"
            )
    jpath = "$" + "".join(f'."{key}"' for key in path)
    raw_kind = sa.func.json_type(column, jpath)
    value = sa.func.json_extract(column, jpath)
    kind = sa.case(
        (raw_kind.in_(("integer", "real")), "number"),
        (raw_kind == "text", "string"),
        else_=raw_kind,
    )
    number = sa.case((raw_kind.in_(("integer", "real")), value), else_=None)
    text = sa.case((raw_kind == "text", value), else_=sa.cast(value, sa.Text))
    return _Json(kind, text, number)


def _literal(raw: str) -> Any:
    if not raw:
        raise ValueError("a value is missing")
    if raw[0] in "[{":
        raise ValueError("compare with a number, string, true, false or null")
    try:
        value = json.loads(raw)
    except ValueError:
        return raw  # a bare word
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        try:
            return float(value)
        except OverflowError:
            raise ValueError(f"number {raw[:40]} is out of range") from None
    return value


def _like_contains(column: Any, value: str) -> ColumnElement[bool]:
    result: ColumnElement[bool] = column.contains(value, autoescape=True)
    return result


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    return column >= value  # type: ignore[no-any-return]


def _json_clause(node: _Json, op: str, value: Any) -> ColumnElement[bool]:
    if value is None:
        if op not in ("=", "!="):
            raise ValueError("null can only be compared with = or !=")
        missing = sa.or_(node.kind.is_(None), node.kind == "null")
        return missing if op == "=" else sa.not_(missing)
    if isinstance(value, bool):
        if op not in ("=", "!="):
            raise ValueError("true/false can only be compared with = or !=")
        match = sa.func.coalesce(node.kind == ("true" if value else "false"), sa.false())
        return match if op == "=" else sa.not_(match)
    if isinstance(value, int | float):
        if op == "~":
            raise ValueError("~ (contains) needs a string value")
        match = sa.func.coalesce(_compare(node.number, op, float(value)), sa.false())
        if op == "!=":
            # "not equal" also holds for runs where the key is missing or not a number
            return sa.not_(sa.func.coalesce(node.number == float(value), sa.false()))
        return match
    if isinstance(value, str):
        is_string = node.kind == "string"
        if op == "~":
            return sa.and_(is_string, _like_contains(node.text, value))
        if op == "!=":
            return sa.not_(sa.func.coalesce(sa.and_(is_string, node.text == value), sa.false()))
        return sa.func.coalesce(sa.and_(is_string, _compare(node.text, op, value)), sa.false())
    raise ValueError("compare with a number, string, true, false or null")


def _has_tag(tag: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        exact: ColumnElement[bool] = sa.cast(Run.tags, postgresql.JSONB).contains([tag])
    else:
        each = sa.func.json_each(Run.tags).table_valued("value")
        exact = sa.exists(sa.select(1).select_from(each).where(each.c.value == tag))
    if tag.isascii() and tag.isprintable() and '"' not in tag and "\\" not in tag:
        # Every JSON text of a list holding the tag contains it quoted as is: a substring test
        # of the stored text rejects most runs before the exact test decodes their tags.
        quoted = sa.cast(Run.tags, sa.Text).contains(f'"{tag}"', autoescape=True)
        return sa.and_(quoted, exact)
    return exact


def _clause(text: str, dialect: str, stale_before: float | None) -> ColumnElement[bool]:
    match = _CLAUSE.match(text)
    if match is None:
        raise ValueError("expected '<field> <op> <value>' with op one of " + " ".join(_OPS))
    field, op, raw = match.groups()
    value = _literal(raw)
    if field in _STRING_FIELDS:
        if not isinstance(value, str):
            value = raw
        column: Any = {
            "id": Run.run_id,
            "name": Run.name,
            "state": effective_state(stale_before),
            "sweep": Run.sweep_id,
        }[field]
        if field == "state" and op in ("=", "!=") and value not in _STATES:
            raise ValueError(f"state is one of {', '.join(_STATES)}, got {value!r}")
        if op == "~":
            return _like_contains(column, value)
        if field == "sweep" and op == "!=":
            return sa.or_(column.is_(None), column != value)  # runs of no sweep too
        return _compare(column, op, value)
    if field in _NUMBER_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{field} compares with a number, got {raw!r}")
        if op == "~":
            raise ValueError(f"~ (contains) does not apply to {field}")
        column = getattr(Run, field)
        if op == "!=":
            return sa.or_(column.is_(None), column != value)
        return _compare(column, op, value)
    if field == "tags":
        if not isinstance(value, str):
            value = raw
        if op in ("=", "~"):
            return _has_tag(value, dialect)
        if op == "!=":
            return sa.not_(_has_tag(value, dialect))
        raise ValueError("tags supports = or ~ (has tag) and != (has not)")
    root, _, rest = field.partition(".")
    if root in ("config", "summary") and rest:
        path = rest.split(".")
        if any(not p for p in path):
            raise ValueError(f"empty key in {field!r}")
        return _json_clause(_json_path(getattr(Run, root), path, dialect), op, value)
    raise ValueError(
        f"unknown field {field!r}: use one of {', '.join(_PLAIN_FIELDS)}, config.<key>, "
        "summary.<key>"
    )


def parse_filter(expr: str, dialect: str, stale_before: float | None) -> list[ColumnElement[bool]]:
    """SQL conditions for a filter expression; ApiError 400 naming the bad clause."""
    if "\x00" in expr:
        raise ApiError(400, "filter contains a NUL character")
    if len(expr) > MAX_FILTER_LEN:
        raise ApiError(400, f"filter is longer than {MAX_FILTER_LEN} characters")
    clauses = [c for c in _AND.split(expr.strip()) if c.strip()] if expr.strip() else []
    if len(clauses) > MAX_CLAUSES:
        raise ApiError(400, f"filter has more than {MAX_CLAUSES} clauses")
    out: list[ColumnElement[bool]] = []
    for clause in clauses:
        try:
            out.append(_clause(clause, dialect, stale_before))
        except ValueError as exc:
            raise ApiError(
                400,
                f"bad filter clause {clause.strip()[:200]!r}: {exc}; hint: write clauses like "
                "'config.lr > 0.01 and tags ~ baseline and state = finished'",
            ) from exc
    return out


def _sort_columns(sort: str, dialect: str, stale_before: float | None) -> list[Any]:
    desc = sort.startswith("-")
    field = sort[1:] if desc else sort
    root, _, rest = field.partition(".")
    columns: list[Any]
    if field in ("name", "created_at", "updated_at", "runtime", "exit_code"):
        columns = [getattr(Run, field)]
    elif field == "id":
        columns = [Run.run_id]
    elif field == "state":
        columns = [effective_state(stale_before)]
    elif root in ("config", "summary") and rest and all(rest.split(".")):
        node = _json_path(getattr(Run, root), rest.split("."), dialect)
        columns = [node.number, node.text]
    else:
        raise ApiError(
            400,
            f"cannot sort by {sort!r}: use id, name, state, created_at, updated_at, runtime, "
            "exit_code, config.<key> or summary.<key>, with '-' in front for descending",
        )
    ordered = [(c.desc() if desc else c.asc()).nulls_last() for c in columns]
    ordered.append(Run.id.desc() if desc else Run.id.asc())
    return ordered


@dataclass(frozen=True)
class RunQuery:
    """A runs-list request."""

    filter: str = ""
    search: str = ""
    sort: str = "-created_at"
    limit: int = 100
    offset: int = 0
    ids: tuple[str, ...] = ()


def list_runs(
    session: sa.orm.Session,
    project: Project,
    query: RunQuery,
    dialect: str,
    stale_after: float | None,
) -> tuple[list[Run], int]:
    """The page of runs and the total count matching the query."""
    if "\x00" in query.search or "\x00" in query.sort:
        raise ApiError(400, "search and sort may not contain NUL characters")
    stale_before = None if stale_after is None else now() - stale_after
    conditions: list[ColumnElement[bool]] = [Run.project_id == project.id]
    conditions += parse_filter(query.filter, dialect, stale_before)
    if query.ids:
        conditions.append(Run.run_id.in_(query.ids))
    if query.search:
        conditions.append(_search(query.search, dialect))
    order = _sort_columns(query.sort or "-created_at", dialect, stale_before)
    # The page: its row ids first (only the sort keys are read for the runs it skips), then
    # those rows whole, so a page of 50 decodes 50 runs' config and summary, not every run's.
    page_ids = list(
        session.scalars(
            sa.select(Run.id)
            .where(*conditions)
            .order_by(*order)
            .limit(query.limit)
            .offset(query.offset)
        )
    )
    rows: list[Run] = []
    if page_ids:
        by_id = {r.id: r for r in session.scalars(sa.select(Run).where(Run.id.in_(page_ids)))}
        rows = [by_id[i] for i in page_ids if i in by_id]
    total = _count(session, project, query, conditions, page_ids)
    return rows, total


def _search(text: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring of the name or the id. SQLite's LIKE ignores ASCII case
    already (and its lower() knows ASCII only), so it needs no lower() per row."""
    if dialect == "postgresql":
        return sa.or_(
            Run.name.icontains(text, autoescape=True), Run.run_id.icontains(text, autoescape=True)
        )
    return sa.or_(
        Run.name.contains(text, autoescape=True), Run.run_id.contains(text, autoescape=True)
    )


# Counts of filtered listings, by project and query, valid while the project's runs are
# unchanged (the same number of runs, the same newest update and the same newest row).
_COUNTS: OrderedDict[tuple[Any, ...], int] = OrderedDict()
_COUNTS_LOCK = threading.Lock()
_COUNTS_MAX = 256
_MENTIONS_STATE = re.compile(r"\bstate\b")


def _count(
    session: sa.orm.Session,
    project: Project,
    query: RunQuery,
    conditions: list[ColumnElement[bool]],
    page_ids: list[int],
) -> int:
    """How many runs match. A page that ends before `limit` tells the count itself; a
    project-wide count walks an index; a filtered count is remembered for the project's
    current version, so paging and polling a filter over 100,000 runs count them once."""
    if (page_ids and len(page_ids) < query.limit) or (not page_ids and query.offset == 0):
        return query.offset + len(page_ids)
    if len(conditions) == 1:
        every = sa.select(sa.func.count()).select_from(Run).where(Run.project_id == project.id)
        return int(session.scalar(every) or 0)
    # two index lookups: runs added or removed change the count, edits and uploads the newest
    # `updated_at`
    of_project = Run.project_id == project.id
    version = session.execute(
        sa.select(
            sa.select(sa.func.count()).select_from(Run).where(of_project).scalar_subquery(),
            sa.select(sa.func.max(Run.updated_at)).where(of_project).scalar_subquery(),
        )
    ).one()
    if _MENTIONS_STATE.search(query.filter):
        # a running run turns crashed as time passes without its rows changing
        key = None
    else:
        key = (project.id, query.filter, query.search, query.ids, *version)
        with _COUNTS_LOCK:
            if key in _COUNTS:
                _COUNTS.move_to_end(key)
                return _COUNTS[key]
    total = int(session.scalar(sa.select(sa.func.count()).select_from(Run).where(*conditions)) or 0)
    if key is not None:
        with _COUNTS_LOCK:
            _COUNTS[key] = total
            while len(_COUNTS) > _COUNTS_MAX:
                _COUNTS.popitem(last=False)
    return total


def state_of(run: Run, stale_after: float | None, at: float | None = None) -> str:
    """The reported state of a run row."""
    if (
        run.state == "running"
        and stale_after is not None
        and run.heartbeat_at < (at if at is not None else now()) - stale_after
    ):
        return "crashed"
    return run.state


def run_json(run: Run, project: Project, stale_after: float | None) -> dict[str, Any]:
    """The API's run object."""
    return {
        "id": run.run_id,
        "entity": project.entity,
        "project": project.name,
        "name": run.name,
        "state": state_of(run, stale_after),
        "tags": list(run.tags or []),
        "notes": run.notes,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "heartbeat_at": run.heartbeat_at,
        "runtime": run.runtime,
        "exit_code": run.exit_code,
        "config": run.config or {},
        "summary": run.summary or {},
        "metadata": run.meta or {},
        "keys": list(run.keys or []),
        "log_size": run.log_size,
        "sweep_id": run.sweep_id,
    }


def apply_field_edits(
    current: dict[str, Any], root: str, values: dict[str, Any], delete: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """`current` (a run's config or summary) with `values` set and `delete` removed, and the
    `edited` entries (`"<root>.<key>"`) that keep those keys over what the log says later."""
    out = dict(current)
    for key in delete:
        out.pop(key, None)
    out.update(values)
    return out, [f"{root}.{key}" for key in (*values, *delete)]


def keep_edited(
    edited: list[str], root: str, before: dict[str, Any], from_log: dict[str, Any]
) -> dict[str, Any]:
    """The config or summary folded from the log (`from_log`), with the keys a user edited
    (`"<root>.<key>"` in `edited`) kept as they were (`before`): set, or removed."""
    prefix = f"{root}."
    keys = [e[len(prefix) :] for e in edited if e.startswith(prefix)]
    if not keys:
        return from_log
    out = dict(from_log)
    for key in keys:
        if key in before:
            out[key] = before[key]
        else:
            out.pop(key, None)
    return out
