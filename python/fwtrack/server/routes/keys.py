"""API keys: list, create (optionally expiring), revoke; admins see and revoke anyone's."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from fwtrack.server import audit
from fwtrack.server.db import ApiKey, User, now
from fwtrack.server.errors import ApiError
from fwtrack.server.jsonutil import clean_text
from fwtrack.server.routes.access import (
    KeyOut,
    Strict,
    issue_key,
    key_out,
    no_user,
    require_self_or_admin,
)
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer

__all__ = ["MAX_KEY_LIFETIME", "MIN_KEY_LIFETIME", "router"]

router = APIRouter(responses=ERRORS)

MIN_KEY_LIFETIME = 60
"""The shortest `expires_in` of a new key, in seconds."""

MAX_KEY_LIFETIME = 10 * 365 * 86400
"""The longest `expires_in` of a new key, in seconds (10 years)."""


class KeyCreateIn(Strict):
    description: str = Field(default="", max_length=256)
    expires_in: int | None = Field(default=None, ge=MIN_KEY_LIFETIME, le=MAX_KEY_LIFETIME)


class KeyCreatedOut(BaseModel):
    id: int
    api_key: str
    expires_at: float | None


class KeysOut(BaseModel):
    keys: list[KeyOut]


class KeyRevokedOut(BaseModel):
    id: int
    revoked: bool


def _keys_of(ctx: Ctx, user_id: int) -> dict[str, Any]:
    at = now()
    with ctx.db.read() as session:
        rows = session.scalars(
            sa.select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id)
        ).all()
    return {"keys": [key_out(k, at) for k in rows]}


@router.get("/keys", response_model=KeysOut, tags=["access"])
def list_keys(user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """The viewer's API keys (prefixes only)."""
    return _keys_of(ctx, user.id)


@router.get("/users/{name}/keys", response_model=KeysOut, tags=["access"])
def list_user_keys(
    name: Annotated[str, Path(max_length=64)], user: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """A user's API keys (prefixes only): admins see anyone's, users their own."""
    require_self_or_admin(user, name, f"list the keys of {name!r}; hint: GET /api/v1/keys")
    with ctx.db.read() as session:
        user_id = session.scalar(sa.select(User.id).where(User.name == name))
    if user_id is None:
        raise no_user(name)
    return _keys_of(ctx, user_id)


@router.post("/keys", response_model=KeyCreatedOut, tags=["access"])
def new_key(body: KeyCreateIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Create an API key for the viewer, working for `expires_in` seconds (60 s to 10 years;
    default: until revoked); the key is shown only in this answer."""
    expires_at = None if body.expires_in is None else now() + body.expires_in
    return issue_key(ctx.db, user.id, clean_text(body.description), expires_at)


@router.delete("/keys/{key_id}", response_model=KeyRevokedOut, tags=["access"])
def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**62)], user: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Revoke a key: the viewer's own, or (admins) anyone's. It stops working at once."""
    with ctx.db.write() as session:
        row = session.get(ApiKey, key_id)
        if row is None or not (user.is_admin or row.user_id == user.id):
            raise ApiError(
                404, f"you have no API key with id {key_id}; GET /api/v1/keys lists them"
            )
        if row.revoked_at is None:
            row.revoked_at = now()
            if row.user_id != user.id:
                owner = session.get(User, row.user_id)
                audit.record(
                    session,
                    user.name,
                    "key.revoke",
                    target=owner.name if owner is not None else str(row.user_id),
                    detail={"key_id": key_id, "prefix": f"fwk_{row.prefix}"},
                )
    return {"id": key_id, "revoked": True}
