"""The database: one engine per process, schema brought up to date by Alembic on open."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from portal.exceptions import ConfigError

__all__ = ["UNREACHABLE", "Database", "advisory_key"]

MIGRATIONS = Path(__file__).with_name("migrations")
# What SQLAlchemy raises when the database cannot be reached (down, restarting, the
# network gone, every pooled connection busy): the portal answers 503 and goes on.
UNREACHABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)
# Seconds a new PostgreSQL connection may take: a database behind a dead network
# answers 503 in seconds rather than after the system's TCP timeout (minutes).
CONNECT_TIMEOUT = 5
MIGRATION_LOCK = "migrations"


class Database:
    """Sessions on the portal's database; ``migrate()`` before first use."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(f"setting PORTAL_DATABASE_URL: {exc}") from None
        self.url = url
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self._folder = (
            Path(parsed.database).parent
            if self.sqlite and parsed.database and parsed.database != ":memory:"
            else None
        )
        # pool_pre_ping: a connection that died with the server (a restart) is replaced
        # when next taken from the pool, so the portal recovers without a restart.
        connect_args = (
            {"connect_timeout": CONNECT_TIMEOUT}
            if parsed.get_backend_name() == "postgresql"
            else {}
        )
        self.engine: Engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (a no-op when it is there)."""
        if self._folder is not None:
            self._folder.mkdir(parents=True, exist_ok=True)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait here for its
                # commit (the lock ends with the transaction), then find the schema at head.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": advisory_key(MIGRATION_LOCK)},
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any exception."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise one of :data:`UNREACHABLE` unless the database answers a query now."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def advisory_key(name: str) -> int:
    """The 64-bit PostgreSQL advisory lock key of ``name``: stable across processes and
    versions (a hash of the name), so every replica takes the same lock."""
    digest = hashlib.sha256(f"quantum-portal:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
