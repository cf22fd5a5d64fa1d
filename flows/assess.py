"""/assess: rate yourself 1-5 on each item of your framework at your stage, one message each, across
days if you like; the profile by standard or domain with a radar chart (the last one overlaid), your
strengths, priorities and the change since last time. /develop: what to do about the weakest areas.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from html import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.chart import radar_png
from flows.common import RATING_LABELS, menu_buttons, short, stage_label, statement_for
from flows.cpd import UNIT, UNIT_NAMES, local_today, long_date, unit_of, units, years_on
from flows.engine import Engine
from flows.flow import Ctx, Flow, FlowState, Kind, Step
from flows.gmts import END_OF_SCHEME, YEAR_ONE, personal, status, summarise
from flows.models import Assessment, CpdTarget, User
from flows.replies import Attachment, Button
from frameworks.catalogue import Catalogue
from frameworks.schema import Programme

ITEM_KIND = {"mlf2025": "competency", "lf2011": "element", "gmts-gm": "competency"}
GMTS = "gmts-gm"
MEANINGS = [
    "I can't do this without help",
    "I can do parts of it with guidance",
    "I can do most of it with occasional help",
    "I can do all of it independently",
    "I do it effectively and can support others",
]
FORMAL = ("programme", "course", "elearning")
FROM_OTHERS = ("coaching", "network")


class AssessState(FlowState):
    assessment: int = 0
    position: int = 0  # mirrors the row's, so a rating button from an earlier item is stale
    framework: str = ""  # "" = the user's; "gmts-gm" for /assess gmts


def items_for(cat: Catalogue, framework: str) -> list[str]:
    """What an assessment asks about, as stored: each item's stable key (MLF), else its id (LF)."""
    return [cat.ref(e) for e in cat.of_kind(framework, ITEM_KIND.get(framework, "competency"))]


def current_id(cat: Catalogue, ref: str) -> str:
    """The item's id in today's catalogue (a stored key survives renumbering)."""
    entry = cat.resolve(ref)
    return entry.id if entry is not None else ref


async def _open(db: AsyncSession, user: User, framework: str) -> Assessment | None:
    """The user's unfinished assessment of a framework, if any."""
    query = (
        select(Assessment)
        .where(Assessment.user_id == user.id, Assessment.framework == framework, Assessment.finished_at.is_(None))
        .order_by(Assessment.id.desc())
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def finished(db: AsyncSession, user: User, framework: str | None = None) -> list[Assessment]:
    """Finished assessments of a framework (default: the user's), newest first."""
    query = (
        select(Assessment)
        .where(
            Assessment.user_id == user.id,
            Assessment.framework == (framework or user.framework),
            Assessment.finished_at.is_not(None),
        )
        .order_by(Assessment.finished_at.desc(), Assessment.id.desc())
    )
    return list((await db.execute(query)).scalars())


async def _current(ctx: Ctx, s: AssessState) -> Assessment | None:
    row = await ctx.db.get(Assessment, s.assessment)
    return row if row is not None and row.user_id == ctx.user.id else None


# --- /assess ---------------------------------------------------------------------------------------


async def assess_command(ctx: Ctx, args: str) -> None:
    """/assess: the user's framework; /assess gmts: the Graduate Management Training Scheme's."""
    framework = GMTS if args.strip().lower() in ("gmts", GMTS) else ctx.user.framework
    row = await _open(ctx.db, ctx.user, framework)
    chosen = framework if framework == GMTS else ""
    if row is not None and row.position > 0:
        await ctx.start("assess", AssessState(assessment=row.id, framework=chosen), "resume")
        return
    await ctx.start("assess", AssessState(framework=chosen), "intro")


async def ask_intro(ctx: Ctx, s: AssessState) -> None:
    u = ctx.user
    if s.framework == GMTS:
        n = len(items_for(ctx.catalogue, GMTS))
        ctx.say(
            f"<b>GMTS competencies</b>: {n} competencies of the General Management framework (v2.1). For each, "
            "the level you have reached: 0 no work yet, then 1 Awareness/knowledge, 2 Support, 3 Practical "
            "application, 4 Experienced practitioner, 5 Leadership. Against its target level that gives its "
            "status (not achieved, partially achieved, achieved, achieved +); personal qualities are achieved "
            "or not. Where our copy of the framework lacks a target level, I'll ask you for it once.\n\n"
            "Stop whenever you like: /assess gmts carries on where you left off.",
            [[Button("Start", "start")], [Button("Not now", "quit")]],
        )
        return
    n = len(items_for(ctx.catalogue, u.framework))
    name = "competencies" if u.framework == "mlf2025" else "elements"
    past = await finished(ctx.db, u)
    lines = [
        f"<b>Self-assessment</b>: {n} {name} of your framework, each as it reads at "
        f"{escape(stage_label(ctx.catalogue, u.framework, u.stage))}. Rate each from 1 to 5:",
        *(f"{i}. <b>{label}</b> — {MEANINGS[i - 1]}" for i, label in enumerate(RATING_LABELS, 1)),
        "",
        "About ten minutes. Stop whenever you like: /assess carries on where you left off, even days later.",
    ]
    buttons = [[Button("Start", "start")]]
    if past:
        lines.append(f"Last one: {long_date(past[0].finished_at.date())}." if past[0].finished_at else "")
        buttons.append([Button("See my last results", "results", str(past[0].id))])
    buttons.append([Button("Not now", "quit")])
    ctx.say("\n".join(lines), buttons)


async def ask_resume(ctx: Ctx, s: AssessState) -> None:
    row = await _current(ctx, s)
    if row is None:
        await ctx.go("intro")
        return
    ctx.say(
        f"You have a self-assessment under way: {row.position} of {len(row.items)} rated, "
        f"started {long_date(row.started_at.date())}. Carry on?",
        [[Button("Carry on", "carry")], [Button("Start again", "start")], [Button("Not now", "quit")]],
    )


async def start(ctx: Ctx, s: AssessState, arg: str) -> None:
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
    s.assessment, s.position = row.id, 0
    await ctx.go("item")


async def carry(ctx: Ctx, s: AssessState, arg: str) -> None:
    row = await _current(ctx, s)
    s.position = row.position if row is not None else 0
    await ctx.go("item")


async def quit_(ctx: Ctx, s: AssessState, arg: str) -> None:
    ctx.finish()
    row = await _current(ctx, s)
    kept = f" Your {row.position} ratings are kept; /assess carries on." if row is not None and row.position else ""
    ctx.say("OK." + kept, menu_buttons())


async def ask_item(ctx: Ctx, s: AssessState) -> None:
    row = await _current(ctx, s)
    if row is None or row.position >= len(row.items):
        await ctx.go("intro")
        return
    cat = ctx.catalogue
    ref = row.items[row.position]
    entry = cat.resolve(ref)
    item_id = entry.id if entry is not None else ref
    if entry is None:  # an item no longer in the catalogue: skip it
        row.position += 1
        s.position = row.position
        await ctx.go("item")
        return
    if row.framework == GMTS:
        _ask_gmts(ctx, row, entry.id, ref)
        return
    unit = unit_of(cat, item_id)
    area = cat.by_id[unit].title if unit else ""
    statement = statement_for(cat, item_id, row.stage)
    text = statement.text if statement is not None else entry.text
    stage = stage_label(cat, row.framework, statement.stage or row.stage) if statement else ""
    previous = row.ratings.get(ref)
    note = f"\n(You said {previous} {RATING_LABELS[previous - 1]}.)" if previous else ""
    ctx.say(
        f"<b>{row.position + 1} of {len(row.items)}</b> · {escape(area)}\n"
        f"<b>{escape(entry.code or '')} {escape(entry.title)}</b>\n"
        f"<i>{escape(stage)}:</i> {escape(text)}\n\nHow well does this describe you now?{note}",
        [
            *([Button(f"{i} {label}", "rate", str(i))] for i, label in enumerate(RATING_LABELS, 1)),
            [Button("Not sure / skip", "skip")],
            [Button("Back", "back"), Button("Stop for now", "quit")],
        ],
    )


async def rate(ctx: Ctx, s: AssessState, arg: str) -> None:
    row = await _current(ctx, s)
    if row is None or not arg.isdigit() or not 0 <= int(arg) <= 5 or row.position >= len(row.items):
        return
    ref = row.items[row.position]
    row.ratings = {**row.ratings, ref: int(arg)}
    asks_target = False
    if row.framework == GMTS and int(arg) > 0:
        item_id = current_id(ctx.catalogue, ref)
        asks_target = not personal(item_id) and _target(ctx.catalogue, row, item_id, ref) is None
        asks_target = asks_target and ref not in row.targets  # "I don't know" once is enough
    await _advance(ctx, s, row, then="target" if asks_target else None)


async def _advance(ctx: Ctx, s: AssessState, row: Assessment, then: str | None = None) -> None:
    row.position += 1
    row.updated_at = ctx.now
    s.position = row.position
    if then is not None:
        await ctx.go(then)
        return
    await _continue(ctx, s, row)


async def _continue(ctx: Ctx, s: AssessState, row: Assessment) -> None:
    if row.position < len(row.items):
        await ctx.go("item")
        return
    row.finished_at = ctx.now
    await ctx.db.flush()
    ctx.finish()
    await show_results(ctx, row)


async def back(ctx: Ctx, s: AssessState, arg: str) -> None:
    row = await _current(ctx, s)
    if row is not None and row.position > 0:
        row.position -= 1
        s.position = row.position
    await ctx.go("item")


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


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    units: list[str]  # standard or domain ids, in framework order
    scores: dict[str, float]  # average rating per unit (units with nothing rated are missing)
    items: dict[str, int]  # rating per item id (skipped items left out)


def profile(cat: Catalogue, row: Assessment) -> Profile:
    by_unit: dict[str, list[int]] = {}
    ratings = {current_id(cat, ref): rating for ref, rating in row.ratings.items()}
    for item, rating in ratings.items():
        unit = unit_of(cat, item)
        if rating and unit is not None:
            by_unit.setdefault(unit, []).append(rating)
    order = units(cat, row.framework)
    return Profile(
        order,
        {u: statistics.fmean(by_unit[u]) for u in order if u in by_unit},
        {i: r for i, r in ratings.items() if r},
    )


def weakest(p: Profile, count: int = 3) -> list[str]:
    """The lowest-scored areas (below 4), lowest first; ties in framework order."""
    ranked = sorted((score, p.units.index(u), u) for u, score in p.scores.items() if score < 4)
    return [u for _, _, u in ranked[:count]]


def strongest(p: Profile, count: int = 2) -> list[str]:
    ranked = sorted((-score, p.units.index(u), u) for u, score in p.scores.items() if score >= 3)
    return [u for _, _, u in ranked[:count]]


def gmts_statuses(cat: Catalogue, row: Assessment) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """(competency ids asked, level per rated competency, known target per competency)."""
    ids = [current_id(cat, ref) for ref in row.items]
    levels = {current_id(cat, ref): level for ref, level in row.ratings.items()}
    targets = {}
    for ref, item in zip(row.items, ids, strict=True):
        target = _target(cat, row, item, ref)
        if target:
            targets[item] = target
    return ids, levels, targets


def _achieved_by_domain(cat: Catalogue, row: Assessment) -> dict[str, tuple[int, int]]:
    """(achieved, competencies) per LF domain."""
    ids, levels, targets = gmts_statuses(cat, row)
    out: dict[str, tuple[int, int]] = {}
    for item in ids:
        domain = unit_of(cat, item) or ""
        found = status(levels[item], targets.get(item), personal(item)) if item in levels else None
        done, total = out.get(domain, (0, 0))
        out[domain] = (done + (found in ("achieved", "achieved +")), total + 1)
    return out


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
    now = _achieved_by_domain(cat, row)
    for d in domains:
        done, total = now.get(d, (0, 0))
        lines.append(f"• {escape(cat.by_id[d].title)}: {done} of {total}")
    earlier = [a for a in await finished(ctx.db, ctx.user, GMTS) if a.id < row.id]
    before = _achieved_by_domain(cat, earlier[0]) if earlier else None
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


# --- /develop --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recommendation:
    unit: str
    reason: str
    on_the_job: str
    from_others: Programme | None
    formal: Programme | None


def _fits(p: Programme, unit: str, stage: str) -> bool:
    return unit in p.develops and stage in p.stages


def recommend(cat: Catalogue, row: Assessment, stage: str, count: int = 3) -> list[Recommendation]:
    """For each of the weakest areas: one thing to do at work, one way to learn from others and one
    formal course, each tagged for that area and suitable for the stage. Deterministic."""
    p = profile(cat, row)
    asked = [current_id(cat, ref) for ref in row.items]
    programmes = cat.programmes.entries
    out = []
    for unit in weakest(p, count):
        entry = cat.by_id[unit]
        kind = UNIT.get(row.framework, "standard")
        reason = (
            f"your lowest {kind}s include {entry.title} ({p.scores[unit]:.1f} of 5) at "
            f"{stage_label(cat, row.framework, stage)}"
        )
        # The lowest-rated item in that area: practise what its statement at your stage describes.
        rated = sorted((r, asked.index(i), i) for i, r in p.items.items() if unit_of(cat, i) == unit)
        item = rated[0][2] if rated else next(i for i in asked if unit_of(cat, i) == unit)
        statement = statement_for(cat, item, stage)
        practise = statement.text if statement is not None else cat.by_id[item].text
        others = [x for x in programmes if x.kind in FROM_OTHERS and _fits(x, unit, stage)]
        formal = [x for x in programmes if x.kind in FORMAL and _fits(x, unit, stage)]
        formal.sort(key=lambda x: x.positive_action)  # open to all first; positive action says who it is for
        coaching = next((x for x in programmes if x.code == "coaching-register"), None)
        out.append(
            Recommendation(
                unit,
                reason,
                f"{cat.by_id[item].title}: {practise}",
                others[0] if others else coaching,
                formal[0] if formal else None,
            )
        )
    return out


def _programme_line(p: Programme) -> str:
    facts = [x for x in (p.duration, p.cost) if x]
    line = f"<b>{escape(p.title)}</b> ({escape(p.provider)})" + (f" — {escape('; '.join(facts))}" if facts else "")
    if p.positive_action:  # positive action: always said who it is for
        line += f"\n  Who it is for: {escape(p.eligibility or 'see the programme page')} (positive action)"
    if p.url:
        line += f"\n  {escape(p.url)}"
    return line


async def develop_command(ctx: Ctx, args: str) -> None:
    past = await finished(ctx.db, ctx.user)
    if not past:
        ctx.say(
            "Development ideas come from your self-assessment, so I know which areas to aim at. "
            "/assess takes about ten minutes.",
            [[Button("Start a self-assessment", "m", "assess", scoped=False)]],
        )
        return
    recs = recommend(ctx.catalogue, past[0], ctx.user.stage)
    if not recs:
        ctx.say("You rated every area 4 or more — no development priorities stand out. /assess again any time.")
        return
    lines = ["<b>Development ideas</b> for your priorities (70% at work, 20% from others, 10% formal learning)"]
    buttons = []
    for r in recs:
        lines += ["", f"<b>{escape(ctx.catalogue.by_id[r.unit].title)}</b> — because {escape(r.reason)}."]
        lines.append(f"• At work: {escape(r.on_the_job)}")
        if r.from_others is not None:
            lines.append("• From others: " + _programme_line(r.from_others))
        if r.formal is not None:
            lines.append("• Formal: " + _programme_line(r.formal))
            code = r.formal.code
            buttons.append([Button(short(f"Make {r.formal.title} a CPD target", 60), "dev", code, scoped=False)])
    ctx.say("\n".join(lines), [*buttons, *menu_buttons()[:1]])


async def target_click(ctx: Ctx, code: str) -> None:
    """ "Make it a CPD target": finish the programme within a year."""
    entry = ctx.catalogue.by_id.get(f"programmes.{code}")
    if entry is None:
        return
    today = local_today(ctx.user, ctx.now)
    ctx.db.add(
        CpdTarget(
            user_id=ctx.user.id,
            kind="programme",
            programme=entry.id,
            starts_on=today,
            ends_on=years_on(today, 1),
            created_at=ctx.now,
        )
    )
    await ctx.db.flush()
    from flows.nudges import reschedule

    await reschedule(ctx, kinds=("cpd_pace",))
    ctx.say(
        f"Added to /cpd: finish {escape(entry.title)} by {long_date(years_on(today, 1))}. Change it there any time."
    )


async def latest_weak_units(db: AsyncSession, cat: Catalogue, user: User) -> list[str]:
    """The weakest areas of the user's latest self-assessment (the reflection suggestion aims there)."""
    past = await finished(db, user)
    return weakest(profile(cat, past[0])) if past else []


def _ask_gmts(ctx: Ctx, row: Assessment, item_id: str, ref: str) -> None:
    cat = ctx.catalogue
    entry = cat.get(item_id)
    comp = cat.gmts_competency(item_id)
    unit = unit_of(cat, item_id)
    target = _target(cat, row, item_id, ref)
    head = f"<b>{row.position + 1} of {len(row.items)}</b> · {escape(cat.by_id[unit].title if unit else '')}"
    kind = f" · {comp.type}" if comp is not None else ""
    previous = row.ratings.get(ref)
    note = f"\n(You said {previous}.)" if previous is not None else ""
    text = f"{head}\n<b>{escape(entry.code or '')}</b>{kind}: {escape(entry.title)}"
    if personal(item_id):
        ctx.say(
            f"{text}\n\nPersonal quality: signed off from your reflective piece. Achieved?{note}",
            [
                [Button("Achieved", "rate", "1"), Button("Not achieved", "rate", "0")],
                [Button("Not sure / skip", "skip")],
                [Button("Back", "back"), Button("Stop for now", "quit")],
            ],
        )
        return
    aim = f"Target level: {target}." if target else "Target level: not in our copy of the framework."
    levels = [(0, "No work yet"), *((n, cat.by_id[f"gmts-gm.level.{n}"].title.split(": ", 1)[-1]) for n in range(1, 6))]
    ctx.say(
        f"{text}\n{aim}\n\nWhich level have you reached (signed off)?{note}",
        [
            *([Button(f"{n} {label}", "rate", str(n))] for n, label in levels),
            [Button("Not sure / skip", "skip")],
            [Button("Back", "back"), Button("Stop for now", "quit")],
        ],
    )


def _target(cat: Catalogue, row: Assessment, item_id: str, ref: str) -> int | None:
    """The competency's target level: the framework's where our copy has it, else the one the user gave."""
    comp = cat.gmts_competency(item_id)
    if comp is not None and comp.target_level:
        return int(comp.target_level)
    given = row.targets.get(ref)
    return given if given else None


async def skip(ctx: Ctx, s: AssessState, arg: str) -> None:
    """Not sure: nothing recorded for it (GMTS levels start at 0, so 0 can't mean "not sure" there)."""
    row = await _current(ctx, s)
    if row is None or row.position >= len(row.items):
        return
    if row.framework != GMTS:
        await rate(ctx, s, "0")
        return
    row.ratings = {k: v for k, v in row.ratings.items() if k != row.items[row.position]}
    await _advance(ctx, s, row)


async def ask_target(ctx: Ctx, s: AssessState) -> None:
    row = await _current(ctx, s)
    if row is None or s.position == 0:
        await ctx.go("item")
        return
    entry = ctx.catalogue.resolve(row.items[s.position - 1])
    code = entry.code if entry is not None else ""
    ctx.say(
        f"What target level does your scheme's framework set for {escape(code or '')}? (It is shown in orange.) "
        "I'll remember it for next time.",
        [[Button(str(n), "target", str(n)) for n in range(1, 6)], [Button("I don't know", "target", "0")]],
    )


async def set_target(ctx: Ctx, s: AssessState, arg: str) -> None:
    row = await _current(ctx, s)
    if row is None or not arg.isdigit() or not 0 <= int(arg) <= 5 or s.position == 0:
        return
    row.targets = {**row.targets, row.items[s.position - 1]: int(arg)}
    await _continue(ctx, s, row)


def _item_screen(s: AssessState) -> str:
    return f"{s.assessment}:{s.position}"


FLOW = Flow(
    name="assess",
    label="self-assessment",
    state=AssessState,
    steps={
        "intro": Step(ask_intro, {"start": start, "results": results, "quit": quit_}),
        "resume": Step(ask_resume, {"carry": carry, "start": start, "quit": quit_}),
        "item": Step(ask_item, {"rate": rate, "skip": skip, "back": back, "quit": quit_}, screen=_item_screen),
        "target": Step(ask_target, {"target": set_target}, screen=lambda s: "t" + _item_screen(s)),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("assess", assess_command, Kind.SWITCH)
    engine.command("develop", develop_command, Kind.OVERLAY)
    engine.click("dev", target_click, Kind.OVERLAY)
    engine.click("ar", results_click, Kind.OVERLAY)
