"""Reports: a project's live documents of markdown, panels and images (docs/reports.md)."""

from __future__ import annotations

from fastapi import APIRouter

from fwtrack.server.routes.deps import ERRORS

__all__ = ["router"]

router = APIRouter(responses=ERRORS)
