"""Health, identity and signing in: `/health`, `/viewer`, `/login`.

Users, keys and teams live in routes/users.py, routes/keys.py and routes/teams.py.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from fwtrack import _core
from fwtrack.server.auth import check_password, disabled_detail
from fwtrack.server.config import ServerConfig
from fwtrack.server.db import Team, TeamMember, User, now
from fwtrack.server.errors import ApiError
from fwtrack.server.routes.access import NAME_PATTERN, Strict, issue_key
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error
from fwtrack.server.throttle import (
    LoginRules,
    check_login_allowed,
    record_login_failure,
    record_login_success,
)

__all__ = ["router"]

router = APIRouter(responses=ERRORS)


class LoginIn(Strict):
    username: str = Field(pattern=NAME_PATTERN)
    password: str = Field(min_length=1, max_length=1024)


class HealthOut(BaseModel):
    status: str
    version: str


class ViewerOut(BaseModel):
    name: str
    is_admin: bool
    teams: list[str]
    read_only: list[str] = Field(
        description="The teams where the user's role is `viewer`: they read and comment "
        "there, every write is refused (the dashboard hides its write controls)"
    )
    roles: dict[str, str] = Field(
        description="The user's role in each of their teams: `admin`, `member` or `viewer`"
    )


class LoginOut(BaseModel):
    id: int
    api_key: str
    expires_at: float


def login_rules(config: ServerConfig) -> LoginRules:
    """The failed-login limits of this server."""
    return LoginRules(
        window=config.login_window,
        lockout=config.login_lockout,
        max_user_failures=config.login_max_failures,
        max_address_failures=config.login_max_address_failures,
    )


@router.get("/health", response_model=HealthOut, tags=["meta"])
def health(ctx: Ctx) -> dict[str, Any]:
    """Liveness and the server version (no authentication). 503 when the database is down."""
    with ctx.db.read() as session:
        session.execute(sa.text("SELECT 1"))
    return {"status": "ok", "version": _core.__version__}


@router.get("/viewer", response_model=ViewerOut, tags=["access"])
def viewer(user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """The user of the API key: name, admin flag, teams, the user's role in each, and the
    teams where that role is `viewer` (`read_only`)."""
    roles: dict[str, str] = {}
    if user.teams:
        with ctx.db.read() as session:
            roles = dict(
                session.execute(
                    sa.select(Team.name, TeamMember.role)
                    .join(TeamMember, TeamMember.team_id == Team.id)
                    .where(TeamMember.user_id == user.id)
                ).all()
            )
    return {
        "name": user.name,
        "is_admin": user.is_admin,
        "teams": list(user.teams),
        "read_only": list(user.read_only),
        "roles": {
            t: roles.get(t, "viewer" if t in user.read_only else "member") for t in user.teams
        },
    }


@router.post(
    "/login",
    response_model=LoginOut,
    tags=["access"],
    responses=error(429, "Too many failed logins; retry after Retry-After seconds"),
)
def login(body: LoginIn, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Exchange a username and password for a new API key that expires after the server's
    `--login-key-ttl`. Failed attempts are limited per username and per client address."""
    rules = login_rules(ctx.config)
    address = request.client.host if request.client else "unknown"
    check_login_allowed(ctx.db, rules, body.username, address, now())
    with ctx.db.read() as session:
        user = session.scalar(sa.select(User).where(User.name == body.username))
    if not check_password(body.password, user.password_hash if user else None) or user is None:
        record_login_failure(ctx.db, rules, body.username, address, now())
        raise ApiError(
            401,
            "wrong username or password; hint: an admin can set one with "
            "PATCH /api/v1/users/<name>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if user.disabled_at is not None:
        raise ApiError(401, disabled_detail(user.name), headers={"WWW-Authenticate": "Bearer"})
    record_login_success(ctx.db, body.username)
    return issue_key(ctx.db, user.id, "login", now() + ctx.config.login_key_ttl)
