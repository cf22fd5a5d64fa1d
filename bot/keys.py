"""The encryption key: from settings, or created once in the data directory (mode 0600)."""

from __future__ import annotations

import logging
import os

from bot.settings import Settings
from flows.crypto import Cipher

log = logging.getLogger(__name__)


def load_cipher(settings: Settings) -> Cipher:
    if settings.encryption_key is not None:
        return Cipher(settings.encryption_key.get_secret_value())
    path = settings.data_dir / "encryption.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Cipher.generate_key())
        log.warning("created a new encryption key at %s (mode 0600); back it up, or set LEADCOACH_ENCRYPTION_KEY", path)
    return Cipher(path.read_text().strip())
