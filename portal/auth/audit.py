"""The audit log: logins, failed logins, token use and every change, in the database."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from starlette.requests import HTTPConnection

from portal.auth.users import User
from portal.db import Database
from portal.db.models import AuditEvent

__all__ = ["Filter", "events", "every_event", "record", "source_of"]

log = logging.getLogger(__name__)


def source_of(connection: HTTPConnection | None) -> str:
    """Where a request came from (the direct peer's address)."""
    client = connection.client if connection is not None else None
    return client.host if client is not None else ""


def record(
    db: Database,
    action: str,
    *,
    actor: User | str,
    target: str = "",
    outcome: str = "ok",
    connection: HTTPConnection | None = None,
    **detail: Any,
) -> None:
    """Append one event. Never raises: a failing audit write is logged, not the user's problem.

    ``detail`` must hold no secret (no token, password or cookie value).
    """
    who = actor if isinstance(actor, str) else actor.label
    try:
        with db.session() as session:
            session.add(
                AuditEvent(
                    actor=who[:300],
                    action=action,
                    target=target[:600],
                    outcome=outcome,
                    source=source_of(connection),
                    detail=detail,
                )
            )
    except Exception:
        log.exception("could not write the audit event %s by %s", action, who)


@dataclass(frozen=True, slots=True)
class Filter:
    """Which events to show: every field set must match."""

    actor: str = ""  # part of the actor, any case
    action: str = ""  # an action, or a family of them: "token" is token.create, token.use...
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None  # exclusive

    def apply(self, query: Select[AuditEvent]) -> Select[AuditEvent]:
        if self.actor:
            query = query.where(
                func.lower(AuditEvent.actor).contains(self.actor.lower(), autoescape=True)
            )
        if self.action:
            query = query.where(
                or_(
                    AuditEvent.action == self.action,
                    AuditEvent.action.startswith(self.action + ".", autoescape=True),
                )
            )
        if self.outcome:
            query = query.where(AuditEvent.outcome == self.outcome)
        if self.since is not None:
            query = query.where(AuditEvent.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.at < self.until)
        return query


def events(
    db: Database,
    where: Filter,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> list[AuditEvent]:
    """One page of events, newest first: those older than id ``before`` or newer than ``after``.

    Ids grow with time, so they make a cursor that stays put while events are added.
    """
    query = where.apply(select(AuditEvent))
    if after is not None:
        query = query.where(AuditEvent.id > after).order_by(AuditEvent.id.asc())
    else:
        if before is not None:
            query = query.where(AuditEvent.id < before)
        query = query.order_by(AuditEvent.id.desc())
    with db.session() as session:
        found = list(session.scalars(query.limit(limit)))
    return found[::-1] if after is not None else found


def every_event(db: Database, where: Filter, *, batch: int = 1000) -> Iterator[AuditEvent]:
    """All matching events, newest first, read a batch at a time (for exports)."""
    before: int | None = None
    while True:
        page = events(db, where, before=before, limit=batch)
        yield from page
        if len(page) < batch:
            return
        before = page[-1].id
