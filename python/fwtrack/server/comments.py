"""Comments on runs, reports and registered models, and the mentions inbox (tables `comments`
and `mentions`, docs/collaboration.md "Comments and mentions"). The HTTP routes are in
`routes/comments.py`.

A comment belongs to a target of an entity: a run (`target_key` `<project>/<run id>`), a
report (its id) or a registered model (its name). Its body is markdown, stored as the text
sent; the dashboard renders it. A reply names its parent (any comment of the same target), so
a thread is a tree. Anyone who reaches the entity comments, team viewers included. Only the
author edits; the author, the entity's admins and server admins delete. A deleted comment that
has replies keeps its place as "deleted" (no body, no author); one without replies is removed,
and so is a deleted parent whose last reply goes.

`@name` in a body (outside code, as `web/src/lib/markdown.ts` `mentionsIn` reads it) of a user
who reaches the entity records a mention: an entry of that user's inbox, unread until marked
read. Other names (unknown users, people outside the team, disabled users, the author) are not
recorded, and the answer of a create or an edit lists them in `not_notified`. An edit records
the names it adds and drops the mentions of names it removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack.server.auth import Viewer
from fwtrack.server.db import (
    Comment,
    Mention,
    Project,
    Report,
    Run,
    Team,
    TeamMember,
    User,
    now,
)
from fwtrack.server.errors import ApiError, check_project, check_run_id
from fwtrack.server.registry import check_model_name, find_model, is_entity_admin

__all__ = [
    "MAX_BODY",
    "MAX_READ_IDS",
    "TARGETS",
    "Target",
    "create",
    "delete",
    "edit",
    "mark_read",
    "mentions",
    "mentions_in",
    "people",
    "resolve_target",
    "thread",
]

TARGETS = ("run", "report", "model")
"""What a comment can be on."""
MAX_BODY = 20_000
"""The longest comment body, in characters."""
MAX_READ_IDS = 1000
"""The most mentions one `POST /mentions/read` names."""
MAX_THREAD = 5000
"""The most comments a thread answers (the oldest first)."""

_MENTION = re.compile(r"(^|[^\w@./-])@([A-Za-z0-9][A-Za-z0-9_.-]{0,63})", re.ASCII)
_FENCED = re.compile(r"```[\s\S]*?```")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_REPORT_ID = re.compile(r"^[a-z0-9]{1,16}$")


def mentions_in(text: str) -> list[str]:
    """The distinct `@names` of `text` outside code spans and code blocks, in order (the
    dashboard's `mentionsIn`)."""
    without_code = _INLINE_CODE.sub(" ", _FENCED.sub(" ", text))
    out: list[str] = []
    for match in _MENTION.finditer(without_code):
        name = match.group(2).rstrip(".-")
        if name and name not in out:
            out.append(name)
    return out


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A comment's target, known to exist: where its comments are kept and how the dashboard
    links to it."""

    entity: str
    kind: str
    key: str
    project: str | None
    label: str
    link: str

    def json(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "kind": self.kind,
            "key": self.key,
            "project": self.project,
            "label": self.label,
            "link": self.link,
        }


def _q(part: str) -> str:
    return quote(part, safe="")


def _check_kind(kind: str) -> None:
    if kind not in TARGETS:
        raise ApiError(
            400,
            f"cannot comment on {kind[:32]!r}: comments are on a run, a report or a model; "
            "hint: /api/v1/comments/<entity>/run/<project>/<run id>, .../report/<report id> "
            "or .../model/<model name>",
        )


def resolve_target(session: Session, entity: str, kind: str, key: str) -> Target:
    """The target `kind`/`key` of `entity`: 400 for a malformed key, 404 naming what is not
    there."""
    _check_kind(kind)
    if kind == "run":
        project, sep, run_id = key.partition("/")
        if not sep:
            raise ApiError(
                400,
                f"a run's comments are at .../run/<project>/<run id>, not {key[:200]!r}; "
                "hint: name the project and the run",
            )
        check_project(project)
        check_run_id(run_id)
        row = session.execute(
            sa.select(Run.name)
            .join(Project, Project.id == Run.project_id)
            .where(Project.entity == entity, Project.name == project, Run.run_id == run_id)
        ).first()
        if row is None:
            raise ApiError(404, f"no run {run_id!r} in project {entity}/{project}")
        return Target(
            entity,
            kind,
            key,
            project,
            row[0] or run_id,
            f"#/p/{_q(entity)}/{_q(project)}/r/{_q(run_id)}",
        )
    if kind == "report":
        if not _REPORT_ID.match(key):
            raise ApiError(
                400,
                f"{key[:64]!r} is not a report id (1-16 characters of a-z and 0-9); hint: "
                "the id is the last part of the report's URL",
            )
        found = session.execute(
            sa.select(Report.title, Project.name)
            .join(Project, Project.id == Report.project_id)
            .where(Report.report_id == key, Project.entity == entity)
        ).first()
        if found is None:
            raise ApiError(
                404,
                f"no report {key!r} in entity {entity!r}; hint: GET "
                f"/api/v1/reports/{entity}/<project> lists a project's reports",
            )
        title, project = found
        return Target(
            entity,
            kind,
            key,
            project,
            title,
            f"#/p/{_q(entity)}/{_q(project)}/reports/{_q(key)}",
        )
    check_model_name(key)
    model = find_model(session, entity, key)
    return Target(
        entity, kind, key, None, model.name, f"#/registry/{_q(entity)}/models/{_q(model.name)}"
    )


def _target_or_gone(session: Session, entity: str, kind: str, key: str) -> Target:
    """The target for an inbox entry; one deleted since keeps its name and link."""
    try:
        return resolve_target(session, entity, kind, key)
    except ApiError:
        project = key.partition("/")[0] if kind == "run" else None
        if kind == "run":
            link = f"#/p/{_q(entity)}/{_q(key.partition('/')[0])}/r/{_q(key.partition('/')[2])}"
        elif kind == "model":
            link = f"#/registry/{_q(entity)}/models/{_q(key)}"
        else:
            link = ""
        return Target(entity, kind, key, project, key, link)


# -- who is mentioned -------------------------------------------------------------------------


def _reachers(session: Session, entity: str, names: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Of `names` (any case), the enabled users who reach `entity`: lowercased name →
    (user id, name). A user reaches an entity that is their name or one of their teams; a
    server admin reaches every entity."""
    if not names:
        return {}
    lowered = {n.lower() for n in names}
    members = sa.select(TeamMember.user_id).join(Team, Team.id == TeamMember.team_id)
    rows = session.execute(
        sa.select(User.id, User.name).where(
            sa.func.lower(User.name).in_(lowered),
            User.disabled_at.is_(None),
            sa.or_(
                User.is_admin.is_(True),
                User.name == entity,
                User.id.in_(members.where(Team.name == entity)),
            ),
        )
    ).all()
    return {name.lower(): (uid, name) for uid, name in rows}


def _record_mentions(session: Session, viewer: Viewer, comment: Comment) -> list[str]:
    """Bring the comment's mentions in line with its body; answer the names not notified."""
    names = mentions_in(comment.body)
    found = _reachers(session, comment.entity, names)
    wanted: dict[int, str] = {}
    not_notified: list[str] = []
    for name in names:
        hit = found.get(name.lower())
        if hit is None:
            not_notified.append(name)
        elif hit[0] != viewer.id:
            wanted[hit[0]] = hit[1]
    have = set(session.scalars(sa.select(Mention.user_id).where(Mention.comment_id == comment.id)))
    gone = have - set(wanted)
    if gone:
        session.execute(
            sa.delete(Mention).where(Mention.comment_id == comment.id, Mention.user_id.in_(gone))
        )
    at = now()
    for uid in wanted.keys() - have:
        session.add(Mention(comment_id=comment.id, user_id=uid, created_at=at))
    return not_notified


# -- comments ---------------------------------------------------------------------------------


def _check_body(body: str) -> str:
    if len(body) > MAX_BODY:
        raise ApiError(
            400,
            f"the comment is {len(body)} characters long; the limit is {MAX_BODY}; hint: "
            "shorten it or split it into replies",
        )
    if not body.strip():
        raise ApiError(400, "the comment is empty; hint: write something")
    return body


def _names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(session.execute(sa.select(User.id, User.name).where(User.id.in_(wanted))).all())


def _mentioned(session: Session, comment_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in comment_ids}
    if out:
        rows = session.execute(
            sa.select(Mention.comment_id, User.name)
            .join(User, User.id == Mention.user_id)
            .where(Mention.comment_id.in_(list(out)))
            .order_by(User.name)
        )
        for cid, name in rows:
            out[cid].append(name)
    return out


def _json(row: Comment, authors: dict[int, str], mentioned: dict[int, list[str]]) -> dict[str, Any]:
    deleted = row.deleted_at is not None
    return {
        "id": row.id,
        "entity": row.entity,
        "target": row.target,
        "target_key": row.target_key,
        "parent_id": row.parent_id,
        "author": None if deleted else authors.get(row.author_id),
        "body": "" if deleted else row.body,
        "created_at": row.created_at,
        "edited_at": row.edited_at,
        "deleted": deleted,
        "mentions": [] if deleted else mentioned.get(row.id, []),
    }


def _one(session: Session, row: Comment) -> dict[str, Any]:
    return _json(row, _names(session, [row.author_id]), _mentioned(session, [row.id]))


def thread(session: Session, target: Target) -> dict[str, Any]:
    """The target's comments as a tree, oldest first at every level: `{"target", "comments":
    [comment + "replies": [...]], "count"}` (`count`: the comments not deleted)."""
    rows = session.scalars(
        sa.select(Comment)
        .where(
            Comment.entity == target.entity,
            Comment.target == target.kind,
            Comment.target_key == target.key,
        )
        .order_by(Comment.created_at, Comment.id)
        .limit(MAX_THREAD)
    ).all()
    authors = _names(session, (r.author_id for r in rows))
    mentioned = _mentioned(session, [r.id for r in rows])
    nodes = {r.id: {**_json(r, authors, mentioned), "replies": []} for r in rows}
    top: list[dict[str, Any]] = []
    for r in rows:
        parent = nodes.get(r.parent_id) if r.parent_id is not None else None
        (parent["replies"] if parent is not None else top).append(nodes[r.id])
    count = sum(1 for r in rows if r.deleted_at is None)
    return {"target": target.json(), "comments": top, "count": count}


def create(
    session: Session, viewer: Viewer, target: Target, body: str, parent_id: int | None
) -> dict[str, Any]:
    """A new comment (a reply with `parent_id`): the comment and the names not notified."""
    _check_body(body)
    if parent_id is not None:
        parent = session.get(Comment, parent_id)
        if (
            parent is None
            or parent.entity != target.entity
            or parent.target != target.kind
            or parent.target_key != target.key
        ):
            raise ApiError(
                400,
                f"comment {parent_id} is not a comment of this {target.kind}; hint: reply "
                "to a comment of the same thread",
            )
        if parent.deleted_at is not None:
            raise ApiError(400, f"comment {parent_id} was deleted; hint: reply to another comment")
    row = Comment(
        entity=target.entity,
        target=target.kind,
        target_key=target.key,
        parent_id=parent_id,
        author_id=viewer.id,
        body=body,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    not_notified = _record_mentions(session, viewer, row)
    session.flush()
    return {**_one(session, row), "not_notified": not_notified}


def _comment(session: Session, viewer: Viewer, comment_id: int) -> Comment:
    """The comment, once the viewer reaches its entity (else 403); 404 when it is not there
    or was deleted."""
    row = session.get(Comment, comment_id)
    if row is not None and not viewer.reaches(row.entity):
        raise ApiError(
            403,
            f"user {viewer.name!r} cannot reach entity {row.entity!r}, where comment "
            f"{comment_id} is; hint: ask a team member or an admin to add you",
        )
    if row is None or row.deleted_at is not None:
        raise ApiError(404, f"no comment {comment_id} (it was deleted, or never existed)")
    return row


def _author_name(session: Session, row: Comment) -> str:
    return _names(session, [row.author_id]).get(row.author_id, "a deleted user")


def edit(session: Session, viewer: Viewer, comment_id: int, body: str) -> dict[str, Any]:
    """Replace the body (the author only: 403 naming the author otherwise)."""
    _check_body(body)
    row = _comment(session, viewer, comment_id)
    if row.author_id != viewer.id:
        raise ApiError(
            403,
            f"only the author ({_author_name(session, row)}) edits comment {comment_id}; "
            "hint: reply to it instead",
        )
    if row.body != body:
        row.body = body
        row.edited_at = now()
    session.flush()
    not_notified = _record_mentions(session, viewer, row)
    session.flush()
    return {**_one(session, row), "not_notified": not_notified}


def _has_replies(session: Session, comment_id: int) -> bool:
    return (
        session.scalar(sa.select(Comment.id).where(Comment.parent_id == comment_id).limit(1))
        is not None
    )


def delete(session: Session, viewer: Viewer, comment_id: int) -> dict[str, Any]:
    """Delete a comment (its author, the entity's admins, server admins: 403 naming the author
    otherwise). One with replies stays as "deleted" (`kept`); one without is removed, and so
    are deleted parents left without replies."""
    row = _comment(session, viewer, comment_id)
    if row.author_id != viewer.id and not is_entity_admin(session, viewer, row.entity):
        raise ApiError(
            403,
            f"only the author ({_author_name(session, row)}) or an admin of "
            f"{row.entity!r} deletes comment {comment_id}",
        )
    kept = _has_replies(session, row.id)
    if kept:
        row.deleted_at = now()
        row.body = ""
        session.execute(sa.delete(Mention).where(Mention.comment_id == row.id))
        return {"id": comment_id, "deleted": True, "kept": True}
    parent_id = row.parent_id
    session.execute(sa.delete(Mention).where(Mention.comment_id == row.id))
    session.delete(row)
    session.flush()
    while parent_id is not None:
        parent = session.get(Comment, parent_id)
        if parent is None or parent.deleted_at is None or _has_replies(session, parent.id):
            break
        parent_id = parent.parent_id
        session.delete(parent)
        session.flush()
    return {"id": comment_id, "deleted": True, "kept": False}


# -- the mentions inbox -----------------------------------------------------------------------


def _inbox_query(viewer: Viewer) -> sa.Select[Mention, Comment]:
    query = (
        sa.select(Mention, Comment)
        .join(Comment, Comment.id == Mention.comment_id)
        .where(Mention.user_id == viewer.id, Comment.deleted_at.is_(None))
    )
    if not viewer.is_admin:
        query = query.where(Comment.entity.in_([viewer.name, *viewer.teams]))
    return query


def _unread(session: Session, viewer: Viewer) -> int:
    sub = _inbox_query(viewer).where(Mention.read_at.is_(None)).subquery()
    return int(session.scalar(sa.select(sa.func.count()).select_from(sub)) or 0)


def mentions(
    session: Session,
    viewer: Viewer,
    *,
    limit: int,
    unread_only: bool = False,
    unread_first: bool = False,
) -> dict[str, Any]:
    """The viewer's mentions in entities they still reach, newest first (`unread_first`:
    unread ones before read ones): `{"mentions": [...], "unread": n}`."""
    query = _inbox_query(viewer)
    if unread_only:
        query = query.where(Mention.read_at.is_(None))
    order: list[Any] = [Mention.created_at.desc(), Mention.comment_id.desc()]
    if unread_first:
        order.insert(0, sa.case((Mention.read_at.is_(None), 0), else_=1))
    rows = session.execute(query.order_by(*order).limit(limit)).all() if limit else []
    authors = _names(session, (c.author_id for _, c in rows))
    mentioned = _mentioned(session, [c.id for _, c in rows])
    targets: dict[tuple[str, str, str], Target] = {}
    out = []
    for mention, comment in rows:
        where = (comment.entity, comment.target, comment.target_key)
        if where not in targets:
            targets[where] = _target_or_gone(session, *where)
        target = targets[where]
        out.append(
            {
                "id": comment.id,
                "comment": _json(comment, authors, mentioned),
                "author": authors.get(comment.author_id),
                "target": target.json(),
                "link": target.link,
                "created_at": mention.created_at,
                "read_at": mention.read_at,
                "unread": mention.read_at is None,
            }
        )
    return {"mentions": out, "unread": _unread(session, viewer)}


def mark_read(
    session: Session, viewer: Viewer, ids: Sequence[int] | None, *, read: bool = True
) -> dict[str, Any]:
    """Mark the viewer's mentions (of the comments `ids`, or every one with None) read, or
    unread again: `{"updated": n, "unread": n}`."""
    query = sa.update(Mention).where(Mention.user_id == viewer.id)
    if ids is not None:
        query = query.where(Mention.comment_id.in_(list(ids)))
    if read:
        query = query.where(Mention.read_at.is_(None)).values(read_at=now())
    else:
        query = query.where(Mention.read_at.is_not(None)).values(read_at=None)
    result = session.execute(query)
    updated = int(getattr(result, "rowcount", 0) or 0)
    session.flush()
    return {"updated": updated, "unread": _unread(session, viewer)}


def people(session: Session, entity: str) -> list[str]:
    """The names an `@` in a comment of `entity` notifies (for completion): the user
    `entity`, or the members of team `entity`; enabled users only, sorted."""
    members = sa.select(TeamMember.user_id).join(Team, Team.id == TeamMember.team_id)
    names = session.scalars(
        sa.select(User.name)
        .where(
            User.disabled_at.is_(None),
            sa.or_(User.name == entity, User.id.in_(members.where(Team.name == entity))),
        )
        .order_by(User.name)
    )
    return list(names)
