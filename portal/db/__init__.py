"""The portal's own state: registrations and build state, in SQLAlchemy 2 with Alembic."""

from portal.db.database import UNREACHABLE, Database
from portal.db.models import Base, BuildState, Registration

__all__ = ["UNREACHABLE", "Base", "BuildState", "Database", "Registration"]
