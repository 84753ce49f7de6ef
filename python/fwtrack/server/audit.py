"""Recording admin actions (`audit_events`, read by `routes/audit.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from fwtrack.server.db import AuditEvent, now

__all__ = ["record"]


def record(
    session: Session,
    actor: str,
    action: str,
    *,
    entity: str | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one audit event to `session`'s transaction: `actor` did `action` (a dotted name
    such as `team.role` or `user.disable`) to `target` in `entity`."""
    session.add(
        AuditEvent(
            at=now(), actor=actor, action=action, entity=entity, target=target, detail=detail
        )
    )
