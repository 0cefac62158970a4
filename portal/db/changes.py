"""Change counters: a registration on one replica becomes visible on the others.

Each replica holds the catalog in memory, composed from the files and the stored
registrations. A registration (or its removal) adds one to the ``catalog`` counter
in the same transaction, and every replica reads that one row every
PORTAL_CHANGES_POLL_SECONDS: when it moved, the replica composes its catalog again.
Why a row in the database rather than a message (Redis pub/sub, LISTEN/NOTIFY):
a message sent while a replica was restarting or reconnecting is lost, while a
counter committed with the change is read whenever the replica next looks; and
the database is there in every deployment, Redis is not.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.db.database import Database
from portal.db.models import ChangeCounter, utcnow

__all__ = ["CATALOG", "bump", "version"]

CATALOG = "catalog"


def bump(session: Session, name: str = CATALOG) -> None:
    """Count one change of ``name``, in ``session``'s transaction (the change's own)."""
    session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.name == name)
        .values(version=ChangeCounter.version + 1, changed_at=utcnow())
    )


def version(db: Database, name: str = CATALOG) -> int:
    """How many changes of ``name`` were committed so far (0 before the first)."""
    with db.session() as session:
        value = session.scalar(select(ChangeCounter.version).where(ChangeCounter.name == name))
    return int(value or 0)
