"""Reports: the document (validation of its blocks), saving by operations merged per block,
versions, freezing run sets, and image assets (docs/reports.md).

A report is a title, a description and an ordered list of blocks. Every block carries an `id`
(made by the client), a `type` and a `rev`: the report version that last changed it (set
here, never by the client). Saving sends operations against the version the editor started
from (`base_version`); they are applied to the CURRENT document, so two editors of different
blocks both keep their edits. Writing a block that someone changed (or deleted) after the
base version is last-writer-wins, and the answer lists it as a conflict.

Everything here works on a `Database` alone, so the server's routes and an offline
`fwtrack.Report.save()` (writing into the `fwtrack ui` database) share it. Errors are
`ApiError`s (400 naming the field, 404, 409).
"""

from __future__ import annotations

import math
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fwtrack.server.addresses import check_address
from fwtrack.server.db import Blob, Database, Project, Report, ReportAsset, ReportVersion, now
from fwtrack.server.errors import ApiError
from fwtrack.server.queries import RunQuery, list_runs, parse_filter
from fwtrack.server.store.directory import DirectoryStore

__all__ = [
    "ASSET_TYPES",
    "BLOCK_TYPES",
    "MAX_BLOCKS",
    "Conflict",
    "apply_ops",
    "check_block",
    "check_blocks",
    "check_ops",
    "create_report",
    "delete_report",
    "find_report",
    "freeze",
    "list_reports",
    "local_asset_store",
    "locate",
    "patch_report",
    "report_json",
    "restore_version",
    "sniff_image",
    "unfreeze",
    "version_json",
    "versions_list",
]

MAX_BLOCKS = 500
"""Blocks per report."""
MAX_OPS = 1000
"""Operations per save."""
MAX_TEXT = 256 * 1024
"""Characters of one markdown block (and of a description)."""
MAX_RUNSET_LIMIT = 500
DEFAULT_RUNSET_LIMIT = 50
REPORT_ID_LEN = 10
_ID_ALPHABET = string.ascii_lowercase + string.digits
_REPORT_ID = re.compile(r"[a-z0-9]{10}")
_BLOCK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ARTIFACT = re.compile(r"[A-Za-z0-9_.\-]{1,128}:[A-Za-z0-9_.\-]{1,128}")
_X_AXES = ("_step", "_runtime", "_timestamp")

ASSET_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
"""Media types an uploaded image may have (SVG is refused: it can carry scripts)."""

# -- the document --------------------------------------------------------------------------


def _bad(where: str, text: str) -> ApiError:
    return ApiError(400, f"{where}: {text}")


def _str(where: str, value: Any, *, max_len: int = 256, min_len: int = 0) -> str:
    if not isinstance(value, str):
        raise _bad(where, f"must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise _bad(where, "must not contain NUL characters")
    if not min_len <= len(value) <= max_len:
        raise _bad(where, f"must be {min_len}-{max_len} characters, got {len(value)}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(where, f"must be true or false, got {value!r:.40}")
    return value


def _choice(where: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise _bad(where, f"must be one of {', '.join(choices)}; got {value!r:.60}")
    return str(value)


def _key(where: str, value: Any) -> str:
    return _str(where, value, max_len=256, min_len=1)


def _keys(where: str, value: Any, *, min_items: int = 0) -> list[str]:
    if not isinstance(value, list):
        raise _bad(where, f"must be a list of strings, got {type(value).__name__}")
    if len(value) > 100:
        raise _bad(where, f"at most 100 entries, got {len(value)}")
    if len(value) < min_items:
        raise _bad(where, f"needs at least {min_items} entries, got {len(value)}")
    return [_key(f"{where}[{i}]", v) for i, v in enumerate(value)]


def _step(where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(where, f"must be a step (an int >= 0) or null for the last, got {value!r:.40}")
    return value


def _smoothing(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _bad(where, f"must be a number in 0..0.999, got {value!r:.40}")
    if not 0 <= value <= 0.999:
        raise _bad(where, f"must be in 0..0.999 (EMA weight), got {value}")
    return float(value)


def _field_key(where: str, value: Any) -> str:
    key = _key(where, value)
    root, _, rest = key.partition(".")
    if root not in ("summary", "config") or not rest:
        raise _bad(where, f"must be 'summary.<key>' or 'config.<key>', got {key!r:.80}")
    return key


def _column(where: str, value: Any) -> str:
    return _key(where, value)


def _check_runset(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(where, 'must be a run set: {"filter": "..."} or {"ids": [...]}')
    unknown = sorted(set(value) - {"filter", "ids", "limit", "sort", "frozen_from"})
    if unknown:
        raise _bad(
            where,
            f"unknown field(s) {', '.join(unknown)}; a run set has filter or ids, limit and sort",
        )
    if ("filter" in value) == ("ids" in value):
        raise _bad(
            where,
            'needs exactly one of "filter" (a filter expression) or "ids" (a list of run ids)',
        )
    out: dict[str, Any] = {}
    if "filter" in value:
        out["filter"] = _str(f"{where}.filter", value["filter"], max_len=4096)
        try:
            parse_filter(out["filter"], "sqlite", None)  # its syntax: the same on PostgreSQL
        except ApiError as exc:
            raise _bad(f"{where}.filter", exc.detail) from None
    else:
        ids = value["ids"]
        if not isinstance(ids, list) or len(ids) > MAX_RUNSET_LIMIT:
            raise _bad(f"{where}.ids", f"must be a list of at most {MAX_RUNSET_LIMIT} run ids")
        for i, run_id in enumerate(ids):
            if not isinstance(run_id, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", run_id):
                raise _bad(f"{where}.ids[{i}]", f"is not a run id: {run_id!r:.80}")
        out["ids"] = list(ids)
        if "frozen_from" in value:
            out["frozen_from"] = _str(f"{where}.frozen_from", value["frozen_from"], max_len=4096)
    if "frozen_from" in value and "ids" not in value:
        raise _bad(f"{where}.frozen_from", "only goes with ids (a frozen filter)")
    if "limit" in value:
        limit = value["limit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
            raise _bad(
                f"{where}.limit", f"must be an int in 1..{MAX_RUNSET_LIMIT}, got {limit!r:.40}"
            )
        out["limit"] = limit
    if "sort" in value:
        out["sort"] = _str(f"{where}.sort", value["sort"], max_len=300, min_len=1)
    return out


def _check_grouping(where: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(where, 'must be null or {"by": "config.<k>"|"group"|"job_type", "agg", "band"}')
    unknown = sorted(set(value) - {"by", "agg", "band"})
    if unknown:
        raise _bad(where, f"unknown field(s) {', '.join(unknown)}; a grouping has by, agg, band")
    if "by" not in value:
        raise _bad(f"{where}.by", "is required: 'config.<key>', 'group' or 'job_type'")
    by = _key(f"{where}.by", value["by"])
    if by not in ("group", "job_type") and not (by.startswith("config.") and len(by) > 7):
        raise _bad(f"{where}.by", f"must be 'config.<key>', 'group' or 'job_type', got {by!r:.80}")
    return {
        "by": by,
        "agg": _choice(f"{where}.agg", value.get("agg", "mean"), ("mean", "median")),
        "band": _choice(f"{where}.band", value.get("band", "minmax"), ("minmax", "std", "none")),
    }


def _check_src(where: str, value: Any) -> str:
    src = _str(where, value, max_len=4096, min_len=1)
    if src.startswith("asset:"):
        try:
            return "asset:" + check_address(src[6:])
        except ValueError as exc:
            raise _bad(where, f"{exc}; hint: upload the image with POST .../assets") from None
    if src.startswith("https://"):
        return src
    raise _bad(
        where, f"must be 'asset:<address>' (an uploaded image) or an https:// URL, got {src[:80]!r}"
    )


def _check_artifact(where: str, value: Any) -> str:
    name = _str(where, value, max_len=300, min_len=1)
    if not _ARTIFACT.fullmatch(name):
        raise _bad(
            where, f"must be '<name>:<version or alias>' (e.g. 'model:v3'), got {name!r:.80}"
        )
    return name


def _check_x(where: str, value: Any) -> str:
    return _key(where, value)


_Check = Any  # (where, value) -> normalized value
_TITLE = ("title", lambda w, v: _str(w, v, max_len=256))

BLOCK_TYPES: dict[str, tuple[dict[str, _Check], frozenset[str]]] = {
    "markdown": ({"text": lambda w, v: _str(w, v, max_len=MAX_TEXT)}, frozenset({"text"})),
    "image": (
        {
            "src": _check_src,
            "alt": lambda w, v: _str(w, v, max_len=1024),
            "caption": lambda w, v: _str(w, v, max_len=4096),
        },
        frozenset({"src"}),
    ),
    "line": (
        {
            "runs": _check_runset,
            "y": lambda w, v: _keys(w, v, min_items=1),
            "x": _check_x,
            "smoothing": _smoothing,
            "log_y": _bool,
            "group": _check_grouping,
            _TITLE[0]: _TITLE[1],
        },
        frozenset({"runs", "y"}),
    ),
    "runs_table": (
        {
            "runs": _check_runset,
            "columns": _keys,
            "sort": lambda w, v: _str(w, v, max_len=300),
            _TITLE[0]: _TITLE[1],
        },
        frozenset(),
    ),
    "parallel": (
        {
            "runs": _check_runset,
            "columns": lambda w, v: [
                _field_key(f"{w}[{i}]", c) for i, c in enumerate(_keys(w, v, min_items=2))
            ],
            "color": _column,
            _TITLE[0]: _TITLE[1],
        },
        frozenset(),
    ),
    "media": (
        {"runs": _check_runset, "key": _key, "step": _step, _TITLE[0]: _TITLE[1]},
        frozenset({"key"}),
    ),
    "histogram": (
        {"runs": _check_runset, "key": _key, "step": _step, _TITLE[0]: _TITLE[1]},
        frozenset({"key"}),
    ),
    "scalar": (
        {
            "runs": _check_runset,
            "key": _field_key,
            "style": lambda w, v: _choice(w, v, ("bar", "number")),
            "agg": lambda w, v: _choice(w, v, ("mean", "min", "max", "last")),
            "group": _check_grouping,
            _TITLE[0]: _TITLE[1],
        },
        frozenset({"key"}),
    ),
    "lineage": ({"artifact": _check_artifact, _TITLE[0]: _TITLE[1]}, frozenset({"artifact"})),
    "compare": (
        {"runs": _check_runset, "diff_only": _bool, _TITLE[0]: _TITLE[1]},
        frozenset(),
    ),
}
"""Per block type: its fields' checks and the required fields (docs/reports.md, "Document")."""


def check_block(where: str, block: Any) -> dict[str, Any]:
    """The block, checked and normalized (without `rev`); 400 naming the field."""
    if not isinstance(block, dict):
        raise _bad(where, f"a block must be an object, got {type(block).__name__}")
    block_id = block.get("id")
    if not isinstance(block_id, str) or not _BLOCK_ID.fullmatch(block_id):
        raise _bad(f"{where}.id", f"must match [A-Za-z0-9_-]{{1,64}}, got {block_id!r:.80}")
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        raise _bad(
            f"{where}.type", f"unknown block type {kind!r:.40}; one of {', '.join(BLOCK_TYPES)}"
        )
    checks, required = BLOCK_TYPES[kind]
    unknown = sorted(set(block) - set(checks) - {"id", "type", "rev"})
    if unknown:
        raise _bad(
            where,
            f"unknown field(s) {', '.join(unknown)} for a {kind} block; its "
            f"fields: {', '.join(checks)}",
        )
    missing = sorted(required - set(block))
    if missing:
        raise _bad(f"{where}.{missing[0]}", f"is required for a {kind} block")
    out: dict[str, Any] = {"id": block_id, "type": kind}
    for name, check in checks.items():
        if name in block:
            out[name] = check(f"{where}.{name}", block[name])
    if "runs" in checks and "runs" not in out:
        out["runs"] = {"filter": ""}  # every run of the project
    return out


def check_blocks(blocks: Any, where: str = "blocks") -> list[dict[str, Any]]:
    """A list of checked blocks with distinct ids."""
    if not isinstance(blocks, list):
        raise _bad(where, f"must be a list of blocks, got {type(blocks).__name__}")
    if len(blocks) > MAX_BLOCKS:
        raise _bad(where, f"at most {MAX_BLOCKS} blocks, got {len(blocks)}")
    out = [check_block(f"{where}[{i}]", b) for i, b in enumerate(blocks)]
    seen: set[str] = set()
    for i, b in enumerate(out):
        if b["id"] in seen:
            raise _bad(f"{where}[{i}].id", f"{b['id']!r} is used by another block; ids are unique")
        seen.add(b["id"])
    return out


def check_title(value: Any, where: str = "title") -> str:
    title = _str(where, value, max_len=256, min_len=1)
    if not title.strip():
        raise _bad(where, "must not be blank")
    return title


def check_description(value: Any, where: str = "description") -> str:
    return _str(where, value, max_len=MAX_TEXT)


# -- operations ----------------------------------------------------------------------------


_OP_FIELDS = {
    "set_title": {"op", "title"},
    "set_description": {"op", "description"},
    "upsert": {"op", "block", "after"},
    "delete": {"op", "id"},
    "move": {"op", "id", "after"},
}


def check_ops(ops: Any) -> list[dict[str, Any]]:
    """The operations of a save, checked (blocks normalized); 400 naming the bad one."""
    if not isinstance(ops, list):
        raise _bad("ops", "must be a list of operations")
    if len(ops) > MAX_OPS:
        raise _bad("ops", f"at most {MAX_OPS} operations per save, got {len(ops)}")
    out = []
    for i, op in enumerate(ops):
        where = f"ops[{i}]"
        if not isinstance(op, dict):
            raise _bad(where, "an operation must be an object")
        kind = op.get("op")
        fields = _OP_FIELDS.get(kind) if isinstance(kind, str) else None
        if fields is None:
            raise _bad(
                f"{where}.op",
                f"unknown operation {kind!r:.40}; one of set_title, "
                "set_description, upsert, delete, move",
            )
        unknown = sorted(set(op) - fields)
        if unknown:
            raise _bad(where, f"unknown field(s) {', '.join(unknown)} for {kind}")
        item: dict[str, Any] = {"op": kind}
        if kind == "set_title":
            item["title"] = check_title(op.get("title"), f"{where}.title")
        elif kind == "set_description":
            item["description"] = check_description(op.get("description"), f"{where}.description")
        elif kind == "upsert":
            item["block"] = check_block(f"{where}.block", op.get("block"))
        if kind in ("delete", "move"):
            block_id = op.get("id")
            if not isinstance(block_id, str) or not _BLOCK_ID.fullmatch(block_id):
                raise _bad(f"{where}.id", f"must be a block id, got {block_id!r:.80}")
            item["id"] = block_id
        if kind in ("upsert", "move"):
            if kind == "move" and "after" not in op:
                raise _bad(f"{where}.after", "is required: a block id, or null for first")
            if "after" in op:
                after = op["after"]
                if after is not None and (
                    not isinstance(after, str) or not _BLOCK_ID.fullmatch(after)
                ):
                    raise _bad(f"{where}.after", f"must be a block id or null, got {after!r:.80}")
                item["after"] = after
        out.append(item)
    return out


@dataclass
class Conflict:
    """A block written here that another save changed after the base version."""

    block: str
    by: str
    at: float
    kind: str  # overwritten | deleted_by_other | edited_after_delete

    def json(self) -> dict[str, Any]:
        return {"block": self.block, "by": self.by, "at": self.at, "kind": self.kind}


@dataclass
class _History:
    """What the merge needs to know of the versions after the base: who saved each, and the
    block ids each held."""

    authors: dict[int, tuple[str, float]] = field(default_factory=dict)
    base_ids: set[str] = field(default_factory=set)
    deleted: dict[str, int] = field(default_factory=dict)  # block id -> version it vanished


def _content(block: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "rev"}


def _place(blocks: list[dict[str, Any]], block: dict[str, Any], after: str | None) -> None:
    """Insert `block` after the block `after` (None: first; a missing one: last)."""
    if after is None:
        blocks.insert(0, block)
        return
    for i, b in enumerate(blocks):
        if b["id"] == after:
            blocks.insert(i + 1, block)
            return
    blocks.append(block)


def apply_ops(
    blocks: list[dict[str, Any]],
    title: str,
    description: str,
    ops: list[dict[str, Any]],
    *,
    base_version: int,
    version: int,
    history: _History,
) -> tuple[list[dict[str, Any]], str, str, list[Conflict], bool]:
    """Apply checked `ops` to the current document, the changed blocks getting `rev =
    version` (the new version). Returns the blocks, title, description, the conflicts and
    whether anything changed."""
    current = [dict(b) for b in blocks]
    conflicts: list[Conflict] = []
    changed = False

    def who(rev: int) -> tuple[str, float]:
        return history.authors.get(rev, ("", 0.0))

    def index(block_id: str) -> int | None:
        for i, b in enumerate(current):
            if b["id"] == block_id:
                return i
        return None

    for op in ops:
        kind = op["op"]
        if kind == "set_title":
            if op["title"] != title:
                title, changed = op["title"], True
        elif kind == "set_description":
            if op["description"] != description:
                description, changed = op["description"], True
        elif kind == "upsert":
            block = op["block"]
            at = index(block["id"])
            if at is None:
                if block["id"] in history.base_ids and block["id"] in history.deleted:
                    by, when = who(history.deleted[block["id"]])
                    conflicts.append(Conflict(block["id"], by, when, "deleted_by_other"))
                _place(current, {**block, "rev": version}, op.get("after"))
                changed = True
                continue
            old = current[at]
            if _content(old) != block:
                if int(old.get("rev", 0)) > base_version:
                    by, when = who(int(old["rev"]))
                    conflicts.append(Conflict(block["id"], by, when, "overwritten"))
                current[at] = {**block, "rev": version}
                changed = True
            if "after" in op and op["after"] != block["id"]:
                order = [b["id"] for b in current]
                _place(current, current.pop(at), op["after"])
                changed = changed or [b["id"] for b in current] != order
        elif kind == "delete":
            at = index(op["id"])
            if at is None:
                continue
            old = current.pop(at)
            changed = True
            if int(old.get("rev", 0)) > base_version:
                by, when = who(int(old["rev"]))
                conflicts.append(Conflict(op["id"], by, when, "edited_after_delete"))
        elif kind == "move":
            at = index(op["id"])
            if at is None:
                if op["id"] in history.deleted:
                    by, when = who(history.deleted[op["id"]])
                    conflicts.append(Conflict(op["id"], by, when, "deleted_by_other"))
                continue
            if op["after"] == op["id"]:
                continue
            order = [b["id"] for b in current]
            moved = current.pop(at)
            _place(current, moved, op["after"])
            changed = changed or [b["id"] for b in current] != order
    return current, title, description, conflicts, changed


# -- storage -------------------------------------------------------------------------------


def _new_report_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(REPORT_ID_LEN))


def report_json(report: Report, project: Project, base_url: str) -> dict[str, Any]:
    """The Report JSON of the contract (docs/reports.md)."""
    return {
        "id": report.report_id,
        "entity": project.entity,
        "project": project.name,
        "title": report.title,
        "description": report.description,
        "version": report.version,
        "frozen_at": report.frozen_at,
        "blocks": list(report.blocks),
        "created_by": report.created_by,
        "created_at": report.created_at,
        "updated_by": report.updated_by,
        "updated_at": report.updated_at,
        "url": report_url(base_url, project.entity, project.name, report.report_id),
    }


def report_url(base_url: str, entity: str, project: str, report_id: str) -> str:
    """The dashboard's address of a report."""
    return f"{base_url.rstrip('/')}/#/p/{entity}/{project}/reports/{report_id}"


def check_report_id(report_id: str) -> str:
    if not isinstance(report_id, str) or not _REPORT_ID.fullmatch(report_id):
        raise ApiError(400, f"report id {str(report_id)[:40]!r} is not 10 characters of [a-z0-9]")
    return report_id


def _load(session: Session, project: Project, report_id: str, *, lock: bool = False) -> Report:
    query = sa.select(Report).where(
        Report.project_id == project.id, Report.report_id == check_report_id(report_id)
    )
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise ApiError(
            404,
            f"no report {report_id!r} in project {project.entity}/{project.name}; hint: GET "
            f"/api/v1/reports/{project.entity}/{project.name} lists them",
        )
    return row


def find_report(db: Database, project: Project, report_id: str) -> Report:
    with db.read() as session:
        return _load(session, project, report_id)


def locate(db: Database, report_id: str) -> tuple[str, str]:
    """`(entity, project)` of a report id (404 when none has it)."""
    check_report_id(report_id)
    with db.read() as session:
        row = session.execute(
            sa.select(Project.entity, Project.name)
            .join(Report, Report.project_id == Project.id)
            .where(Report.report_id == report_id)
        ).one_or_none()
    if row is None:
        raise ApiError(404, f"no report {report_id!r}")
    return row[0], row[1]


def _snapshot(session: Session, row: Report, author: str, at: float, note: str) -> None:
    session.add(
        ReportVersion(
            report_pk=row.id,
            version=row.version,
            title=row.title,
            description=row.description,
            blocks=list(row.blocks),
            frozen_at=row.frozen_at,
            author=author,
            at=at,
            note=note,
        )
    )


def create_report(
    db: Database, project: Project, author: str, title: Any, description: Any, blocks: Any
) -> Report:
    """A new report (version 1) of `project`."""
    title = check_title(title)
    description = check_description(description)
    checked = [{**b, "rev": 1} for b in check_blocks(blocks)]
    for _ in range(5):
        try:
            with db.write() as session:
                t = now()
                row = Report(
                    report_id=_new_report_id(),
                    project_id=project.id,
                    title=title,
                    description=description,
                    blocks=checked,
                    version=1,
                    frozen_at=None,
                    created_by=author,
                    created_at=t,
                    updated_by=author,
                    updated_at=t,
                )
                session.add(row)
                session.flush()
                _snapshot(session, row, author, t, "created")
                return row
        except IntegrityError:
            continue  # a report id taken meanwhile (1 in 36**10): draw another
    raise ApiError(503, "could not create the report; retry", headers={"Retry-After": "1"})


def list_reports(db: Database, project: Project) -> list[Report]:
    """The project's reports, most recently updated first."""
    with db.read() as session:
        return list(
            session.scalars(
                sa.select(Report)
                .where(Report.project_id == project.id)
                .order_by(Report.updated_at.desc(), Report.id.desc())
            )
        )


def _history(session: Session, row: Report, base_version: int) -> _History:
    history = _History()
    versions = session.execute(
        sa.select(
            ReportVersion.version, ReportVersion.author, ReportVersion.at, ReportVersion.blocks
        )
        .where(ReportVersion.report_pk == row.id, ReportVersion.version >= base_version)
        .order_by(ReportVersion.version)
    ).all()
    present: set[str] | None = None
    for version, author, at, blocks in versions:
        history.authors[version] = (author, at)
        ids = {b["id"] for b in blocks}
        if present is None:
            history.base_ids = set(ids)
        else:
            for gone in present - ids:
                history.deleted.setdefault(gone, version)
        present = ids
    return history


def _save(session: Session, row: Report, author: str, note: str = "") -> None:
    t = now()
    row.updated_by = author
    row.updated_at = t
    _snapshot(session, row, author, t, note)


def patch_report(
    db: Database, project: Project, report_id: str, author: str, body: Any
) -> tuple[Report, list[Conflict]]:
    """Apply a save (`{"base_version", "ops"}`) to the current document."""
    if not isinstance(body, dict):
        raise _bad("body", 'must be {"base_version": int, "ops": [...]}')
    unknown = sorted(set(body) - {"base_version", "ops"})
    if unknown:
        raise _bad("body", f"unknown field(s) {', '.join(unknown)}; send base_version and ops")
    base = body.get("base_version")
    if isinstance(base, bool) or not isinstance(base, int) or base < 1:
        raise _bad(
            "base_version",
            f"must be the version the edits start from (an int >= 1), got {base!r:.40}",
        )
    ops = check_ops(body.get("ops"))
    with db.write() as session:
        row = _load(session, project, report_id, lock=True)
        if base > row.version:
            raise _bad("base_version", f"{base} is newer than the report's version {row.version}")
        blocks, title, description, conflicts, changed = apply_ops(
            list(row.blocks),
            row.title,
            row.description,
            ops,
            base_version=base,
            version=row.version + 1,
            history=_history(session, row, base),
        )
        if len(blocks) > MAX_BLOCKS:
            raise _bad("ops", f"the report would have {len(blocks)} blocks; at most {MAX_BLOCKS}")
        if changed:
            row.version += 1
            row.blocks, row.title, row.description = blocks, title, description
            _save(session, row, author)
    return row, conflicts


def delete_report(db: Database, project: Project, report_id: str) -> list[int]:
    """Delete a report; returns the ids of the blobs its assets held (for the collector)."""
    with db.write() as session:
        row = _load(session, project, report_id, lock=True)
        blob_ids = list(
            session.scalars(sa.select(ReportAsset.blob_id).where(ReportAsset.report_pk == row.id))
        )
        session.execute(sa.delete(ReportAsset).where(ReportAsset.report_pk == row.id))
        session.execute(sa.delete(ReportVersion).where(ReportVersion.report_pk == row.id))
        session.delete(row)
    return blob_ids


def versions_list(db: Database, project: Project, report_id: str) -> list[dict[str, Any]]:
    """`[{"version", "author", "at", "note"}]`, newest first."""
    with db.read() as session:
        row = _load(session, project, report_id)
        rows = session.execute(
            sa.select(
                ReportVersion.version, ReportVersion.author, ReportVersion.at, ReportVersion.note
            )
            .where(ReportVersion.report_pk == row.id)
            .order_by(ReportVersion.version.desc())
        ).all()
    return [{"version": v, "author": a, "at": t, "note": n} for v, a, t, n in rows]


def _version(session: Session, row: Report, number: int) -> ReportVersion:
    found = session.scalar(
        sa.select(ReportVersion).where(
            ReportVersion.report_pk == row.id, ReportVersion.version == number
        )
    )
    if found is None:
        raise ApiError(
            404,
            f"report {row.report_id!r} has no version {number}; hint: GET .../versions lists them",
        )
    return found


def version_json(
    db: Database, project: Project, report_id: str, number: int, base_url: str
) -> dict[str, Any]:
    """The document as it was at version `number` (Report JSON, with that version's
    fields; `updated_by`/`updated_at` are that version's author and time)."""
    with db.read() as session:
        row = _load(session, project, report_id)
        found = _version(session, row, number)
        out = report_json(row, project, base_url)
        out.update(
            version=found.version,
            title=found.title,
            description=found.description,
            blocks=list(found.blocks),
            frozen_at=found.frozen_at,
            updated_by=found.author,
            updated_at=found.at,
            note=found.note,
        )
    return out


def _rev_blocks(
    old: list[dict[str, Any]], new: list[dict[str, Any]], version: int
) -> list[dict[str, Any]]:
    """`new` with `rev = version` on each block whose content differs from `old`'s."""
    before = {b["id"]: b for b in old}
    out = []
    for b in new:
        prior = before.get(b["id"])
        if prior is not None and _content(prior) == _content(b):
            out.append(dict(prior))
        else:
            out.append({**_content(b), "rev": version})
    return out


def restore_version(
    db: Database, project: Project, report_id: str, number: int, author: str
) -> Report:
    """A new version holding version `number`'s content (note `restored vN`)."""
    with db.write() as session:
        row = _load(session, project, report_id, lock=True)
        found = _version(session, row, number)
        row.version += 1
        row.blocks = _rev_blocks(list(row.blocks), list(found.blocks), row.version)
        row.title, row.description, row.frozen_at = found.title, found.description, found.frozen_at
        _save(session, row, author, f"restored v{number}")
    return row


def freeze(
    db: Database, project: Project, report_id: str, author: str, stale_after: float | None
) -> Report:
    """Resolve every filter run set to the ids it matches now (the filter kept as
    `frozen_from`), and set `frozen_at`. 409 when already frozen."""
    with db.write() as session:
        row = _load(session, project, report_id, lock=True)
        if row.frozen_at is not None:
            raise ApiError(
                409,
                f"report {report_id!r} is frozen already; hint: POST .../unfreeze "
                "first to freeze it again at a new moment",
            )
        version = row.version + 1
        blocks = []
        for b in row.blocks:
            runs = b.get("runs")
            if isinstance(runs, dict) and "filter" in runs:
                query = RunQuery(
                    filter=runs["filter"],
                    sort=runs.get("sort", "-created_at"),
                    limit=runs.get("limit", DEFAULT_RUNSET_LIMIT),
                )
                found, _ = list_runs(session, project, query, db.dialect, stale_after)
                frozen = {k: v for k, v in runs.items() if k != "filter"}
                frozen.update(ids=[r.run_id for r in found], frozen_from=runs["filter"])
                blocks.append({**_content(b), "runs": frozen, "rev": version})
            else:
                blocks.append(dict(b))
        row.version = version
        row.blocks = blocks
        row.frozen_at = now()
        _save(session, row, author, "frozen")
    return row


def unfreeze(db: Database, project: Project, report_id: str, author: str) -> Report:
    """Give every frozen run set its filter back and clear `frozen_at` (409 when not frozen)."""
    with db.write() as session:
        row = _load(session, project, report_id, lock=True)
        if row.frozen_at is None:
            raise ApiError(409, f"report {report_id!r} is not frozen")
        version = row.version + 1
        blocks = []
        for b in row.blocks:
            runs = b.get("runs")
            if isinstance(runs, dict) and "frozen_from" in runs:
                live = {k: v for k, v in runs.items() if k not in ("ids", "frozen_from")}
                live["filter"] = runs["frozen_from"]
                blocks.append({**_content(b), "runs": live, "rev": version})
            else:
                blocks.append(dict(b))
        row.version = version
        row.blocks = blocks
        row.frozen_at = None
        _save(session, row, author, "unfrozen")
    return row


# -- assets --------------------------------------------------------------------------------


_local_stores: dict[Path, DirectoryStore] = {}


def local_asset_store(state_dir: Path) -> DirectoryStore:
    """Where `fwtrack ui` keeps report images: a directory store in its state folder
    (`<dir>/.fwtrack-ui/report-assets`)."""
    root = state_dir / "report-assets"
    store = _local_stores.get(root)
    if store is None:
        store = _local_stores[root] = DirectoryStore(root)
    return store


def sniff_image(data: bytes) -> str | None:
    """The media type the bytes' signature shows (PNG, JPEG, GIF, WebP), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_asset(content_type: str | None, data: bytes) -> str:
    """The media type of an uploaded image (415 for SVG and other types, 400 when the bytes
    are not what the type says)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "image/svg+xml":
        raise ApiError(
            415,
            "SVG images are refused: an SVG can carry scripts; hint: upload a PNG (or JPEG, "
            "GIF, WebP) rendering of it",
        )
    if media not in ASSET_TYPES:
        raise ApiError(
            415,
            f"Content-Type {media or 'missing'!r} is not an image type reports take; send "
            f"one of {', '.join(ASSET_TYPES)} with the raw image bytes as the body",
        )
    if not data:
        raise ApiError(400, "the body is empty; send the image's bytes")
    sniffed = sniff_image(data)
    if sniffed != media:
        raise ApiError(
            400,
            f"the body is not a {media} image (its bytes look like {sniffed or 'no known image'}); "
            "hint: send the Content-Type of the file's real format",
        )
    return media


def record_asset(db: Database, report: Report, entity: str, address: str, media: str) -> None:
    """Reference the stored blob `address` of `entity` from `report` (kept from the
    collector while the report exists)."""
    with db.write() as session:
        blob_id = session.scalar(
            sa.select(Blob.id).where(Blob.entity == entity, Blob.address == address)
        )
        if blob_id is None:  # pragma: no cover - `keep` made it in this request
            raise ApiError(503, "the image was not stored; retry", headers={"Retry-After": "1"})
        if session.get(ReportAsset, (report.id, blob_id)) is None:
            session.add(ReportAsset(report_pk=report.id, blob_id=blob_id, media_type=media))


def find_asset(db: Database, report: Report, entity: str, address: str) -> tuple[str, int]:
    """`(media type, size)` of asset `address` of the report (404 when it has none)."""
    with db.read() as session:
        row = session.execute(
            sa.select(ReportAsset.media_type, Blob.size)
            .join(Blob, Blob.id == ReportAsset.blob_id)
            .where(
                ReportAsset.report_pk == report.id,
                Blob.entity == entity,
                Blob.address == address,
                Blob.stored.is_(True),
            )
        ).one_or_none()
    if row is None:
        raise ApiError(404, f"report {report.report_id!r} has no image {address}")
    return row[0], row[1]
