"""Nudges and CPD: per-user nudge settings, scheduled nudges with their deliveries, CPD activities
and targets.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _user_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("nudge_reflection", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("nudge_appraisal", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("nudge_cpd", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("quiet_start", sa.String(5), nullable=False, server_default="21:00"),
        sa.Column("quiet_end", sa.String(5), nullable=False, server_default="08:00"),
        sa.Column("paused_until", sa.DateTime(timezone=True)),
    ]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        for column in _user_columns():
            batch.add_column(column)
    op.create_table(
        "nudges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("occurrence", sa.String(64), nullable=False),
        sa.Column("snoozed", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("sent_virtual", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "kind", name="uq_nudges_user_kind"),
    )
    op.create_index("ix_nudges_due_at", "nudges", ["due_at"])
    op.create_table(
        "nudge_deliveries",
        sa.Column("nudge_id", sa.Integer(), sa.ForeignKey("nudges.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("occurrence", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_nudge_deliveries_user_id", "nudge_deliveries", ["user_id"])
    op.create_index("ix_nudge_deliveries_status", "nudge_deliveries", ["status"])
    op.create_table(
        "cpd_activities",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("title_enc", sa.LargeBinary(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("participatory", sa.Boolean(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cpd_activities_user_id", "cpd_activities", ["user_id"])
    op.create_table(
        "cpd_targets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("minutes", sa.Integer()),
        sa.Column("participatory_minutes", sa.Integer()),
        sa.Column("count", sa.Integer()),
        sa.Column("programme", sa.String(64)),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date()),
        sa.Column("done_on", sa.Date()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cpd_targets_user_id", "cpd_targets", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_cpd_targets_user_id", table_name="cpd_targets")
    op.drop_table("cpd_targets")
    op.drop_index("ix_cpd_activities_user_id", table_name="cpd_activities")
    op.drop_table("cpd_activities")
    op.drop_index("ix_nudge_deliveries_status", table_name="nudge_deliveries")
    op.drop_index("ix_nudge_deliveries_user_id", table_name="nudge_deliveries")
    op.drop_table("nudge_deliveries")
    op.drop_index("ix_nudges_due_at", table_name="nudges")
    op.drop_table("nudges")
    with op.batch_alter_table("users") as batch:
        for column in reversed(_user_columns()):
            batch.drop_column(column.name)
