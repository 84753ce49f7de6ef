"""The model registry of an entity (a team or a user): registered models, their versions
(links to committed artifact versions of type `model`), aliases, maintainers and the audit
trail (docs/server.md "Model registry"). The HTTP routes are in `routes/registry.py`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack.server.auth import Viewer
from fwtrack.server.db import Team, TeamMember, User

__all__ = ["is_entity_admin"]


def is_entity_admin(session: Session, viewer: Viewer, entity: str) -> bool:
    """True when `viewer` administers `entity`: a server admin, the user `entity` itself, or
    a member of team `entity` with role admin."""
    if viewer.is_admin or viewer.name == entity:
        return True
    if entity not in viewer.teams:
        return False
    role = session.scalar(
        sa.select(TeamMember.role)
        .join(Team, Team.id == TeamMember.team_id)
        .join(User, User.id == TeamMember.user_id)
        .where(Team.name == entity, User.id == viewer.id)
    )
    return role == "admin"
