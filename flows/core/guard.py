"""The one free-text intake: every path that stores what a user typed checks it for patient
identifiers first and offers to remove them (NHS numbers, dates of birth, hospital numbers, names)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from flows.core.flow import Ctx, FlowState, Step
from flows.core.intake import describe, find_identifiers, redact
from flows.core.replies import Button


class GuardedState(FlowState):
    """A flow state that can hold a typed text while the user decides about an identifier in it."""

    held_text: str = ""


G = TypeVar("G", bound=GuardedState)
Accept = Callable[[Ctx, G, str], Awaitable[None]]


async def intake(ctx: Ctx, state: G, text: str, accept: Accept[G], step: str = "identifiers") -> None:
    """Pass clean text to ``accept``; otherwise hold it and ask (at ``step``) what to do."""
    if not find_identifiers(text):
        await accept(ctx, state, text)
        return
    state.held_text = text
    await ctx.go(step)


def identifier_step(accept: Accept[G]) -> Step[G]:
    """The step that warns about identifiers in the held text and offers to remove them."""

    def prompt(ctx: Ctx, state: G) -> str:
        found = describe(find_identifiers(state.held_text))
        return (
            f"⚠️ That looks like it contains {found}. Please don't store patient-identifiable information "
            "here. Shall I remove it before saving?"
        )

    def buttons(ctx: Ctx, state: G) -> list[list[Button]]:
        return [[Button("Remove it", "remove")], [Button("It isn't patient information — keep it", "keep")]]

    async def remove(ctx: Ctx, state: G, arg: str) -> None:
        text, state.held_text = redact(state.held_text), ""
        await accept(ctx, state, text)

    async def keep(ctx: Ctx, state: G, arg: str) -> None:
        text, state.held_text = state.held_text, ""
        await accept(ctx, state, text)

    return Step(prompt, buttons, {"remove": remove, "keep": keep})
