"""A kept copy of the appraisal pack PDF. Nothing is kept unless the user asks (*Keep a copy* on /pack); then
each PDF they make is stored encrypted (one a user, the newest), so /pack sends it again and a share link sends
it as it is, without making it again. It goes when they stop keeping copies, with /delete, or a year after it
was made (``leadcoach purge``); /export includes it."""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.crypto import Cipher
from flows.core.replies import Attachment
from flows.core.retention import PACK_COPY_DAYS
from flows.store.models import PackCopy
from flows.talks.pack_text import long_day


def _kept_until(row: PackCopy) -> date:
    """The day the purge erases it."""
    return row.made_at.date() + timedelta(days=PACK_COPY_DAYS)


async def kept(db: AsyncSession, user_id: int) -> PackCopy | None:
    return await db.get(PackCopy, user_id)


async def keep(db: AsyncSession, cipher: Cipher, user_id: int, filename: str, pdf: bytes, now: datetime) -> None:
    """Keep ``pdf`` (encrypted) in place of any copy kept before."""
    row = await db.get(PackCopy, user_id)
    if row is None:
        row = PackCopy(user_id=user_id, filename=filename, pdf_enc=b"", made_at=now)
        db.add(row)
    row.filename, row.made_at = filename, now
    row.pdf_enc = cipher.encrypt_json(base64.b64encode(pdf).decode("ascii"))
    await db.flush()


async def forget(db: AsyncSession, user_id: int) -> None:
    await db.execute(delete(PackCopy).where(PackCopy.user_id == user_id))


def pdf_of(cipher: Cipher, row: PackCopy) -> bytes:
    return base64.b64decode(str(cipher.decrypt_json(row.pdf_enc)))


def attachment(cipher: Cipher, row: PackCopy, caption: str = "") -> Attachment:
    return Attachment(row.filename, pdf_of(cipher, row), caption=caption)


def made_words(row: PackCopy) -> str:
    """ "made 1 December 2026, kept until 1 December 2027" """
    return f"made {long_day(row.made_at.date())}, kept until {long_day(_kept_until(row))}"


def export(row: PackCopy | None) -> dict[str, object] | None:
    """What /export says of the kept copy (the PDF itself goes with the export as a document)."""
    if row is None:
        return None
    return {
        "filename": row.filename,
        "made_at": row.made_at.isoformat(),
        "kept_until": _kept_until(row).isoformat(),
    }
