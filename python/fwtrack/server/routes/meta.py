"""Health, identity and access: viewer, login, API keys, users, teams."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fwtrack import _core
from fwtrack.server.app import AppContext
from fwtrack.server.auth import (
    check_password,
    create_key,
    entity_exists,
    hash_password,
)
from fwtrack.server.db import ApiKey, Team, TeamMember, User, now
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.jsonutil import clean_text
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

_NAME = r"^[A-Za-z0-9_.\-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=4096)


class LoginIn(_Strict):
    username: str = Field(pattern=_NAME)
    password: str = Field(min_length=1, max_length=1024)


class KeyCreateIn(_Strict):
    description: str = Field(default="", max_length=256)


class UserCreateIn(_Strict):
    name: str = Field(pattern=_NAME)
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    is_admin: bool = False


class TeamCreateIn(_Strict):
    name: str = Field(pattern=_NAME)


class MemberIn(_Strict):
    user: str = Field(pattern=_NAME)


class HealthOut(BaseModel):
    status: str
    version: str


class ViewerOut(BaseModel):
    name: str
    is_admin: bool
    teams: list[str]


class ApiKeyOut(BaseModel):
    api_key: str


class KeyCreatedOut(BaseModel):
    id: int
    api_key: str


class KeyOut(BaseModel):
    id: int
    prefix: str
    description: str
    created_at: float
    revoked: bool


class KeysOut(BaseModel):
    keys: list[KeyOut]


class UserCreatedOut(BaseModel):
    name: str
    is_admin: bool
    api_key: str


class TeamOut(BaseModel):
    name: str
    members: list[str]


@router.get("/health", response_model=HealthOut, tags=["meta"])
def health(ctx: Ctx) -> dict[str, Any]:
    """Liveness and the server version (no authentication). 503 when the database is down."""
    with ctx.db.read() as session:
        session.execute(sa.text("SELECT 1"))
    return {"status": "ok", "version": _core.__version__}


@router.get("/viewer", response_model=ViewerOut, tags=["access"])
def viewer(user: CurrentViewer) -> dict[str, Any]:
    """The user of the API key: name, admin flag, teams."""
    return {"name": user.name, "is_admin": user.is_admin, "teams": list(user.teams)}


@router.post("/login", response_model=ApiKeyOut, tags=["access"])
def login(body: LoginIn, ctx: Ctx) -> dict[str, Any]:
    """Exchange a username and password for a new API key."""
    with ctx.db.read() as session:
        user = session.scalar(sa.select(User).where(User.name == body.username))
    if not check_password(body.password, user.password_hash if user else None) or user is None:
        raise ApiError(
            401,
            "wrong username or password; hint: an admin can set one with POST /api/v1/users",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with ctx.db.write() as session:
        _, key = create_key(session, user.id, "login")
    return {"api_key": key}


@router.get("/keys", response_model=KeysOut, tags=["access"])
def list_keys(user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """The viewer's API keys (prefixes only)."""
    with ctx.db.read() as session:
        rows = session.scalars(
            sa.select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id)
        ).all()
    return {
        "keys": [
            {
                "id": k.id,
                "prefix": f"fwk_{k.prefix}",
                "description": k.description,
                "created_at": k.created_at,
                "revoked": k.revoked_at is not None,
            }
            for k in rows
        ]
    }


@router.post("/keys", response_model=KeyCreatedOut, tags=["access"])
def new_key(body: KeyCreateIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Create an API key for the viewer; the key is shown only in this answer."""
    with ctx.db.write() as session:
        row, key = create_key(session, user.id, clean_text(body.description))
        key_id = row.id
    return {"id": key_id, "api_key": key}


@router.delete("/keys/{key_id}", tags=["access"])
def revoke_key(
    key_id: Annotated[int, Path(ge=1, le=2**62)], user: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Revoke one of the viewer's keys."""
    with ctx.db.write() as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.user_id != user.id:
            raise ApiError(
                404, f"you have no API key with id {key_id}; GET /api/v1/keys lists them"
            )
        if row.revoked_at is None:
            row.revoked_at = now()
    return {"id": key_id, "revoked": True}


@contextlib.contextmanager
def _claiming_name(ctx: AppContext, name: str) -> Iterator[Session]:
    """A write transaction that creates the user or team `name`: 409 when a user or team has
    the name already, or when a concurrent request takes it first (the unique constraint)."""
    taken = f"the name {name!r} is taken by a user or team"
    try:
        with ctx.db.write() as session:
            if entity_exists(session, name):
                raise ApiError(409, taken)
            yield session
    except IntegrityError as exc:
        raise ApiError(409, taken) from exc


@router.post(
    "/users",
    response_model=UserCreatedOut,
    tags=["access"],
    responses=error(409, "The name is taken by a user or team"),
)
def create_user(body: UserCreateIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Admin only: create a user (optionally with a password) and its first API key."""
    if not user.is_admin:
        raise ApiError(403, "only admins create users")
    with _claiming_name(ctx, body.name) as session:
        new = User(
            name=body.name,
            password_hash=hash_password(body.password) if body.password else None,
            is_admin=body.is_admin,
            created_at=now(),
        )
        session.add(new)
        session.flush()
        _, key = create_key(session, new.id, "first key")
    return {"name": body.name, "is_admin": body.is_admin, "api_key": key}


@router.post(
    "/teams",
    response_model=TeamOut,
    tags=["access"],
    responses=error(409, "The name is taken by a user or team"),
)
def create_team(body: TeamCreateIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Create a team; its creator becomes its first member."""
    with _claiming_name(ctx, body.name) as session:
        team = Team(name=body.name, created_at=now())
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=user.id))
    return {"name": body.name, "members": [user.name]}


@router.post("/teams/{team}/members", response_model=TeamOut, tags=["access"])
def add_member(
    team: Annotated[str, Path(max_length=64)], body: MemberIn, user: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Add a user to a team (admins and the team's members may)."""
    check_entity(team)
    if not (user.is_admin or team in user.teams):
        raise ApiError(403, f"only admins and members of team {team!r} add members")
    with ctx.db.write() as session:
        row = session.scalar(sa.select(Team).where(Team.name == team))
        if row is None:
            raise ApiError(404, f"no team named {team!r}")
        member = session.scalar(sa.select(User).where(User.name == body.user))
        if member is None:
            raise ApiError(404, f"no user named {body.user!r}")
        if session.get(TeamMember, (row.id, member.id)) is None:
            session.add(TeamMember(team_id=row.id, user_id=member.id))
        session.flush()
        members = session.scalars(
            sa.select(User.name)
            .join(TeamMember, TeamMember.user_id == User.id)
            .where(TeamMember.team_id == row.id)
            .order_by(User.name)
        ).all()
    return {"name": team, "members": list(members)}
