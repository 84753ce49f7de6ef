"""Users: admins list, create, disable and enable them, reset passwords and set the admin
flag; a user reads their own entry."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from fwtrack.server import audit
from fwtrack.server.auth import add_user, create_key, hash_password
from fwtrack.server.db import User, now
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.routes.access import (
    NAME_PATTERN,
    NAME_TAKEN,
    Strict,
    UserOut,
    claiming,
    no_user,
    require_admin,
    require_self_or_admin,
    users_out,
)
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer
from fwtrack.server.throttle import clear_user

__all__ = ["router"]

router = APIRouter(responses=ERRORS)


class UserCreateIn(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    is_admin: bool = False


class UserPatchIn(Strict):
    disabled: bool | None = None
    is_admin: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class UsersOut(BaseModel):
    users: list[UserOut]


class UserCreatedOut(UserOut):
    api_key: str
    key_id: int


def _user_answer(ctx: Ctx, name: str) -> dict[str, Any]:
    with ctx.db.read() as session:
        row = session.scalar(sa.select(User).where(User.name == name))
        if row is None:
            raise no_user(name)
        return users_out(session, [row])[0]


@router.get("/users", response_model=UsersOut, tags=["access"])
def list_users(user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Admin only: every user, sorted by name."""
    require_admin(user, "list users")
    with ctx.db.read() as session:
        rows = session.scalars(sa.select(User).order_by(User.name)).all()
        return {"users": users_out(session, rows)}


@router.post("/users", response_model=UserCreatedOut, tags=["access"], responses=NAME_TAKEN)
def create_user(body: UserCreateIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Admin only: create a user (optionally with a password) and its first API key. The name
    may not be a user's or team's name in any case (409)."""
    require_admin(user, "create users")
    with claiming(body.name), ctx.db.write() as session:
        new = add_user(session, body.name, password=body.password, is_admin=body.is_admin)
        row, key = create_key(session, new.id, "first key")
        audit.record(
            session,
            user.name,
            "user.create",
            target=body.name,
            detail={"is_admin": body.is_admin, "password": body.password is not None},
        )
        answer = {**users_out(session, [new])[0], "api_key": key, "key_id": row.id}
    return answer


@router.get("/users/{name}", response_model=UserOut, tags=["access"])
def get_user(
    name: Annotated[str, Path(max_length=64)], user: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """One user: admins read anyone, users themselves."""
    require_self_or_admin(user, name, f"read the user {name!r}")
    return _user_answer(ctx, name)


@router.patch("/users/{name}", response_model=UserOut, tags=["access"])
def update_user(
    name: Annotated[str, Path(max_length=64)],
    body: UserPatchIn,
    user: CurrentViewer,
    ctx: Ctx,
) -> dict[str, Any]:
    """Admin only: disable or enable a user (a disabled user's keys and password stop working
    at once), set its admin flag, or set a new password (which also lifts a login lockout).
    An admin cannot disable themself or drop their own admin flag."""
    require_admin(user, "change users")
    check_entity(name)
    if name == user.name and (body.disabled is True or body.is_admin is False):
        raise ApiError(
            400,
            "you cannot disable yourself or drop your own admin flag; hint: ask another "
            "admin, so the server always keeps an admin who can sign in",
        )
    password_hash = hash_password(body.password) if body.password is not None else None
    with ctx.db.write() as session:
        row = session.scalar(sa.select(User).where(User.name == name).with_for_update())
        if row is None:
            raise no_user(name)
        if body.disabled is not None:
            if body.disabled and row.disabled_at is None:
                row.disabled_at = now()
                audit.record(session, user.name, "user.disable", target=name)
            elif not body.disabled and row.disabled_at is not None:
                row.disabled_at = None
                audit.record(session, user.name, "user.enable", target=name)
        if body.is_admin is not None and body.is_admin != row.is_admin:
            row.is_admin = body.is_admin
            audit.record(
                session, user.name, "user.admin", target=name, detail={"is_admin": body.is_admin}
            )
        if password_hash is not None:
            row.password_hash = password_hash
            audit.record(session, user.name, "user.password", target=name)
        session.flush()
        # Lock the admins' rows so two admins taking each other's rights cannot both win.
        admins = session.scalars(
            sa.select(User.id)
            .where(User.is_admin.is_(True), User.disabled_at.is_(None))
            .with_for_update()
        ).all()
        if not admins:
            raise ApiError(
                409,
                f"this change to {name!r} would leave the server without an enabled admin; "
                "hint: make another user an admin first",
            )
    if body.password is not None:
        clear_user(ctx.db, name)
    return _user_answer(ctx, name)
