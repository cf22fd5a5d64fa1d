"""The storage model. Tables are created by Alembic migrations, never at run time."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
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
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


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


class ProcessedUpdate(Base):
    """Update ids already handled, so a repeated delivery is ignored."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
