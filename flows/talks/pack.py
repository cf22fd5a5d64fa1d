"""/pack: the appraisal pack. The user sees what it will hold, can change the period, put their name on the
cover and edit each priority's draft SMART objective, then gets a PDF with Markdown and a CSV of the CPD
log beside it. Their choices are kept (encrypted) so a share link (``flows/share.py``) makes the same pack;
the PDF itself is never stored."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from html import escape

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.crypto import Cipher
from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step
from flows.core.replies import Attachment, Button
from flows.core.steps import fixed, free_text
from flows.rules.parse import parse_day
from flows.rules.schedule import Round
from flows.rules.smart import Priority, draft_objective
from flows.store.models import PackChoice, User
from flows.talks.common import ends, menu_buttons, plural, short
from flows.talks.pack_data import PackData, default_start, gather, priorities
from flows.talks.pack_text import caption, cpd_csv, long_day, markdown
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


class Choices(BaseModel):
    """What is kept between /pack and a share link: the user's own choices, no more."""

    start: date | None = None
    name: str = ""
    objectives: dict[str, str] = Field(default_factory=dict)  # unit id -> the objective as the user edited it


async def pack_command(ctx: Ctx, args: str) -> None:
    await ctx.start("pack", PackState(), P.HOME)


async def load_choices(db: AsyncSession, cipher: Cipher, user: User) -> Choices:
    row = await db.get(PackChoice, user.id)
    return Choices.model_validate(cipher.decrypt_json(row.choices_enc)) if row is not None else Choices()


async def save_choices(ctx: Ctx, s: PackState, made: bool = False) -> None:
    choices = Choices(
        start=s.start, name=s.name, objectives={p.unit: p.objective for p in s.plan if p.objective != _draft(ctx, p)}
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
    s.start, s.name, s.loaded = choices.start, choices.name, True
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
        lines.append("No development priorities yet: a self-assessment (/assess) suggests them.")
    lines += ["", "The PDF comes with a Markdown copy and your CPD log as CSV."]
    return "\n".join(lines)


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
    return [
        [Button("Make the PDF", "make")],
        *edits,
        [Button("Change the period", "period"), name],
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
    send_pack(ctx, data)
    ctx.finish()
    ctx.say("That's your pack. /pack changes it; /share sends it to your appraiser.", menu_buttons()[:1])


def apply_choices(data: PackData, name: str, objectives: dict[str, str], review: date) -> None:
    """The user's name (if they added it) and objectives (as edited, else the drafts) into the pack."""
    data.name = name
    for item in data.plan:
        item.objective = objectives.get(item.priority.unit) or draft_objective(item.priority, review)


def send_pack(ctx: Ctx, data: PackData) -> None:
    """The PDF (drawn off the event loop when sent), the Markdown and the CSV, as documents."""
    from flows.talks.pdf import render_pdf  # fpdf2 is imported only when a pack is made, not at start-up

    chart = None
    if data.assessment is not None:
        a = data.assessment

        def chart() -> bytes:
            from flows.talks.chart import radar_png

            return radar_png(a.labels, a.current, a.before)

    day = data.made.isoformat()
    pdf = Attachment(f"appraisal-pack-{day}.pdf", b"", caption=caption(data), render=lambda: render_pdf(data, chart))
    ctx.say(f"📄 {escape(caption(data))}", attachment=pdf)
    ctx.say(
        "The same as Markdown, for portals that take text.",
        attachment=_file(f"appraisal-pack-{day}.md", markdown(data)),
    )
    ctx.say(
        f"Your CPD log ({plural(len(data.activities), 'activity', 'activities')}) as CSV.",
        attachment=_file(f"cpd-log-{day}.csv", cpd_csv(data)),
    )


def _file(name: str, text: str) -> Attachment:
    return Attachment(name, text.encode("utf-8"))


done = ends("OK. /pack makes your appraisal pack any time.")


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
            {"make": make, "edit": edit, "period": ask_period, "name": ask_name, "noname": no_name, "done": done},
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
