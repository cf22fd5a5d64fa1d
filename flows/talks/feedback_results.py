"""360° feedback results as the subject sees them: others' averages beside the latest self-assessment, the
self vs others chart, blind spots and hidden strengths, comments unattributed in random order, and what to
develop where others rate lowest. Nothing about who answered or when is ever read into what is shown."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.crypto import Cipher
from flows.core.flow import Ctx
from flows.core.replies import Attachment, Button
from flows.rules.feedback_rules import Answer, Results, aggregate, blind_spots, hidden_strengths, lowest
from flows.rules.recommend import FORMAL, FROM_OTHERS, fits, programme_line
from flows.rules.schedule import aware
from flows.rules.scoring import profile
from flows.store.models import FeedbackResponse, FeedbackRound, User
from flows.talks.assess import finished
from flows.talks.chart import self_vs_others_png
from flows.talks.common import short, stage_label, statement_for
from flows.talks.progress import long_date
from frameworks.catalogue import Catalogue

NOT_YET = (
    "Not enough answers yet to show anything: results appear once at least {n} colleagues have answered, "
    "so no one's answers can be picked out."
)
STILL_OPEN = (
    "That round is open until {closes}. Results are shown once it closes, so that no one's answer can be worked out "
    "by comparing what you saw before and after it; /feedback can close it now."
)
TOO_FEW = (
    "That round closed with fewer than {n} answers, so nothing can be shown: no one's answers could be told apart. "
    "/feedback starts a new round."
)


def is_open(rnd: FeedbackRound, now: datetime) -> bool:
    return not rnd.revoked and rnd.closed_at is None and aware(rnd.closes_at) > now


async def answers(ctx: Ctx, rnd: FeedbackRound) -> list[Answer]:
    return await _answers(ctx.db, ctx.cipher, rnd)


async def _answers(db: AsyncSession, cipher: Cipher, rnd: FeedbackRound) -> list[Answer]:
    """The finished answers of a round, comments decrypted; nothing about the raters."""
    done = (FeedbackResponse.round_id == rnd.id) & FeedbackResponse.finished_at.is_not(None)
    rows = (await db.execute(select(FeedbackResponse).where(done))).scalars()
    return [
        Answer(r.relationship, dict(r.ratings), _text(cipher, r.keep_enc), _text(cipher, r.change_enc)) for r in rows
    ]


def _text(cipher: Cipher, blob: bytes | None) -> str:
    return str(cipher.decrypt_json(blob)) if blob else ""


async def pack_summary(
    db: AsyncSession, cat: Catalogue, cipher: Cipher, user: User, now: datetime, minimum: int
) -> list[str]:
    """The newest 360° results for the appraisal pack, as plain lines: how many answered, others' average by
    area beside the user's latest self-assessment, blind spots and hidden strengths. Comments stay in the chat
    (they are the user's to share); nothing about who answered or when. [] when no round has results."""
    mine = (FeedbackRound.user_id == user.id) & FeedbackRound.revoked.is_(False)
    for rnd in (
        await db.execute(select(FeedbackRound).where(mine).order_by(FeedbackRound.id.desc()).limit(3))
    ).scalars():
        res = None if is_open(rnd, now) else aggregate(await _answers(db, cipher, rnd), rnd.areas, minimum)
        if res is None:
            continue
        past = await finished(db, user, rnd.framework)
        me = profile(cat, past[0]).scores if past else {}
        lines = [f"{res.raters} colleagues answered a round started {long_date(rnd.created_at.date())}; "
                 "others' average (1–5) beside my latest self-assessment:"]  # fmt: skip
        for area in rnd.areas:
            others, own = res.others.get(area), me.get(area)
            seen = f"others {others:.1f}" if others is not None else "too few observed it"
            lines.append(f"• {cat.get(area).title}: {seen}" + (f" · me {own:.1f}" if own else ""))
        if blind := blind_spots(me, res.others):
            lines.append(
                "Blind spots (I rate myself higher than others do): " + "; ".join(cat.get(a).title for a in blind)
            )
        if hidden := hidden_strengths(me, res.others):
            lines.append("Hidden strengths (others rate me higher): " + "; ".join(cat.get(a).title for a in hidden))
        return lines
    return []


async def results_of(ctx: Ctx, rnd: FeedbackRound) -> Results | None:
    return aggregate(await answers(ctx, rnd), rnd.areas, ctx.engine.feedback_min_raters)


async def own_view(ctx: Ctx, rnd: FeedbackRound) -> dict[str, float] | None:
    """The subject's latest self-assessment of the round's framework, averaged by area."""
    past = await finished(ctx.db, ctx.user, rnd.framework)
    return profile(ctx.catalogue, past[0]).scores if past else None


def area_statements(ctx: Ctx, area: str, stage: str) -> list[tuple[str, str]]:
    """What an area (an MLF standard, an LF domain) looks like at a stage: each of its competencies or
    elements with its statement for that stage."""
    cat = ctx.catalogue
    items = [e for e in cat.by_id.values() if e.parent == area and e.kind in ("competency", "element")]
    out = []
    for item in items:
        statement = statement_for(cat, item.id, stage)
        out.append((item.title, statement.text if statement is not None else item.text))
    return out


def _title(ctx: Ctx, area: str) -> str:
    return ctx.catalogue.by_id[area].title


async def show(ctx: Ctx, rnd: FeedbackRound) -> None:
    """Say the round's results (with the chart), or that there aren't enough answers yet."""
    if is_open(rnd, ctx.now):
        ctx.say(STILL_OPEN.format(closes=long_date(rnd.closes_at.date())))
        return
    res = await results_of(ctx, rnd)
    if res is None:
        need = ctx.engine.feedback_min_raters
        ctx.say(NOT_YET.format(n=need) if is_open(rnd, ctx.now) else TOO_FEW.format(n=need))
        return
    me = await own_view(ctx, rnd)
    ctx.say("\n".join(summary_lines(ctx, rnd, res, me)), attachment=_chart(ctx, rnd, res, me))
    more = comment_lines(res) + develop_lines(ctx, rnd, res)
    if more:
        ctx.say("\n".join(more), [[Button("Development ideas", "m", "develop", scoped=False)]])


def summary_lines(ctx: Ctx, rnd: FeedbackRound, res: Results, me: dict[str, float] | None) -> list[str]:
    lines = [
        f"<b>Your 360° feedback</b> · {escape(stage_label(ctx.catalogue, rnd.framework, rnd.stage))}",
        f"{res.raters} colleagues answered. Others' average (1–5) beside your latest self-assessment:",
    ]
    for area in rnd.areas:
        others = res.others.get(area)
        mine = me.get(area) if me else None
        seen = f"{others:.1f}" if others is not None else "too few observed it"
        lines.append(f"• {escape(_title(ctx, area))}: others {seen}" + (f" · you {mine:.1f}" if mine else ""))
    if me is None:
        lines.append("\nYou have no self-assessment of this framework yet: /assess adds your own view beside theirs.")
    for group in res.groups:
        scores = "; ".join(f"{escape(short(_title(ctx, a), 30))} {v:.1f}" for a, v in group.scores.items())
        lines.append(f"\n<b>{escape(group.name)}</b> ({group.count}): {scores or 'too few observed each area'}")
    if me is not None:
        blind, hidden = blind_spots(me, res.others), hidden_strengths(me, res.others)
        if blind:
            lines.append("\n<b>Blind spots</b> (you rate yourself higher than others do): ")
            lines[-1] += "; ".join(escape(_title(ctx, a)) for a in blind)
        if hidden:
            lines.append("<b>Hidden strengths</b> (others rate you higher than you do): ")
            lines[-1] += "; ".join(escape(_title(ctx, a)) for a in hidden)
        if not blind and not hidden:
            lines.append("\nYour view and others' are within half a point everywhere.")
    return lines


def comment_lines(res: Results) -> list[str]:
    lines = []
    if res.keep:
        lines += ["<b>What to keep doing</b> (in no particular order)", *(f"• {escape(c)}" for c in res.keep), ""]
    if res.change:
        lines += ["<b>What to do differently</b> (in no particular order)", *(f"• {escape(c)}" for c in res.change)]
    return lines


def develop_lines(ctx: Ctx, rnd: FeedbackRound, res: Results) -> list[str]:
    """/develop's kind of suggestions, aimed at the areas others rate lowest."""
    cat, low = ctx.catalogue, lowest(res.others, rnd.areas)
    if not low:
        return []
    lines = ["", "<b>Where to develop</b>, from the areas others rate lowest:"]
    for area in low:
        lines.append(f"\n<b>{escape(_title(ctx, area))}</b> (others {res.others[area]:.1f})")
        for title, text in area_statements(ctx, area, rnd.stage)[:1]:
            lines.append(f"• At work: {escape(title)}: {escape(text)}")
        for kinds, what in ((FROM_OTHERS, "From others"), (FORMAL, "Formal")):
            found = next((p for p in cat.programmes.entries if p.kind in kinds and fits(p, area, rnd.stage)), None)
            if found is not None:
                lines.append(f"• {what}: " + programme_line(found))
    return lines


def _chart(ctx: Ctx, rnd: FeedbackRound, res: Results, me: dict[str, float] | None) -> Attachment:
    labels = [_title(ctx, a) for a in rnd.areas]
    others = [res.others.get(a) for a in rnd.areas]
    mine = [me.get(a) for a in rnd.areas] if me is not None else None
    caption = "You (dashed) and others (solid)" if mine is not None else "How others see you"
    if any(v is None for v in others):
        caption += "; an area too few observed sits at 0"
    return Attachment(
        f"feedback-{rnd.id}.png",
        b"",
        kind="photo",
        caption=caption,
        render=lambda: self_vs_others_png(labels, mine, others),
    )


# /export's reads, built once with a bind parameter.
_EXPORT_ROUNDS = select(FeedbackRound).where(FeedbackRound.user_id == bindparam("user_id")).order_by(FeedbackRound.id)
_EXPORT_GIVEN = (
    select(FeedbackResponse, FeedbackRound.subject_name)
    .join(FeedbackRound, FeedbackRound.id == FeedbackResponse.round_id)
    .where(FeedbackResponse.rater_id == bindparam("user_id"))
    .order_by(FeedbackResponse.id)
)


async def export(ctx: Ctx) -> dict[str, Any]:
    """For /export: the subject's rounds as they can see them (aggregated, above the threshold only), and the
    answers this user gave others (whose round by first name, their own ratings and comments)."""
    rounds = (await ctx.db.execute(_EXPORT_ROUNDS, {"user_id": ctx.user.id})).scalars()
    mine = []
    for rnd in rounds:
        res = None if is_open(rnd, ctx.now) else await results_of(ctx, rnd)  # as the subject can see them
        mine.append(
            {
                "framework": rnd.framework,
                "stage": rnd.stage,
                "areas": rnd.areas,
                "started_on": rnd.created_at.date().isoformat(),
                "closes_on": rnd.closes_at.date().isoformat(),
                "revoked": rnd.revoked,
                "results": None
                if res is None
                else {"raters": res.raters, "others_average": res.others, "keep": res.keep, "change": res.change},
            }
        )
    given = (await ctx.db.execute(_EXPORT_GIVEN, {"user_id": ctx.user.id})).all()
    return {
        "feedback_rounds": mine,
        "feedback_given": [
            {
                "for": name,
                "relationship": r.relationship,
                "ratings": r.ratings,
                "keep_doing": _text(ctx.cipher, r.keep_enc),
                "do_differently": _text(ctx.cipher, r.change_enc),
                "finished": r.finished_at is not None,
            }
            for r, name in given
        ],
    }


def history_label(ctx: Ctx, rnd: FeedbackRound) -> str:
    return f"360° feedback · started {long_date(rnd.created_at.date())}"


# The subject's newest three rounds not revoked (/develop, /history), built once with a bind parameter.
_LATEST_ROUNDS = (
    select(FeedbackRound)
    .where(FeedbackRound.user_id == bindparam("user_id"), FeedbackRound.revoked.is_(False))
    .order_by(FeedbackRound.id.desc())
    .limit(3)
)


async def latest_with_results(ctx: Ctx) -> tuple[FeedbackRound, Results] | None:
    """The subject's newest round that has results to show."""
    for rnd in (await ctx.db.execute(_LATEST_ROUNDS, {"user_id": ctx.user.id})).scalars():
        res = None if is_open(rnd, ctx.now) else await results_of(ctx, rnd)
        if res is not None:
            return rnd, res
    return None


async def develop_note(ctx: Ctx) -> str:
    """For /develop: the areas colleagues rated lowest in the newest 360° results, if any."""
    found = await latest_with_results(ctx)
    if found is None:
        return ""
    rnd, res = found
    low = lowest(res.others, rnd.areas)
    if not low:
        return "\n\n<b>From your 360° feedback</b>: colleagues rated every area 4 or more."
    names = "; ".join(f"{escape(_title(ctx, a))} ({res.others[a]:.1f})" for a in low)
    return f"\n\n<b>From your 360° feedback</b>, colleagues rate these lowest: {names}. /history has the results."


async def history_buttons(ctx: Ctx) -> list[list[Button]]:
    """For /history: the subject's rounds (newest three), each opening its results."""
    rows = (await ctx.db.execute(_LATEST_ROUNDS, {"user_id": ctx.user.id})).scalars()
    return [[Button(history_label(ctx, r), "fr", str(r.id), scoped=False)] for r in rows]


async def results_click(ctx: Ctx, arg: str) -> None:
    """A round's results from /history (only the user's own)."""
    rnd = await ctx.db.get(FeedbackRound, int(arg)) if arg.isdigit() else None
    if rnd is None or rnd.user_id != ctx.user.id or rnd.revoked:
        ctx.say("That feedback round isn't there any more.")
        return
    await show(ctx, rnd)
