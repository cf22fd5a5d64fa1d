"""The coach: conversation flows, domain services, templates and the storage model. No Telegram here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flows.core.engine import Engine
    from flows.core.flow import Ctx

MENU_COMMANDS = (
    "reflect",
    "lookup",
    "history",
    "assess",
    "develop",
    "cpd",
    "appraisal",
    "pack",
    "share",
    "actions",
    "settings",
    "help",
    "privacy",
    "feedback",
)


def register_all(engine: Engine) -> None:
    """Wire every flow, command and global button into the engine, in one place."""
    from flows.core.flow import Kind
    from flows.talks import (
        account,
        actions,
        answers,
        assess,
        cpd,
        develop,
        feedback,
        history,
        nudges,
        onboarding,
        pack,
        rating360,
        reflection,
        share,
    )

    for module in (
        onboarding,
        reflection,
        answers,
        history,
        assess,
        develop,
        cpd,
        pack,
        share,
        actions,
        nudges,
        account,
        feedback,
        rating360,
    ):
        module.register(engine)

    async def menu_click(ctx: Ctx, arg: str) -> None:
        if arg in MENU_COMMANDS:
            await engine.run_command(ctx, arg)

    engine.click("m", menu_click, Kind.ALWAYS)
