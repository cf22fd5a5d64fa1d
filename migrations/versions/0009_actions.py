"""Actions: a reflection's "now what" with a date, followed up on that date.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reflection_id", sa.Integer(), sa.ForeignKey("reflections.id", ondelete="CASCADE"), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False, server_default=""),
        sa.Column("note_enc", sa.LargeBinary(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_actions_user_id", "actions", ["user_id"])
    op.create_index("ix_actions_reflection_id", "actions", ["reflection_id"])
    op.create_index("ix_actions_due_on", "actions", ["due_on"])


def downgrade() -> None:
    op.drop_table("actions")
