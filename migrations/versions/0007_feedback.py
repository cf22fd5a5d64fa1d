"""360° feedback: rounds (the invitation token stored hashed) and raters' responses (comments encrypted).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_rounds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("framework", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("subject_name", sa.String(64), nullable=False),
        sa.Column("note_enc", sa.LargeBinary()),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("revoked", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reminded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("announced", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("token_hash", name="uq_feedback_rounds_token_hash"),
    )
    op.create_index("ix_feedback_rounds_user_id", "feedback_rounds", ["user_id"])
    op.create_index("ix_feedback_rounds_closes_at", "feedback_rounds", ["closes_at"])
    op.create_table(
        "feedback_responses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("round_id", sa.Integer(), sa.ForeignKey("feedback_rounds.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rater_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("relationship", sa.String(16), nullable=False),
        sa.Column("ratings", sa.JSON(), nullable=False),
        sa.Column("keep_enc", sa.LargeBinary()),
        sa.Column("change_enc", sa.LargeBinary()),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("reminded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("round_id", "rater_id", name="uq_feedback_response_rater"),
    )
    op.create_index("ix_feedback_responses_rater_id", "feedback_responses", ["rater_id"])


def downgrade() -> None:
    op.drop_index("ix_feedback_responses_rater_id", table_name="feedback_responses")
    op.drop_table("feedback_responses")
    op.drop_index("ix_feedback_rounds_closes_at", table_name="feedback_rounds")
    op.drop_index("ix_feedback_rounds_user_id", table_name="feedback_rounds")
    op.drop_table("feedback_rounds")
