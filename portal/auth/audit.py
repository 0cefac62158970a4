"""The audit log: logins, failed logins, token use and every change, in the database."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import HTTPConnection

from portal.auth.users import User
from portal.db import Database
from portal.db.models import AuditEvent

__all__ = ["record", "source_of"]

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
    who = actor if isinstance(actor, str) else (actor.email or actor.subject or actor.name)
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
