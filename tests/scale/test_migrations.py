"""Replicas that start together on a fresh PostgreSQL database: one migrates, the others wait.

Without the advisory lock around ``upgrade head``, concurrent migrations of a fresh
database fail (two CREATE TABLE of the same table, or two rows in alembic_version).
"""

from __future__ import annotations

import threading
import time

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from portal.db import Base, Database
from portal.db.database import MIGRATIONS

REPLICAS = 6
# A bound, not a target: the migrations take about a second.
MIGRATION_TIMEOUT = 120.0


def head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    revision = ScriptDirectory.from_config(config).get_current_head()
    assert revision is not None
    return revision


def test_replicas_migrating_a_fresh_database_at_once_end_with_one_schema(
    postgres_url: str,
) -> None:
    databases = [Database(postgres_url) for _ in range(REPLICAS)]
    start = threading.Barrier(REPLICAS)
    errors: list[BaseException] = []

    def migrate(database: Database) -> None:
        try:
            start.wait()
            database.migrate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,), daemon=True) for db in databases]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + MIGRATION_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    try:
        stuck = [t.name for t in threads if t.is_alive()]
        assert stuck == [], f"migrations still running after {MIGRATION_TIMEOUT:.0f} s"
        assert errors == []
        with databases[0].engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
            tables = set(inspect(connection).get_table_names())
            catalog = connection.execute(
                text("SELECT version FROM change_counters WHERE name = 'catalog'")
            ).all()
        assert versions == [(head(),)]
        assert set(Base.metadata.tables) <= tables
        assert catalog == [(0,)]  # seeded once, not once per replica
        databases[1].migrate()  # and a later start is a no-op
    finally:
        for database in databases:
            database.dispose()
