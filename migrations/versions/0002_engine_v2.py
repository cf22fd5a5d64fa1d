"""Flow engine v2: an inbox of received updates (replaces processed_updates), a parked draft per
user, a flag for a step whose prompt could not be delivered, and a small key-value table (the
encryption-key canary).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
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
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inbox",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("update_id", sa.BigInteger(), primary_key=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_inbox_user_pending", "inbox", ["user_key", "done_at", "update_id"])
    op.create_index("ix_inbox_done_at", "inbox", ["done_at"])
    op.drop_index("ix_processed_updates_processed_at", table_name="processed_updates")
    op.drop_table("processed_updates")
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("parked_flow", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("parked_data_enc", sa.LargeBinary()))
        batch.add_column(sa.Column("parked_until", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("undelivered", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("undelivered")
        batch.drop_column("parked_until")
        batch.drop_column("parked_data_enc")
        batch.drop_column("parked_flow")
    op.create_table(
        "processed_updates",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("update_id", sa.BigInteger(), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_updates_processed_at", "processed_updates", ["processed_at"])
    op.drop_index("ix_inbox_done_at", table_name="inbox")
    op.drop_index("ix_inbox_user_pending", table_name="inbox")
    op.drop_table("inbox")
    op.drop_table("meta")
