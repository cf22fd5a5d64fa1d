"""Button data: ``version|action|arg|mac``, at most 64 bytes. The MAC (66 bits of HMAC-SHA256) is over
the user, the step's version, the action and its argument as one JSON array, so no two fields can run
into each other, a button works only for the user it was sent to, and a stale one (another version)
is known. Buttons are signed on copies: a flow may keep a Button as a constant."""

from __future__ import annotations

import hmac
import json
from dataclasses import replace

from flows.core.crypto import Cipher
from flows.core.replies import Button, Reply

MAX_CALLBACK_BYTES = 64
MAC_CHARS = 11  # 66 bits of HMAC-SHA256, base64url


class ButtonSigner:
    def __init__(self, cipher: Cipher) -> None:
        self.cipher = cipher

    def mac(self, user_id: int, version: int, action: str, arg: str) -> str:
        return self.cipher.sign(json.dumps([user_id, version, action, arg]), length=MAC_CHARS)

    def verify(self, data: str, user_id: int) -> tuple[int, str, str] | None:
        parts = data.split("|")
        if len(parts) != 4 or not parts[0].isdigit():
            return None
        version, action, arg, mac = int(parts[0]), parts[1], parts[2], parts[3]
        if not hmac.compare_digest(self.mac(user_id, version, action, arg).encode(), mac.encode()):
            return None
        return version, action, arg

    def sign(self, replies: list[Reply], user_id: int, version: int) -> None:
        """Give each button its signed data, on a copy: a Button a flow keeps as a constant is shared by every
        user's replies, so signing it in place let one user's signature overwrite another's."""
        for reply in replies:
            reply.buttons = [[self.signed(b, user_id, version) for b in row] for row in reply.buttons]

    def signed(self, b: Button, user_id: int, version: int) -> Button:
        if b.url:
            return replace(b)  # a link: Telegram opens it, nothing comes back to sign
        if "|" in b.action or "|" in b.arg:
            raise ValueError(f"'|' in a button's action or argument: {b.action!r} {b.arg!r}")
        v = version if b.scoped else 0
        data = f"{v}|{b.action}|{b.arg}|{self.mac(user_id, v, b.action, b.arg)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
        return replace(b, data=data)
