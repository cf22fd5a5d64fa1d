"""The encryption keys: from settings (comma-separated, newest first), or created once in the data
directory (mode 0600, written atomically); and a canary in the database that tells a changed key."""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from bot.startup import StartupError
from flows.core.crypto import Cipher, DecryptionError
from flows.core.engine import Engine
from flows.store.models import Meta, Reflection

log = logging.getLogger(__name__)
CANARY_KEY = "encryption-canary"
CANARY = "LeadCoach encryption canary"
KEY_MISMATCH = (
    "the encryption key does not match the data in the database; use the key it was written with "
    "(to change keys, put the new one first: LEADCOACH_ENCRYPTION_KEY=new,old, then run leadcoach rotate-key)"
)


def load_cipher(settings: Settings) -> Cipher:
    if settings.encryption_key is not None:
        try:
            return Cipher(settings.encryption_key.get_secret_value())
        except ValueError:
            raise StartupError(
                "LEADCOACH_ENCRYPTION_KEY is not a valid key (32 url-safe base64 bytes; comma-separated for several)"
            ) from None
    path = settings.data_dir / "encryption.key"
    if not path.exists():
        _create_key_file(path)
    text = path.read_text().strip()
    try:
        return Cipher(text)
    except ValueError:
        raise StartupError(f"the key file {path} is empty or damaged; restore it from your backup") from None


async def check_key_exists(settings: Settings, database: AsyncEngine) -> None:
    """With no key set and no key file, a new key may be made only for a database with nothing encrypted
    in it yet: otherwise the key was lost (or LEADCOACH_DATA_DIR points elsewhere), and a new one would
    be wrong. Checked before the key file is written."""
    path = settings.data_dir / "encryption.key"
    if settings.encryption_key is not None or path.exists():
        return
    async with database.connect() as conn:
        canary = await conn.scalar(select(Meta.key).where(Meta.key == CANARY_KEY))
        sample = canary or await conn.scalar(select(Reflection.id).limit(1))
    if sample is not None:
        raise StartupError(
            f"the database holds encrypted data but there is no key: set LEADCOACH_ENCRYPTION_KEY or restore {path}"
        )


def _create_key_file(path: Path) -> None:
    """Write a new key atomically: a complete file appears, or none; a second process racing this one
    finds the first one's key."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(Cipher.generate_key())
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails if another process got there first: theirs is kept
        log.warning("created a new encryption key at %s (mode 0600); back it up, or set LEADCOACH_ENCRYPTION_KEY", path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


async def check_canary(engine: Engine) -> None:
    """The first start stores an encrypted canary; later starts must decrypt it with the keys given."""
    async with engine.transaction() as db:
        row = await db.get(Meta, CANARY_KEY)
        if row is None:
            sample = await db.scalar(select(Reflection.answers_enc).limit(1))  # data from before the canary
            if sample is not None:
                _decrypts(engine, sample)
            db.add(Meta(key=CANARY_KEY, value=engine.cipher.encrypt_json(CANARY), updated_at=datetime.now(UTC)))
            return
        if _decrypts(engine, row.value) != CANARY:
            raise StartupError(KEY_MISMATCH)


def _decrypts(engine: Engine, token: bytes) -> object:
    try:
        return engine.cipher.decrypt_json(token)
    except DecryptionError:
        raise StartupError(KEY_MISMATCH) from None
