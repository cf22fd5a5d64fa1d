"""Encryption of free text at rest (Fernet: AES-128-CBC + HMAC-SHA256), and button signatures.

Several keys may be given, newest first: everything is encrypted with the first and decrypted with
any (``MultiFernet``), so a key can be rotated without losing data (``leadcoach rotate-key``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class DecryptionError(ValueError):
    """Stored text could not be decrypted (wrong key or damaged data)."""


def split_keys(keys: str | bytes | Sequence[str]) -> list[str]:
    """Keys from a comma-separated setting (or a list), newest first."""
    if isinstance(keys, bytes):
        keys = keys.decode()
    parts = keys.split(",") if isinstance(keys, str) else list(keys)
    return [k.strip() for k in parts if k.strip()]


class Cipher:
    def __init__(self, keys: str | bytes | Sequence[str]) -> None:
        listed = split_keys(keys)
        if not listed:
            raise ValueError("no encryption key given")
        self._fernet = MultiFernet([Fernet(k) for k in listed])  # ValueError for a malformed key
        self._mac_key = hashlib.sha256(b"leadcoach-buttons:" + listed[0].encode()).digest()

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode()

    def encrypt_json(self, value: Any) -> bytes:
        return self.encrypt_text(json.dumps(value, ensure_ascii=False))

    def encrypt_text(self, text: str) -> bytes:
        """Encrypt text that is already JSON (``decrypt_json`` reads it back)."""
        return self._fernet.encrypt(text.encode("utf-8"))

    def decrypt_json(self, token: bytes) -> Any:
        return json.loads(self.decrypt_text(token))

    def decrypt_text(self, token: bytes) -> str:
        """The text ``encrypt_text`` (or ``encrypt_json``) encrypted."""
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken as exc:
            raise DecryptionError("stored data could not be decrypted with this key") from exc

    def rotate(self, token: bytes) -> bytes:
        """The same data, encrypted with the first (newest) key."""
        try:
            return self._fernet.rotate(bytes(token))
        except InvalidToken as exc:
            raise DecryptionError("stored data could not be decrypted with these keys") from exc

    def sign(self, message: str, length: int = 11) -> str:
        digest = hmac.digest(self._mac_key, message.encode(), "sha256")
        return base64.urlsafe_b64encode(digest).decode()[:length]
