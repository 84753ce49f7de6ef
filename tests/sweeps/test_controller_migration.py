"""Migration 0009 on a database an older server left (revision 0008, with a run in it), on
SQLite and PostgreSQL: the run is kept (no sweep), the sweep tables work, a run can name its
sweep, the schema is the one the models describe, and the downgrade takes it all back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fwtrack.server.db import Database, Run
from fwtrack.sweeps.controller import Controller
from server.harness import PostgresCluster

from .controller_util import BACKENDS, database_url, grid_config, postgres_cluster, run_trial

pytestmark = pytest.mark.slow

SWEEP_TABLES = {"sweeps", "sweep_agents", "sweep_trials"}


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with postgres_cluster() as c:
        yield c


@pytest.fixture(params=BACKENDS)
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0008 holding project `admin/old` and its finished run `r0`."""
    cluster = request.getfixturevalue("cluster") if request.param == "postgresql" else None
    db = Database(database_url(request.param, tmp_path, cluster))
    try:
        with db.migration_lock() as connection:
            db.upgrade(connection, "0008")
            connection.execute(
                sa.text(
                    "INSERT INTO projects (id, entity, name, created_at, last_activity) "
                    "VALUES (1, 'admin', 'old', 0, 0)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO runs (project_id, run_id, name, state, tags, notes, "
                    "created_at, updated_at, heartbeat_at, runtime, exit_code, config, "
                    "summary, metadata, keys, log_size, next_seq, edited) VALUES "
                    "(1, 'r0', 'old run', 'finished', '[]', NULL, 0, 0, 0, 1.5, 0, "
                    "'{\"lr\": 0.1}', '{\"loss\": 0.25}', '{}', '[\"loss\"]', 10, 1, '[]')"
                )
            )
            connection.commit()
        yield db
    finally:
        db.dispose()


def _newest_revision() -> str:
    from alembic.script import ScriptDirectory

    from fwtrack.server import db as db_module

    head = ScriptDirectory(str(db_module._MIGRATIONS_DIR)).get_current_head()
    assert head is not None
    return head


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def test_the_upgrade_keeps_runs_and_adds_the_sweep_tables(old_db: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from fwtrack.server.db import Base

    assert not SWEEP_TABLES & _tables(old_db)
    old_db.migrate()
    assert _tables(old_db) >= SWEEP_TABLES
    with old_db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        # The sweep tables came with 0009; the newer migrations follow it up to the newest.
        assert context.get_current_revision() == _newest_revision()
        assert compare_metadata(context, Base.metadata) == []

    with old_db.read() as s:
        run = s.scalars(sa.select(Run)).one()
        assert (run.run_id, run.name, run.state) == ("r0", "old run", "finished")
        assert run.config == {"lr": 0.1}
        assert run.summary == {"loss": 0.25}
        assert run.sweep_id is None

    ctl = Controller(old_db)
    sweep_id = ctl.create("admin", "old", grid_config(2, 1))["id"]
    agent = ctl.register_agent(sweep_id, "h", 1)["agent_id"]
    trial = run_trial(ctl, sweep_id, agent, 0.5)
    with old_db.write() as s:
        s.add(Run(project_id=1, run_id=trial["run_id"], sweep_id=sweep_id))
    with old_db.read() as s:
        in_sweep = s.scalars(
            sa.select(Run.run_id).where(Run.project_id == 1, Run.sweep_id == sweep_id)
        ).all()
    assert in_sweep == [trial["run_id"]]
    assert ctl.get(sweep_id)["counts"]["finished"] == 1


def test_the_downgrade_removes_the_sweep_tables_and_keeps_runs(old_db: Database) -> None:
    from alembic import command
    from alembic.config import Config

    from fwtrack.server.db import _MIGRATIONS_DIR

    old_db.migrate()
    with old_db.migration_lock() as connection:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
        connection.commit()
    assert not SWEEP_TABLES & _tables(old_db)
    with old_db.engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("runs")}
        assert "sweep_id" not in columns
        assert connection.execute(sa.text("SELECT run_id FROM runs")).scalars().all() == ["r0"]
