"""Short fixed messages. Longer ones are Jinja templates in ``templates/``."""

from __future__ import annotations

from html import escape

STALE_BUTTON = "That button is from an earlier step, so I've left it alone."
ALREADY_ERASED = "Already erased: I hold nothing about you now. Send /start if you want to begin again."
FORGED_BUTTON = "Sorry, I can't use that button. Here's the menu instead."
NOT_TEXT = "I can only read text here. Please type your answer, or send /menu."
GROUP_CHAT = "I'm a personal coach, so I only work in a private chat. Tap my name and send /start there."
EDITED = (
    "I saw you edited a message. I keep what you first sent; if you want to change a saved reflection, use /history."
)
SOMETHING_WRONG = "Sorry, something went wrong on my side. Nothing you saved is lost. Please try again, or send /menu."
CANCELLED = "Stopped. Nothing from that conversation was saved. Send /menu when you're ready."
NOTHING_TO_CANCEL = "There's nothing to stop. Send /menu to see what I can do."
LATER = "No problem, I'll keep your place. Send /reflect when you want to carry on."


def unknown_command(name: str) -> str:
    return f"I don't know /{escape(name)}. Send /help to see what I can do."


RESENT = "Sorry, my last message may not have reached you, so I haven't used that. Here it is again:"
STATE_DROPPED = (
    "Sorry, I couldn't pick up where we left off (the coach has been updated since), so let's start afresh. "
    "Everything you saved is safe."
)
PIECE_ADDED = "That arrived in two parts, so I've added it to your last answer."
USE_BUTTONS = "Please tap one of the buttons (or type its number or its label), or send /cancel to stop."
