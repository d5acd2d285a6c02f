"""Resumable upload sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("file_id", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(255), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("declared_sha256", sa.String(64), nullable=False),
        sa.Column("pipeline", sa.JSON(), nullable=False),
        sa.Column("allowed_types", sa.JSON(), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "uq_upload_sessions_open_file",
        "upload_sessions",
        ["file_id"],
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    )
    op.create_index(
        "ix_upload_sessions_state_expires_at", "upload_sessions", ["state", "expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_upload_sessions_state_expires_at", table_name="upload_sessions")
    op.drop_index("uq_upload_sessions_open_file", table_name="upload_sessions")
    op.drop_table("upload_sessions")
