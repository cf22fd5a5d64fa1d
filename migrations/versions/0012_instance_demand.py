"""Each instance's heartbeat carries its recent demand (reply and nudge messages wanted a second) and the
share of Telegram's budget it holds, so the live instances split the budget by demand, not evenly.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("replies", sa.Float(), server_default="0", nullable=False))
        batch.add_column(sa.Column("nudges", sa.Float(), server_default="0", nullable=False))
        batch.add_column(sa.Column("share", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("share")
        batch.drop_column("nudges")
        batch.drop_column("replies")
