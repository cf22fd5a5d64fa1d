"""Encrypted columns come from one place (the ``Encrypted`` column type): key rotation re-encrypts every
one of them, and an export after the README's steps (NEW,OLD -> rotate -> NEW alone) still works."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import LargeBinary, insert, select, update

from bot.rotation import rotate
from bot.runtime import Runtime
from flows.core.crypto import Cipher, DecryptionError
from flows.store.models import (
    Action,
    Base,
    ConversationSession,
    CpdActivity,
    DeadLetter,
    Encrypted,
    FeedbackResponse,
    FeedbackRound,
    InboxUpdate,
    PackChoice,
    PackCopy,
    encrypted_columns,
)
from tests.client import FakeClient
from tests.test_flows import onboard, reflect


def test_every_binary_column_is_declared_encrypted() -> None:
    """A new column of ciphertext is declared ``Encrypted`` (so rotation and export know of it)."""
    plain = [
        f"{t.name}.{c.name}"
        for t in Base.metadata.sorted_tables
        for c in t.columns
        if (isinstance(c.type, LargeBinary) or c.name.endswith("_enc")) and not isinstance(c.type, Encrypted)
    ]
    assert plain == []
    names = {f"{t.name}.{c.name}" for t, c in encrypted_columns()}
    assert {"cpd_activities.title_enc", "reflections.answers_enc", "inbox.payload_enc"} <= names


async def _fill_every_encrypted_column(runtime: Runtime) -> None:
    client = FakeClient(runtime.coach, "rotating", channel="telegram")
    await onboard(client)
    await reflect(client)
    await client.send("/reflect")
    await client.click("Suggested")  # a conversation in progress
    now = datetime.now(UTC)
    cipher = runtime.coach.cipher
    async with runtime.coach.transaction() as db:
        user_id = 1
        parked = cipher.encrypt_json({"a": "draft"})  # a parked draft
        await db.execute(update(ConversationSession).values(parked_flow="reflect", parked_data_enc=parked))
        await db.execute(
            insert(CpdActivity).values(
                user_id=user_id,
                done_on=date(2026, 11, 1),
                title_enc=cipher.encrypt_json("Budget course"),
                minutes=60,
                participatory=True,
                items=[],
                created_at=now,
            )
        )
        await db.execute(
            insert(InboxUpdate).values(
                channel="telegram", update_id=1, user_key="1", payload_enc=cipher.encrypt_json({}), received_at=now
            )
        )
        await db.execute(
            insert(DeadLetter).values(
                channel="telegram", update_id="x", reason="test", payload_enc=cipher.encrypt_json({}), received_at=now
            )
        )
        round_id = (
            await db.execute(
                insert(FeedbackRound)
                .values(
                    user_id=user_id,
                    framework="mlf2025",
                    stage="1",
                    areas=["mlf2025.1"],
                    subject_name="Sam",
                    note_enc=cipher.encrypt_json("Thanks for your time"),
                    token_hash="0" * 64,
                    created_at=now,
                    closes_at=now,
                )
                .returning(FeedbackRound.id)
            )
        ).scalar_one()
        await db.execute(
            insert(PackChoice).values(user_id=user_id, choices_enc=cipher.encrypt_json({"name": "Sam"}), updated_at=now)
        )
        await db.execute(
            insert(PackCopy).values(
                user_id=user_id, filename="appraisal-pack.pdf", pdf_enc=cipher.encrypt_json("JVBERi0="), made_at=now
            )
        )
        await db.execute(
            insert(Action).values(
                user_id=user_id,
                reflection_id=1,
                due_on=date(2026, 12, 18),
                outcome="done",
                note_enc=cipher.encrypt_json("It went well"),
                created_at=now,
            )
        )
        await db.execute(
            insert(FeedbackResponse).values(
                round_id=round_id,
                rater_id=user_id,
                keep_enc=cipher.encrypt_json("Listening"),
                change_enc=cipher.encrypt_json("Delegating"),
                opened_at=now,
            )
        )


async def test_rotation_covers_every_encrypted_column_and_export_works_after(runtime: Runtime) -> None:
    old = runtime.coach.cipher
    await _fill_every_encrypted_column(runtime)
    new_key = Cipher.generate_key()
    runtime.coach.cipher = Cipher([new_key, *_keys(runtime)])
    done = await rotate(runtime.coach)
    assert done["cpd_activities.title_enc"] == 1
    runtime.coach.cipher = Cipher(new_key)  # the old key is dropped
    async with runtime.coach.sessionmaker() as db:
        for table, column in encrypted_columns():
            values: list[bytes] = [v for v in (await db.execute(select(column))).scalars() if v]
            assert values, f"no {table.name}.{column.name} to check"
            for value in values:
                runtime.coach.cipher.decrypt_text(value)  # raises if rotation missed it
                try:
                    old.decrypt_text(value)
                except DecryptionError:
                    continue
                raise AssertionError(f"{table.name}.{column.name} still readable with the old key")
    client = FakeClient(runtime.coach, "rotating", channel="telegram")
    await client.send("/cancel")
    replies = await client.send("/export")
    assert "went wrong" not in " ".join(r.text for r in replies).lower()
    assert any(r.attachment is not None for r in replies)


def _keys(runtime: Runtime) -> list[str]:
    key = runtime.settings.encryption_key
    assert key is not None
    return key.get_secret_value().split(",")
