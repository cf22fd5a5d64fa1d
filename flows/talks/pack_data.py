"""What goes into the appraisal pack, read once from the database into plain objects the renderers
(``flows/pdf.py``, ``flows/pack_text.py``) turn into a PDF, Markdown and CSV. Every free text a user typed
is passed through the identifier redaction here, so no renderer can print one."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.crypto import Cipher
from flows.core.intake import redact
from flows.rules.areas import UNIT, UNIT_NAMES, unit_of, units
from flows.rules.schedule import Round, at_local
from flows.rules.scoring import profile, weakest
from flows.rules.smart import Priority
from flows.store.models import Action, CpdActivity, CpdTarget, Reflection, User
from flows.talks.actions import OUTCOMES, action_text
from flows.talks.assess import finished
from flows.talks.common import FRAMEWORKS, PROMPTS, stage_label, statement_for
from flows.talks.feedback_results import pack_summary
from flows.talks.progress import _minutes, local_today, progress
from flows.talks.reflection_state import SKIPPED
from frameworks.catalogue import Catalogue


@dataclass(frozen=True)
class FollowUp:
    due: date
    outcome: str  # "Done", "Partly", "Not yet", "No longer relevant", or "" (not answered yet)
    note: str


@dataclass(frozen=True)
class ReflectionEntry:
    day: date
    item: str  # "1.2 Managing conflict"
    unit: str  # the standard or domain id it counts for
    answers: list[tuple[str, str]]  # (heading, answer), skipped ones left out, identifiers removed
    rating: int | None
    action: str = ""  # what the "now what" committed to (identifiers removed)
    follow_up: FollowUp | None = None  # its date and how it went, when it named a date


@dataclass(frozen=True)
class ActivityEntry:
    day: date
    title: str
    minutes: int
    participatory: bool
    items: list[str]  # the framework areas it developed, by title


@dataclass(frozen=True)
class AreaScore:
    title: str
    score: float | None
    change: float | None  # since the assessment before


@dataclass(frozen=True)
class SelfAssessment:
    finished: date
    previous: date | None
    areas: list[AreaScore]
    labels: list[str]
    current: list[float | None]
    before: list[float | None] | None


@dataclass
class PlanItem:
    priority: Priority
    objective: str


@dataclass
class PackData:
    framework: str  # "MLF 2025 (new, draft)"
    unit_name: str  # "standards"
    stage: str
    name: str  # empty unless the user chose to add it
    start: date
    end: date
    made: date
    units: list[tuple[str, str]]  # (id, title) in framework order
    covered: set[str]
    reflections: list[ReflectionEntry]
    activities: list[ActivityEntry]
    targets: list[str]  # each target's progress line, in words
    minutes: int  # CPD in the period, reflections included
    participatory: int
    assessment: SelfAssessment | None
    plan: list[PlanItem] = field(default_factory=list)
    programmes: list[str] = field(default_factory=list)  # programmes chosen (in /develop or /cpd) to finish
    sources: list[str] = field(default_factory=list)
    feedback: list[str] = field(default_factory=list)  # the newest 360° results, plain lines ([] if none)


def default_start(user: User, today: date) -> date:
    """Since the last appraisal: its date when it has passed, else a year before the next one, else a year."""
    chosen = user.appraisal_date
    if chosen is not None and chosen <= today:
        return chosen
    if chosen is not None:
        return chosen - timedelta(days=365)
    return today - timedelta(days=365)


HEADINGS = {"rolfe": ["What?", "So what?", "Now what?"]}


def _answers(model: str, stored: list[dict[str, str]]) -> list[tuple[str, str]]:
    heads = HEADINGS.get(model) or [p.split(":")[0] for p, _ in PROMPTS.get(model, [])]
    out = []
    for i, a in enumerate(stored):
        text = (a.get("answer") or "").strip()
        if text and text != SKIPPED:
            heading = heads[i] if i < len(heads) else a.get("prompt", "")
            out.append((heading, redact(text)))
    return out


async def gather(
    db: AsyncSession,
    cat: Catalogue,
    cipher: Cipher,
    user: User,
    now: datetime,
    round_: Round | None,
    start: date | None = None,
    feedback_min: int = 3,
) -> PackData:
    """Everything the pack shows, for the period from ``start`` (default: since the last appraisal) to today."""
    today = local_today(user, now)
    first = start or default_start(user, today)
    zone = ZoneInfo(user.timezone)
    since = at_local(first, time(0), zone)
    rows = await db.execute(
        select(Reflection)
        .where(Reflection.user_id == user.id, Reflection.created_at >= since)
        .order_by(Reflection.created_at)
    )
    reflections = []
    covered: set[str] = set()
    follow = await _follow_ups(db, cipher, user)
    for r in rows.scalars():
        entry = cat.resolve(r.item_key, r.item_id)
        unit = unit_of(cat, entry.id if entry else r.item_id) or ""
        for extra in [unit, *(unit_of(cat, e) or "" for e in r.extra_items or [])]:
            covered.add(extra)
        title = f"{entry.code} {entry.title}" if entry and entry.code else (entry.title if entry else r.item_id)
        stored = cipher.decrypt_json(r.answers_enc)
        reflections.append(
            ReflectionEntry(
                r.created_at.astimezone(zone).date(),
                title,
                unit,
                _answers(r.prompt_model, stored),
                r.rating,
                redact(action_text(stored)),
                follow.get(r.id),
            )
        )
    activities = await _activities(db, cat, cipher, user, first)
    measured = await progress(db, cat, user, now, round_)
    lines = [p.line for p in measured]
    total, part = await _minutes(db, user, first, today)
    latest, plan = await priorities(db, cat, user)
    unit_kind = UNIT.get(user.framework, "standard")
    return PackData(
        framework=FRAMEWORKS.get(user.framework, user.framework),
        unit_name=UNIT_NAMES.get(unit_kind, "areas"),
        stage=stage_label(cat, user.framework, user.stage),
        name="",
        start=first,
        end=today,
        made=today,
        units=[(u, cat.get(u).title) for u in units(cat, user.framework)],
        covered=covered,
        reflections=reflections,
        activities=activities,
        targets=[_plain(line) for line in lines],
        programmes=[_plain(p.line) for p in measured if p.target.kind == "programme"],
        minutes=total,
        participatory=part,
        assessment=latest,
        plan=[PlanItem(p, "") for p in plan],
        sources=_sources(cat, user.framework),
        feedback=await pack_summary(db, cat, cipher, user, now, feedback_min),
    )


async def _follow_ups(db: AsyncSession, cipher: Cipher, user: User) -> dict[int, FollowUp]:
    rows = await db.execute(select(Action).where(Action.user_id == user.id))
    return {
        a.reflection_id: FollowUp(
            a.due_on, OUTCOMES.get(a.outcome, ""), redact(str(cipher.decrypt_json(a.note_enc))) if a.note_enc else ""
        )
        for a in rows.scalars()
    }


def _plain(line: str) -> str:
    return unescape(line.replace("<b>", "").replace("</b>", ""))


async def _activities(db: AsyncSession, cat: Catalogue, cipher: Cipher, user: User, first: date) -> list[ActivityEntry]:
    rows = await db.execute(
        select(CpdActivity)
        .where(CpdActivity.user_id == user.id, CpdActivity.done_on >= first)
        .order_by(CpdActivity.done_on, CpdActivity.id)
    )
    return [
        ActivityEntry(
            a.done_on,
            redact(str(cipher.decrypt_json(a.title_enc))),
            a.minutes,
            a.participatory,
            [cat.by_id[i].title for i in a.items or [] if i in cat.by_id],
        )
        for a in rows.scalars()
    ]


async def assessment(db: AsyncSession, cat: Catalogue, user: User) -> tuple[SelfAssessment | None, list[Priority]]:
    """The latest self-assessment with the change since the one before, and 1-3 priorities from it."""
    result, each, order = await _assessed(db, cat, user)
    return result, [each[u] for u in order]


async def _assessed(
    db: AsyncSession, cat: Catalogue, user: User
) -> tuple[SelfAssessment | None, dict[str, Priority], list[str]]:
    """The latest self-assessment, a priority for every area it rated (its score and the statement of its
    lowest-rated item at the user's stage), and the weakest areas in order."""
    done = await finished(db, user)
    if not done or done[0].finished_at is None:
        return None, {}, []
    now = profile(cat, done[0])
    before = profile(cat, done[1]) if len(done) > 1 else None
    titles = {u: cat.by_id[u].title for u in now.units}
    areas = []
    for u in now.units:
        score = now.scores.get(u)
        old = before.scores.get(u) if before is not None else None
        areas.append(AreaScore(titles[u], score, score - old if score is not None and old is not None else None))
    previous = done[1].finished_at.date() if len(done) > 1 and done[1].finished_at else None
    result = SelfAssessment(
        done[0].finished_at.date(),
        previous,
        areas,
        [titles[u] for u in now.units],
        [now.scores.get(u) for u in now.units],
        [before.scores.get(u) for u in now.units] if before is not None else None,
    )
    each = {}
    for u in now.units:
        rated = sorted((r, i) for i, r in now.items.items() if unit_of(cat, i) == u)
        statement = statement_for(cat, rated[0][1], user.stage) if rated else None
        each[u] = Priority(u, titles[u], now.scores.get(u), statement.text if statement else "")
    return result, each, list(weakest(now))


async def priorities(
    db: AsyncSession, cat: Catalogue, user: User, most: int = 3
) -> tuple[SelfAssessment | None, list[Priority]]:
    """The plan's 1-3 priorities: first the areas the user chose a course for in /develop (still open, in
    the order chosen, each naming its programme and date), then the weakest areas of the latest
    self-assessment not already there."""
    latest, each, weakest_first = await _assessed(db, cat, user)
    plan: list[Priority] = []
    for area, programme, by in await _chosen(db, cat, user):
        if any(p.unit == area for p in plan):
            continue
        base = each.get(area) or Priority(area, cat.by_id[area].title, None, "")
        plan.append(replace(base, programme=programme, programme_by=by))
    plan += [each[u] for u in weakest_first if all(p.unit != u for p in plan)]
    return latest, plan[:most]


async def _chosen(db: AsyncSession, cat: Catalogue, user: User) -> list[tuple[str, str, date | None]]:
    """(area, programme title, finish by) of the open programme targets saved from /develop for an area of
    the user's framework."""
    mine = set(units(cat, user.framework))
    rows = await db.execute(
        select(CpdTarget)
        .where(CpdTarget.user_id == user.id, CpdTarget.kind == "programme", CpdTarget.done_on.is_(None))
        .order_by(CpdTarget.id)
    )
    out = []
    for t in rows.scalars():
        entry = cat.by_id.get(t.programme or "")
        if t.area in mine and entry is not None:
            out.append((t.area or "", entry.title, t.ends_on))
    return out


def _sources(cat: Catalogue, framework: str) -> list[str]:
    files = [f for f in cat.files if f.id == framework or f.kind == "programmes"]
    return [f"{f.title}: {f.source.document}, {f.source.publisher}. {f.source.notice}" for f in files]
