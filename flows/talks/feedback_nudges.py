"""360° feedback reminders, sent by the nudge dispatcher's pass (one line in ``Dispatcher._pass``):

- the subject, when their round reaches its closing date: the results are ready (or there were too few);
- the subject, once, in the last days before their round closes while fewer than the threshold have answered;
- a rater who opened the link but did not send their answer, once, a day after opening it.

Each is marked as sent (``reminded``) in the user's transaction before it leaves through the push seam, so
it is never sent twice; a crash between the two loses that one reminder rather than doubling it (as the
other nudges' "unknown" deliveries do). Quiet hours and a pause defer it to a later pass; a user who blocked
the bot is skipped (the push seam's rule) and marked blocked if Telegram says so."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from flows.core.engine import Engine
from flows.core.flow import Ctx
from flows.core.push import Sender, SendStatus
from flows.core.replies import Button, Identity
from flows.rules.schedule import Quiet, aware, hhmm
from flows.store.models import FeedbackResponse, FeedbackRound, User
from flows.talks.feedback_results import TOO_FEW, is_open, results_of
from flows.talks.progress import long_date

_Compose = Callable[[Ctx], Awaitable[None]]
SUBJECT_LEAD = timedelta(days=3)  # how long before closing the subject hears that too few have answered
RATER_WAIT = timedelta(days=1)  # how long after opening the link an unfinished rater is reminded
BATCH = 200


def _resting(user: User, now: datetime) -> bool:
    """In the user's quiet hours, or nudges paused: a reminder waits for a later pass."""
    if user.paused_until is not None and aware(user.paused_until) > now:
        return True
    zone = ZoneInfo(user.timezone)
    return Quiet(hhmm(user.quiet_start), hhmm(user.quiet_end)).defer(now, zone) != now


async def remind(engine: Engine, sender: Sender, now: datetime, channel: str) -> int:
    """Send the reminders due at ``now`` to users of ``channel``; how many were sent."""
    async with engine.transaction() as db:
        rounds = (
            await db.execute(
                select(FeedbackRound.id, User.external_id)
                .join(User, User.id == FeedbackRound.user_id)
                .where(
                    User.channel == channel,
                    FeedbackRound.reminded.is_(False),
                    FeedbackRound.revoked.is_(False),
                    FeedbackRound.closed_at.is_(None),
                    FeedbackRound.closes_at > now,
                    FeedbackRound.closes_at <= now + SUBJECT_LEAD,
                )
                .limit(BATCH)
            )
        ).all()
        raters = (
            await db.execute(
                select(FeedbackResponse.id, User.external_id)
                .join(User, User.id == FeedbackResponse.rater_id)
                .join(FeedbackRound, FeedbackRound.id == FeedbackResponse.round_id)
                .where(
                    User.channel == channel,
                    FeedbackResponse.finished_at.is_(None),
                    FeedbackResponse.reminded.is_(False),
                    FeedbackResponse.opened_at <= now - RATER_WAIT,
                    FeedbackRound.closes_at > now,
                )
                .limit(BATCH)
            )
        ).all()
        closed = (
            await db.execute(
                select(FeedbackRound.id, User.external_id)
                .join(User, User.id == FeedbackRound.user_id)
                .where(
                    User.channel == channel,
                    FeedbackRound.announced.is_(False),
                    FeedbackRound.revoked.is_(False),
                    FeedbackRound.closes_at <= now,
                )
                .limit(BATCH)
            )
        ).all()
    sent = 0
    for round_id, external in closed:
        sent += await _push(engine, sender, Identity(channel, external), _closed(round_id))
    for round_id, external in rounds:
        sent += await _push(engine, sender, Identity(channel, external), _subject(round_id))
    for response_id, external in raters:
        sent += await _push(engine, sender, Identity(channel, external), _rater(response_id))
    return sent


async def _push(engine: Engine, sender: Sender, who: Identity, compose: _Compose) -> int:
    result = await engine.push(who, compose, sender)
    return int(result.status is SendStatus.SENT)


def _subject(round_id: int) -> _Compose:
    async def compose(ctx: Ctx) -> None:
        rnd = await ctx.db.get(FeedbackRound, round_id)
        if rnd is None or rnd.reminded or not is_open(rnd, ctx.now) or _resting(ctx.user, ctx.now):
            return
        rnd.reminded = True  # decided once, sent or not: never twice
        answered = select(func.count()).select_from(FeedbackResponse)
        answered = answered.where(FeedbackResponse.round_id == rnd.id, FeedbackResponse.finished_at.is_not(None))
        need = ctx.engine.feedback_min_raters
        if (await ctx.db.scalar(answered) or 0) >= need:
            return
        ctx.say(
            f"<b>Your 360° feedback</b> closes on {long_date(rnd.closes_at.date())}, and fewer than {need} "
            "colleagues have answered so far, so there is nothing to show yet. A word to the people you sent the "
            "link to may help; /feedback makes a new link if you need one.",
            [[Button("Open /feedback", "m", "feedback", scoped=False)]],
        )

    return compose


def _closed(round_id: int) -> _Compose:
    async def compose(ctx: Ctx) -> None:
        rnd = await ctx.db.get(FeedbackRound, round_id)
        if rnd is None or rnd.announced or rnd.revoked or _resting(ctx.user, ctx.now):
            return
        rnd.announced = True
        if await results_of(ctx, rnd) is None:
            ctx.say(TOO_FEW.format(n=ctx.engine.feedback_min_raters))
            return
        ctx.say(
            "<b>Your 360° feedback round has closed</b> and your results are ready.",
            [[Button("See the results", "fr", str(rnd.id), scoped=False)]],
        )

    return compose


def _rater(response_id: int) -> _Compose:
    async def compose(ctx: Ctx) -> None:
        mine = await ctx.db.get(FeedbackResponse, response_id)
        if mine is None or mine.reminded or mine.finished_at is not None or mine.rater_id != ctx.user.id:
            return
        rnd = await ctx.db.get(FeedbackRound, mine.round_id)
        if rnd is None or not is_open(rnd, ctx.now) or _resting(ctx.user, ctx.now):
            return
        mine.reminded = True
        ctx.say(
            f"You started giving <b>{escape(rnd.subject_name)}</b> feedback but didn't send it. It takes about five "
            f"minutes and is anonymous; the round closes on {long_date(rnd.closes_at.date())}. This is the only "
            "reminder.",
            [[Button("Give feedback now", "fb", str(rnd.id), scoped=False)]],
        )

    return compose
