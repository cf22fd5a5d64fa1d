"""A kept copy of the appraisal pack PDF (only when the user asks, encrypted), and the area a programme
target saved from /develop was offered for (the pack's plan puts it first).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cpd_targets") as batch:
        batch.add_column(sa.Column("area", sa.String(length=64), nullable=True))
    op.create_table(
        "pack_copies",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("filename", sa.String(length=64), nullable=False),
        sa.Column("pdf_enc", sa.LargeBinary(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pack_copies_made_at", "pack_copies", ["made_at"])


def downgrade() -> None:
    op.drop_table("pack_copies")
    with op.batch_alter_table("cpd_targets") as batch:
        batch.drop_column("area")
