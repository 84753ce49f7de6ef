"""Teams: create, list, read, add and remove members (admins and the team's members), and
set a member's role (server admins and the team's admins).

A member's role is `admin` or `member`. The creator of a team is its first admin; a member
added later is a `member`. Team admins are the team's entity admins
(`fwtrack.server.registry.is_entity_admin`): they set roles, manage the team's webhooks and
move its models' protected aliases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

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
)
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer

__all__ = ["router"]

router = APIRouter(responses=ERRORS)

TeamName = Annotated[str, Path(max_length=64)]


class TeamCreateIn(Strict):
    name: str = Field(pattern=NAME_PATTERN)


class MemberIn(Strict):
    user: str = Field(pattern=NAME_PATTERN)


class RoleIn(Strict):
    role: Literal["admin", "member"]


class TeamsOut(BaseModel):
    teams: list[TeamOut]


def _require_member(viewer: Viewer, team: str, what: str) -> None:
    """400 for a bad name, 403 unless an admin or a member (decided on the name alone)."""
    check_entity(team)
    if not (viewer.is_admin or team in viewer.teams):
        raise ApiError(
            403,
            f"only admins and members of team {team!r} {what}; hint: ask a member or an admin",
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
    return [{"name": t.name, "members": members[t.id], "admins": admins[t.id]} for t in rows]


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
    return {"name": body.name, "members": [user.name], "admins": [user.name]}


@router.get("/teams/{team}", response_model=TeamOut, tags=["access"])
def get_team(team: TeamName, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """One team and its members (admins and the team's members)."""
    _require_member(user, team, "read it")
    with ctx.db.read() as session:
        return _answer(session, _team(session, team))


@router.post("/teams/{team}/members", response_model=TeamOut, tags=["access"])
def add_member(team: TeamName, body: MemberIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Add a user to a team with role member (admins and the team's members may)."""
    _require_member(user, team, "add members")
    with ctx.db.write() as session:
        row = _team(session, team)
        member = session.scalar(sa.select(User).where(User.name == body.user))
        if member is None:
            raise ApiError(404, f"no user named {body.user!r}")
        if session.get(TeamMember, (row.id, member.id)) is None:
            session.add(TeamMember(team_id=row.id, user_id=member.id, role="member"))
        session.flush()
        return _answer(session, row)


@router.delete("/teams/{team}/members/{member}", response_model=TeamOut, tags=["access"])
def remove_member(
    team: TeamName,
    member: Annotated[str, Path(max_length=64)],
    user: CurrentViewer,
    ctx: Ctx,
) -> dict[str, Any]:
    """Remove a user from a team (admins and the team's members may; a member may leave).
    They lose access to the team's projects at once."""
    _require_member(user, team, "remove members")
    check_entity(member)
    with ctx.db.write() as session:
        row = _team(session, team)
        removed = session.execute(
            sa.delete(TeamMember).where(
                TeamMember.team_id == row.id,
                TeamMember.user_id
                == sa.select(User.id).where(User.name == member).scalar_subquery(),
            )
        )
        if removed.rowcount == 0:  # type: ignore[attr-defined]
            raise ApiError(
                404,
                f"{member!r} is not a member of team {team!r}; hint: GET /api/v1/teams/{team} "
                "lists its members",
            )
        return _answer(session, row)


@router.patch("/teams/{team}/members/{member}", response_model=TeamOut, tags=["access"])
def set_member_role(
    team: TeamName,
    member: Annotated[str, Path(max_length=64)],
    body: RoleIn,
    user: CurrentViewer,
    ctx: Ctx,
) -> dict[str, Any]:
    """Set a member's role, `admin` or `member` (server admins and the team's admins may)."""
    _require_member(user, team, "change roles")
    check_entity(member)
    with ctx.db.write() as session:
        if not is_entity_admin(session, user, team):
            raise ApiError(
                403,
                f"only admins of team {team!r} (and server admins) change roles; hint: ask "
                f"one of them (GET /api/v1/teams/{team} lists them)",
            )
        row = _team(session, team)
        changed = session.execute(
            sa.update(TeamMember)
            .where(
                TeamMember.team_id == row.id,
                TeamMember.user_id
                == sa.select(User.id).where(User.name == member).scalar_subquery(),
            )
            .values(role=body.role)
        )
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            raise ApiError(
                404,
                f"{member!r} is not a member of team {team!r}; hint: POST "
                f"/api/v1/teams/{team}/members adds them",
            )
        return _answer(session, row)
