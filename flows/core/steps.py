"""The kinds of step flows are made of. Each renders its prompt and buttons from the state alone and
declares where it goes, so the engine knows every button and typed answer without running anything:

- ``choice``: buttons (from data or state), each an action; typed labels and numbers press them;
- ``number``: a number in a range with a unit, preset buttons, typed numbers ("45", "about 20");
- ``rating``: 1-5 with the framework's labels, and Skip;
- ``confirm``: yes or no;
- ``free_text``: typed text through the identifier guard (``flows/guard.py``).

A transition (``then``) is a step name (go there) or an action to run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from flows.core.flow import Action, Buttons, Ctx, FlowState, Prompt, Rows, Step
from flows.core.guard import Accept, G, intake
from flows.core.replies import Button
from flows.core.typed import first_number
from flows.rules.scale import RATING_LABELS

S = TypeVar("S", bound=FlowState)
Then = str | Callable[[Ctx, S], Awaitable[None]]


def _targets(then: Then[S]) -> tuple[str, ...]:
    return (then,) if isinstance(then, str) else ()


async def _go(ctx: Ctx, s: S, then: Then[S]) -> None:
    if isinstance(then, str):
        await ctx.go(then)
    else:
        await then(ctx, s)


def fixed(rows: Rows) -> Buttons[Any]:
    """Buttons that never change."""

    def buttons(ctx: Ctx, s: Any) -> Rows:
        return [[Button(b.label, b.action, b.arg, b.scoped) for b in row] for row in rows]

    return buttons


def number(
    prompt: Prompt[S] | str,
    *,
    into: str,
    low: int,
    high: int | Callable[[S], int],
    what: str,
    then: Then[S],
    presets: Sequence[tuple[str, int]] = (),
    per_row: int = 3,
    scale: int = 1,
    extra: Rows = (),  # type: ignore[assignment]
    actions: Mapping[str, Action[S]] | None = None,
    parse: Callable[[str], int | str | None] | None = None,
) -> Step[S]:
    """A number from ``low`` to ``high`` (typed, or a preset tapped), stored times ``scale`` in ``into``.
    ``parse`` reads typed text its own way (e.g. "1h30" as 90 minutes): a number, or what to say instead."""

    def buttons(ctx: Ctx, s: S) -> Rows:
        tapped = [Button(label, "num", str(value)) for label, value in presets]
        rows = [tapped[i : i + per_row] for i in range(0, len(tapped), per_row)]
        return [*rows, *([Button(b.label, b.action, b.arg) for b in row] for row in extra)]

    async def take(ctx: Ctx, s: S, arg: str) -> None:
        top = high(s) if callable(high) else high
        value = parse(arg) if parse is not None else first_number(arg)
        if isinstance(value, str):
            ctx.say(value)
            return
        if value is None or not low <= value <= top:
            ctx.say(f"Please give {what} as a number from {low} to {top}.")
            return
        setattr(s, into, value * scale)
        await _go(ctx, s, then)

    return Step(
        prompt,
        buttons,
        {"num": take, **(actions or {})},
        text=take,
        numeric=True,
        stores=into,
        goes_to=_targets(then),
    )


def rating(
    prompt: Prompt[S] | str,
    *,
    into: str,
    then: Then[S],
    extra: Rows = (),  # type: ignore[assignment]
    actions: Mapping[str, Action[S]] | None = None,
    skip: str = "Skip",
    screen: Callable[[S], str] | None = None,
) -> Step[S]:
    """A 1-5 rating with the framework's labels ("4 Strong"), or ``skip`` (None), e.g. "Not observed"."""

    def buttons(ctx: Ctx, s: S) -> Rows:
        rows = [[Button(f"{i} {label}", "rate", str(i))] for i, label in enumerate(RATING_LABELS, 1)]
        return [*rows, [Button(skip, "rate", "")], *([Button(b.label, b.action, b.arg) for b in r] for r in extra)]

    async def rate(ctx: Ctx, s: S, arg: str) -> None:
        setattr(s, into, int(arg) if arg.isdigit() and 1 <= int(arg) <= 5 else None)
        await _go(ctx, s, then)

    step: Step[S] = Step(prompt, buttons, {"rate": rate, **(actions or {})}, stores=into, goes_to=_targets(then))
    if screen is not None:
        step.screen = screen
    return step


def confirm(
    prompt: Prompt[S] | str,
    yes: tuple[str, Action[S]],
    no: tuple[str, Action[S]],
    *,
    keep: bool = False,
) -> Step[S]:
    """Yes or no, each with its own label and action."""

    def buttons(ctx: Ctx, s: S) -> Rows:
        return [[Button(yes[0], "yes")], [Button(no[0], "no")]]

    return Step(prompt, buttons, {"yes": yes[1], "no": no[1]}, keep=keep)


def free_text(
    prompt: Prompt[G] | str,
    accept: Accept[G],
    buttons: Buttons[G] | None = None,
    actions: Mapping[str, Action[G]] | None = None,
    *,
    screen: Callable[[G], str] | None = None,
    keep: bool = False,
    append: Accept[G] | None = None,
) -> Step[G]:
    """Typed text, checked for patient identifiers first (the flow declares the ``identifiers`` step).
    ``append`` adds the rest of a long answer that Telegram delivered in two messages."""

    async def typed(ctx: Ctx, s: G, text: str) -> None:
        await intake(ctx, s, text, accept)

    step: Step[G] = Step(
        prompt, actions=dict(actions or {}), text=typed, free=True, append=append, keep=keep, goes_to=("identifiers",)
    )
    if buttons is not None:
        step.buttons = buttons
    if screen is not None:
        step.screen = screen
    return step
