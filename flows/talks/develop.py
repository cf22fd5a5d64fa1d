"""/develop: for each of the weakest areas of the latest self-assessment, one thing to practise at work,
one way to learn from others and one formal course, each with its reason, and the areas colleagues rate
lowest in the newest 360° results; one tap saves a course as a CPD target."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from html import escape

from sqlalchemy import select

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, FlowState, Kind, Rows, Step
from flows.core.replies import Button
from flows.rules.areas import UNIT, unit_of
from flows.rules.recommend import FORMAL, FROM_OTHERS, fits, programme_line
from flows.rules.scoring import current_id, profile, weakest
from flows.store.models import Assessment, CpdTarget
from flows.talks.assess import finished
from flows.talks.common import menu_buttons, short, stage_label, statement_for
from flows.talks.feedback_results import develop_note
from flows.talks.progress import local_today, long_date, target_changed, years_on
from frameworks.catalogue import Catalogue
from frameworks.schema import Programme


@dataclass(frozen=True)
class Recommendation:
    unit: str
    reason: str
    item: str  # the lowest-rated competency or element in the area
    on_the_job: str  # something to do at work: an improvement method, a GMTS example activity, else the statement
    from_others: Programme | None
    formal: Programme | None


def recommend(
    cat: Catalogue, row: Assessment, stage: str, count: int = 3, profession: str = ""
) -> list[Recommendation]:
    """For each of the weakest areas: one thing to do at work, one way to learn from others and one
    formal course, each tagged for that area and suitable for the stage. Deterministic."""
    p = profile(cat, row)
    asked = [current_id(cat, ref) for ref in row.items]
    programmes = cat.programmes.entries
    out: list[Recommendation] = []
    used: set[str] = set()  # a programme offered for one priority is not offered again for the next
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
        fresh = [x for x in programmes if x.code not in used and fits(x, unit, stage) and _for(x, profession)]
        method = next((x for x in fresh if x.kind == "method" and x.leadcoach_note), None)
        others = sorted((x for x in fresh if x.kind in FROM_OTHERS), key=lambda x: profession not in x.professions)
        formal = sorted((x for x in fresh if x.kind in FORMAL), key=lambda x: x.positive_action)  # open to all first
        coaching = next((x for x in programmes if x.code == "coaching-register" and x.code not in used), None)
        pick = Recommendation(
            unit,
            reason,
            item,
            _at_work(cat, item, stage, method),
            others[0] if others else coaching,
            formal[0] if formal else None,
        )
        used.update(x.code for x in (pick.from_others, pick.formal, method) if x is not None)
        out.append(pick)
    return out


def _for(p: Programme, profession: str) -> bool:
    """A professional body for some professions only is offered to those (to anyone while not known)."""
    return not p.professions or not profession or profession in p.professions


def _at_work(cat: Catalogue, item: str, stage: str, method: Programme | None) -> str:
    """An action to take at work for ``item``: an improvement method tagged for its area (our one-line tip,
    marked as ours), else an example activity the GMTS framework gives for the LF element it links to, else
    what its statement at the stage describes."""
    title = cat.by_id[item].title
    if method is not None:
        return f"{title}: try {method.title} on one thing your team does. Our tip: {method.leadcoach_note}"
    elements = [item] if item.startswith("lf2011.") else [x.target for x in cat.related(item)]
    for element in (e for e in elements if e.startswith("lf2011.") and cat.by_id[e].kind == "element"):
        code = cat.by_id[element].code or ""
        for competency in cat.of_kind("gmts-gm", "competency"):
            found = cat.gmts_competency(competency.id)
            if found is not None and found.code.startswith(code + ".") and found.examples:
                return f"{title}: {found.examples[0]} (an example activity from the GMTS framework, {found.code})"
    statement = statement_for(cat, item, stage)
    return f"{title}: {statement.text if statement is not None else cat.by_id[item].text}"


async def develop_command(ctx: Ctx, args: str) -> None:
    """The ideas; the first time (or with "/develop profession"), the profession is asked first, unless
    another conversation is in progress (then the ideas come unfiltered, and the flow carries on)."""
    asked = args.strip().lower() == "profession"
    if ctx.flow is None and (asked or not ctx.user.profession) and await finished(ctx.db, ctx.user):
        await ctx.start("develop", DevelopState(), D.PROFESSION)
        return
    await show_ideas(ctx)


async def show_ideas(ctx: Ctx) -> None:
    past, others = await finished(ctx.db, ctx.user), await develop_note(ctx)
    if not past:
        ctx.say(
            "Development ideas come from your self-assessment, so I know which areas to aim at. "
            "/assess takes about ten minutes." + others,
            [[Button("Start a self-assessment", "m", "assess", scoped=False)]],
        )
        return
    recs = recommend(ctx.catalogue, past[0], ctx.user.stage, profession=ctx.user.profession)
    if not recs:
        ctx.say(
            "You rated every area 4 or more — no development priorities stand out. /assess again any time." + others
        )
        return
    lines = ["<b>Development ideas</b> for your priorities (70% at work, 20% from others, 10% formal learning)"]
    buttons = []
    for r in recs:
        lines += ["", f"<b>{escape(ctx.catalogue.by_id[r.unit].title)}</b> — because {escape(r.reason)}."]
        lines.append(f"• At work: {escape(r.on_the_job)}")
        if r.from_others is not None:
            lines.append("• From others: " + programme_line(r.from_others))
        if r.formal is not None:
            lines.append("• Formal: " + programme_line(r.formal))
            code = r.formal.code
            buttons.append([Button(short(f"Make {r.formal.title} a CPD target", 60), "dev", code, scoped=False)])
    ctx.say("\n".join(lines) + others, [*buttons, *menu_buttons()[:1]])


async def target_click(ctx: Ctx, code: str) -> None:
    """ "Make it a CPD target": finish the programme within a year."""
    entry = ctx.catalogue.by_id.get(f"programmes.{code}")
    if entry is None:
        return
    today = local_today(ctx.user, ctx.now)
    mine = (CpdTarget.user_id == ctx.user.id) & (CpdTarget.programme == entry.id) & CpdTarget.done_on.is_(None)
    if (held := await ctx.db.scalar(select(CpdTarget).where(mine).limit(1))) is not None:  # a double tap, or again
        when = f" by {long_date(held.ends_on)}" if held.ends_on else ""
        ctx.say(f"Already in /cpd: finish {escape(entry.title)}{when}.")
        return
    ctx.db.add(
        CpdTarget(
            user_id=ctx.user.id,
            kind="programme",
            programme=entry.id,
            starts_on=today,
            ends_on=years_on(today, 1),
            created_at=ctx.now,
            area=await _offered_for(ctx, code),
        )
    )
    await ctx.db.flush()
    await target_changed(ctx)
    ctx.say(
        f"Added to /cpd: finish {escape(entry.title)} by {long_date(years_on(today, 1))}; your appraisal pack's "
        "plan puts its area first. "
        "/cpd → <b>Change, finish or remove a target</b> marks it finished or removes it, or changes its date."
    )


async def _offered_for(ctx: Ctx, code: str) -> str | None:
    """The area the course was offered for (the ideas are made again from the same assessment, so the same),
    which puts that area first in the appraisal pack's plan."""
    past = await finished(ctx.db, ctx.user)
    recs = recommend(ctx.catalogue, past[0], ctx.user.stage, profession=ctx.user.profession) if past else []
    return next((r.unit for r in recs if r.formal is not None and r.formal.code == code), None)


PROFESSIONS = {
    "nurse": "Nurse",
    "midwife": "Midwife",
    "ahp": "Allied health professional",
    "doctor": "Doctor",
    "manager": "Manager (not clinical)",
    "other": "Other",
}


class DevelopState(FlowState):
    pass


class D(StrEnum):
    PROFESSION = "profession"


def _professions(ctx: Ctx, s: DevelopState) -> Rows:
    return [[Button(label, "prof", key)] for key, label in PROFESSIONS.items()]


async def set_profession(ctx: Ctx, s: DevelopState, arg: str) -> None:
    if arg in PROFESSIONS:
        ctx.user.profession = arg
    ctx.finish()
    await show_ideas(ctx)


FLOW = Flow(
    name="develop",
    label="development ideas",
    state=DevelopState,
    names=D,
    steps={
        D.PROFESSION: Step(
            "Which best describes your profession? I ask once, and it only decides which professional bodies "
            "I suggest (some are for doctors or nurses only). <i>/develop profession</i> changes it.",
            _professions,
            {"prof": set_profession},
        )
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("develop", develop_command, Kind.OVERLAY)
    engine.click("dev", target_click, Kind.OVERLAY)
