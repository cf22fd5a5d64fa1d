"""Encryption of free text at rest (Fernet: AES-128-CBC + HMAC-SHA256), and button signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class DecryptionError(ValueError):
    """Stored text could not be decrypted (wrong key or damaged data)."""


class Cipher:
    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)
        raw = key.encode() if isinstance(key, str) else key
        self._mac_key = hashlib.sha256(b"leadcoach-buttons:" + raw).digest()

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt_json(self, value: Any) -> bytes:
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode("utf-8"))

    def decrypt_json(self, token: bytes) -> Any:
        try:
            return json.loads(self._fernet.decrypt(bytes(token)).decode("utf-8"))
        except InvalidToken as exc:
            raise DecryptionError("stored data could not be decrypted with this key") from exc

    def sign(self, message: str, length: int = 6) -> str:
        digest = hmac.new(self._mac_key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:length]
