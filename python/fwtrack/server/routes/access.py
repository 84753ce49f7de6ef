"""What the access routes (users, keys, teams, login) share: request and answer models, the
admin check, and the JSON shapes of a user and a key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from fwtrack.server.auth import Viewer
from fwtrack.server.db import ApiKey, Team, TeamMember, User, now
from fwtrack.server.errors import ApiError

__all__ = [
    "NAME_PATTERN",
    "KeyOut",
    "Strict",
    "TeamOut",
    "UserOut",
    "key_out",
    "require_admin",
    "team_members",
    "users_out",
]

NAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
"""A user or team name (the entity pattern of fwtrack.server.errors)."""


class Strict(BaseModel):
    """A request body: unknown fields are a 400, strings are bounded."""

    model_config = ConfigDict(extra="forbid", str_max_length=4096)


class KeyOut(BaseModel):
    id: int
    prefix: str
    description: str
    created_at: float
    last_used_at: float | None
    expires_at: float | None
    revoked: bool
    expired: bool


class UserOut(BaseModel):
    name: str
    is_admin: bool
    disabled: bool
    disabled_at: float | None
    has_password: bool
    created_at: float
    teams: list[str]


class TeamOut(BaseModel):
    name: str
    members: list[str]


def require_admin(viewer: Viewer, what: str) -> None:
    """403 unless the viewer is an admin (`what`: e.g. 'list users')."""
    if not viewer.is_admin:
        raise ApiError(
            403,
            f"only admins {what}; hint: ask an admin, or use an admin's API key",
        )


def key_out(row: ApiKey, at: float | None = None) -> dict[str, Any]:
    """The answer for one key (its prefix, never the key)."""
    at = now() if at is None else at
    return {
        "id": row.id,
        "prefix": f"fwk_{row.prefix}",
        "description": row.description,
        "created_at": row.created_at,
        "last_used_at": row.last_used_at,
        "expires_at": row.expires_at,
        "revoked": row.revoked_at is not None,
        "expired": row.expires_at is not None and row.expires_at <= at,
    }


def users_out(session: Session, users: Sequence[User]) -> list[dict[str, Any]]:
    """The answers for `users` (one query for all their teams)."""
    teams: dict[int, list[str]] = {u.id: [] for u in users}
    if users:
        rows = session.execute(
            sa.select(TeamMember.user_id, Team.name)
            .join(Team, Team.id == TeamMember.team_id)
            .where(TeamMember.user_id.in_(list(teams)))
            .order_by(Team.name)
        ).all()
        for user_id, team in rows:
            teams[user_id].append(team)
    return [
        {
            "name": u.name,
            "is_admin": u.is_admin,
            "disabled": u.disabled_at is not None,
            "disabled_at": u.disabled_at,
            "has_password": u.password_hash is not None,
            "created_at": u.created_at,
            "teams": teams[u.id],
        }
        for u in users
    ]


def team_members(session: Session, team_ids: Iterable[int]) -> dict[int, list[str]]:
    """Member names (sorted) of each team id."""
    members: dict[int, list[str]] = {t: [] for t in team_ids}
    if members:
        rows = session.execute(
            sa.select(TeamMember.team_id, User.name)
            .join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id.in_(list(members)))
            .order_by(User.name)
        ).all()
        for team_id, name in rows:
            members[team_id].append(name)
    return members
