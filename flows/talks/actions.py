"""Actions followed up: a reflection's "now what" that names a day ("by 18 Dec", "next week") becomes an
action; on that day a nudge asks how it went, and /actions lists them any time. The answer (done, partly,
not yet, no longer relevant, with an optional short note) goes into the appraisal pack's plan."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from enum import StrEnum
from html import escape

from pydantic import BaseModel, Field
from sqlalchemy import select

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step
from flows.core.replies import Button
from flows.core.steps import fixed, free_text
from flows.rules.parse import find_due
from flows.store.models import Action, Reflection
from flows.talks.common import ends, short
from flows.talks.progress import local_today
from flows.talks.progress import long_date as long_day

OUTCOMES = {"done": "Done", "partly": "Partly", "not_yet": "Not yet", "dropped": "No longer relevant"}


def action_text(cipher_answers: list[dict[str, str]]) -> str:
    """The action a reflection committed to: its last answer (Now what? / Action plan / Active experimentation)."""
    last = (cipher_answers[-1].get("answer") or "").strip() if cipher_answers else ""
    return "" if last == "(skipped)" else last


async def commit(ctx: Ctx, reflection: Reflection, answers: list[dict[str, str]]) -> str:
    """After a reflection is saved: if its action names a day, keep it to follow up; say so."""
    due = find_due(action_text(answers), local_today(ctx.user, ctx.now))
    if due is None:
        return ""
    ctx.db.add(Action(user_id=ctx.user.id, reflection_id=reflection.id, due_on=due, created_at=ctx.now))
    await ctx.db.flush()
    await action_changed(ctx)
    return f" I'll ask how your action went on {long_day(due)} (/actions shows it)."


async def recommit(ctx: Ctx, reflection: Reflection, answers: list[dict[str, str]]) -> str:
    """After a reflection's "now what" is edited (/history): read its date again and move its action to it
    (asked again on the new day), add one, or remove it when no day is named any more; its nudge is planned
    again (one row per kind, so it moves rather than doubles). Says what changed, or nothing."""
    due = find_due(action_text(answers), local_today(ctx.user, ctx.now))
    held = await ctx.db.scalar(select(Action).where(Action.reflection_id == reflection.id).limit(1))
    if held is not None and held.due_on == due:
        return ""
    if held is None and due is None:
        return ""
    if due is None:
        await ctx.db.delete(held)
        said = " Its action names no day now, so I won't ask how it went."
    elif held is None:
        ctx.db.add(Action(user_id=ctx.user.id, reflection_id=reflection.id, due_on=due, created_at=ctx.now))
        said = f" I'll ask how your action went on {long_day(due)} (/actions shows it)."
    else:
        held.due_on, held.outcome, held.answered_at, held.note_enc = due, "", None, None
        said = f" Its action moves to {long_day(due)}: I'll ask how it went then."
    await ctx.db.flush()
    await action_changed(ctx)
    return said


ActionHook = Callable[[Ctx], Awaitable[None]]
_hooks: list[ActionHook] = []


def on_action_change(hook: ActionHook) -> None:
    """Run ``hook`` after an action is added or answered (the nudges plan its follow-up again); they read
    this module, so this module doesn't import them."""
    if hook not in _hooks:
        _hooks.append(hook)


async def action_changed(ctx: Ctx) -> None:
    for hook in _hooks:
        await hook(ctx)


class ActionLine(BaseModel):
    id: int
    line: str


class ActionState(GuardedState):
    actions: list[ActionLine] = Field(default_factory=list)
    action: int = 0  # the one being followed up
    text: str = ""  # what it said, for the question
    due: date | None = None
    outcome: str = ""


class Ac(StrEnum):
    """The steps of /actions."""

    LIST = "list"
    ASK = "ask"
    NOTE = "note"
    IDENTIFIERS = "identifiers"


async def actions_command(ctx: Ctx, args: str) -> None:
    await ctx.start("actions", ActionState(), Ac.LIST)


async def follow_up(ctx: Ctx, action_id: int) -> None:
    """Start asking about one action (from the nudge's button)."""
    state = ActionState()
    await ctx.start("actions", state, Ac.LIST)
    await open_action(ctx, state, str(action_id))


async def _load(ctx: Ctx, s: ActionState) -> None:
    rows = await ctx.db.execute(
        select(Action, Reflection.answers_enc)
        .join(Reflection, Reflection.id == Action.reflection_id)
        .where(Action.user_id == ctx.user.id)
        .order_by(Action.due_on.desc(), Action.id.desc())
        .limit(10)
    )
    s.actions = []
    for a, answers in rows.all():
        said = short(action_text(ctx.cipher.decrypt_json(answers)), 60)
        how = OUTCOMES.get(a.outcome, "not asked yet" if a.due_on > local_today(ctx.user, ctx.now) else "to answer")
        s.actions.append(ActionLine(id=a.id, line=f"{long_day(a.due_on)}: {said} — {how}"))


def _list_prompt(ctx: Ctx, s: ActionState) -> str:
    if not s.actions:
        return (
            "No dated actions yet. When a reflection's <i>Now what?</i> says when (e.g. <i>by 18 Dec</i>), "
            "I'll ask on that day how it went."
        )
    return "<b>Your actions</b> (tap one to say how it went)\n" + "\n".join(f"• {escape(a.line)}" for a in s.actions)


def _list_buttons(ctx: Ctx, s: ActionState) -> Rows:
    return [*([Button(short(a.line, 56), "open", str(a.id))] for a in s.actions), [Button("Done", "done")]]


async def open_action(ctx: Ctx, s: ActionState, arg: str) -> None:
    found = await ctx.db.get(Action, int(arg)) if arg.isdigit() else None
    if found is None or found.user_id != ctx.user.id:
        ctx.say("That action is no longer there.")
        await ctx.go(Ac.LIST)
        return
    reflection = await ctx.db.get(Reflection, found.reflection_id)
    s.action, s.due = found.id, found.due_on
    s.text = action_text(ctx.cipher.decrypt_json(reflection.answers_enc)) if reflection else ""
    await ctx.go(Ac.ASK)


def _ask_prompt(ctx: Ctx, s: ActionState) -> str:
    when = f" by {long_day(s.due)}" if s.due else ""
    return f"You said you would{when}:\n<i>{escape(short(s.text, 600))}</i>\n\nHow did it go?"


def _ask_buttons(ctx: Ctx, s: ActionState) -> Rows:
    return [
        [Button("Done", "how", "done"), Button("Partly", "how", "partly")],
        [Button("Not yet", "how", "not_yet"), Button("No longer relevant", "how", "dropped")],
        [Button("Back", "list")],
    ]


async def how(ctx: Ctx, s: ActionState, arg: str) -> None:
    if arg not in OUTCOMES:
        return
    s.outcome = arg
    await _save(ctx, s, None)
    await ctx.go(Ac.NOTE)


async def _save(ctx: Ctx, s: ActionState, note: str | None) -> None:
    found = await ctx.db.get(Action, s.action)
    if found is not None and found.user_id == ctx.user.id:
        found.outcome, found.answered_at = s.outcome, ctx.now
        if note is not None:
            found.note_enc = ctx.cipher.encrypt_json(note)
        await ctx.db.flush()
        await action_changed(ctx)


async def noted(ctx: Ctx, s: ActionState, text: str) -> None:
    await _save(ctx, s, short(" ".join(text.split()), 300))
    ctx.say("Noted: it will be in your appraisal pack's plan.")
    await ctx.go(Ac.LIST)


async def no_note(ctx: Ctx, s: ActionState, arg: str) -> None:
    ctx.say("Noted: it will be in your appraisal pack's plan.")
    await ctx.go(Ac.LIST)


async def to_list(ctx: Ctx, s: ActionState, arg: str) -> None:
    await ctx.go(Ac.LIST)


done = ends("OK. /actions shows them any time.")


FLOW = Flow(
    name="actions",
    label="action follow-up",
    state=ActionState,
    names=Ac,
    steps={
        Ac.LIST: Step(_list_prompt, _list_buttons, {"open": open_action, "done": done}, enter=_load, goes_to=(Ac.ASK,)),
        Ac.ASK: Step(_ask_prompt, _ask_buttons, {"how": how, "list": to_list}, goes_to=(Ac.NOTE, Ac.LIST)),
        Ac.NOTE: free_text(
            "Anything to add, in a line? (It goes into your plan.) Or tap No note.",
            noted,
            fixed([[Button("No note", "skip")]]),
            {"skip": no_note},
        ),
        Ac.IDENTIFIERS: identifier_step(noted),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("actions", actions_command, Kind.SWITCH)
