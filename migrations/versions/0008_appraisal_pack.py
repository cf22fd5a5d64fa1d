"""The appraisal pack: what the user chose for it (encrypted), and share links stored as token hashes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pack_choices",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("choices_enc", sa.LargeBinary(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pack_shares",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("openings", sa.JSON(), nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_pack_shares_token_hash"),
    )
    op.create_index("ix_pack_shares_user_id", "pack_shares", ["user_id"])
    op.create_index("ix_pack_shares_expires_at", "pack_shares", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_pack_shares_expires_at", table_name="pack_shares")
    op.drop_index("ix_pack_shares_user_id", table_name="pack_shares")
    op.drop_table("pack_shares")
    op.drop_table("pack_choices")
