"""Alembic environment: migrations run on the connection handed over by `Database.upgrade`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from fwtrack.server.db import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, sa.Connection):
        raise RuntimeError(
            "fwtrack migrations run inside the server (Database.migrate), not from the "
            "alembic command line"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
