"""Tables. Every change to them goes through a migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["Base", "BuildState", "RegisteredEntity", "Registration"]


def utcnow() -> datetime:
    return datetime.now(UTC)


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
