"""Users, conversation sessions, reflections, processed updates.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("onboarded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("framework", sa.String(16), nullable=False, server_default="mlf2025"),
        sa.Column("stage", sa.String(16), nullable=False, server_default="1"),
        sa.Column("reflect_day", sa.Integer(), nullable=False, server_default="4"),
        sa.Column("reflect_time", sa.String(5), nullable=False, server_default="17:30"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/London"),
        sa.Column("appraisal_date", sa.Date()),
        sa.Column("prompt_model", sa.String(8), nullable=False, server_default="rolfe"),
        sa.Column("blocked", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("channel", "external_id", name="uq_users_identity"),
    )
    op.create_table(
        "sessions",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("flow", sa.String(32), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("data_enc", sa.LargeBinary(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "reflections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("framework", sa.String(16), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("extra_items", sa.JSON(), nullable=False),
        sa.Column("prompt_model", sa.String(8), nullable=False),
        sa.Column("answers_enc", sa.LargeBinary(), nullable=False),
        sa.Column("rating", sa.Integer()),
        sa.Column("minutes", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reflections_user_id", "reflections", ["user_id"])
    op.create_index("ix_reflections_created_at", "reflections", ["created_at"])
    op.create_table(
        "processed_updates",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("update_id", sa.BigInteger(), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_updates_processed_at", "processed_updates", ["processed_at"])


def downgrade() -> None:
    op.drop_table("processed_updates")
    op.drop_table("reflections")
    op.drop_table("sessions")
    op.drop_table("users")
