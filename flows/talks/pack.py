"""/pack: the appraisal pack. The user sees what it will hold, can change the period, put their name on the
cover and edit each priority's draft SMART objective, then gets a PDF with Markdown and a CSV of the CPD
log beside it. Their choices are kept (encrypted) so a share link (``flows/share.py``) makes the same pack;
the PDF is kept (encrypted, ``flows/pack_copy.py``) only if they ask."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from enum import StrEnum
from html import escape

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.crypto import Cipher
from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step
from flows.core.replies import Button
from flows.core.steps import fixed, free_text
from flows.rules.parse import parse_day
from flows.rules.schedule import Round
from flows.rules.smart import Priority, draft_objective
from flows.store.models import PackChoice, User
from flows.talks import pack_copy
from flows.talks.common import ends, menu_buttons, short
from flows.talks.pack_data import default_start, gather, priorities
from flows.talks.pack_send import apply_choices, pdf_name, pdf_renderer, send_pack
from flows.talks.pack_text import long_day
from flows.talks.progress import local_today, next_appraisal


class P(StrEnum):
    """The steps of /pack."""

    HOME = "home"
    PERIOD = "period"
    NAME = "name"
    OBJECTIVE = "objective"
    IDENTIFIERS = "identifiers"


class PlanLine(BaseModel):
    unit: str
    title: str
    score: float | None = None
    statement: str = ""
    objective: str = ""
    programme: str = ""  # the course chosen for the area in /develop
    programme_by: date | None = None


class PackState(GuardedState):
    loaded: bool = False
    start: date | None = None  # None: since the last appraisal
    name: str = ""  # on the cover only if the user added it
    plan: list[PlanLine] = Field(default_factory=list)
    editing: int = -1  # the objective being typed (its index); -1 the name
    keep: bool = False  # keep a copy of each PDF made (encrypted), as the user chose
    kept: str = ""  # the copy kept now, in words ("made 1 December 2026, kept until …"), "" when none


class Choices(BaseModel):
    """What is kept between /pack and a share link: the user's own choices, no more."""

    start: date | None = None
    name: str = ""
    objectives: dict[str, str] = Field(default_factory=dict)  # unit id -> the objective as the user edited it
    keep: bool = False  # keep a copy of the PDF when it is made (off unless the user turns it on)


async def pack_command(ctx: Ctx, args: str) -> None:
    await ctx.start("pack", PackState(), P.HOME)


async def load_choices(db: AsyncSession, cipher: Cipher, user: User) -> Choices:
    return choices_of(cipher, await db.get(PackChoice, user.id))


def choices_of(cipher: Cipher, row: PackChoice | None) -> Choices:
    return Choices.model_validate(cipher.decrypt_json(row.choices_enc)) if row is not None else Choices()


async def save_choices(ctx: Ctx, s: PackState, made: bool = False) -> None:
    choices = Choices(
        start=s.start,
        name=s.name,
        objectives={p.unit: p.objective for p in s.plan if p.objective != _draft(ctx, p)},
        keep=s.keep,
    )
    row = await ctx.db.get(PackChoice, ctx.user.id)
    if row is None:
        row = PackChoice(user_id=ctx.user.id, choices_enc=b"", updated_at=ctx.now)
        ctx.db.add(row)
    row.choices_enc = ctx.cipher.encrypt_json(choices.model_dump(mode="json"))
    row.updated_at = ctx.now
    if made:
        row.made_at = ctx.now
    await ctx.db.flush()


def review_date(user: User, now: datetime, round_: Round | None) -> date:
    """When the objectives are reviewed: the next appraisal (if at least two months off), else a year on."""
    today = local_today(user, now)
    nxt = next_appraisal(user.appraisal_date, today, round_)
    return nxt.day if nxt is not None and nxt.day > today + timedelta(days=60) else today + timedelta(days=365)


def _draft(ctx: Ctx, p: PlanLine) -> str:
    review = review_date(ctx.user, ctx.now, ctx.engine.appraisal_round)
    return draft_objective(Priority(p.unit, p.title, p.score, p.statement, p.programme, p.programme_by), review)


async def load(ctx: Ctx, s: PackState) -> None:
    """Entering the summary: the user's kept choices and the priorities (the areas they chose a course for in
    /develop, then the weakest of their latest self-assessment), each with its objective (theirs where they
    edited it, else a draft). Read afresh each time (every change is saved as it is made), so a course chosen
    in /develop on top of /pack shows when the summary is shown again."""
    choices = await load_choices(ctx.db, ctx.cipher, ctx.user)
    _, chosen = await priorities(ctx.db, ctx.catalogue, ctx.user)
    s.start, s.name, s.keep, s.loaded = choices.start, choices.name, choices.keep, True
    copy = await pack_copy.kept(ctx.db, ctx.user.id)
    s.kept = pack_copy.made_words(copy) if copy is not None else ""
    s.plan = []
    for p in chosen:
        line = PlanLine(
            unit=p.unit,
            title=p.title,
            score=p.score,
            statement=p.statement,
            programme=p.programme,
            programme_by=p.programme_by,
        )
        line.objective = choices.objectives.get(p.unit) or _draft(ctx, line)
        s.plan.append(line)


def _home_prompt(ctx: Ctx, s: PackState) -> str:
    start = s.start or default_start(ctx.user, local_today(ctx.user, ctx.now))
    lines = [
        "<b>Your appraisal pack</b>",
        f"Evidence from {long_day(start)} to today{_period_words(ctx, s)}.",
        f"Name on the cover: {escape(s.name) if s.name else 'none'}.",
        "",
    ]
    if s.plan:
        lines.append(
            "<b>Development plan</b> (the areas you chose a course for in /develop first, then the weakest of "
            "your latest self-assessment; edit any objective):"
        )
        lines += [f"{n}. <b>{escape(p.title)}</b>{_course(p)}: {escape(p.objective)}" for n, p in enumerate(s.plan, 1)]
    else:
        lines.append(
            "No development priorities yet: a self-assessment (/assess) suggests them, and /develop adds courses."
        )
    lines += ["", "The PDF comes with a Markdown copy and your CPD log as CSV.", _keep_words(s)]
    return "\n".join(lines)


def _keep_words(s: PackState) -> str:
    if not s.keep:
        return (
            "I send the PDF and don't keep it. <b>Keep a copy</b> keeps each one you make (encrypted, for a year), "
            "so I can send it again and your share links send that copy as it is."
        )
    now = f" The copy kept now was {s.kept}." if s.kept else ""
    return f"A copy of each PDF you make is kept (encrypted, for a year); your share links send it as it is.{now}"


def _course(p: PlanLine) -> str:
    return f" (your /develop choice: {escape(p.programme)})" if p.programme else ""


def _period_words(ctx: Ctx, s: PackState) -> str:
    if s.start is not None:
        return ""
    if ctx.user.appraisal_date is None:
        return " (the last 12 months: set your appraisal date in /settings to count from your last one)"
    return " (since your last appraisal)"


def _home_buttons(ctx: Ctx, s: PackState) -> Rows:
    edits = [[Button(f"Edit objective {n}: {short(p.title, 28)}", "edit", str(n - 1))] for n, p in enumerate(s.plan, 1)]
    name = Button("Remove my name", "noname") if s.name else Button("Add my name", "name")
    keeping = [Button("Stop keeping a copy", "keep", "off") if s.keep else Button("Keep a copy", "keep", "on")]
    resend = [Button("Send my kept copy", "resend")] if s.kept else []
    return [
        [Button("Make the PDF", "make")],
        *edits,
        [Button("Change the period", "period"), name],
        [*keeping, *resend],
        [Button("Share with my appraiser", "m", "share", scoped=False)],
        [Button("Done", "done")],
    ]


async def make(ctx: Ctx, s: PackState, arg: str) -> None:
    data = await gather(
        ctx.db,
        ctx.catalogue,
        ctx.cipher,
        ctx.user,
        ctx.now,
        ctx.engine.appraisal_round,
        s.start,
        ctx.engine.feedback_min_raters,
    )
    apply_choices(
        data, s.name, {p.unit: p.objective for p in s.plan}, review_date(ctx.user, ctx.now, ctx.engine.appraisal_round)
    )
    await save_choices(ctx, s, made=True)
    kept = ""
    if s.keep:  # made now (not when sent) so the copy kept is the very PDF sent
        pdf = await asyncio.to_thread(pdf_renderer(data))
        await pack_copy.keep(ctx.db, ctx.cipher, ctx.user.id, pdf_name(data), pdf, ctx.now)
        copy = await pack_copy.kept(ctx.db, ctx.user.id)
        kept = f" A copy is kept (encrypted, {pack_copy.made_words(copy)})." if copy is not None else ""
        send_pack(ctx, data, pdf)
    else:
        send_pack(ctx, data)
        kept = " The PDF isn't kept: <b>Keep a copy</b> on /pack keeps the next one."
    ctx.finish()
    ctx.say(f"That's your pack. /pack changes it; /share sends it to your appraiser.{kept}", menu_buttons()[:1])


done = ends("OK. /pack makes your appraisal pack any time.")


async def keeping(ctx: Ctx, s: PackState, arg: str) -> None:
    """Keep a copy of each PDF made from now on ("on"), or stop, deleting the copy kept ("off")."""
    s.keep = arg == "on"
    if s.keep:
        ctx.say("From now on I keep a copy of each PDF you make (encrypted, for a year). Make the PDF to keep one.")
    else:
        await pack_copy.forget(ctx.db, ctx.user.id)
        ctx.say("Stopped. " + ("The copy I kept is deleted." if s.kept else "No copy is kept."))
        s.kept = ""
    await save_choices(ctx, s)
    await ctx.go(P.HOME)


async def resend(ctx: Ctx, s: PackState, arg: str) -> None:
    """The kept PDF as it was made, not made again."""
    copy = await pack_copy.kept(ctx.db, ctx.user.id)
    if copy is None:
        s.kept = ""
        ctx.say("There is no kept copy any more.")
    else:
        ctx.say(f"📄 Your kept copy ({pack_copy.made_words(copy)}).", attachment=pack_copy.attachment(ctx.cipher, copy))
    await ctx.go(P.HOME)


async def home(ctx: Ctx, s: PackState, arg: str) -> None:
    s.editing = -1
    await ctx.go(P.HOME)


async def no_name(ctx: Ctx, s: PackState, arg: str) -> None:
    s.name = ""
    await save_choices(ctx, s)
    await ctx.go(P.HOME)


async def edit(ctx: Ctx, s: PackState, arg: str) -> None:
    if not arg.isdigit() or int(arg) >= len(s.plan):
        await ctx.go(P.HOME)
        return
    s.editing = int(arg)
    await ctx.go(P.OBJECTIVE)


async def ask_period(ctx: Ctx, s: PackState, arg: str) -> None:
    await ctx.go(P.PERIOD)


async def ask_name(ctx: Ctx, s: PackState, arg: str) -> None:
    s.editing = -1
    await ctx.go(P.NAME)


async def typed(ctx: Ctx, s: PackState, text: str) -> None:
    """The name for the cover, or an objective as the user wants it (after the identifier guard)."""
    text = " ".join(text.split())
    if not text:
        await ctx.go(P.HOME)
        return
    if ctx.step == P.NAME or (ctx.step == P.IDENTIFIERS and s.editing < 0):
        s.name = short(text, 80)
    elif 0 <= s.editing < len(s.plan):
        s.plan[s.editing].objective = short(text, 600)
        ctx.say("Objective changed.")
    s.editing = -1
    await save_choices(ctx, s)
    await ctx.go(P.HOME)


def _objective_prompt(ctx: Ctx, s: PackState) -> str:
    p = s.plan[s.editing] if 0 <= s.editing < len(s.plan) else None
    if p is None:
        return "Which objective? Go back and pick one."
    return (
        f"<b>{escape(p.title)}</b>\nNow: <i>{escape(p.objective)}</i>\n\n"
        "Type the objective as you want it (Specific, Measurable, Achievable, Relevant, Time-bound)."
    )


async def set_period(ctx: Ctx, s: PackState, arg: str) -> None:
    today = local_today(ctx.user, ctx.now)
    if arg == "last":
        s.start = None
    elif arg == "year":
        s.start = today - timedelta(days=365)
    else:
        day = parse_day(arg, today)
        if day is None or day >= today:
            ctx.say("Please give a day in the past, e.g. <i>1 April 2026</i> or 01/04/2026.")
            return
        s.start = day
    await save_choices(ctx, s)
    await ctx.go(P.HOME)


async def typed_period(ctx: Ctx, s: PackState, text: str) -> None:
    await set_period(ctx, s, text.strip().removeprefix("from ").removeprefix("since ") or "?")


BACK = {"home": home}
FLOW = Flow(
    name="pack",
    label="appraisal pack",
    state=PackState,
    names=P,
    steps={
        P.HOME: Step(
            _home_prompt,
            _home_buttons,
            {
                "make": make,
                "edit": edit,
                "period": ask_period,
                "name": ask_name,
                "noname": no_name,
                "keep": keeping,
                "resend": resend,
                "done": done,
            },
            enter=load,
            goes_to=(P.OBJECTIVE, P.PERIOD, P.NAME),
        ),
        P.PERIOD: Step(
            "Which period should the pack cover? Tap one or type the first day, e.g. <i>1 April 2026</i>.",
            fixed(
                [
                    [Button("Since my last appraisal", "set", "last")],
                    [Button("The last 12 months", "set", "year")],
                    [Button("Back", "home")],
                ]
            ),
            {"set": set_period, **BACK},
            text=typed_period,
            goes_to=(P.HOME,),
        ),
        P.NAME: free_text(
            "What name should the cover show? It is printed on your pack only.",
            typed,
            fixed([[Button("Back", "home")]]),
            BACK,
        ),
        P.OBJECTIVE: free_text(
            _objective_prompt,
            typed,
            fixed([[Button("Keep it as it is", "home")]]),
            BACK,
        ),
        P.IDENTIFIERS: identifier_step(typed),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("pack", pack_command, Kind.SWITCH)
