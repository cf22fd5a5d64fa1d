"""The rater's side of 360° feedback, opened by /start with an invitation token and needing no onboarding:
whose feedback it is and what is kept, the relationship, each area 1-5 (or not observed) with what it looks
like at the subject's stage, two optional comments through the identifier guard, then send. One answer per
rater per round; a rater can withdraw theirs until the round closes (and /delete erases it)."""

from __future__ import annotations

from enum import StrEnum
from html import escape

from pydantic import Field
from sqlalchemy import delete, func, select

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step
from flows.core.replies import Button
from flows.core.steps import confirm, free_text, rating
from flows.core.templating import render
from flows.rules.feedback_rules import MAX_RESPONSES, RELATIONSHIPS, TOKEN_PREFIX, token_hash
from flows.rules.scale import RATING_LABELS
from flows.store.models import FeedbackResponse, FeedbackRound
from flows.talks.common import stage_label
from flows.talks.feedback_results import area_statements, is_open

QUESTIONS = {
    "keep": "What should {name} keep doing? One or two examples help most. (Optional)",
    "change": "What could {name} do differently, or more of? (Optional)",
}
NOT_VALID = (
    "This feedback link doesn't work any more: the round may have been revoked, or a new link made for it. "
    "Please ask the person who sent it for a new one."
)


class RateState(GuardedState):
    round_id: int = 0
    name: str = ""  # the subject's first name, as they chose
    framework: str = ""
    stage: str = ""
    areas: list[str] = Field(default_factory=list)
    note: str = ""
    relationship: str = ""
    position: int = 0  # the area being rated
    current: int | None = None  # the rating just given (the rating step's field)
    ratings: dict[str, int] = Field(default_factory=dict)  # area -> 1-5, 0 not observed
    asking: str = "keep"  # the comment question being asked
    keep: str = ""
    change: str = ""


class RT(StrEnum):
    """The steps of a rater's answer."""

    INTRO = "intro"
    ANSWERED = "answered"
    RELATION = "relation"
    AREA = "area"
    COMMENT = "comment"
    IDENTIFIERS = "identifiers"
    CONFIRM = "confirm"


def is_invitation(args: str) -> bool:
    return args.startswith(TOKEN_PREFIX)


async def open_invitation(ctx: Ctx, args: str) -> None:
    """/start fb_<token>: the round it names, checked, and the rater's answer begun (or offered back)."""
    found = await ctx.db.scalar(
        select(FeedbackRound).where(FeedbackRound.token_hash == token_hash(args[len(TOKEN_PREFIX) :]))
    )
    if found is None or found.revoked:
        ctx.say(NOT_VALID)
        return
    if found.user_id == ctx.user.id:
        ctx.say("This is your own feedback link: share it with colleagues. You can't rate yourself in your own round.")
        return
    await _take_part(ctx, found)


async def resume_click(ctx: Ctx, arg: str) -> None:
    """ "Give feedback now" on the one reminder: the round the rater opened, if it is still open."""
    found = await ctx.db.get(FeedbackRound, int(arg)) if arg.isdigit() else None
    mine = (FeedbackResponse.round_id == (found.id if found else 0)) & (FeedbackResponse.rater_id == ctx.user.id)
    if found is None or found.revoked or await ctx.db.scalar(select(FeedbackResponse.id).where(mine)) is None:
        ctx.say(NOT_VALID)
        return
    await _take_part(ctx, found)


async def _take_part(ctx: Ctx, found: FeedbackRound) -> None:
    mine = await ctx.db.scalar(
        select(FeedbackResponse).where(FeedbackResponse.round_id == found.id, FeedbackResponse.rater_id == ctx.user.id)
    )
    if not is_open(found, ctx.now):
        ctx.say("This feedback round has closed, so it takes no more answers. Thank you for opening it.")
        return
    state = RateState(
        round_id=found.id,
        name=found.subject_name,
        framework=found.framework,
        stage=found.stage,
        areas=list(found.areas),
        note=str(ctx.cipher.decrypt_json(found.note_enc)) if found.note_enc else "",
    )
    if mine is not None and mine.finished_at is not None:
        await ctx.start("rate360", state, RT.ANSWERED)
        return
    if mine is None:
        count = select(func.count()).select_from(FeedbackResponse).where(FeedbackResponse.round_id == found.id)
        if (await ctx.db.scalar(count) or 0) >= MAX_RESPONSES:
            ctx.say("This feedback round has all the answers it can take. Thank you for offering.")
            return
        ctx.db.add(FeedbackResponse(round_id=found.id, rater_id=ctx.user.id, ratings={}, opened_at=ctx.now))
        await ctx.db.flush()
    await ctx.start("rate360", state, RT.INTRO)


async def _round(ctx: Ctx, s: RateState) -> FeedbackRound | None:
    rnd = await ctx.db.get(FeedbackRound, s.round_id)
    return rnd if rnd is not None and not rnd.revoked and is_open(rnd, ctx.now) else None


async def _response(ctx: Ctx, s: RateState) -> FeedbackResponse | None:
    mine = (FeedbackResponse.round_id == s.round_id) & (FeedbackResponse.rater_id == ctx.user.id)
    return await ctx.db.scalar(select(FeedbackResponse).where(mine))


def _intro(ctx: Ctx, s: RateState) -> str:
    return render(
        "rate_intro",
        name=s.name,
        framework=ctx.catalogue.framework(s.framework).short_title,
        stage=stage_label(ctx.catalogue, s.framework, s.stage),
        count=len(s.areas),
        note=s.note,
        need=ctx.engine.feedback_min_raters,
    )


async def begin(ctx: Ctx, s: RateState, arg: str) -> None:
    await ctx.go(RT.RELATION)


async def not_now(ctx: Ctx, s: RateState, arg: str) -> None:
    ctx.finish()
    ctx.say("No problem. Open the link again whenever you're ready, before the round closes.")


async def withdraw(ctx: Ctx, s: RateState, arg: str) -> None:
    ctx.finish()
    if await _round(ctx, s) is None:
        ctx.say("That round has closed, so answers can't be withdrawn from it now; /delete erases yours.")
        return
    mine = (FeedbackResponse.round_id == s.round_id) & (FeedbackResponse.rater_id == ctx.user.id)
    await ctx.db.execute(delete(FeedbackResponse).where(mine))
    ctx.say(f"Withdrawn: your answers for {escape(s.name)} are deleted.")


async def keep_answer(ctx: Ctx, s: RateState, arg: str) -> None:
    ctx.finish()
    ctx.say("Kept. Thank you for your feedback.")


def _relation_buttons(ctx: Ctx, s: RateState) -> Rows:
    return [[Button(single, "rel", key)] for key, (single, _) in RELATIONSHIPS.items()]


async def relation(ctx: Ctx, s: RateState, arg: str) -> None:
    if arg in RELATIONSHIPS:
        s.relationship, s.position = arg, 0
        await ctx.go(RT.AREA)
        return
    await ctx.go(RT.RELATION)


def _area_prompt(ctx: Ctx, s: RateState) -> str:
    area = ctx.catalogue.by_id[s.areas[s.position]]
    lines = [
        f"<b>{s.position + 1}/{len(s.areas)} {escape(area.title)}</b>",
        f"At {escape(stage_label(ctx.catalogue, s.framework, s.stage))} this looks like:",
    ]
    lines += [f"• <b>{escape(t)}</b>: {escape(text)}" for t, text in area_statements(ctx, area.id, s.stage)]
    lines.append(f"\nHow well does {escape(s.name)} do this? 1 {RATING_LABELS[0]} to 5 {RATING_LABELS[4]}.")
    return "\n".join(lines)


async def rated(ctx: Ctx, s: RateState) -> None:
    s.ratings = {**s.ratings, s.areas[s.position]: s.current or 0}
    s.current = None
    if s.position + 1 < len(s.areas):
        s.position += 1
        await ctx.go(RT.AREA)
        return
    s.asking = "keep"
    await ctx.go(RT.COMMENT)


async def back(ctx: Ctx, s: RateState, arg: str) -> None:
    if ctx.step == RT.COMMENT and s.asking == "change":
        s.asking = "keep"
        await ctx.go(RT.COMMENT)
    elif ctx.step == RT.COMMENT:
        await ctx.go(RT.AREA)
    elif s.position > 0:
        s.position -= 1
        await ctx.go(RT.AREA)
    else:
        await ctx.go(RT.RELATION)


def _comment_prompt(ctx: Ctx, s: RateState) -> str:
    return QUESTIONS[s.asking].format(name=escape(s.name)) + " Please don't name anyone or include patient details."


async def comment(ctx: Ctx, s: RateState, text: str) -> None:
    if s.asking == "keep":
        s.keep, s.asking = text[:1000], "change"
        await ctx.go(RT.COMMENT)
        return
    s.change = text[:1000]
    await ctx.go(RT.CONFIRM)


async def skip_comment(ctx: Ctx, s: RateState, arg: str) -> None:
    await comment(ctx, s, "")


def _confirm_prompt(ctx: Ctx, s: RateState) -> str:
    lines = [f"<b>Your feedback for {escape(s.name)}</b> — as {RELATIONSHIPS[s.relationship][0].lower()}"]
    for area in s.areas:
        score = s.ratings.get(area, 0)
        shown = f"{score} {RATING_LABELS[score - 1]}" if score else "not observed"
        lines.append(f"• {escape(ctx.catalogue.by_id[area].title)}: {shown}")
    for label, text in (("Keep doing", s.keep), ("Do differently", s.change)):
        lines.append(f"<b>{label}</b>: {escape(text) if text else '–'}")
    return "\n".join(lines) + "\n\nSend it? It is anonymous."


async def send(ctx: Ctx, s: RateState, arg: str) -> None:
    ctx.finish()
    mine = await _response(ctx, s)
    if await _round(ctx, s) is None or mine is None:
        ctx.say("Sorry, that round has closed or been withdrawn, so your answers weren't kept.")
        return
    mine.relationship, mine.ratings = s.relationship, dict(s.ratings)
    mine.keep_enc = ctx.cipher.encrypt_json(s.keep) if s.keep else None
    mine.change_enc = ctx.cipher.encrypt_json(s.change) if s.change else None
    mine.finished_at = ctx.now
    ctx.say(
        f"Sent — thank you. {escape(s.name)} will see it only combined with others'. To withdraw it before the "
        "round closes, open the link again; /delete erases it.\n\nLeadCoach is a pocket coach for NHS managers: "
        "/start if you'd like to try it yourself."
    )


async def discard(ctx: Ctx, s: RateState, arg: str) -> None:
    ctx.finish()
    mine = await _response(ctx, s)
    if mine is not None and mine.finished_at is None:
        await ctx.db.delete(mine)
    ctx.say("Discarded: nothing was sent.")


def _progress(s: RateState) -> str | None:
    return f"{len(s.ratings)} of {len(s.areas)} areas rated" if s.ratings else None


BACK = [[Button("Back", "back")]]
FLOW = Flow(
    name="rate360",
    label="feedback for a colleague",
    state=RateState,
    names=RT,
    progress=_progress,
    steps={
        RT.INTRO: Step(
            _intro,
            lambda ctx, s: [[Button("Start", "begin")], [Button("Not now", "notnow")]],
            {"begin": begin, "notnow": not_now},
        ),
        RT.ANSWERED: confirm(
            lambda ctx, s: f"You have already given {escape(s.name)} feedback in this round. Withdraw it?",
            yes=("Withdraw my answers", withdraw),
            no=("Keep them", keep_answer),
        ),
        RT.RELATION: Step(
            lambda ctx, s: f"How do you work with {escape(s.name)}? (Only groups of 3 or more are shown apart.)",
            _relation_buttons,
            {"rel": relation},
        ),
        RT.AREA: rating(
            _area_prompt,
            into="current",
            then=rated,
            skip="Not observed",
            extra=BACK,
            actions={"back": back},
            screen=lambda s: str(s.position),
        ),
        RT.COMMENT: free_text(
            _comment_prompt,
            comment,
            lambda ctx, s: [[Button("Skip", "skipc"), Button("Back", "back")]],
            {"skipc": skip_comment, "back": back},
            screen=lambda s: s.asking,
        ),
        RT.IDENTIFIERS: identifier_step(comment),
        RT.CONFIRM: confirm(_confirm_prompt, yes=("Send", send), no=("Discard", discard)),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.click("fb", resume_click, Kind.SWITCH)
