"""Change counters: how replicas sharing the database learn of each other's registrations.

Revision ID: 0004_change_counters
Revises: 0003_scorecard_history
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_change_counters"
down_revision: str | None = "0003_scorecard_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(counters.insert().values(name="catalog", version=0, changed_at=sa.func.now()))


def downgrade() -> None:
    op.drop_table("change_counters")
