"""Alembic migrations of the server's SQL schema, run at start by `Database.migrate`."""
