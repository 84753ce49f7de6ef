"""Team invitations: one-time links that join a team with a role (docs/collaboration.md).

A team admin (or a server admin) creates an invitation for a role (`admin`, `member` or
`viewer`), valid for `expires_in` seconds (default 7 days), with a note; the answer holds the
token and its link `<base>/#/invite/<token>` — shown only there: the server keeps the token's
SHA-256 alone. The admins list the pending ones and revoke them.

Whoever holds the link reads what it offers (`GET /invitations/{token}`: team, role, inviter;
no key needed), then either accepts it signed in (`POST .../accept`: the user joins the team
with the role), or creates an account through it (`POST .../signup` with a name and a
password, the rules of `POST /users`): the new user joins and is signed in (an API key as the
login answers). A link works once: used, expired or revoked it answers 410 naming which; an
unknown token 404. Creating, revoking and using an invitation are audited.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fwtrack.server import audit
from fwtrack.server.auth import Viewer, add_user, create_key
from fwtrack.server.context import AppContext
from fwtrack.server.db import Invitation, Team, TeamMember, now
from fwtrack.server.errors import ApiError, check_entity
from fwtrack.server.jsonutil import clean_text
from fwtrack.server.registry import is_entity_admin
from fwtrack.server.routes.access import NAME_PATTERN, NAME_TAKEN, Strict, claiming
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error

__all__ = ["DEFAULT_LIFETIME", "MAX_LIFETIME", "hash_token", "router"]

router = APIRouter(responses=ERRORS, tags=["access"])

DEFAULT_LIFETIME = 7 * 86400
"""How long an invitation works when `expires_in` is not given: 7 days."""

MIN_LIFETIME = 60
MAX_LIFETIME = 365 * 86400
"""The longest `expires_in`: a year."""

_GONE = error(410, "The invitation was used, has expired or was revoked")

TeamName = Annotated[str, Path(max_length=64)]
Token = Annotated[str, Path(min_length=16, max_length=128)]
Role = Literal["admin", "member", "viewer"]


class InvitationIn(Strict):
    role: Role = "member"
    expires_in: int = Field(default=DEFAULT_LIFETIME, ge=MIN_LIFETIME, le=MAX_LIFETIME)
    note: str = Field(default="", max_length=256)


class InvitationOut(BaseModel):
    id: int
    team: str
    role: str
    note: str
    created_by: str
    created_at: float
    expires_at: float


class InvitationCreatedOut(InvitationOut):
    token: str = Field(description="Shown only in this answer")
    url: str = Field(description="The link to hand over: `<base>/#/invite/<token>`")


class InvitationsOut(BaseModel):
    invitations: list[InvitationOut]


class RevokedOut(BaseModel):
    id: int
    revoked: bool


class InvitationInfoOut(BaseModel):
    team: str
    role: str
    inviter: str
    note: str
    expires_at: float


class AcceptedOut(BaseModel):
    team: str
    role: str


class SignupIn(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    password: str = Field(min_length=8, max_length=1024)


class SignupOut(BaseModel):
    id: int
    api_key: str
    expires_at: float
    name: str
    team: str
    role: str


def hash_token(token: str) -> str:
    """The stored form of an invitation token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _no_teams_here(ctx: AppContext) -> None:
    if ctx.local_viewer is not None:
        raise ApiError(
            405, "`fwtrack ui` has no teams; hint: run `fwtrack server` to invite people"
        )


def _team(session: Session, team: str) -> Team:
    row = session.scalar(sa.select(Team).where(Team.name == team))
    if row is None:
        raise ApiError(404, f"no team named {team!r}; hint: GET /api/v1/teams lists yours")
    return row


def _require_team_admin(session: Session, viewer: Viewer, team: str, what: str) -> None:
    if not is_entity_admin(session, viewer, team):
        raise ApiError(
            403,
            f"only admins of team {team!r} (and server admins) {what}; hint: ask one of them "
            f"(GET /api/v1/teams/{team} lists them)",
        )


def _out(row: Invitation, team: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "team": team,
        "role": row.role,
        "note": row.note,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
    }


def _usable(session: Session, token: str, *, lock: bool = False) -> tuple[Invitation, Team]:
    """The invitation `token` names and its team: 404 unknown, 410 used, revoked or expired."""
    query = sa.select(Invitation).where(Invitation.token_hash == hash_token(token))
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    team = None if row is None else session.get(Team, row.team_id)
    if row is None or team is None:
        raise ApiError(
            404,
            "no such invitation; hint: check that the whole link was copied, or ask a team "
            "admin for a new one",
        )
    hint = f"hint: ask an admin of team {team.name!r} for a new invitation"
    if row.used_at is not None:
        raise ApiError(410, f"this invitation was already used (by {row.used_by!r}); {hint}")
    if row.revoked_at is not None:
        raise ApiError(410, f"this invitation was revoked; {hint}")
    if row.expires_at <= now():
        raise ApiError(410, f"this invitation has expired; {hint}")
    return row, team


def _join(session: Session, row: Invitation, team: Team, user_id: int, name: str) -> None:
    """Use the invitation: `user_id` joins `team` with its role (in the caller's transaction)."""
    row.used_at = now()
    row.used_by = name
    session.add(TeamMember(team_id=team.id, user_id=user_id, role=row.role))


# -- team admins -----------------------------------------------------------------------------


@router.post("/teams/{team}/invitations", response_model=InvitationCreatedOut, status_code=201)
def create_invitation(
    team: TeamName, body: InvitationIn, request: Request, user: CurrentViewer, ctx: Ctx
) -> dict[str, Any]:
    """Invite someone into `team` with `role` (team admins and server admins): the answer
    holds the one-time token and its link, never shown again."""
    _no_teams_here(ctx)
    check_entity(team)
    token = secrets.token_urlsafe(32)
    with ctx.db.write() as session:
        _require_team_admin(session, user, team, "invite people")
        row_team = _team(session, team)
        at = now()
        row = Invitation(
            token_hash=hash_token(token),
            team_id=row_team.id,
            role=body.role,
            note=clean_text(body.note),
            created_by=user.name,
            created_at=at,
            expires_at=at + body.expires_in,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            user.name,
            "invitation.create",
            entity=team,
            target=f"invitation {row.id}",
            detail={"role": body.role, "note": row.note, "expires_at": row.expires_at},
        )
        out = _out(row, team)
    base = str(request.base_url).rstrip("/")
    return {**out, "token": token, "url": f"{base}/#/invite/{token}"}


@router.get("/teams/{team}/invitations", response_model=InvitationsOut)
def list_invitations(team: TeamName, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """The team's pending invitations (not used, revoked or expired), newest first (team
    admins and server admins)."""
    _no_teams_here(ctx)
    check_entity(team)
    with ctx.db.read() as session:
        _require_team_admin(session, user, team, "list its invitations")
        row_team = _team(session, team)
        rows = session.scalars(
            sa.select(Invitation)
            .where(
                Invitation.team_id == row_team.id,
                Invitation.used_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now(),
            )
            .order_by(Invitation.id.desc())
        ).all()
        return {"invitations": [_out(r, team) for r in rows]}


@router.delete(
    "/teams/{team}/invitations/{invitation_id}", response_model=RevokedOut, responses=_GONE
)
def revoke_invitation(
    team: TeamName,
    invitation_id: Annotated[int, Path(ge=1, le=2**62)],
    user: CurrentViewer,
    ctx: Ctx,
) -> dict[str, Any]:
    """Revoke a pending invitation (team admins and server admins): its link stops working.
    410 when it was used already."""
    _no_teams_here(ctx)
    check_entity(team)
    with ctx.db.write() as session:
        _require_team_admin(session, user, team, "revoke its invitations")
        row_team = _team(session, team)
        row = session.get(Invitation, invitation_id, with_for_update=True)
        if row is None or row.team_id != row_team.id:
            raise ApiError(
                404,
                f"team {team!r} has no invitation {invitation_id}; hint: GET "
                f"/api/v1/teams/{team}/invitations lists the pending ones",
            )
        if row.used_at is not None:
            raise ApiError(410, f"invitation {invitation_id} was already used by {row.used_by!r}")
        if row.revoked_at is None:
            row.revoked_at = now()
            audit.record(
                session,
                user.name,
                "invitation.revoke",
                entity=team,
                target=f"invitation {row.id}",
                detail={"role": row.role, "note": row.note},
            )
    return {"id": invitation_id, "revoked": True}


# -- whoever holds the link ------------------------------------------------------------------


@router.get("/invitations/{token}", response_model=InvitationInfoOut, responses=_GONE)
def describe_invitation(token: Token, ctx: Ctx) -> dict[str, Any]:
    """What the link offers: the team, the role, who invited and until when (no key needed)."""
    _no_teams_here(ctx)
    with ctx.db.read() as session:
        row, team = _usable(session, token)
        return {
            "team": team.name,
            "role": row.role,
            "inviter": row.created_by,
            "note": row.note,
            "expires_at": row.expires_at,
        }


@router.post(
    "/invitations/{token}/accept",
    response_model=AcceptedOut,
    responses={**_GONE, **error(409, "Already a member of the team")},
)
def accept_invitation(token: Token, user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Join the invitation's team with its role, as the signed-in user; the link is used."""
    _no_teams_here(ctx)
    with ctx.db.write() as session:
        row, team = _usable(session, token, lock=True)
        current = session.get(TeamMember, (team.id, user.id))
        if current is not None:
            raise ApiError(
                409,
                f"{user.name!r} is already in team {team.name!r} (role {current.role}); the "
                "invitation stays unused; hint: a team admin changes roles on the team page",
            )
        _join(session, row, team, user.id, user.name)
        audit.record(
            session,
            user.name,
            "invitation.accept",
            entity=team.name,
            target=user.name,
            detail={"role": row.role, "invitation": row.id, "inviter": row.created_by},
        )
        return {"team": team.name, "role": row.role}


@router.post(
    "/invitations/{token}/signup",
    response_model=SignupOut,
    status_code=201,
    responses={**_GONE, **NAME_TAKEN},
)
def signup_with_invitation(token: Token, body: SignupIn, ctx: Ctx) -> dict[str, Any]:
    """Create an account through the link (a name and a password of 8 or more characters,
    as `POST /users` takes them): the new user joins the team with the invitation's role and
    is signed in (an API key that expires as a login's does)."""
    _no_teams_here(ctx)
    with claiming(body.name), ctx.db.write() as session:
        row, team = _usable(session, token, lock=True)
        new = add_user(session, body.name, password=body.password)
        _join(session, row, team, new.id, new.name)
        expires_at = now() + ctx.config.login_key_ttl
        key_row, key = create_key(session, new.id, "login", expires_at=expires_at)
        audit.record(
            session,
            new.name,
            "invitation.accept",
            entity=team.name,
            target=new.name,
            detail={
                "role": row.role,
                "invitation": row.id,
                "inviter": row.created_by,
                "new_user": True,
            },
        )
        answer = {
            "id": key_row.id,
            "api_key": key,
            "expires_at": expires_at,
            "name": new.name,
            "team": team.name,
            "role": row.role,
        }
    return answer
