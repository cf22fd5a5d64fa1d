"""/history: your reflections, a page at a time; open one to read it, edit any part of it, or delete it.

Opening a reflection loads it into the state (``load``, the ``open`` step's ``enter``), so every step's
prompt and buttons come from the state; each edit writes the state back (``save``) and reopens it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from html import escape
from typing import ClassVar
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import bindparam, delete, func, select

from flows.core.engine import Engine
from flows.core.flow import Action, Ctx, Flow, FlowError, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step
from flows.core.replies import Button
from flows.core.steps import confirm, fixed, free_text, number
from flows.rules.scale import RATING_LABELS
from flows.store.models import Action as ActionRow
from flows.store.models import Assessment, Reflection
from flows.talks import actions
from flows.talks.common import menu_buttons, short
from flows.talks.feedback_results import history_buttons
from flows.talks.reflection import summary_text, tag_buttons, toggle
from flows.talks.reflection_state import MINUTES, Answer, ReflectState

PAGE = 8


class HistoryState(GuardedState):
    """The reflection being read or edited, as loaded from its row when it was opened."""

    schema_version: ClassVar[int] = 2
    id: int
    which: int = 0  # the answer being replaced
    created: datetime | None = None
    item: str = ""
    stage: str = ""
    model: str = "rolfe"
    answers: list[Answer] = Field(default_factory=list)
    rating: int | None = None  # 0 while editing: none
    minutes: int | None = None  # 0 while editing: none
    extras: list[str] = Field(default_factory=list)


class H(StrEnum):
    """The steps of /history, once a reflection is open."""

    OPEN = "open"
    WHICH = "which"
    TYPING = "typing"
    IDENTIFIERS = "identifiers"
    RATING = "rating"
    MINUTES = "minutes"
    TAGS = "tags"
    DELETE = "delete"


def _local(ctx: Ctx, moment: datetime) -> datetime:
    try:
        zone = ZoneInfo(ctx.user.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("Europe/London")
    return moment.astimezone(zone) if moment.tzinfo else moment


# --- the list (runs on top of anything) -----------------------------------------------------------


# /history's reads, built once with bind parameters (it runs on top of anything, often).
_COUNT = select(func.count()).select_from(Reflection).where(Reflection.user_id == bindparam("user_id"))
_LATEST_ASSESSMENTS = (
    select(Assessment)
    .where(Assessment.user_id == bindparam("user_id"), Assessment.finished_at.is_not(None))
    .order_by(Assessment.finished_at.desc(), Assessment.id.desc())
    .limit(3)
)


async def list_entries(ctx: Ctx, args: str) -> None:
    page = max(int(args), 0) if args.isdigit() else 0
    mine = Reflection.user_id == ctx.user.id
    total = await ctx.db.scalar(_COUNT, {"user_id": ctx.user.id}) or 0
    assessed = await _assessments(ctx) + await history_buttons(ctx)
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
        [*buttons, *([nav] if nav else []), *(assessed if page == 0 else [])],
    )


async def _assessments(ctx: Ctx) -> list[list[Button]]:
    """The user's finished self-assessments (newest three), each opening its results and chart."""
    rows = (await ctx.db.execute(_LATEST_ASSESSMENTS, {"user_id": ctx.user.id})).scalars()
    return [
        [Button(f"Self-assessment · {_local(ctx, a.finished_at):%a %d %b %Y}", "ar", str(a.id), scoped=False)]
        for a in rows
        if a.finished_at is not None
    ]


def _label(ctx: Ctx, r: Reflection) -> str:
    item = ctx.catalogue.resolve(r.item_key, r.item_id)
    title = f"{item.code} {item.title}" if item else r.item_id
    return short(f"{_local(ctx, r.created_at):%a %d %b %Y %H:%M} · {title}", 60)


# --- one reflection: loaded into the state, written back --------------------------------------------


async def open_entry(ctx: Ctx, arg: str) -> None:
    if arg.isdigit():
        await ctx.start("history", HistoryState(id=int(arg)), H.OPEN)


async def _owned(ctx: Ctx, entry_id: int) -> Reflection:
    row = await ctx.db.get(Reflection, entry_id)
    if row is None or row.user_id != ctx.user.id:
        ctx.finish()
        raise FlowError("I can't find that reflection. It may have been deleted. /history lists what you have.")
    return row


async def load(ctx: Ctx, s: HistoryState) -> None:
    """Entering ``open``: the reflection as stored now (edits not saved are dropped)."""
    row = await _owned(ctx, s.id)
    s.created, s.item, s.stage, s.model = row.created_at, row.item_id, row.stage, row.prompt_model
    s.answers = [Answer.model_validate(a) for a in ctx.cipher.decrypt_json(row.answers_enc)]
    s.rating, s.minutes, s.extras = row.rating, row.minutes, list(row.extra_items)


async def save(ctx: Ctx, s: HistoryState, arg: str = "", note: str = "") -> None:
    """Write the edited reflection back and show it again (``note``: what else changed with it)."""
    row = await _owned(ctx, s.id)
    row.answers_enc = ctx.cipher.encrypt_json([a.model_dump() for a in s.answers])
    row.rating, row.minutes, row.extra_items = s.rating or None, s.minutes or None, list(s.extras)
    row.updated_at = ctx.now
    ctx.say("Updated." + note)
    await ctx.go(H.OPEN)


def to(step: H) -> Action[HistoryState]:
    """A button that goes to ``step`` (back to ``open`` reloads the reflection, dropping unsaved ticks)."""

    async def go(ctx: Ctx, s: HistoryState, arg: str) -> None:
        await ctx.go(step)

    return go


async def to_list(ctx: Ctx, s: HistoryState, arg: str) -> None:
    ctx.finish()
    await list_entries(ctx, "")


async def cancel(ctx: Ctx, s: HistoryState, arg: str) -> None:
    ctx.finish()
    ctx.say("Left as it was.", menu_buttons())


def _draft(s: HistoryState) -> ReflectState:
    return ReflectState(
        item=s.item,
        stage=s.stage,
        model=s.model,
        answers=s.answers,
        rating=s.rating or None,
        minutes=s.minutes or None,
        extras=s.extras,
    )


def _open_prompt(ctx: Ctx, s: HistoryState) -> str:
    when = f"<i>{_local(ctx, s.created):%A %d %B %Y, %H:%M}</i>\n" if s.created else ""
    return when + summary_text(ctx, _draft(s))


# --- editing -----------------------------------------------------------------------------------------


BACK_CANCEL = [Button("Back", "back"), Button("Cancel", "cancel")]
NAV: dict[str, Action[HistoryState]] = {"back": to(H.OPEN), "cancel": cancel}


def _which_buttons(ctx: Ctx, s: HistoryState) -> Rows:
    return [[Button(short(a.prompt, 48), "which", str(i))] for i, a in enumerate(s.answers)] + [BACK_CANCEL]


async def which(ctx: Ctx, s: HistoryState, arg: str) -> None:
    if arg.isdigit() and int(arg) < len(s.answers):
        s.which = int(arg)
        await ctx.go(H.TYPING)


def _typing_prompt(ctx: Ctx, s: HistoryState) -> str:
    answer = s.answers[min(s.which, len(s.answers) - 1)]
    return (
        f"<b>{escape(answer.prompt)}</b>\nAt the moment it says:\n\n<i>{escape(answer.answer)}</i>\n\n"
        "Type the new answer to replace it."
    )


async def replace_answer(ctx: Ctx, s: HistoryState, text: str) -> None:
    s.answers[s.which].answer = text
    note = ""
    if s.which == len(s.answers) - 1:  # the "now what": its action follows the day it names now
        note = await actions.recommit(ctx, await _owned(ctx, s.id), [a.model_dump() for a in s.answers])
    await save(ctx, s, note=note)


def _rating_prompt(ctx: Ctx, s: HistoryState) -> str:
    now = f"{s.rating} {RATING_LABELS[s.rating - 1]}" if s.rating else "not rated"
    return f"The rating is {now}. Choose a new one:"


def _tags_prompt(ctx: Ctx, s: HistoryState) -> str:
    if not ctx.catalogue.related(s.item):
        return "There's nothing in the other frameworks linked to this one."
    return "Which of these does it also evidence? Tap to tick, then Save."


def _tags_buttons(ctx: Ctx, s: HistoryState) -> Rows:
    rows = tag_buttons(ctx, s.item, s.extras)
    return [*rows, [Button("Save", "tagged")], BACK_CANCEL] if rows else [BACK_CANCEL]


async def tag(ctx: Ctx, s: HistoryState, arg: str) -> None:
    s.extras = toggle(ctx, s.extras, arg)
    await ctx.go(H.TAGS)


async def really(ctx: Ctx, s: HistoryState, arg: str) -> None:
    await ctx.db.execute(delete(ActionRow).where(ActionRow.reflection_id == s.id, ActionRow.user_id == ctx.user.id))
    await ctx.db.delete(await _owned(ctx, s.id))
    await ctx.db.flush()
    await actions.action_changed(ctx)  # its follow-up, if it had one, is not asked
    ctx.finish()
    ctx.say("Deleted.", menu_buttons())


FLOW = Flow(
    name="history",
    label="edit",
    state=HistoryState,
    names=H,
    steps={
        H.OPEN: Step(
            _open_prompt,
            fixed(
                [
                    [Button("Edit an answer", "edit"), Button("Rating", "rating")],
                    [Button("Minutes", "minutes"), Button("Also evidences", "tags")],
                    [Button("Delete", "delete"), Button("Back to list", "list")],
                ]
            ),
            {
                "edit": to(H.WHICH),
                "rating": to(H.RATING),
                "minutes": to(H.MINUTES),
                "tags": to(H.TAGS),
                "delete": to(H.DELETE),
                "list": to_list,
            },
            enter=load,
            keep=True,
            screen=lambda s: str(s.id),  # another reflection opened: this one's buttons are stale
        ),
        H.WHICH: Step("Which answer would you like to replace?", _which_buttons, {"which": which, **NAV}),
        H.TYPING: free_text(_typing_prompt, replace_answer, fixed([BACK_CANCEL]), NAV, keep=True),
        H.IDENTIFIERS: identifier_step(replace_answer),
        H.RATING: number(
            _rating_prompt,
            into="rating",
            low=0,
            high=5,
            what="the rating (0 for none)",
            presets=[*((f"{i} {label}", i) for i, label in enumerate(RATING_LABELS, 1)), ("No rating", 0)],
            per_row=1,
            then=save,
            extra=[BACK_CANCEL],
            actions=NAV,
        ),
        H.MINUTES: number(
            lambda ctx, s: f"Minutes logged: {s.minutes or 'none'}. Tap or type the new figure:",
            into="minutes",
            low=0,
            high=600,
            what="the minutes (0 for none)",
            presets=[*((f"{m} min", int(m)) for m in MINUTES), ("None", 0)],
            per_row=4,
            then=save,
            extra=[BACK_CANCEL],
            actions=NAV,
        ),
        H.TAGS: Step(_tags_prompt, _tags_buttons, {"tag": tag, "tagged": save, **NAV}),
        H.DELETE: confirm("Delete this reflection for good?", ("Yes, delete it", really), ("No", to(H.OPEN))),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("history", list_entries, Kind.OVERLAY)
    engine.click("hl", list_entries, Kind.OVERLAY)
    engine.click("h", open_entry, Kind.SWITCH)
