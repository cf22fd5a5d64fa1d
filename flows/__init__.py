"""The coach: conversation flows, domain services, templates and the storage model. No Telegram here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.engine import Ctx, Engine

MENU_COMMANDS = ("reflect", "lookup", "history", "settings", "help", "privacy")


def register_all(engine: Engine) -> None:
    """Wire every flow, command and global button into the engine, in one place."""
    from flows import account, answers, history, onboarding, reflection

    for module in (onboarding, reflection, answers, history, account):
        module.register(engine)

    async def menu_click(ctx: Ctx, action: str, arg: str) -> None:
        if arg in MENU_COMMANDS:
            ctx.finish()
            await engine.commands[arg](ctx, "")

    engine.click("m", menu_click)
