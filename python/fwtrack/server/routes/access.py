"""What the access routes (users, keys, teams, login) share: request and answer models, the
admin and self checks, issuing a key, claiming a name, and the JSON shapes of a user, a key
and a team's members."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from fwtrack.server.auth import Viewer, create_key, name_taken_detail
from fwtrack.server.db import ApiKey, Database, Team, TeamMember, User, now
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.routes.deps import error

__all__ = [
    "NAME_PATTERN",
    "NAME_TAKEN",
    "KeyOut",
    "Strict",
    "TeamOut",
    "UserOut",
    "claiming",
    "issue_key",
    "key_out",
    "no_user",
    "require_admin",
    "require_self_or_admin",
    "team_admins",
    "team_members",
    "team_roles",
    "users_out",
]

NAME_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"
"""A user or team name (the entity pattern of fwtrack.server.errors)."""

NAME_TAKEN = error(409, "The name is taken")
"""The `responses` entry of the routes that create a user or a team."""


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
    admins: list[str] = Field(
        description="The members with role admin (sorted): they manage the team's members, "
        "roles, invitations, webhooks and protected aliases"
    )
    roles: dict[str, str] = Field(
        default_factory=dict,
        description="Each member's role: `admin`, `member` or `viewer` (reads and comments, "
        "never writes)",
    )


def require_admin(viewer: Viewer, what: str) -> None:
    """403 unless the viewer is an admin (`what`: e.g. 'list users')."""
    if not viewer.is_admin:
        raise ApiError(
            403,
            f"only admins {what}; hint: ask an admin, or use an admin's API key",
        )


def require_self_or_admin(viewer: Viewer, name: str, what: str) -> None:
    """400 for a bad name, 403 unless the viewer is an admin or the user `name`; `what`
    completes the answer "only admins and 'bob' ..." (e.g. "read the user 'bob'")."""
    check_entity(name)
    if not (viewer.is_admin or name == viewer.name):
        raise ApiError(403, f"only admins and {name!r} {what}")


def no_user(name: str) -> ApiError:
    """The 404 for a user name nobody has."""
    return ApiError(404, f"no user named {name!r}; hint: GET /api/v1/users lists them")


@contextlib.contextmanager
def claiming(name: str) -> Iterator[None]:
    """Around the write that creates a user or team named `name`: a concurrent create that
    took the name first (the IntegrityError of the unique name) answers the same 409 as
    `claim_name`."""
    try:
        yield
    except IntegrityError as exc:
        raise ApiError(409, name_taken_detail(name)) from exc


def issue_key(
    db: Database, user_id: int, description: str, expires_at: float | None
) -> dict[str, Any]:
    """Create a key for `user_id` working until `expires_at` (None: until revoked); the
    answer, the only one that shows the key."""
    with db.write() as session:
        row, key = create_key(session, user_id, description, expires_at=expires_at)
        key_id = row.id
    return {"id": key_id, "api_key": key, "expires_at": expires_at}


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


def _memberships(
    session: Session,
    ids: Iterable[int],
    by: InstrumentedAttribute[int],
    other: type[Team] | type[User],
    via: InstrumentedAttribute[int],
) -> dict[int, list[str]]:
    """For each id of `ids` (a `TeamMember` column `by`), the names (sorted) of the `other`
    rows it is linked to through the `TeamMember` column `via`; one query for all."""
    names: dict[int, list[str]] = {i: [] for i in ids}
    if names:
        rows = session.execute(
            sa.select(by, other.name)
            .join(other, other.id == via)
            .where(by.in_(list(names)))
            .order_by(other.name)
        ).all()
        for key, name in rows:
            names[key].append(name)
    return names


def users_out(session: Session, users: Sequence[User]) -> list[dict[str, Any]]:
    """The answers for `users` (one query for all their teams)."""
    teams = _memberships(
        session, [u.id for u in users], TeamMember.user_id, Team, TeamMember.team_id
    )
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
    return _memberships(session, team_ids, TeamMember.team_id, User, TeamMember.user_id)


def team_admins(session: Session, team_ids: Iterable[int]) -> dict[int, list[str]]:
    """Names (sorted) of the members with role admin of each team id."""
    names: dict[int, list[str]] = {i: [] for i in team_ids}
    if names:
        for team_id, name in session.execute(
            sa.select(TeamMember.team_id, User.name)
            .join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id.in_(list(names)), TeamMember.role == "admin")
            .order_by(User.name)
        ):
            names[team_id].append(name)
    return names


def team_roles(session: Session, team_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each member's role (`admin`, `member` or `viewer`) by name, for each team id."""
    roles: dict[int, dict[str, str]] = {i: {} for i in team_ids}
    if roles:
        for team_id, name, role in session.execute(
            sa.select(TeamMember.team_id, User.name, TeamMember.role)
            .join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id.in_(list(roles)))
            .order_by(User.name)
        ):
            roles[team_id][name] = role
    return roles
