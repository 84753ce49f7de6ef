"""The projects the viewer reaches."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel

from fwtrack.server.db import Project, Run
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer

__all__ = ["router"]

router = APIRouter(responses=ERRORS)


class ProjectOut(BaseModel):
    entity: str
    name: str
    run_count: int
    last_activity: float


class ProjectsOut(BaseModel):
    projects: list[ProjectOut]


@router.get("/projects", response_model=ProjectsOut, tags=["projects"])
def list_projects(user: CurrentViewer, ctx: Ctx) -> dict[str, Any]:
    """Projects of the viewer's entity and teams (admins: all), most recently active first."""
    counts = (
        sa.select(Run.project_id, sa.func.count().label("n")).group_by(Run.project_id).subquery()
    )
    query = (
        sa.select(Project, sa.func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.project_id == Project.id)
        .order_by(Project.last_activity.desc(), Project.id)
    )
    if not user.is_admin:
        query = query.where(Project.entity.in_([user.name, *user.teams]))
    with ctx.db.read() as session:
        rows = session.execute(query).all()
    return {
        "projects": [
            {
                "entity": p.entity,
                "name": p.name,
                "run_count": int(n),
                "last_activity": p.last_activity,
            }
            for p, n in rows
        ]
    }
