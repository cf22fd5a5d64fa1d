"""The inbox's unhandled updates get a partial index of their own (``done_at IS NULL``) in place of the
indexes on ``done_at`` and on (user, done_at, update): handled rows, all the purge deletes, are then in
two indexes besides the table's key (time, for the purge's ranges, and user, for an erasure), not four,
and a purge of 1 M old rows on SQLite takes a third of the time (issue 14; bench/RESULTS.md).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PENDING = sa.text("done_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_inbox_pending", "inbox", ["user_key", "update_id"], sqlite_where=PENDING, postgresql_where=PENDING
    )
    op.create_index("ix_inbox_user", "inbox", ["user_key"])
    op.drop_index("ix_inbox_user_pending", table_name="inbox")
    op.drop_index("ix_inbox_done_at", table_name="inbox")


def downgrade() -> None:
    op.create_index("ix_inbox_done_at", "inbox", ["done_at"])
    op.create_index("ix_inbox_user_pending", "inbox", ["user_key", "done_at", "update_id"])
    op.drop_index("ix_inbox_user", table_name="inbox")
    op.drop_index("ix_inbox_pending", table_name="inbox")
