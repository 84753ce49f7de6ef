"""Webhooks of an entity: register, list, edit and delete them, read their delivery log, and
send a `ping` (docs/server.md "Webhooks"; delivery and signing are in
`fwtrack.server.webhooks`).

Only the entity's admins (server admins, the user itself, a team's admins) may: anyone else
is answered 403, decided before any lookup. The secret is shown once, in the answer to the
creation. `fwtrack ui` has no webhooks: it lists none and answers 405 to the rest.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fwtrack.server import webhooks
from fwtrack.server.auth import Viewer, entity_exists
from fwtrack.server.context import AppContext
from fwtrack.server.db import User, Webhook, WebhookDelivery, now
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.registry import is_entity_admin
from fwtrack.server.routes.access import Strict
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["webhooks"])

_NOT_HERE = error(405, "This server (`fwtrack ui`) has no webhooks")
MAX_URL = 2048
DEFAULT_DELIVERIES = 50
MAX_DELIVERIES = 500

Entity = Annotated[str, Path(max_length=64)]
HookId = Annotated[int, Path(ge=1)]
EventName = Annotated[str, Field(max_length=64)]


class DeliveryOut(BaseModel):
    """One event for one webhook and where its delivery stands."""

    id: int
    webhook_id: int
    event: str
    payload: dict[str, Any] = Field(description="The JSON body sent (parsed)")
    status: str = Field(description="`pending`, `delivered` or `failed`")
    attempts: int
    next_attempt_at: float = Field(description="When a pending delivery goes (again)")
    last_status: int | None = Field(description="The receiver's HTTP status at the last attempt")
    last_error: str | None = Field(
        description="Why the last attempt failed: the status and the start of the answer, or "
        "the connection's error"
    )
    created_at: float
    delivered_at: float | None


class WebhookOut(BaseModel):
    id: int
    entity: str
    url: str
    events: list[str]
    active: bool
    description: str | None
    created_at: float
    created_by: str | None
    last_delivery: DeliveryOut | None = Field(description="The newest delivery")


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(description="Signs every delivery; shown only in this answer")


class WebhookIn(Strict):
    url: str = Field(min_length=1, max_length=MAX_URL, description="An http(s) URL")
    events: list[EventName] | None = Field(
        None,
        max_length=len(webhooks.SUBSCRIBABLE),
        description=f"Among {list(webhooks.SUBSCRIBABLE)}; default all of them",
    )
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=128,
        description="The signing secret (default: a random one, in the answer)",
    )
    description: str | None = Field(None, max_length=4096)


class WebhookPatchIn(Strict):
    url: str | None = Field(None, min_length=1, max_length=MAX_URL)
    events: list[EventName] | None = Field(None, max_length=len(webhooks.SUBSCRIBABLE))
    active: bool | None = Field(None, description="An inactive webhook's deliveries wait")
    description: str | None = Field(None, max_length=4096)


class DeletedOut(BaseModel):
    deleted: int


def _check_url(url: str) -> str:
    """`url` when it is an http(s) URL with a host, else 400."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok or any(c.isspace() or ord(c) < 32 for c in url):
        raise ApiError(
            400,
            f"webhook url {url[:200]!r} is not an http(s) URL; hint: e.g. "
            "https://hooks.example.com/fwtrack (percent-encode spaces)",
        )
    return url


def _check_events(events: list[str] | None) -> list[str]:
    if events is None:
        return list(webhooks.SUBSCRIBABLE)
    unknown = sorted(set(events) - set(webhooks.SUBSCRIBABLE))
    if unknown or not events:
        what = f"unknown event(s) {unknown}" if unknown else "no events"
        raise ApiError(
            400,
            f"{what}; hint: choose among {list(webhooks.SUBSCRIBABLE)} (or leave events out "
            "for all; `ping` is always sent by POST .../test)",
        )
    return [e for e in webhooks.SUBSCRIBABLE if e in events]


def _allowed(session: Session, viewer: Viewer, entity: str) -> None:
    """403 unless `viewer` administers `entity` (names checked first: 400)."""
    check_entity(entity)
    if not is_entity_admin(session, viewer, entity):
        raise ApiError(
            403,
            f"only the admins of {entity!r} manage its webhooks (server admins, the user "
            f"{entity!r}, or an admin of team {entity!r}); hint: ask one of them",
        )


def _writable(ctx: AppContext) -> None:
    if ctx.config.ui_scan_dir is not None:
        raise ApiError(405, "fwtrack ui has no webhooks; hint: run `fwtrack server` for them")


def _delivery(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhook_id": row.webhook_id,
        "event": row.event,
        "payload": json.loads(row.payload),
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
    }


def _answers(session: Session, hooks: list[Webhook]) -> list[dict[str, Any]]:
    ids = [h.id for h in hooks]
    last: dict[int, WebhookDelivery] = {}
    users: dict[int, str] = {}
    if ids:
        newest = (
            sa.select(sa.func.max(WebhookDelivery.id))
            .where(WebhookDelivery.webhook_id.in_(ids))
            .group_by(WebhookDelivery.webhook_id)
        )
        for row in session.scalars(
            sa.select(WebhookDelivery).where(WebhookDelivery.id.in_(newest))
        ):
            last[row.webhook_id] = row
        creators = {h.created_by for h in hooks if h.created_by is not None}
        if creators:
            users = dict(
                session.execute(sa.select(User.id, User.name).where(User.id.in_(creators))).all()
            )
    out = []
    for hook in hooks:
        delivery = last.get(hook.id)
        out.append(
            {
                "id": hook.id,
                "entity": hook.entity,
                "url": hook.url,
                "events": list(hook.events),
                "active": hook.active,
                "description": hook.description,
                "created_at": hook.created_at,
                "created_by": users.get(hook.created_by) if hook.created_by else None,
                "last_delivery": None if delivery is None else _delivery(delivery),
            }
        )
    return out


def _hook(session: Session, entity: str, hook_id: int) -> Webhook:
    hook = session.get(Webhook, hook_id)
    if hook is None or hook.entity != entity:
        raise ApiError(
            404,
            f"no webhook {hook_id} of {entity!r}; hint: GET /api/v1/webhooks/{entity} lists them",
        )
    return hook


@router.get("/webhooks/{entity}", response_model=list[WebhookOut])
def list_webhooks(entity: Entity, viewer: CurrentViewer, ctx: Ctx) -> list[dict[str, Any]]:
    """The webhooks of `entity` (oldest first), each with its newest delivery."""
    with ctx.db.read() as session:
        _allowed(session, viewer, entity)
        if ctx.config.ui_scan_dir is not None:
            return []
        hooks = list(
            session.scalars(sa.select(Webhook).where(Webhook.entity == entity).order_by(Webhook.id))
        )
        return _answers(session, hooks)


@router.post(
    "/webhooks/{entity}",
    response_model=WebhookCreatedOut,
    status_code=201,
    responses=_NOT_HERE,
)
def create_webhook(
    entity: Entity, body: WebhookIn, viewer: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Register a webhook. The answer holds its `secret` (given, or a random one): it is
    never shown again."""
    _writable(ctx)
    url = _check_url(body.url)
    events = _check_events(body.events)
    secret = body.secret or secrets.token_hex(32)
    with ctx.db.write() as session:
        _allowed(session, viewer, entity)
        if not entity_exists(session, entity):
            raise ApiError(404, f"no user or team named {entity!r}")
        hook = Webhook(
            entity=entity,
            url=url,
            secret=secret,
            events=events,
            active=True,
            created_at=now(),
            created_by=viewer.id,
            description=body.description,
        )
        session.add(hook)
        session.flush()
        return {**_answers(session, [hook])[0], "secret": secret}


@router.patch("/webhooks/{entity}/{hook_id}", response_model=WebhookOut, responses=_NOT_HERE)
def update_webhook(
    entity: Entity, hook_id: HookId, body: WebhookPatchIn, viewer: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Change a webhook's URL, events, description, or pause it (`active: false`: its
    deliveries wait until it is active again). The secret cannot change: make a new webhook."""
    _writable(ctx)
    url = None if body.url is None else _check_url(body.url)
    events = None if body.events is None else _check_events(body.events)
    with ctx.db.write() as session:
        _allowed(session, viewer, entity)
        hook = _hook(session, entity, hook_id)
        if url is not None:
            hook.url = url
        if events is not None:
            hook.events = events
        if body.active is not None:
            hook.active = body.active
        if "description" in body.model_fields_set:
            hook.description = body.description
        session.flush()
        answer = _answers(session, [hook])[0]
    if body.active:
        webhooks.wake(ctx)  # what waited goes now
    return answer


@router.delete("/webhooks/{entity}/{hook_id}", response_model=DeletedOut, responses=_NOT_HERE)
def delete_webhook(
    entity: Entity, hook_id: HookId, viewer: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Delete a webhook and its delivery log (nothing more is sent)."""
    _writable(ctx)
    with ctx.db.write() as session:
        _allowed(session, viewer, entity)
        hook = _hook(session, entity, hook_id)
        session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
        session.delete(hook)
    return {"deleted": hook_id}


@router.get(
    "/webhooks/{entity}/{hook_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=_NOT_HERE,
)
def list_deliveries(
    entity: Entity,
    hook_id: HookId,
    viewer: CurrentViewer,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES)] = DEFAULT_DELIVERIES,
) -> list[dict[str, Any]]:
    """The webhook's deliveries, newest first: status, attempts, the last answer or error,
    and the body sent."""
    _writable(ctx)
    with ctx.db.read() as session:
        _allowed(session, viewer, entity)
        hook = _hook(session, entity, hook_id)
        rows = session.scalars(
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        return [_delivery(r) for r in rows]


@router.post(
    "/webhooks/{entity}/{hook_id}/test",
    response_model=DeliveryOut,
    status_code=202,
    responses=_NOT_HERE,
)
def test_webhook(
    entity: Entity, hook_id: HookId, viewer: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Send the webhook a `ping` (whatever events it takes): the answer is the pending
    delivery; its outcome shows in the delivery log."""
    _writable(ctx)
    with ctx.db.write() as session:
        _allowed(session, viewer, entity)
        hook = _hook(session, entity, hook_id)
        delivery = webhooks.ping(session, hook, viewer.name)
        session.flush()
        answer = _delivery(delivery)
    webhooks.wake(ctx)
    return answer
