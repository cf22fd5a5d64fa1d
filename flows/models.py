"""The storage model. Tables are created by Alembic migrations, never at run time."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))  # "telegram" or "terminal"
    external_id: Mapped[str] = mapped_column(String(64))  # Telegram user id, or the terminal name
    first_name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    onboarded: Mapped[bool] = mapped_column(default=False)
    framework: Mapped[str] = mapped_column(String(16), default="mlf2025")
    stage: Mapped[str] = mapped_column(String(16), default="1")
    reflect_day: Mapped[int] = mapped_column(Integer, default=4)  # Monday = 0
    reflect_time: Mapped[str] = mapped_column(String(5), default="17:30")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    appraisal_date: Mapped[date | None] = mapped_column(Date)
    prompt_model: Mapped[str] = mapped_column(String(8), default="rolfe")
    blocked: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_identity"),)


class ConversationSession(Base):
    """Where a user is in a conversation: one row per user."""

    __tablename__ = "sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data_enc: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted JSON: it may hold draft answers
    version: Mapped[int] = mapped_column(Integer, default=1)  # changes only when the step changes
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # A draft put aside ("Later", or a command that interrupted it), offered again by its flow.
    parked_flow: Mapped[str] = mapped_column(String(32), default="", server_default="")
    parked_data_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    parked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The current step's prompt could not be delivered: the next text re-asks instead of answering.
    undelivered: Mapped[bool] = mapped_column(default=False, server_default=false())


class Reflection(Base):
    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    framework: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    extra_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    prompt_model: Mapped[str] = mapped_column(String(8))
    answers_enc: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted JSON list of {prompt, answer}
    rating: Mapped[int | None] = mapped_column(Integer)
    minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InboxUpdate(Base):
    """A received update, stored before it is acknowledged; ``done_at`` is set in the transaction
    that handles it, so a repeat (or a second instance) handles it once, and nothing is lost."""

    __tablename__ = "inbox"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_key: Mapped[str] = mapped_column(String(64))
    payload_enc: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted: a message holds what the user typed
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    __table_args__ = (Index("ix_inbox_user_pending", "user_key", "done_at", "update_id"),)


class Meta(Base):
    """Small facts about this database, e.g. the encryption-key canary."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
