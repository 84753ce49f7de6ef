"""Comments on runs, reports and registered models, and the mentions inbox
(docs/collaboration.md "Comments and mentions"; the logic is in `fwtrack.server.comments`).

Reading and writing comments takes read access to the entity (team viewers comment too):
`GET`/`POST /comments/{entity}/run/{project}/{run id}` (or `.../report/{report id}`,
`.../model/{model name}`), `PATCH`/`DELETE /comments/{id}` (the author; deleting also the
entity's admins). The signed-in user's mentions: `GET /mentions`, `POST /mentions/read`,
and the names an `@` notifies: `GET /mentions/people?entity=`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from fwtrack.server import comments
from fwtrack.server.errors import ApiError
from fwtrack.server.jsonutil import JsonResponse, json_safe
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, reach

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["comments"])

THREAD = "/comments/{entity}/{target}/{key:path}"
COMMENT = "/comments/{comment_id}"

CommentId = Annotated[int, Path(ge=1, le=2**62)]
Key = Annotated[str, Path(min_length=1, max_length=300)]
Kind = Annotated[str, Path(min_length=1, max_length=16)]


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(description="Markdown; `@name` mentions a user who reaches the entity")
    parent_id: int | None = Field(None, ge=1, description="The comment this one replies to")


class CommentEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(description="The new markdown body")


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] | None = Field(
        None,
        max_length=comments.MAX_READ_IDS,
        description="The comment ids of the mentions to mark (default: with `all`, every one)",
    )
    all: bool = Field(False, description="Mark every mention of the signed-in user")
    read: bool = Field(True, description="false: mark them unread again")


@router.get(THREAD)
def list_comments(
    entity: str, target: Kind, key: Key, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The target's comments as a tree, oldest first: `{"target": {entity, kind, key, project,
    label, link}, "comments": [{id, parent_id, author, body, created_at, edited_at, deleted,
    mentions, replies: [...]}], "count"}`. A deleted comment with replies has `deleted` true,
    no author and an empty body."""
    reach(user, entity)
    with ctx.db.read() as session:
        found = comments.resolve_target(session, entity, target, key)
        return JsonResponse(json_safe(comments.thread(session, found)))


@router.post(THREAD, status_code=201)
def create_comment(
    entity: str, target: Kind, key: Key, body: CommentIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Comment (or reply, with `parent_id`). 201 with the comment and `not_notified`: the
    `@names` that are not users reaching the entity (no mention recorded for them). 400 for an
    empty body or one over the limit."""
    reach(user, entity)
    with ctx.db.write() as session:
        found = comments.resolve_target(session, entity, target, key)
        out = comments.create(session, user, found, body.body, body.parent_id)
    return JsonResponse(json_safe(out), status_code=201)


@router.patch(COMMENT)
def edit_comment(
    comment_id: CommentId, body: CommentEdit, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Replace a comment's body (its author only; 403 naming the author otherwise). Mentions
    follow the new body; the answer lists `not_notified` as a create does."""
    with ctx.db.write() as session:
        out = comments.edit(session, user, comment_id, body.body)
    return JsonResponse(json_safe(out))


@router.delete(COMMENT)
def delete_comment(comment_id: CommentId, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """Delete a comment (its author, the entity's admins or a server admin): `{"id",
    "deleted": true, "kept"}`; `kept` when it has replies and stays as "deleted"."""
    with ctx.db.write() as session:
        out = comments.delete(session, user, comment_id)
    return JsonResponse(out)


@router.get("/mentions")
def list_mentions(
    user: CurrentViewer,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=0, le=500)] = 100,
    unread: Annotated[bool, Query(description="Only unread mentions")] = False,
    unread_first: Annotated[bool, Query(description="Unread mentions before read ones")] = False,
) -> JsonResponse:
    """The signed-in user's mentions, newest first: `{"mentions": [{id (the comment's),
    comment, author, target, link (the dashboard's hash route), created_at, read_at,
    unread}], "unread": n}`. `limit=0` answers the unread count alone."""
    with ctx.db.read() as session:
        out = comments.mentions(
            session, user, limit=limit, unread_only=unread, unread_first=unread_first
        )
    return JsonResponse(json_safe(out))


@router.post("/mentions/read")
def read_mentions(body: ReadIn, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """Mark mentions read (or unread with `"read": false`): `{"ids": [comment ids]}` or
    `{"all": true}`. Answers `{"updated": n, "unread": n}`."""
    if (body.ids is None) == (not body.all):
        raise ApiError(
            400,
            'name the mentions to mark: {"ids": [comment ids]} or {"all": true}, not both '
            "nor neither",
        )
    with ctx.db.write() as session:
        out: dict[str, Any] = comments.mark_read(
            session, user, None if body.all else body.ids, read=body.read
        )
    return JsonResponse(out)


@router.get("/mentions/people")
def mention_people(
    entity: Annotated[str, Query(min_length=1, max_length=64)], user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The names an `@` in a comment of `entity` notifies, for completion: `{"people":
    [names]}` (the user `entity`, or the team's members)."""
    reach(user, entity)
    with ctx.db.read() as session:
        return JsonResponse({"people": comments.people(session, entity)})
