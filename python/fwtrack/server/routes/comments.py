"""Comments on runs, reports and registered models, and the mentions inbox
(docs/collaboration.md)."""

from __future__ import annotations

from fastapi import APIRouter

from fwtrack.server.routes.deps import ERRORS

__all__ = ["router"]

router = APIRouter(responses=ERRORS)
