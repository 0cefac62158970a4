"""Accounts, browser sessions, API tokens and the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("subject", sa.String(300), primary_key=True),
        sa.Column("email", sa.String(300), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("entity_ref", sa.String(600), nullable=True),
        sa.Column("first_login", WHEN, nullable=False),
        sa.Column("last_login", WHEN, nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(300), nullable=False, index=True),
        sa.Column("user", sa.JSON(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("id_token_expires_at", WHEN, nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("id_token", sa.Text(), nullable=True),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(300), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("last_used_at", WHEN, nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", WHEN, nullable=False, index=True),
        sa.Column("actor", sa.String(300), nullable=False),
        sa.Column("action", sa.String(100), nullable=False, index=True),
        sa.Column("target", sa.String(600), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
    op.drop_table("web_sessions")
    op.drop_table("accounts")
