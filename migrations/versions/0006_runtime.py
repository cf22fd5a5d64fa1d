"""The runtime: updates that cannot be parsed or stored are kept aside (encrypted) in ``dead_letters``
so they never block the queue; the retention purge deletes by indexed time ranges (``inbox.received_at``,
``nudge_deliveries.created_at``); the users who never finished onboarding are found by ``last_seen_at``;
running instances note themselves in ``instances`` (a heartbeat) to share Telegram's rate budget.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("update_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])
    op.create_table(
        "instances",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inbox_received_at", "inbox", ["received_at"])
    op.create_index("ix_nudge_deliveries_created_at", "nudge_deliveries", ["created_at"])
    op.create_index("ix_users_pending_onboarding", "users", ["onboarded", "last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_users_pending_onboarding", table_name="users")
    op.drop_index("ix_nudge_deliveries_created_at", table_name="nudge_deliveries")
    op.drop_index("ix_inbox_received_at", table_name="inbox")
    op.drop_table("instances")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_table("dead_letters")
