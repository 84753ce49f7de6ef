"""Teams: create, list, read, add and remove members (admins and the team's members)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fwtrack.server.auth import Viewer, claim_name
from fwtrack.server.db import Team, TeamMember, User, now
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.routes.access import (
    NAME_PATTERN,
    NAME_TAKEN,
    Strict,
    TeamOut,
    claiming,
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
    return {"name": row.name, "members": team_members(session, [row.id])[row.id]}


@router.get("/teams", response_model=TeamsOut, tags=["access"])
def list_teams(user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Admins: every team; others: the teams they belong to. Sorted by name."""
    with ctx.db.read() as session:
        query = sa.select(Team).order_by(Team.name)
        if not user.is_admin:
            query = query.join(TeamMember, TeamMember.team_id == Team.id).where(
                TeamMember.user_id == user.id
            )
        rows = session.scalars(query).all()
        members = team_members(session, [t.id for t in rows])
    return {"teams": [{"name": t.name, "members": members[t.id]} for t in rows]}


@router.post("/teams", response_model=TeamOut, tags=["access"], responses=NAME_TAKEN)
def create_team(body: TeamCreateIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Create a team; its creator becomes its first member. The name may not be a user's or
    team's name in any case (409)."""
    with claiming(body.name), ctx.db.write() as session:
        claim_name(session, body.name)
        team = Team(name=body.name, created_at=now())
        session.add(team)
        session.flush()
        session.add(TeamMember(team_id=team.id, user_id=user.id))
    return {"name": body.name, "members": [user.name]}


@router.get("/teams/{team}", response_model=TeamOut, tags=["access"])
def get_team(team: TeamName, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """One team and its members (admins and the team's members)."""
    _require_member(user, team, "read it")
    with ctx.db.read() as session:
        return _answer(session, _team(session, team))


@router.post("/teams/{team}/members", response_model=TeamOut, tags=["access"])
def add_member(team: TeamName, body: MemberIn, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Add a user to a team (admins and the team's members may)."""
    _require_member(user, team, "add members")
    with ctx.db.write() as session:
        row = _team(session, team)
        member = session.scalar(sa.select(User).where(User.name == body.user))
        if member is None:
            raise ApiError(404, f"no user named {body.user!r}")
        if session.get(TeamMember, (row.id, member.id)) is None:
            session.add(TeamMember(team_id=row.id, user_id=member.id))
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
