"""Teams: create, list, read, add and remove members (admins and the team's members), and
set a member's role (server admins and the team's admins).

A member's role is `admin`, `member` or `viewer`. The creator of a team is its first admin; a
member added later is a `member` unless another role is asked for (`admin` takes a team
admin). A `viewer` reads the team's projects and comments on them, and every write is refused
(403; `Viewer.writes`). Team admins are the team's entity admins
(`fwtrack.server.registry.is_entity_admin`): they set roles, invite people
(routes/invitations.py), read the team's audit, manage the team's webhooks and move its
models' protected aliases. Member and role changes are audited (`fwtrack.server.audit`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fwtrack.server import audit
from fwtrack.server.auth import Viewer, claim_name
from fwtrack.server.db import Team, TeamMember, User, now
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.registry import is_entity_admin
from fwtrack.server.routes.access import (
    NAME_PATTERN,
    NAME_TAKEN,
    Strict,
    TeamOut,
    claiming,
    team_admins,
    team_members,
    team_roles,
)
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

TeamName = Annotated[str, Path(max_length=64)]


class TeamCreateIn(Strict):
    name: str = Field(pattern=NAME_PATTERN)


Role = Literal["admin", "member", "viewer"]
"""A member's role in a team."""


class MemberIn(Strict):
    user: str = Field(pattern=NAME_PATTERN)
    role: Role = "member"


class RoleIn(Strict):
    role: Role


class TeamsOut(BaseModel):
    teams: list[TeamOut]


def _require_member(viewer: Viewer, team: str, what: str, *, write: bool = False) -> None:
    """400 for a bad name, 403 unless an admin or a member (decided on the name alone);
    `write`: a member with role `viewer` is refused too."""
    check_entity(team)
    if not (viewer.is_admin or team in viewer.teams):
        raise ApiError(
            403,
            f"only admins and members of team {team!r} {what}; hint: ask a member or an admin",
        )
    if write and not viewer.writes(team):
        raise ApiError(
            403,
            f"user {viewer.name!r} is a viewer of team {team!r}: viewers read and comment but "
            f"do not {what}; hint: ask a team admin to make you a member",
        )


def _require_team_admin(session: Session, viewer: Viewer, team: str, what: str) -> None:
    """403 unless a server admin or an admin of `team`."""
    if not is_entity_admin(session, viewer, team):
        raise ApiError(
            403,
            f"only admins of team {team!r} (and server admins) {what}; hint: ask one of them "
            f"(GET /api/v1/teams/{team} lists them)",
        )


def _membership(session: Session, row: Team, member: str) -> TeamMember | None:
    """The membership of the user `member` in `row` (locked for this transaction)."""
    return session.execute(
        sa.select(TeamMember)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == row.id, User.name == member)
        .with_for_update()
    ).scalar_one_or_none()


def _keep_an_admin(session: Session, row: Team) -> None:
    """409 when the change being made leaves `row` without a member with role admin."""
    admins = session.scalar(
        sa.select(sa.func.count())
        .select_from(TeamMember)
        .where(TeamMember.team_id == row.id, TeamMember.role == "admin")
    )
    if not admins:
        raise ApiError(
            409,
            f"this change would leave team {row.name!r} without an admin; hint: make another "
            "member an admin first",
        )


def _team(session: Session, team: str) -> Team:
    row = session.scalar(sa.select(Team).where(Team.name == team))
    if row is None:
        raise ApiError(404, f"no team named {team!r}; hint: GET /api/v1/teams lists yours")
    return row


def _answer(session: Session, row: Team) -> dict[str, Any]:
    return _answers(session, [row])[0]


def _answers(session: Session, rows: Sequence[Team]) -> list[dict[str, Any]]:
    ids = [t.id for t in rows]
    members = team_members(session, ids)
    admins = team_admins(session, ids)
    roles = team_roles(session, ids)
    return [
        {"name": t.name, "members": members[t.id], "admins": admins[t.id], "roles": roles[t.id]}
        for t in rows
    ]


@router.get("/teams", response_model=TeamsOut, tags=["access"])
def list_teams(user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Admins: every team; others: the teams they belong to. Sorted by name."""
    with ctx.db.read() as session:
        query = sa.select(Team).order_by(Team.name)
        if not user.is_admin:
            query = query.join(TeamMember, TeamMember.team_id == Team.id).where(
                TeamMember.user_id == user.id
            )
        return {"teams": _answers(session, session.scalars(query).all())}


@router.post("/teams", response_model=TeamOut, tags=["access"], responses=NAME_TAKEN)
def create_team(body: TeamCreateIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Create a team; its creator becomes its first member, with role admin. The name may not
    be a user's or team's name in any case (409)."""
    with claiming(body.name), ctx.db.write() as session:
        claim_name(session, body.name)
        team = Team(name=body.name, created_at=now())
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=user.id, role="admin"))
        audit.record(session, user.name, "team.create", entity=body.name, target=body.name)
    return {
        "name": body.name,
        "members": [user.name],
        "admins": [user.name],
        "roles": {user.name: "admin"},
    }


@router.get("/teams/{team}", response_model=TeamOut, tags=["access"])
def get_team(team: TeamName, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """One team and its members (admins and the team's members)."""
    _require_member(user, team, "read it")
    with ctx.db.read() as session:
        return _answer(session, _team(session, team))


@router.post("/teams/{team}/members", response_model=TeamOut, tags=["access"])
def add_member(team: TeamName, body: MemberIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Add a user to a team with `role` (default member; admins and the team's members may,
    its viewers may not; role admin takes a team admin). A user in the team already keeps
    their role."""
    _require_member(user, team, "add members", write=True)
    with ctx.db.write() as session:
        if body.role == "admin":
            _require_team_admin(session, user, team, "add admins")
        row = _team(session, team)
        member = session.scalar(sa.select(User).where(User.name == body.user))
        if member is None:
            raise ApiError(404, f"no user named {body.user!r}")
        if session.get(TeamMember, (row.id, member.id)) is None:
            session.add(TeamMember(team_id=row.id, user_id=member.id, role=body.role))
            audit.record(
                session,
                user.name,
                "team.member.add",
                entity=team,
                target=body.user,
                detail={"role": body.role},
            )
        session.flush()
        return _answer(session, row)


@router.delete("/teams/{team}/members/{member}", response_model=TeamOut, tags=["access"])
def remove_member(
    team: TeamName,
    member: Annotated[str, Path(max_length=64)],
    user: CurrentViewer,
    ctx: Ctx,
) -> dict[str, Any]:
    """Remove a user from a team (admins and the team's members may; anyone may leave, a
    viewer removes no one else). They lose access to the team's projects at once. The last
    admin cannot be removed (409)."""
    _require_member(user, team, "remove members", write=member != user.name)
    check_entity(member)
    with ctx.db.write() as session:
        row = _team(session, team)
        found = _membership(session, row, member)
        if found is None:
            raise ApiError(
                404,
                f"{member!r} is not a member of team {team!r}; hint: GET /api/v1/teams/{team} "
                "lists its members",
            )
        was_admin = found.role == "admin"
        session.delete(found)
        session.flush()
        if was_admin:
            _keep_an_admin(session, row)
        action = "team.member.leave" if member == user.name else "team.member.remove"
        audit.record(session, user.name, action, entity=team, target=member)
        return _answer(session, row)


@router.put("/teams/{team}/members/{member}", response_model=TeamOut, tags=["access"])
@router.patch("/teams/{team}/members/{member}", response_model=TeamOut, tags=["access"])
def set_member_role(
    team: TeamName,
    member: Annotated[str, Path(max_length=64)],
    body: RoleIn,
    user: CurrentViewer,
    ctx: Ctx,
) -> dict[str, Any]:
    """Set a member's role, `admin`, `member` or `viewer` (server admins and the team's
    admins may). The last admin keeps their role (409)."""
    _require_member(user, team, "change roles", write=True)
    check_entity(member)
    with ctx.db.write() as session:
        _require_team_admin(session, user, team, "change roles")
        row = _team(session, team)
        found = _membership(session, row, member)
        if found is None:
            raise ApiError(
                404,
                f"{member!r} is not a member of team {team!r}; hint: POST "
                f"/api/v1/teams/{team}/members adds them",
            )
        before = found.role
        if before != body.role:
            found.role = body.role
            session.flush()
            if before == "admin":
                _keep_an_admin(session, row)
            audit.record(
                session,
                user.name,
                "team.role",
                entity=team,
                target=member,
                detail={"from": before, "to": body.role},
            )
        return _answer(session, row)
