"""The storage model. Tables are created by Alembic migrations, never at run time."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class Encrypted(TypeDecorator[bytes]):
    """A column that holds ciphertext (``Cipher.encrypt_json``). Stored as bytes; the type is what key
    rotation, export checks and the tests look for, so a new encrypted column cannot be forgotten."""

    impl = LargeBinary
    cache_ok = True


class Base(DeclarativeBase):
    pass


def encrypted_columns() -> list[tuple[Table, Column[bytes]]]:
    """Every (table, column) whose type is ``Encrypted``, in a stable order."""
    return [
        (table, column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Encrypted)
    ]


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
    # Asked once by /develop: which professional bodies fit (nurse, midwife, ahp, doctor, manager, other).
    profession: Mapped[str] = mapped_column(String(16), default="", server_default="")
    blocked: Mapped[bool] = mapped_column(default=False)
    # Nudges: which kinds are on, quiet hours (local), a pause (annual leave). Their defaults are the
    # database's, so inserting a user needn't name them.
    nudge_reflection: Mapped[bool] = mapped_column(server_default=true())
    nudge_appraisal: Mapped[bool] = mapped_column(server_default=true())
    nudge_cpd: Mapped[bool] = mapped_column(server_default=true())
    quiet_start: Mapped[str] = mapped_column(String(5), server_default="21:00")
    quiet_end: Mapped[str] = mapped_column(String(5), server_default="08:00")
    paused_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_users_identity"),
        Index("ix_users_pending_onboarding", "onboarded", "last_seen_at"),
    )


class ConversationSession(Base):
    """Where a user is in a conversation: one row per user."""

    __tablename__ = "sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    data_enc: Mapped[bytes] = mapped_column(Encrypted)  # encrypted JSON: it may hold draft answers
    version: Mapped[int] = mapped_column(Integer, default=1)  # changes only when the step changes
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # A draft put aside ("Later", or a command that interrupted it), offered again by its flow.
    parked_flow: Mapped[str] = mapped_column(String(32), default="", server_default="")
    parked_data_enc: Mapped[bytes | None] = mapped_column(Encrypted)
    parked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The current step's prompt could not be delivered: the next text re-asks instead of answering.
    undelivered: Mapped[bool] = mapped_column(default=False, server_default=false())


class Reflection(Base):
    __tablename__ = "reflections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    framework: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[str] = mapped_column(String(64))
    # The item's stable key (MLF: "mlf2025:<title-slug>"), which a renumbered edition keeps; None for LF.
    item_key: Mapped[str | None] = mapped_column(String(96))
    stage: Mapped[str] = mapped_column(String(16))
    extra_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    prompt_model: Mapped[str] = mapped_column(String(8))
    answers_enc: Mapped[bytes] = mapped_column(Encrypted)  # encrypted JSON list of {prompt, answer}
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
    payload_enc: Mapped[bytes] = mapped_column(Encrypted)  # a message holds what the user typed
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # the purge's ranges
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Unhandled updates only (partial): a user's next one, recovery and the inbox depth read them, and
    # handled rows, all the purge deletes, cost nothing here. Its WHERE is the queries' ``done_at IS NULL``
    # as written, or the planner will not use it. ``ix_inbox_user``: a user's rows, for their erasure.
    __table_args__ = (
        Index(
            "ix_inbox_pending",
            "user_key",
            "update_id",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
        Index("ix_inbox_user", "user_key"),
    )


class Meta(Base):
    """Small facts about this database, e.g. the encryption-key canary."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(Encrypted)  # e.g. the encryption-key canary
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Nudge(Base):
    """One scheduled nudge of one kind for one user: ``due_at`` (UTC) is the next time it is due,
    recomputed from the user's rule in local time; None when nothing is scheduled."""

    __tablename__ = "nudges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "reflection", "appraisal", "cpd_pace"
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    occurrence: Mapped[str] = mapped_column(String(64), default="")  # names the due occurrence: its delivery key
    snoozed: Mapped[bool] = mapped_column(default=False)  # the due occurrence is a snoozed one
    seq: Mapped[int] = mapped_column(Integer, default=0)  # how many were sent: older buttons are recognised
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the dispatch pass's "now"
    sent_virtual: Mapped[bool] = mapped_column(default=False)  # that pass ran with --at (a pretend time)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_nudges_user_kind"),)


class NudgeDelivery(Base):
    """Recorded before a nudge is sent, under its (nudge, occurrence) key, so it is never sent twice.
    ``status``: queued, sending (handed to Telegram), sent, blocked, failed, unknown (the process died
    while sending: it is not sent again), or why it was not sent (stale, done, paused)."""

    __tablename__ = "nudge_deliveries"

    nudge_id: Mapped[int] = mapped_column(ForeignKey("nudges.id", ondelete="CASCADE"), primary_key=True)
    occurrence: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), index=True)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DeadLetter(Base):
    """An update that could not be parsed or stored, kept aside (encrypted) and confirmed to Telegram so
    it never blocks the updates behind it. Purged with the inbox."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(40))  # as sent: it may not even be a number
    reason: Mapped[str] = mapped_column(String(200))
    payload_enc: Mapped[bytes] = mapped_column(Encrypted)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Instance(Base):
    """A running LeadCoach process (its heartbeat): live instances split Telegram's rate budget."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    replies: Mapped[float] = mapped_column(Float, server_default="0")  # reply messages it wanted a second, lately
    nudges: Mapped[float] = mapped_column(Float, server_default="0")  # nudges it wanted a second, lately
    share: Mapped[int] = mapped_column(Integer, server_default="0")  # messages a second it holds (bot/budget.py)


class CpdActivity(Base):
    """A logged development activity (reflections count on their own, from ``reflections``)."""

    __tablename__ = "cpd_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    done_on: Mapped[date] = mapped_column(Date)
    title_enc: Mapped[bytes] = mapped_column(Encrypted)  # what they did, in their words
    minutes: Mapped[int] = mapped_column(Integer)
    participatory: Mapped[bool] = mapped_column(default=False)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)  # framework item ids it developed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CpdTarget(Base):
    """A development target. ``kind``: hours (``minutes`` and ``participatory_minutes`` between
    ``starts_on`` and ``ends_on``), reflections (``count`` a month), coverage (every standard or domain
    reflected on before the appraisal), programme (finish ``programme`` by ``ends_on``)."""

    __tablename__ = "cpd_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int | None] = mapped_column(Integer)
    participatory_minutes: Mapped[int | None] = mapped_column(Integer)
    count: Mapped[int | None] = mapped_column(Integer)
    programme: Mapped[str | None] = mapped_column(String(64))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    done_on: Mapped[date | None] = mapped_column(Date)  # marked finished (it no longer counts as outstanding)
    # A programme saved from /develop: the standard or domain it was offered for (the pack's plan puts it first).
    area: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Assessment(Base):
    """A self-assessment: the items in the order asked (fixed when it starts, so a changed catalogue
    can't shift them), the ratings so far (1-5, 0 = not sure), and where the user is. Kept until they
    delete it; an unfinished one can be carried on across days."""

    __tablename__ = "assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    framework: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    items: Mapped[list[str]] = mapped_column(JSON)
    ratings: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    targets: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # GMTS target levels the user gave
    position: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FeedbackRound(Base):
    """A 360° feedback round: the subject's areas at their stage, a closing date, and the invitation
    link's token, stored only as its SHA-256 (the link itself is shown once; a new one replaces it)."""

    __tablename__ = "feedback_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    framework: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(16))
    areas: Mapped[list[str]] = mapped_column(JSON)  # standard (MLF) or domain (LF) ids, in framework order
    subject_name: Mapped[str] = mapped_column(String(64))  # how raters are told whose feedback it is
    note_enc: Mapped[bytes | None] = mapped_column(Encrypted)  # encrypted: the subject's note to raters
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closes_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # closed early, or revoked
    revoked: Mapped[bool] = mapped_column(default=False, server_default=false())
    reminded: Mapped[bool] = mapped_column(default=False, server_default=false())  # the subject's reminder
    announced: Mapped[bool] = mapped_column(default=False, server_default=false())  # told it closed

    __table_args__ = (UniqueConstraint("token_hash", name="uq_feedback_rounds_token_hash"),)


class FeedbackResponse(Base):
    """One rater's answer to one round (one per rater per round). ``ratings``: area id -> 1-5, 0 for not
    observed. The comments are encrypted. ``finished_at`` is None while the rater is part way through; the
    times are kept only for that and the one reminder, and are never shown to the subject."""

    __tablename__ = "feedback_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("feedback_rounds.id", ondelete="CASCADE"))
    rater_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    relationship: Mapped[str] = mapped_column(String(16), default="")
    ratings: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    keep_enc: Mapped[bytes | None] = mapped_column(Encrypted)  # encrypted: what to keep doing
    change_enc: Mapped[bytes | None] = mapped_column(Encrypted)  # encrypted: what to do differently
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (UniqueConstraint("round_id", "rater_id", name="uq_feedback_response_rater"),)


class PackChoice(Base):
    """What the user chose for their appraisal pack (the period, a name on the cover, their edited SMART
    objectives, whether to keep a copy), so a share link makes the same pack. The PDF is kept only when the
    user asked (``PackCopy``)."""

    __tablename__ = "pack_choices"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    choices_enc: Mapped[bytes] = mapped_column(Encrypted)  # encrypted JSON: it holds the name and objectives
    made_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the pack was last made
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PackCopy(Base):
    """The last appraisal pack PDF, kept (encrypted) only because the user asked (/pack: *Keep a copy*), so it
    can be sent again, to them or through a share link, without being made again. One a user: the next kept
    copy replaces it; erased when they stop keeping copies, delete it, /delete, or a year after it was made."""

    __tablename__ = "pack_copies"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    filename: Mapped[str] = mapped_column(String(64))
    pdf_enc: Mapped[bytes] = mapped_column(Encrypted)  # encrypted: the PDF holds reflections and the plan
    made_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class PackShare(Base):
    """A link that lets whoever opens it receive the owner's current pack: the token is only ever stored as
    its SHA-256, so the table can't be used to open anyone's pack."""

    __tablename__ = "pack_shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    openings: Mapped[list[str]] = mapped_column(JSON, default=list)  # when it was opened (ISO times, UTC)


class Action(Base):
    """What a reflection's "now what" committed to, with the date the user gave ("by 18 Dec"): on that
    day the bot asks how it went; the answer goes into the appraisal pack's development plan."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reflection_id: Mapped[int] = mapped_column(ForeignKey("reflections.id", ondelete="CASCADE"), index=True)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    outcome: Mapped[str] = mapped_column(String(12), default="", server_default="")  # done, partly, not_yet, dropped
    note_enc: Mapped[bytes | None] = mapped_column(Encrypted)  # encrypted: how it went, in their words
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
