"""Tables. Every change to them goes through a migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Account",
    "ApiToken",
    "AuditEvent",
    "Base",
    "BuildState",
    "ChangeCounter",
    "RegisteredEntity",
    "Registration",
    "ScorecardEntityState",
    "ScorecardRun",
    "ScorecardVersion",
    "WebSession",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime: SQLite hands times back without their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Registration(Base):
    """One registration: a descriptor as submitted, or a repository path to read.

    Exactly one of ``descriptor`` and ``target`` is set. The entities it defined
    when it was registered are listed in ``entities`` (for lookups and deletion).
    """

    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    descriptor: Mapped[str | None] = mapped_column(Text)
    target: Mapped[str | None] = mapped_column(String(1000), unique=True)
    registered_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    entities: Mapped[list[RegisteredEntity]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def display(self) -> str:
        """How messages name it: the path read, or a name of its own for a pasted text."""
        return self.target or f"registered/{self.id}/{self.filename}"


class RegisteredEntity(Base):
    """An entity a registration defines, by its canonical reference."""

    __tablename__ = "registered_entities"

    ref: Mapped[str] = mapped_column(String(600), primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), index=True
    )
    registration: Mapped[Registration] = relationship(back_populates="entities")


class BuildState(Base):
    """The last build of one audience's site: what it was for and how it went."""

    __tablename__ = "build_state"

    audience: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # queued, running, built, failed
    reason: Mapped[str] = mapped_column(String(500), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Account(Base):
    """Someone who signed in: who the provider says they are, their groups, their entity."""

    __tablename__ = "accounts"

    subject: Mapped[str] = mapped_column(String(300), primary_key=True)  # issuer + sub
    email: Mapped[str] = mapped_column(String(300), default="", index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    entity_ref: Mapped[str | None] = mapped_column(String(600))
    first_login: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebSession(Base):
    """A signed-in browser. The cookie carries a random id; only its hash is stored."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    user: Mapped[dict[str, Any]] = mapped_column(JSON)  # name, email, groups, roles, entity
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    id_token_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refresh_token: Mapped[str | None] = mapped_column(Text)
    id_token: Mapped[str | None] = mapped_column(Text)  # for the provider's end-session hint


class ApiToken(Base):
    """A personal or CI token: shown once, stored as a hash, scoped, expiring."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the token's public part
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # personal, ci
    owner: Mapped[str] = mapped_column(String(300))  # the user it acts as (email or subject)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One thing that happened: who, what, to what, when, from where, and how it ended."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(100), index=True)  # e.g. login, token.create
    target: Mapped[str] = mapped_column(String(600), default="")
    outcome: Mapped[str] = mapped_column(String(20), default="ok")  # ok, denied, failed
    source: Mapped[str] = mapped_column(String(100), default="")  # client address
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ScorecardVersion(Base):
    """One definition of a scorecard, by its version hash: the rule order its runs' status
    strings follow, and each rule's own signature (so a change can be pinned on a rule)."""

    __tablename__ = "scorecard_versions"

    scorecard: Mapped[str] = mapped_column(String(600), primary_key=True)  # its entity ref
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    # [[rule id, signature], ...] in rule order; signature: a hash of what decides its result.
    rules: Mapped[list[list[str]]] = mapped_column(JSON)
    levels: Mapped[list[str]] = mapped_column(JSON)  # lowest first
    # A hash of the scorecard-wide part (appliesTo, levels): when it changes, every rule did.
    scope: Mapped[str] = mapped_column(String(64))
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ScorecardRun(Base):
    """One evaluation of one scorecard: when, why, which definition, and its totals.

    ``summary`` holds what the scorecard's and each team's trend need, so those trends
    read one row per run: ``levels`` (level or "" -> entities), ``score`` (mean),
    ``owners`` (owner ref -> {"levels": {...}, "score": mean}), ``failing`` (rule -> count).
    """

    __tablename__ = "scorecard_runs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scorecard: Mapped[str] = mapped_column(String(600))
    version: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(20))  # startup, registration, build
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    evaluated_on: Mapped[date] = mapped_column(Date)  # the day exemptions and reviews were judged
    entities: Mapped[int] = mapped_column(Integer)
    changed: Mapped[int] = mapped_column(Integer)  # entity states this run wrote
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_scorecard_runs_scorecard_id", "scorecard", "id"),)


class ScorecardEntityState(Base):
    """An entity's result on a scorecard from run ``run_id`` on, written only when it changed.

    The entity's state at any run is its latest row at or before that run. ``statuses``
    has one letter per rule, in the order of the run's version (p pass, f fail, e exempt,
    n not applicable). ``present`` is False from the run on which the entity left the
    scorecard (removed from the catalog, or no longer matched by appliesTo).
    """

    __tablename__ = "scorecard_entity_states"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("scorecard_runs.id", ondelete="CASCADE"), primary_key=True
    )
    entity: Mapped[str] = mapped_column(String(600), primary_key=True)
    scorecard: Mapped[str] = mapped_column(String(600))  # as the run's, for the index below
    owner: Mapped[str | None] = mapped_column(String(600))
    level: Mapped[str | None] = mapped_column(String(100))
    level_index: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    statuses: Mapped[str] = mapped_column(Text, default="")
    present: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (Index("ix_scorecard_entity_states_lookup", "scorecard", "entity", "run_id"),)


class ChangeCounter(Base):
    """A counter that goes up with each change of one kind (``catalog``: a registration made or
    removed), in the same transaction as the change: replicas poll it to learn of changes
    made elsewhere, and a change cannot be committed without it."""

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
