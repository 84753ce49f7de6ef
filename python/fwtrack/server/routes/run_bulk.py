"""Bulk actions on a project's runs: tag, untag, move to another project, delete
(docs/collaboration.md)."""

from __future__ import annotations

from fastapi import APIRouter

from fwtrack.server.routes.deps import ERRORS

__all__ = ["router"]

router = APIRouter(responses=ERRORS)
