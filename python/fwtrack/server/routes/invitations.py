"""Team invitations: one-time links that join a team with a role (docs/collaboration.md)."""

from __future__ import annotations

from fastapi import APIRouter

from fwtrack.server.routes.deps import ERRORS

__all__ = ["router"]

router = APIRouter(responses=ERRORS)
