"""Scorecard history: evaluation runs, each version's rule order, entity states as they change.

Revision ID: 0003_scorecard_history
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_scorecard_history"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scorecard_versions",
        sa.Column("scorecard", sa.String(600), primary_key=True),
        sa.Column("version", sa.String(64), primary_key=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("first_seen", WHEN, nullable=False),
    )
    op.create_table(
        "scorecard_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("scorecard", sa.String(600), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("evaluated_on", sa.Date(), nullable=False),
        sa.Column("entities", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
    )
    op.create_index("ix_scorecard_runs_scorecard_id", "scorecard_runs", ["scorecard", "id"])
    op.create_table(
        "scorecard_entity_states",
        sa.Column(
            "run_id",
            sa.Integer(),
            sa.ForeignKey("scorecard_runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("entity", sa.String(600), primary_key=True),
        sa.Column("scorecard", sa.String(600), nullable=False),
        sa.Column("owner", sa.String(600), nullable=True),
        sa.Column("level", sa.String(100), nullable=True),
        sa.Column("level_index", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("statuses", sa.Text(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_scorecard_entity_states_lookup",
        "scorecard_entity_states",
        ["scorecard", "entity", "run_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_scorecard_entity_states_lookup", table_name="scorecard_entity_states")
    op.drop_table("scorecard_entity_states")
    op.drop_index("ix_scorecard_runs_scorecard_id", table_name="scorecard_runs")
    op.drop_table("scorecard_runs")
    op.drop_table("scorecard_versions")
