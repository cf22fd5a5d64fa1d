"""/feedback, the subject's side of 360° feedback: start a round on your framework at your stage (all
areas or the ones you choose), a closing date and a note to raters; share the invitation link; make a new
link, close or revoke the round; see the results once enough colleagues have answered."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from html import escape
from urllib.parse import quote

from pydantic import Field
from sqlalchemy import delete, func, select

from flows.core.engine import Engine
from flows.core.flow import Action, Ctx, Flow, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step
from flows.core.replies import Button
from flows.core.steps import confirm, free_text, number
from flows.core.templating import render
from flows.rules.areas import units
from flows.rules.feedback_rules import CLOSE_DAYS, MAX_OPEN_ROUNDS, TOKEN_PREFIX, new_token, token_hash
from flows.store.models import FeedbackResponse, FeedbackRound
from flows.talks.common import ends, menu_buttons, short, stage_label
from flows.talks.feedback_results import is_open, results_click, results_of, show
from flows.talks.progress import long_date

DAYS = [7, 14, 21, 28]
NAME_CHARS = 40
MIN_AREAS = 3  # a narrowed round keeps at least three areas: a chart of fewer says nothing


class FeedbackState(GuardedState):
    round_id: int = 0  # the open round, else the latest one
    open: bool = False
    enough: bool = False  # enough answers to show results
    closes: str = ""  # the round's closing date, as shown
    areas: list[str] = Field(default_factory=list)  # a new round's areas (empty: all)
    days: int = CLOSE_DAYS
    name: str = ""
    note: str = ""


class F(StrEnum):
    """The steps of /feedback."""

    HOME = "home"
    AREAS = "areas"
    NAME = "name"
    DAYS = "days"
    NOTE = "note"
    IDENTIFIERS = "identifiers"
    CONFIRM = "confirm"
    CLOSE = "close"
    REVOKE = "revoke"


async def begin(ctx: Ctx, args: str) -> None:
    await ctx.start("feedback", FeedbackState(), F.HOME)


async def _latest(ctx: Ctx) -> FeedbackRound | None:
    mine = FeedbackRound.user_id == ctx.user.id
    query = select(FeedbackRound).where(mine, FeedbackRound.revoked.is_(False))
    return (await ctx.db.execute(query.order_by(FeedbackRound.id.desc()).limit(1))).scalar_one_or_none()


async def _mine(ctx: Ctx, s: FeedbackState) -> FeedbackRound | None:
    rnd = await ctx.db.get(FeedbackRound, s.round_id) if s.round_id else None
    return rnd if rnd is not None and rnd.user_id == ctx.user.id and not rnd.revoked else None


async def load(ctx: Ctx, s: FeedbackState) -> None:
    rnd = await _latest(ctx)
    s.round_id = rnd.id if rnd else 0
    s.open = rnd is not None and is_open(rnd, ctx.now)
    s.enough = rnd is not None and await results_of(ctx, rnd) is not None
    s.closes = long_date(rnd.closes_at.date()) if rnd else ""


def _home_prompt(ctx: Ctx, s: FeedbackState) -> str:
    need = ctx.engine.feedback_min_raters
    if s.open:
        state = (
            "There are enough answers for results. They are shown once the round closes (then or now, if you "
            "close it): results that changed while it was open would let a late answer be worked out."
            if s.enough
            else f"Fewer than {need} have answered so far."
        )
        return f"<b>360° feedback</b>: your round is open until {s.closes}. {state}"
    return render("feedback_intro", need=need, last=s.closes if s.round_id else "")


def _home_buttons(ctx: Ctx, s: FeedbackState) -> Rows:
    done = [Button("Done", "done")]
    if s.open:
        close = "Close it and see the results" if s.enough else "Close the round now"
        return [
            [Button(close, "close")],
            [Button("New link (the old one stops working)", "relink")],
            [Button("Revoke the round", "revoke")],
            done,
        ]
    last = [[Button("Results of my last round", "results")]] if s.round_id else []
    return [[Button("Start a round", "new")], *last, done]


done = ends("OK. /feedback comes back here.")


async def results(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    rnd = await _mine(ctx, s)
    ctx.finish()
    if rnd is None:
        ctx.say("That round isn't there any more.")
        return
    await show(ctx, rnd)


async def new(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    rounds = select(func.count()).select_from(FeedbackRound).where(FeedbackRound.user_id == ctx.user.id)
    still = rounds.where(
        FeedbackRound.revoked.is_(False), FeedbackRound.closed_at.is_(None), FeedbackRound.closes_at > ctx.now
    )
    if (await ctx.db.scalar(still) or 0) >= MAX_OPEN_ROUNDS:
        await ctx.go(F.HOME)
        return
    s.areas, s.days, s.note, s.name = [], CLOSE_DAYS, "", short(ctx.user.first_name or "", NAME_CHARS)
    await ctx.go(F.AREAS)


# --- a new round ---------------------------------------------------------------------------------


def _kind(ctx: Ctx) -> str:
    return "standards" if ctx.user.framework == "mlf2025" else "domains"


def _areas_prompt(ctx: Ctx, s: FeedbackState) -> str:
    fw = ctx.catalogue.framework(ctx.user.framework).short_title
    return (
        f"Which areas should colleagues rate? All {len(units(ctx.catalogue, ctx.user.framework))} {_kind(ctx)} of "
        f"{escape(fw)} at {escape(stage_label(ctx.catalogue, ctx.user.framework, ctx.user.stage))}, or tick at least "
        f"{MIN_AREAS} you are working on, then Done."
    )


def _areas_buttons(ctx: Ctx, s: FeedbackState) -> Rows:
    rows = [[Button(f"All {_kind(ctx)}", "all")]]
    for area in units(ctx.catalogue, ctx.user.framework):
        on = area in s.areas
        entry = ctx.catalogue.by_id[area]
        label = ("✅ " if on else "") + short(f"{entry.code} {entry.title}", 48)
        rows.append([Button(label, "tick", ("-" if on else "+") + area)])
    return [*rows, [Button("Done", "ticked")]] if len(s.areas) >= MIN_AREAS else rows


async def all_areas(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    s.areas = []
    await ctx.go(F.NAME)


async def tick(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    area, known = arg[1:], units(ctx.catalogue, ctx.user.framework)
    if arg.startswith("+") and area in known and area not in s.areas:
        s.areas = [a for a in known if a in s.areas or a == area]
    elif arg.startswith("-"):
        s.areas = [a for a in s.areas if a != area]
    await ctx.go(F.AREAS)


async def ticked(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    await ctx.go(F.NAME if len(s.areas) >= MIN_AREAS else F.AREAS)


def _name_buttons(ctx: Ctx, s: FeedbackState) -> Rows:
    return [[Button(f"Use {short(s.name, 30)}", "name")]] if s.name else []


async def use_name(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    await ctx.go(F.DAYS if s.name else F.NAME)


async def type_name(ctx: Ctx, s: FeedbackState, text: str) -> None:
    s.name = short(" ".join(text.split()), NAME_CHARS)
    await ctx.go(F.DAYS)


async def take_note(ctx: Ctx, s: FeedbackState, text: str) -> None:
    s.note = text[:600]
    await ctx.go(F.CONFIRM)


async def no_note(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    s.note = ""
    await ctx.go(F.CONFIRM)


def _confirm_prompt(ctx: Ctx, s: FeedbackState) -> str:
    areas = s.areas or units(ctx.catalogue, ctx.user.framework)
    return render(
        "feedback_round",
        name=s.name,
        areas=[ctx.catalogue.by_id[a].title for a in areas],
        stage=stage_label(ctx.catalogue, ctx.user.framework, ctx.user.stage),
        closes=long_date((ctx.now + timedelta(days=s.days)).date()),
        note=s.note,
        need=ctx.engine.feedback_min_raters,
    )


async def create(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    token = new_token()
    ctx.db.add(
        FeedbackRound(
            user_id=ctx.user.id,
            framework=ctx.user.framework,
            stage=ctx.user.stage,
            areas=s.areas or units(ctx.catalogue, ctx.user.framework),
            subject_name=s.name or "A colleague",
            note_enc=ctx.cipher.encrypt_json(s.note) if s.note else None,
            token_hash=token_hash(token),
            created_at=ctx.now,
            closes_at=ctx.now + timedelta(days=s.days),
        )
    )
    await ctx.db.flush()
    ctx.finish()
    invitation(ctx, token, s.name or "me")


async def discard(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    ctx.finish()
    ctx.say("Discarded. No round was started.", menu_buttons())


def invitation(ctx: Ctx, token: str, name: str) -> None:
    """The link, shown once (only its hash is kept), with Telegram's share button where there is a bot."""
    start = f"{TOKEN_PREFIX}{token}"
    bot = ctx.engine.bot_username
    if bot is None:
        ctx.say(
            "Your round is open. Invitation links need Telegram, and this terminal has no bot username, so "
            f"there is no link here. Another terminal user can answer by typing <code>/start {start}</code>."
        )
        return
    link = f"https://t.me/{bot}?start={start}"
    text = f"{name} would value your anonymous feedback (about 5 minutes, in Telegram)."
    share = f"https://t.me/share/url?url={quote(link, safe='')}&text={quote(text, safe='')}"
    ctx.say(
        "Your round is open. Send this link to colleagues — a line manager, peers, people you manage:"
        f"\n\n{escape(link)}"
        "\n\nKeep it to people who work with you: anyone with the link can answer. I show this link only now; "
        "/feedback can make a new one, which stops this one working.",
        [[Button("Share the link", "", url=share, scoped=False)]],
    )


# --- an open round -------------------------------------------------------------------------------


async def relink(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    rnd = await _mine(ctx, s)
    if rnd is None or not is_open(rnd, ctx.now):
        await ctx.go(F.HOME)
        return
    token = new_token()
    rnd.token_hash = token_hash(token)
    ctx.finish()
    invitation(ctx, token, rnd.subject_name)


def _close_prompt(ctx: Ctx, s: FeedbackState) -> str:
    need = ctx.engine.feedback_min_raters
    too_few = "" if s.enough else f" Fewer than {need} have answered, so there will be nothing to show."
    return "Close the round now? No more answers will be taken." + too_few


async def close_now(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    rnd = await _mine(ctx, s)
    ctx.finish()
    if rnd is None or not is_open(rnd, ctx.now):
        ctx.say("That round has closed already.")
        return
    rnd.closed_at, rnd.announced = ctx.now, True  # the results follow here: no message about it later
    ctx.say("Closed: the link no longer takes answers, and these results won't change.")
    await show(ctx, rnd)


async def revoke(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    rnd = await _mine(ctx, s)
    ctx.finish()
    if rnd is not None:
        await ctx.db.execute(delete(FeedbackResponse).where(FeedbackResponse.round_id == rnd.id))
        await ctx.db.execute(delete(FeedbackRound).where(FeedbackRound.id == rnd.id))
    ctx.say("Revoked: the link no longer works and every answer to that round is deleted.", menu_buttons())


async def back_home(ctx: Ctx, s: FeedbackState, arg: str) -> None:
    await ctx.go(F.HOME)


def to(step: F) -> Action[FeedbackState]:
    async def go(ctx: Ctx, s: FeedbackState, arg: str) -> None:
        await ctx.go(step)

    return go


FLOW = Flow(
    name="feedback",
    label="360° feedback round",
    state=FeedbackState,
    names=F,
    steps={
        F.HOME: Step(
            _home_prompt,
            _home_buttons,
            {
                "done": done,
                "results": results,
                "new": new,
                "relink": relink,
                "close": to(F.CLOSE),
                "revoke": to(F.REVOKE),
            },
            enter=load,
            screen=lambda s: f"{s.round_id}{s.open}{s.enough}",
        ),
        F.AREAS: Step(
            _areas_prompt,
            _areas_buttons,
            {"all": all_areas, "tick": tick, "ticked": ticked},
            screen=lambda s: ",".join(s.areas),
        ),
        F.NAME: Step(
            "How should colleagues see your name? Tap below, or type the name they know you by.",
            _name_buttons,
            {"name": use_name},
            text=type_name,
            free=True,
        ),
        F.DAYS: number(
            f"When should the round close? {CLOSE_DAYS} days gives colleagues time; type a number of days (3–60) "
            "or tap one.",
            into="days",
            low=3,
            high=60,
            what="the days",
            presets=[(f"{d} days", d) for d in DAYS],
            per_row=2,
            then=F.NOTE,
        ),
        F.NOTE: free_text(
            "Add a short note for your colleagues if you like (for example what you are working on), or skip it. "
            "Please no patient information.",
            take_note,
            lambda ctx, s: [[Button("No note", "nonote")]],
            {"nonote": no_note},
        ),
        F.IDENTIFIERS: identifier_step(take_note),
        F.CONFIRM: confirm(_confirm_prompt, yes=("Start the round", create), no=("Discard", discard)),
        F.CLOSE: confirm(
            _close_prompt,
            yes=("Yes, close it", close_now),
            no=("No, keep it open", back_home),
        ),
        F.REVOKE: confirm(
            "Revoke the round? The link stops working and every answer to it is deleted, for good.",
            yes=("Yes, revoke it", revoke),
            no=("No, keep it", back_home),
        ),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("feedback", begin, Kind.SWITCH)
    engine.click("fr", results_click, Kind.OVERLAY)
