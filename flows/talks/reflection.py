"""/reflect: pick a focus, read your stage statement, answer the prompts, rate, log minutes, save."""

from __future__ import annotations

from datetime import timedelta
from html import escape

from sqlalchemy import func, select

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import identifier_step, intake
from flows.core.replies import Button
from flows.core.steps import free_text, number, rating
from flows.core.templating import render
from flows.rules.scale import RATING_LABELS
from flows.store.models import Reflection
from flows.talks import actions
from flows.talks.common import (
    FOLLOW_UP,
    PROMPTS,
    SHORT_ANSWER_WORDS,
    menu_buttons,
    plural,
    short,
    stage_label,
)
from flows.talks.reflection_focus import (
    back,
    browse,
    browse_buttons,
    focus_buttons,
    group,
    open_search,
    pick,
    search,
    search_buttons,
    search_prompt,
    suggestion,
)
from flows.talks.reflection_state import LATER_BUTTON, MINUTES, SKIPPED, Answer, R, ReflectState, progress

# --- /reflect, and the draft put aside ----------------------------------------------------


async def begin(ctx: Ctx, args: str) -> None:
    parked = ctx.parked_state("reflect")
    if isinstance(parked, ReflectState) and parked.item and (not args or progress(parked)):
        await ctx.start("reflect", ReflectState(), R.OFFER)  # the draft first, even for "/reflect conflict"
        return
    state = ReflectState(suggested=await suggestion(ctx))
    if args:  # "/reflect conflict": straight to what it finds
        ctx.flow, ctx.state = "reflect", state
        await search(ctx, state, args)
        return
    await ctx.start("reflect", state, R.FOCUS)


def _offer(ctx: Ctx, s: ReflectState) -> str:
    parked = ctx.parked_state("reflect")
    if not isinstance(parked, ReflectState):
        return "Your unfinished reflection has expired, so let's start a new one."
    item = ctx.catalogue.by_id.get(parked.item)
    what = f"on <b>{escape(item.code or '')} {escape(item.title)}</b> " if item else ""
    return f"You have an unfinished reflection {what}({progress(parked) or 'not started'}). Carry on with it?"


def _offer_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    carry = [[Button("Continue it", "continue")]] if isinstance(ctx.parked_state("reflect"), ReflectState) else []
    return [*carry, [Button("Discard it, start a new one", "new")]]


async def continue_parked(ctx: Ctx, s: ReflectState, arg: str) -> None:
    await ctx.unpark()


async def start_new(ctx: Ctx, s: ReflectState, arg: str) -> None:
    ctx.parked = None
    s.suggested = await suggestion(ctx)
    await ctx.go(R.FOCUS)


async def later(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if s.item:
        ctx.park()
        ctx.say("No problem, I've kept your place. Send /reflect when you want to carry on.", menu_buttons())
    else:
        ctx.finish()
        ctx.say("No problem. Send /reflect whenever you're ready.", menu_buttons())


# --- the prompts --------------------------------------------------------------------------


def _answer_prompt(ctx: Ctx, s: ReflectState) -> str:
    if s.following:
        return FOLLOW_UP
    prompts = PROMPTS[s.model]
    n = min(len(s.answers), len(prompts) - 1)
    return f"<b>{n + 1}/{len(prompts)}</b> {escape(prompts[n][0])}"


def _answer_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    if s.following:
        return [[Button("That's all for this one", "nofollow")]]
    return [[Button("Skip this one", "skipq"), LATER_BUTTON]]


async def record(ctx: Ctx, s: ReflectState, text: str) -> None:
    if s.following:
        s.answers[-1].answer += "\n\n" + text
        s.following = False
        await next_prompt(ctx, s)
        return
    prompt, follow_up = PROMPTS[s.model][len(s.answers)]
    s.answers.append(Answer(prompt=prompt, answer=text))
    if follow_up and len(text.split()) < SHORT_ANSWER_WORDS and not s.followed:
        s.followed = s.following = True
        await ctx.go(R.ANSWER)
        return
    await next_prompt(ctx, s)


async def add_piece(ctx: Ctx, s: ReflectState, text: str) -> None:
    """The rest of a long answer: joined to it and checked again, then the question that follows, again."""
    if s.held_text:
        s.held_text += " " + text
        await ctx.go(R.IDENTIFIERS)
        return
    if not s.answers:
        return
    last = s.answers.pop()
    await intake(ctx, s, f"{last.answer} {text}", record)


async def skip_question(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.answers.append(Answer(prompt=PROMPTS[s.model][len(s.answers)][0], answer=SKIPPED))
    await next_prompt(ctx, s)


async def no_follow(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.following = False
    await next_prompt(ctx, s)


async def next_prompt(ctx: Ctx, s: ReflectState) -> None:
    await ctx.go(R.ANSWER if len(s.answers) < len(PROMPTS[s.model]) else R.RATING)


def _answer_screen(s: ReflectState) -> str:
    return f"{len(s.answers)}{'+' if s.following else ''}"


# --- rating, minutes, tags, save ----------------------------------------------------------


async def skip_minutes(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.minutes = None
    await after_minutes(ctx, s)


async def after_minutes(ctx: Ctx, s: ReflectState) -> None:
    await ctx.go(R.EXTRAS if ctx.catalogue.related(s.item) else R.CONFIRM)


def tag_buttons(ctx: Ctx, item_id: str, ticked: list[str]) -> list[list[Button]]:
    """One button per item linked to ``item_id`` in other frameworks. Each says what it does (+tick or
    -untick), so a double tap can't undo itself."""
    rows = []
    for link in ctx.catalogue.related(item_id)[:6]:
        on = link.target in ticked
        label = ("✅ " if on else "") + _label(ctx, link.target)
        rows.append([Button(label, "tag", ("-" if on else "+") + link.target)])
    return rows


def toggle(ctx: Ctx, ticked: list[str], arg: str) -> list[str]:
    target = arg[1:]
    if arg.startswith("+") and target in ctx.catalogue.by_id and target not in ticked:
        return [*ticked, target]
    if arg.startswith("-"):
        return [x for x in ticked if x != target]
    return ticked


def _extras_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    return [*tag_buttons(ctx, s.item, s.extras), [Button("Done", "tagged")]]


async def tag(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.extras = toggle(ctx, s.extras, arg)
    await ctx.go(R.EXTRAS)


async def tagged(ctx: Ctx, s: ReflectState, arg: str) -> None:
    await ctx.go(R.CONFIRM)


def _label(ctx: Ctx, item_id: str) -> str:
    e = ctx.catalogue.get(item_id)
    return short(f"{ctx.catalogue.framework(e.framework).short_title}: {e.title}", 48)


def all_skipped(s: ReflectState) -> bool:
    return all(a.answer == SKIPPED for a in s.answers)


def _confirm_prompt(ctx: Ctx, s: ReflectState) -> str:
    if all_skipped(s):
        return "You skipped every question, so there's nothing to save yet. Even one line helps you at appraisal."
    return summary_text(ctx, s)


def _confirm_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    if all_skipped(s):
        return [[Button("Answer the questions", "again")], [Button("Discard", "discard")]]
    return [[Button("Save", "save"), Button("Discard", "discard")]]


async def answer_again(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.answers, s.followed, s.following = [], False, False
    await ctx.go(R.ANSWER)


def summary_text(ctx: Ctx, s: ReflectState) -> str:
    item = ctx.catalogue.get(s.item)
    return render(
        "summary",
        code=item.code or "",
        title=item.title,
        stage_label=stage_label(ctx.catalogue, item.framework, s.stage),
        answers=[a.model_dump() for a in s.answers],
        rating=f"{s.rating} {RATING_LABELS[s.rating - 1]}" if s.rating else "not rated",
        minutes=s.minutes or "not logged",
        extras=[_label(ctx, x) for x in s.extras],
    )


async def save(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if all_skipped(s):
        await ctx.go(R.CONFIRM)
        return
    item = ctx.catalogue.get(s.item)
    answers = [a.model_dump() for a in s.answers]
    row = Reflection(
        user_id=ctx.user.id,
        framework=item.framework,
        item_id=item.id,
        item_key=item.key,
        stage=s.stage,
        extra_items=list(s.extras),
        prompt_model=s.model,
        answers_enc=ctx.cipher.encrypt_json(answers),
        rating=s.rating,
        minutes=s.minutes,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.db.add(row)
    await ctx.db.flush()
    followed = await actions.commit(ctx, row, answers)
    mine = select(func.count()).select_from(Reflection).where(Reflection.user_id == ctx.user.id)
    total = await ctx.db.scalar(mine)
    recent = await ctx.db.scalar(mine.where(Reflection.created_at >= ctx.now - timedelta(days=7)))
    ctx.finish()
    ctx.say(
        f"Saved. That's {plural(total or 0, 'reflection')} in all, {recent} in the last 7 days. "
        "Well done for making the time." + followed,
        menu_buttons(),
    )


async def discard(ctx: Ctx, s: ReflectState, arg: str) -> None:
    ctx.finish()
    ctx.say("Discarded. Nothing was saved.", menu_buttons())


LATER = {"later": later}
FLOW = Flow(
    name="reflect",
    label="reflection",
    state=ReflectState,
    names=R,
    progress=progress,
    parkable=True,
    resume_command="reflect",
    steps={
        R.OFFER: Step(_offer, _offer_buttons, {"continue": continue_parked, "new": start_new}),
        R.FOCUS: Step(
            "What would you like to reflect on this week?",
            focus_buttons,
            {"pick": pick, "browse": browse, "search": open_search, **LATER},
            text=search,
        ),
        R.BROWSE: Step(
            lambda ctx, s: "Choose one:" if s.group else "Choose an area:",
            browse_buttons,
            {"group": group, "pick": pick, "back": back, **LATER},
            text=search,
            screen=lambda s: s.group,
        ),
        R.SEARCH: Step(
            search_prompt,
            search_buttons,
            {"pick": pick, "browse": browse, **LATER},
            text=search,
            screen=lambda s: ",".join(s.hits) + "|" + s.searched,
        ),
        R.ANSWER: free_text(
            _answer_prompt,
            record,
            _answer_buttons,
            {"skipq": skip_question, "nofollow": no_follow, **LATER},
            screen=_answer_screen,
            append=add_piece,
        ),
        R.IDENTIFIERS: identifier_step(record),
        R.RATING: rating("How would you rate yourself against this statement now?", into="rating", then=R.MINUTES),
        R.MINUTES: number(
            "Log this as CPD? Tap the minutes you spent, type a number, or skip.",
            into="minutes",
            low=1,
            high=600,
            what="the minutes",
            presets=[(f"{m} min", int(m)) for m in MINUTES],
            per_row=4,
            then=after_minutes,
            extra=[[Button("Skip", "skipmins")]],
            actions={"skipmins": skip_minutes},
        ),
        R.EXTRAS: Step(
            "Does it also count as evidence for any of these? Tap to tick, then Done.",
            _extras_buttons,
            {"tag": tag, "tagged": tagged},
        ),
        R.CONFIRM: Step(
            _confirm_prompt, _confirm_buttons, {"save": save, "discard": discard, "again": answer_again}, keep=True
        ),
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("reflect", begin, Kind.SWITCH)
