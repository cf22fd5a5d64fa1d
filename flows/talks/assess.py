"""/assess: rate yourself 1-5 on each item of your framework at your stage, one message each, across
days if you like; the profile by standard or domain with a radar chart (the last one overlaid), your
strengths, priorities and the change since last time (the scoring is in ``flows/rules/scoring.py``).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from html import escape
from typing import ClassVar, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, FlowState, Kind, Rows, Step
from flows.core.replies import Attachment, Button
from flows.core.steps import number
from flows.core.storage import Prepared, get_by_id
from flows.rules.areas import UNIT, UNIT_NAMES, unit_of, units
from flows.rules.gmts import END_OF_SCHEME, YEAR_ONE, personal, summarise
from flows.rules.scale import RATING_LABELS
from flows.rules.scoring import (
    achieved_by_domain,
    current_id,
    gmts_statuses,
    profile,
    strongest,
    target_level,
    weakest,
)
from flows.store.models import Assessment, User
from flows.talks.chart import radar_png
from flows.talks.common import menu_buttons, plural, stage_label, statement_for
from flows.talks.progress import long_date
from frameworks.catalogue import Catalogue

ITEM_KIND = {"mlf2025": "competency", "lf2011": "element", "gmts-gm": "competency"}
GMTS = "gmts-gm"
MEANINGS = [
    "I can't do this without help",
    "I can do parts of it with guidance",
    "I can do most of it with occasional help",
    "I can do all of it independently",
    "I do it effectively and can support others",
]
LEVELS = range(1, 6)  # GMTS levels above 0 (no work yet)


class AssessState(FlowState):
    """What the steps show, loaded from the assessment rows when a step is entered."""

    schema_version: ClassVar[int] = 2
    framework: str = ""  # "" = the user's; "gmts-gm" for /assess gmts
    assessment: int = 0  # the one under way
    position: int = 0  # mirrors the row's, so a rating button from an earlier item is stale
    total: int = 0
    started: date | None = None
    stage: str = ""
    ref: str = ""  # the item being asked, as stored
    previous: int | None = None  # what was said for it before (after Back)
    target: int | None = None  # its GMTS target level, if known
    given: int | None = None  # the target level the user gives (0: they don't know)
    last: int = 0  # the latest finished assessment, whose results the intro offers
    last_on: date | None = None
    other: int = 0  # an unfinished assessment of the other framework (GMTS, or the user's own)
    other_rated: int = 0
    other_total: int = 0


class A(StrEnum):
    """The steps of /assess."""

    RESUME = "resume"
    INTRO = "intro"
    ITEM = "item"
    TARGET = "target"


def items_for(cat: Catalogue, framework: str) -> list[str]:
    """What an assessment asks about, as stored: each item's stable key (MLF), else its id (LF)."""
    return [cat.ref(e) for e in cat.of_kind(framework, ITEM_KIND.get(framework, "competency"))]


async def _open(db: AsyncSession, user: User, framework: str) -> Assessment | None:
    """The user's unfinished assessment of a framework, if any."""
    query = (
        select(Assessment)
        .where(Assessment.user_id == user.id, Assessment.framework == framework, Assessment.finished_at.is_(None))
        .order_by(Assessment.id.desc())
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()


# Read on most screens (/reflect, /develop, /history, /assess): built once, with bind parameters (building a
# statement each time cost about as much as running it).
_FINISHED = (
    select(Assessment)
    .where(
        Assessment.user_id == bindparam("user_id"),
        Assessment.framework == bindparam("framework"),
        Assessment.finished_at.is_not(None),
    )
    .order_by(Assessment.finished_at.desc(), Assessment.id.desc())
)
_OF_TWO = select(Assessment).where(
    Assessment.user_id == bindparam("user_id"), Assessment.framework.in_(bindparam("frameworks", expanding=True))
)


async def finished(db: AsyncSession, user: User, framework: str | None = None) -> list[Assessment]:
    """Finished assessments of a framework (default: the user's), newest first."""
    params = {"user_id": user.id, "framework": framework or user.framework}
    return list((await db.execute(_FINISHED, params)).scalars())


async def _mine(
    db: AsyncSession, user: User, framework: str, other: str
) -> tuple[Assessment | None, Assessment | None, list[Assessment]]:
    """The unfinished assessment of ``framework`` and of ``other`` (the newest of each, as ``_open``), and
    the finished ones of ``framework`` (as ``finished``): one read of the user's assessments of the two."""
    rows = list((await db.execute(_OF_TWO, {"user_id": user.id, "frameworks": [framework, other]})).scalars())
    open_ = {
        f: max((a for a in rows if a.framework == f and a.finished_at is None), key=_id, default=None)
        for f in (framework, other)
    }
    done = [a for a in rows if a.framework == framework and a.finished_at is not None]
    done.sort(key=lambda a: (a.finished_at, a.id), reverse=True)
    return open_[framework], open_[other], done


def _id(row: Assessment) -> int:
    return row.id


# Read on each rating (half the events of an assessment): compiled once, run on the driver (``get_by_id``).
_ASSESSMENT = Prepared(select(*cast(Table, Assessment.__table__).c).where(Assessment.id == bindparam("id")))


async def _current(ctx: Ctx, s: AssessState) -> Assessment | None:
    """The user's unfinished assessment the state names (a finished one is never rated again)."""
    row = await get_by_id(ctx.db, Assessment, _ASSESSMENT, s.assessment)
    return row if row is not None and row.user_id == ctx.user.id and row.finished_at is None else None


# --- /assess ---------------------------------------------------------------------------------------


async def assess_command(ctx: Ctx, args: str) -> None:
    """/assess: the user's framework; /assess gmts: the Graduate Management Training Scheme's."""
    gmts = args.strip().lower() in ("gmts", GMTS)
    await ctx.start("assess", AssessState(framework=GMTS if gmts else ""), A.RESUME)


def _name(gmts: bool) -> str:
    return "GMTS competency assessment" if gmts else "self-assessment"


def _command(s: AssessState) -> str:
    return "/assess gmts" if s.framework == GMTS else "/assess"


async def load(ctx: Ctx, s: AssessState) -> None:
    """Entering ``resume``: the assessment under way, if any (else on to the intro), the last finished
    one, and one under way of the other framework (GMTS for /assess, the user's own for /assess gmts)."""
    u = ctx.user
    framework = s.framework or u.framework
    row, other, past = await _mine(ctx.db, u, framework, u.framework if s.framework == GMTS else GMTS)
    s.assessment = s.position = 0
    s.total = len(items_for(ctx.catalogue, framework))
    if row is not None and row.position > 0:
        s.assessment, s.position, s.total, s.started = row.id, row.position, len(row.items), row.started_at.date()
    s.other = other.id if other is not None and other.position > 0 else 0
    s.other_rated, s.other_total = (other.position, len(other.items)) if other is not None else (0, 0)
    s.last, s.last_on = (past[0].id, past[0].finished_at.date()) if past and past[0].finished_at else (0, None)
    if not s.assessment:
        await ctx.go(A.INTRO)


def _other(s: AssessState) -> tuple[str, Rows]:
    """The line and button offering the other framework's assessment under way (defect 5)."""
    if not s.other:
        return "", []
    name = _name(s.framework != GMTS)
    line = f"\n\nYou also have a {name} under way ({s.other_rated} of {s.other_total} rated)."
    return line, [[Button(f"Carry on my {name}", "start", str(s.other))]]


def _intro_prompt(ctx: Ctx, s: AssessState) -> str:
    last = f"\nLast one: {long_date(s.last_on)}." if s.last_on else ""
    if s.framework == GMTS:
        return (
            f"<b>GMTS competencies</b>: {plural(s.total, 'competency', 'competencies')} of the General Management "
            "framework (v2.1). For each, the level you have reached: 0 no work yet, then 1 Awareness/knowledge, "
            "2 Support, 3 Practical application, 4 Experienced practitioner, 5 Leadership. Against its target "
            "level that gives its status (not achieved, partially achieved, achieved, achieved +); personal "
            "qualities are achieved or not. Where our copy of the framework lacks a target level, I'll ask you "
            "for it once.\n\nStop whenever you like: /assess gmts carries on where you left off." + last + _other(s)[0]
        )
    u = ctx.user
    kind = ITEM_KIND.get(u.framework, "competency")
    lines = [
        f"<b>Self-assessment</b>: {plural(s.total, kind, 'competencies' if kind == 'competency' else '')} of your "
        f"framework, each as it reads at {escape(stage_label(ctx.catalogue, u.framework, u.stage))}. "
        "Rate each from 1 to 5:",
        *(f"{i}. <b>{label}</b> — {MEANINGS[i - 1]}" for i, label in enumerate(RATING_LABELS, 1)),
        "",
        "About ten minutes. Stop whenever you like: /assess carries on where you left off, even days later.",
    ]
    return "\n".join(lines) + last + _other(s)[0]


def _intro_buttons(ctx: Ctx, s: AssessState) -> Rows:
    results = [[Button("See my last results", "results", str(s.last))]] if s.last else []
    return [[Button("Start", "start")], *results, *_other(s)[1], [Button("Not now", "quit")]]


def _resume_prompt(ctx: Ctx, s: AssessState) -> str:
    started = f", started {long_date(s.started)}" if s.started else ""
    return (
        f"You have a {_name(s.framework == GMTS)} under way: {s.position} of {s.total} rated{started}. "
        "Carry on?" + _other(s)[0]
    )


def _resume_buttons(ctx: Ctx, s: AssessState) -> Rows:
    carry = [Button("Carry on", "start", str(s.assessment))]
    return [carry, [Button("Start again", "start")], *_other(s)[1], [Button("Not now", "quit")]]


async def start(ctx: Ctx, s: AssessState, arg: str) -> None:
    """Carry on with the assessment ``arg`` names, or (none named) start a new one in place of any
    unfinished one."""
    if arg.isdigit():
        s.assessment = int(arg)  # entering the item checks it is the user's
        await ctx.go(A.ITEM)
        return
    u = ctx.user
    framework = s.framework or u.framework
    old = await _open(ctx.db, u, framework)
    if old is not None:
        await ctx.db.delete(old)  # starting again replaces the unfinished one
    earlier = await finished(ctx.db, u, framework)
    row = Assessment(
        user_id=u.id,
        framework=framework,
        stage="" if framework == GMTS else u.stage,
        items=items_for(ctx.catalogue, framework),
        ratings={},
        targets=dict(earlier[0].targets) if earlier else {},  # target levels given last time
        position=0,
        started_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.db.add(row)
    await ctx.db.flush()
    s.assessment = row.id
    await ctx.go(A.ITEM)


async def quit_(ctx: Ctx, s: AssessState, arg: str) -> None:
    ctx.finish()
    n = s.position if s.assessment else 0
    kept = f" Your {plural(n, 'rating')} {'is' if n == 1 else 'are'} kept; {_command(s)} carries on." if n else ""
    ctx.say("OK." + kept, menu_buttons())


async def results(ctx: Ctx, s: AssessState, arg: str) -> None:
    ctx.finish()
    await results_click(ctx, arg)


async def results_click(ctx: Ctx, arg: str) -> None:
    """A past assessment's results and chart (from /assess, or its button in /history)."""
    row = await ctx.db.get(Assessment, int(arg)) if arg.isdigit() else None
    if row is None or row.user_id != ctx.user.id or row.finished_at is None:
        ctx.say("I couldn't find that assessment.", menu_buttons())
        return
    await show_results(ctx, row)


# --- one item at a time ------------------------------------------------------------------------------


async def load_item(ctx: Ctx, s: AssessState) -> None:
    """Entering ``item``: the item at the row's position (items gone from the catalogue are passed over);
    past the last one, the assessment is finished and its results shown."""
    row = await _current(ctx, s)
    if row is None:
        await ctx.go(A.RESUME)
        return
    cat = ctx.catalogue
    while row.position < len(row.items) and cat.resolve(row.items[row.position]) is None:
        row.position += 1
    if row.position >= len(row.items):
        row.finished_at = ctx.now
        await ctx.db.flush()
        ctx.finish()
        await show_results(ctx, row)
        return
    s.framework = GMTS if row.framework == GMTS else ""
    s.position, s.total, s.stage, s.ref = row.position, len(row.items), row.stage, row.items[row.position]
    s.previous = row.ratings.get(s.ref)
    s.target = target_level(cat, row, current_id(cat, s.ref), s.ref) if row.framework == GMTS else None


def _item_prompt(ctx: Ctx, s: AssessState) -> str:
    cat = ctx.catalogue
    entry = cat.get(current_id(cat, s.ref))
    unit = unit_of(cat, entry.id)
    head = f"<b>{s.position + 1} of {s.total}</b> · {escape(cat.by_id[unit].title if unit else '')}\n"
    if s.framework == GMTS:
        comp = cat.gmts_competency(entry.id)
        kind = f" · {comp.type}" if comp is not None else ""
        note = f"\n(You said {s.previous}.)" if s.previous is not None else ""
        text = f"{head}<b>{escape(entry.code or '')}</b>{kind}: {escape(entry.title)}"
        if personal(entry.id):
            return f"{text}\n\nPersonal quality: signed off from your reflective piece. Achieved?{note}"
        aim = f"Target level: {s.target}." if s.target else "Target level: not in our copy of the framework."
        return f"{text}\n{aim}\n\nWhich level have you reached (signed off)?{note}"
    statement = statement_for(cat, entry.id, s.stage)
    text = statement.text if statement is not None else entry.text
    stage = stage_label(cat, entry.framework, statement.stage or s.stage) if statement else ""
    note = f"\n(You said {s.previous} {RATING_LABELS[s.previous - 1]}.)" if s.previous else ""
    return (
        f"{head}<b>{escape(entry.code or '')} {escape(entry.title)}</b>\n"
        f"<i>{escape(stage)}:</i> {escape(text)}\n\nHow well does this describe you now?{note}"
    )


def _item_buttons(ctx: Ctx, s: AssessState) -> Rows:
    """The scale: 1-5 (MLF, LF), achieved or not (GMTS personal qualities), or GMTS levels 0-5. "Not sure"
    records nothing for GMTS (where 0 is a level) and 0 elsewhere (left out of the scores)."""
    cat = ctx.catalogue
    if s.framework != GMTS:
        scale = [[Button(f"{i} {label}", "rate", str(i))] for i, label in enumerate(RATING_LABELS, 1)]
        unsure = "0"
    elif personal(current_id(cat, s.ref)):
        scale, unsure = [[Button("Achieved", "rate", "1"), Button("Not achieved", "rate", "0")]], ""
    else:
        levels = [(0, "No work yet"), *((n, cat.by_id[f"gmts-gm.level.{n}"].title.split(": ", 1)[-1]) for n in LEVELS)]
        scale, unsure = [[Button(f"{n} {label}", "rate", str(n))] for n, label in levels], ""
    return [
        *scale,
        [Button("Not sure / skip", "rate", unsure)],
        [Button("Back", "back"), Button("Stop for now", "quit")],
    ]


async def rate(ctx: Ctx, s: AssessState, arg: str) -> None:
    row = await _current(ctx, s)
    valid = arg == "" or (arg.isdigit() and int(arg) <= 5)
    if row is None or row.position >= len(row.items) or not valid:
        await ctx.go(A.ITEM)
        return
    ref = row.items[row.position]
    if arg:
        row.ratings = {**row.ratings, ref: int(arg)}
    else:
        row.ratings = {k: v for k, v in row.ratings.items() if k != ref}
    item_id = current_id(ctx.catalogue, ref)
    asks = row.framework == GMTS and arg not in ("", "0") and not personal(item_id) and s.target is None
    if asks and ref not in row.targets:  # "I don't know" once is enough
        s.given = None
        await ctx.go(A.TARGET)
        return
    await _next(ctx, row)


async def _next(ctx: Ctx, row: Assessment) -> None:
    row.position += 1
    row.updated_at = ctx.now
    await ctx.go(A.ITEM)


async def back(ctx: Ctx, s: AssessState, arg: str) -> None:
    row = await _current(ctx, s)
    if row is not None and row.position > 0:
        row.position -= 1
    await ctx.go(A.ITEM)


async def save_target(ctx: Ctx, s: AssessState) -> None:
    row = await _current(ctx, s)
    if row is None or row.position >= len(row.items):
        await ctx.go(A.ITEM)
        return
    row.targets = {**row.targets, row.items[row.position]: s.given or 0}
    await _next(ctx, row)


def _target_prompt(ctx: Ctx, s: AssessState) -> str:
    entry = ctx.catalogue.resolve(s.ref)
    code = entry.code if entry is not None else ""
    return (
        f"What target level does your scheme's framework set for {escape(code or '')}? (It is shown in orange.) "
        "I'll remember it for next time."
    )


# --- results ---------------------------------------------------------------------------------------


async def _gmts_results(ctx: Ctx, row: Assessment) -> None:
    cat = ctx.catalogue
    ids, levels, targets = gmts_statuses(cat, row)
    summary = summarise(ids, levels, targets)
    when = (row.finished_at or ctx.now).date()
    counts = " · ".join(
        f"{name} {summary.counts.get(name, 0)}"
        for name in ("not achieved", "partially achieved", "achieved", "achieved +")
    )
    lines = [
        f"<b>Your GMTS competencies</b> · {long_date(when)}",
        f"Achieved (or achieved +): <b>{summary.achieved} of {summary.total}</b> ({summary.share:.0%}). The scheme "
        f"expects about {YEAR_ONE:.0%} by the end of year one and {END_OF_SCHEME:.0%} by the end of the scheme "
        "to graduate.",
        f"{counts}"
        + (f" · target level not known {summary.unknown}" if summary.unknown else "")
        + (f" · not rated {summary.unrated}" if summary.unrated else ""),
        "",
        "By domain (achieved of all):",
    ]
    domains = units(cat, "lf2011")
    now = achieved_by_domain(cat, row)
    for d in domains:
        done, total = now.get(d, (0, 0))
        lines.append(f"• {escape(cat.by_id[d].title)}: {done} of {total}")
    earlier = [a for a in await finished(ctx.db, ctx.user, GMTS) if a.id < row.id]
    before = achieved_by_domain(cat, earlier[0]) if earlier else None
    labels = [cat.by_id[d].title for d in domains]

    def scaled(data: dict[str, tuple[int, int]]) -> list[float | None]:
        return [5 * data[d][0] / data[d][1] if data.get(d, (0, 0))[1] else None for d in domains]

    current, previous = scaled(now), scaled(before) if before is not None else None
    chart = Attachment(
        f"gmts-{row.id}.png",
        b"",
        kind="photo",
        caption="Share of each domain's competencies achieved (the edge is all)"
        + (" (dashed: last time)" if previous else ""),
        render=lambda: radar_png(labels, current, previous),
    )
    ctx.say("\n".join(lines), attachment=chart)


async def show_results(ctx: Ctx, row: Assessment) -> None:
    if row.framework == GMTS:
        await _gmts_results(ctx, row)
        return
    cat = ctx.catalogue
    now = profile(cat, row)
    earlier = [a for a in await finished(ctx.db, ctx.user, row.framework) if a.id < row.id]
    before = profile(cat, earlier[0]) if earlier else None
    name = UNIT_NAMES.get(UNIT.get(row.framework, "standard"), "areas")
    title = {u: cat.by_id[u].title for u in now.units}
    lines = [
        f"<b>Your self-assessment</b> · {long_date(row.finished_at.date() if row.finished_at else ctx.now.date())}"
    ]
    lines.append(f"Average by {name[:-1]} (1–5), {len(now.items)} of {len(row.items)} items rated:")
    for u in now.units:
        score = now.scores.get(u)
        change = ""
        if before is not None and score is not None and u in before.scores:
            delta = score - before.scores[u]
            change = f" ({delta:+.1f})" if abs(delta) >= 0.05 else " (same)"
        lines.append(f"• {escape(title[u])}: {f'{score:.1f}' if score is not None else '–'}{change}")
    top, low = strongest(now), weakest(now)
    if top:
        lines.append("\n<b>Strengths:</b> " + "; ".join(escape(title[u]) for u in top))
    if low:
        lines.append("<b>Development priorities:</b> " + "; ".join(escape(title[u]) for u in low))
    if before is not None and earlier[0].finished_at is not None:
        lines.append(f"Compared with {long_date(earlier[0].finished_at.date())} (dashed on the chart).")
    labels = [title[u] for u in now.units]
    current = [now.scores.get(u) for u in now.units]
    previous = [before.scores.get(u) for u in now.units] if before is not None else None
    chart = Attachment(
        f"self-assessment-{row.id}.png",
        b"",
        kind="photo",
        caption="Your profile" + (" (dashed: last time)" if previous else ""),
        render=lambda: radar_png(labels, current, previous),
    )
    ctx.say("\n".join(lines), attachment=chart)
    buttons = [[Button("Development ideas", "m", "develop", scoped=False)], *menu_buttons()[:1]]
    ctx.say("/develop suggests what would help most with your priorities.", buttons)


async def latest_weak_units(db: AsyncSession, cat: Catalogue, user: User) -> list[str]:
    """The weakest areas of the user's latest self-assessment (the reflection suggestion aims there)."""
    past = await finished(db, user)
    return weakest(profile(cat, past[0])) if past else []


FLOW = Flow(
    name="assess",
    label="self-assessment",
    state=AssessState,
    names=A,
    steps={
        A.RESUME: Step(_resume_prompt, _resume_buttons, {"start": start, "quit": quit_}, enter=load),
        A.INTRO: Step(_intro_prompt, _intro_buttons, {"start": start, "results": results, "quit": quit_}),
        A.ITEM: Step(
            _item_prompt,
            _item_buttons,
            {"rate": rate, "back": back, "quit": quit_},
            enter=load_item,
            screen=lambda s: f"{s.assessment}:{s.position}",
        ),
        A.TARGET: number(
            _target_prompt,
            into="given",
            low=0,
            high=5,
            what="the target level (0 if you don't know)",
            presets=[*((str(n), n) for n in LEVELS), ("I don't know", 0)],
            per_row=5,
            then=save_target,
        ),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("assess", assess_command, Kind.SWITCH)
    engine.click("ar", results_click, Kind.OVERLAY)
