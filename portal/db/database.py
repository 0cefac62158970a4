"""The database: one engine per process, schema brought up to date by Alembic on open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from portal.exceptions import ConfigError

__all__ = ["Database"]

MIGRATIONS = Path(__file__).with_name("migrations")


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
        self.engine: Engine = create_engine(url, pool_pre_ping=True)
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
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any exception."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
