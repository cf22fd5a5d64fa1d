"""/history: your reflections, a page at a time; open one to read it, edit any part of it, or delete it."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import func, select

from flows.common import RATING_LABELS, first_number, menu_buttons, short
from flows.engine import Engine
from flows.flow import Ctx, Flow, FlowError, Kind, Step
from flows.guard import GuardedState, identifier_step, intake
from flows.models import Assessment, Reflection
from flows.reflection import MINUTES, Answer, ReflectState, summary_text, tag_buttons, toggle
from flows.replies import Button

PAGE = 8


class HistoryState(GuardedState):
    id: int
    which: int = 0  # the answer being replaced
    extras: list[str] = Field(default_factory=list)  # tags while editing them


def _local(ctx: Ctx, moment: datetime) -> datetime:
    try:
        zone = ZoneInfo(ctx.user.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Europe/London")
    return moment.astimezone(zone) if moment.tzinfo else moment


async def list_entries(ctx: Ctx, args: str) -> None:
    page = max(int(args), 0) if args.isdigit() else 0
    mine = Reflection.user_id == ctx.user.id
    total = await ctx.db.scalar(select(func.count()).select_from(Reflection).where(mine)) or 0
    assessed = await _assessments(ctx)
    if not total:
        ctx.say("You haven't saved any reflections yet. Send /reflect to make your first.", assessed or None)
        return
    page = min(page, (total - 1) // PAGE)
    rows = (
        await ctx.db.execute(
            select(Reflection)
            .where(mine)
            .order_by(Reflection.created_at.desc(), Reflection.id.desc())
            .offset(page * PAGE)
            .limit(PAGE)
        )
    ).scalars()
    buttons = [[Button(_label(ctx, r), "h", str(r.id), scoped=False)] for r in rows]
    nav = []
    if page > 0:
        nav.append(Button("‹ Newer", "hl", str(page - 1), scoped=False))
    if (page + 1) * PAGE < total:
        nav.append(Button("Older ›", "hl", str(page + 1), scoped=False))
    first, last = page * PAGE + 1, min((page + 1) * PAGE, total)
    ctx.say(
        f"Your reflections ({first}–{last} of {total}), newest first. Tap one to read it:",
        [*buttons, nav, *(assessed if page == 0 else [])],
    )


async def _assessments(ctx: Ctx) -> list[list[Button]]:
    """The user's finished self-assessments (newest three), each opening its results and chart."""
    rows = (
        await ctx.db.execute(
            select(Assessment)
            .where(Assessment.user_id == ctx.user.id, Assessment.finished_at.is_not(None))
            .order_by(Assessment.finished_at.desc(), Assessment.id.desc())
            .limit(3)
        )
    ).scalars()
    return [
        [Button(f"Self-assessment · {_local(ctx, a.finished_at):%a %d %b %Y}", "ar", str(a.id), scoped=False)]
        for a in rows
        if a.finished_at is not None
    ]


def _label(ctx: Ctx, r: Reflection) -> str:
    item = ctx.catalogue.resolve(r.item_key, r.item_id)
    title = f"{item.code} {item.title}" if item else r.item_id
    return short(f"{_local(ctx, r.created_at):%a %d %b %Y %H:%M} · {title}", 60)


async def _owned(ctx: Ctx, entry_id: int) -> Reflection:
    row = await ctx.db.get(Reflection, entry_id)
    if row is None or row.user_id != ctx.user.id:
        ctx.finish()
        raise FlowError("I can't find that reflection. It may have been deleted. /history lists what you have.")
    return row


def _draft(ctx: Ctx, row: Reflection) -> ReflectState:
    answers = [Answer.model_validate(a) for a in ctx.cipher.decrypt_json(row.answers_enc)]
    return ReflectState(
        item=row.item_id,
        stage=row.stage,
        model=row.prompt_model,
        answers=answers,
        rating=row.rating,
        minutes=row.minutes,
        extras=list(row.extra_items),
    )


async def open_entry(ctx: Ctx, arg: str) -> None:
    if not arg.isdigit():
        return
    row = await _owned(ctx, int(arg))
    await ctx.start("history", HistoryState(id=row.id), "open")


def _state(ctx: Ctx) -> HistoryState:
    assert isinstance(ctx.state, HistoryState)
    return ctx.state


async def ask_open(ctx: Ctx, s: HistoryState) -> None:
    row = await _owned(ctx, s.id)
    ctx.say(
        f"<i>{_local(ctx, row.created_at):%A %d %B %Y, %H:%M}</i>\n" + summary_text(ctx, _draft(ctx, row)),
        [
            [Button("Edit an answer", "edit"), Button("Rating", "field", "rating")],
            [Button("Minutes", "field", "minutes"), Button("Also evidences", "field", "tags")],
            [Button("Delete", "delete"), Button("Back to list", "list")],
        ],
    )


async def to_list(ctx: Ctx, s: HistoryState, arg: str) -> None:
    ctx.finish()
    await list_entries(ctx, "")


async def back(ctx: Ctx, s: HistoryState, arg: str) -> None:
    await ctx.go("open")


async def cancel(ctx: Ctx, s: HistoryState, arg: str) -> None:
    ctx.finish()
    ctx.say("Left as it was.", menu_buttons())


BACK_CANCEL = [Button("Back", "back"), Button("Cancel", "cancel")]


async def ask_which(ctx: Ctx, s: HistoryState) -> None:
    draft = _draft(ctx, await _owned(ctx, s.id))
    ctx.say(
        "Which answer would you like to replace?",
        [[Button(short(a.prompt, 48), "which", str(i))] for i, a in enumerate(draft.answers)] + [BACK_CANCEL],
    )


async def edit(ctx: Ctx, s: HistoryState, arg: str) -> None:
    await ctx.go("which")


async def which(ctx: Ctx, s: HistoryState, arg: str) -> None:
    draft = _draft(ctx, await _owned(ctx, s.id))
    if arg.isdigit() and int(arg) < len(draft.answers):
        s.which = int(arg)
        await ctx.go("typing")


async def ask_typing(ctx: Ctx, s: HistoryState) -> None:
    answer = _draft(ctx, await _owned(ctx, s.id)).answers[s.which]
    ctx.say(
        f"<b>{escape(answer.prompt)}</b>\nAt the moment it says:\n\n<i>{escape(answer.answer)}</i>\n\n"
        "Type the new answer to replace it.",
        [BACK_CANCEL],
    )


async def typed_answer(ctx: Ctx, s: HistoryState, text: str) -> None:
    await intake(ctx, s, text, replace_answer)


async def replace_answer(ctx: Ctx, s: HistoryState, text: str) -> None:
    row = await _owned(ctx, s.id)
    answers = ctx.cipher.decrypt_json(row.answers_enc)
    answers[s.which]["answer"] = text
    row.answers_enc = ctx.cipher.encrypt_json(answers)
    row.updated_at = ctx.now
    ctx.say("Updated.")
    await ctx.go("open")


async def field(ctx: Ctx, s: HistoryState, arg: str) -> None:
    if arg == "tags":
        s.extras = list((await _owned(ctx, s.id)).extra_items)
    if arg in ("rating", "minutes", "tags"):
        await ctx.go(arg)


async def ask_rating(ctx: Ctx, s: HistoryState) -> None:
    row = await _owned(ctx, s.id)
    now = f"{row.rating} {RATING_LABELS[row.rating - 1]}" if row.rating else "not rated"
    ctx.say(
        f"The rating is {now}. Choose a new one:",
        [[Button(f"{i} {label}", "rate", str(i))] for i, label in enumerate(RATING_LABELS, 1)]
        + [[Button("No rating", "rate", "")], BACK_CANCEL],
    )


async def rate(ctx: Ctx, s: HistoryState, arg: str) -> None:
    row = await _owned(ctx, s.id)
    row.rating = int(arg) if arg.isdigit() and 1 <= int(arg) <= 5 else None
    row.updated_at = ctx.now
    ctx.say("Updated.")
    await ctx.go("open")


async def ask_minutes(ctx: Ctx, s: HistoryState) -> None:
    row = await _owned(ctx, s.id)
    ctx.say(
        f"Minutes logged: {row.minutes or 'none'}. Tap or type the new figure:",
        [[Button(f"{m} min", "mins", m) for m in MINUTES], [Button("None", "mins", "")], BACK_CANCEL],
    )


async def set_minutes(ctx: Ctx, s: HistoryState, arg: str) -> None:
    row = await _owned(ctx, s.id)
    row.minutes = int(arg) if arg.isdigit() and 0 < int(arg) <= 600 else None
    row.updated_at = ctx.now
    ctx.say("Updated.")
    await ctx.go("open")


async def typed_minutes(ctx: Ctx, s: HistoryState, text: str) -> None:
    minutes = first_number(text)
    if minutes is None or not 0 < minutes <= 600:
        ctx.say("Please type the minutes as a number, like 20.")
        return
    await set_minutes(ctx, s, str(minutes))


async def ask_tags(ctx: Ctx, s: HistoryState) -> None:
    rows = tag_buttons(ctx, (await _owned(ctx, s.id)).item_id, s.extras)
    if not rows:
        ctx.say("There's nothing in the other frameworks linked to this one.", [BACK_CANCEL])
        return
    ctx.say(
        "Which of these does it also evidence? Tap to tick, then Save.",
        [*rows, [Button("Save", "tagged")], BACK_CANCEL],
    )


async def tag(ctx: Ctx, s: HistoryState, arg: str) -> None:
    s.extras = toggle(ctx, s.extras, arg)
    await ctx.go("tags")


async def save_tags(ctx: Ctx, s: HistoryState, arg: str) -> None:
    row = await _owned(ctx, s.id)
    row.extra_items, row.updated_at = list(s.extras), ctx.now
    ctx.say("Updated.")
    await ctx.go("open")


async def ask_delete(ctx: Ctx, s: HistoryState) -> None:
    ctx.say("Delete this reflection for good?", [[Button("Yes, delete it", "really"), Button("No", "back")]])


async def delete(ctx: Ctx, s: HistoryState, arg: str) -> None:
    await ctx.go("delete")


async def really(ctx: Ctx, s: HistoryState, arg: str) -> None:
    await ctx.db.delete(await _owned(ctx, s.id))
    ctx.finish()
    ctx.say("Deleted.", menu_buttons())


NAV = {"back": back, "cancel": cancel}

FLOW = Flow(
    name="history",
    label="edit",
    state=HistoryState,
    steps={
        "open": Step(ask_open, {"edit": edit, "field": field, "delete": delete, "list": to_list}, keep=True),
        "which": Step(ask_which, {"which": which, **NAV}),
        "typing": Step(ask_typing, dict(NAV), text=typed_answer, keep=True),
        "identifiers": identifier_step(replace_answer),
        "rating": Step(ask_rating, {"rate": rate, **NAV}),
        "minutes": Step(ask_minutes, {"mins": set_minutes, **NAV}, text=typed_minutes),
        "tags": Step(ask_tags, {"tag": tag, "tagged": save_tags, **NAV}),
        "delete": Step(ask_delete, {"really": really, "back": back}),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("history", list_entries, Kind.OVERLAY)
    engine.click("hl", list_entries, Kind.OVERLAY)
    engine.click("h", open_entry, Kind.SWITCH)
