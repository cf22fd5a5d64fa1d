"""/reflect: pick a focus, read your stage statement, answer the prompts, rate, log minutes, save."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from html import escape

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, Kind, Rows, Step
from flows.core.guard import GuardedState, identifier_step, intake
from flows.core.replies import Button
from flows.core.steps import free_text, number, rating
from flows.core.templating import render
from flows.rules.areas import unit_of
from flows.rules.scale import RATING_LABELS
from flows.store.models import Reflection
from flows.talks import actions
from flows.talks.assess import latest_weak_units
from flows.talks.common import (
    FOLLOW_UP,
    PROMPTS,
    SHORT_ANSWER_WORDS,
    menu_buttons,
    plural,
    short,
    stage_label,
    statement_for,
)

LATER_BUTTON = Button("Later", "later")
MINUTES = ["5", "10", "15", "30"]
SKIPPED = "(skipped)"


class Answer(BaseModel):
    prompt: str
    answer: str


class ReflectState(GuardedState):
    suggested: str = ""
    group: str = ""  # the area being browsed
    hits: list[str] = Field(default_factory=list)  # search results
    searched: str = ""  # what was searched for, when it found nothing
    item: str = ""
    stage: str = ""
    model: str = "rolfe"
    answers: list[Answer] = Field(default_factory=list)
    following: bool = False  # the follow-up to a short answer is being asked
    followed: bool = False  # the follow-up has been asked once
    rating: int | None = None
    minutes: int | None = None
    extras: list[str] = Field(default_factory=list)


class R(StrEnum):
    """The steps of a reflection."""

    OFFER = "offer"
    FOCUS = "focus"
    BROWSE = "browse"
    SEARCH = "search"
    ANSWER = "answer"
    IDENTIFIERS = "identifiers"
    RATING = "rating"
    MINUTES = "minutes"
    EXTRAS = "extras"
    CONFIRM = "confirm"


def _progress(s: ReflectState) -> str | None:
    """How far the draft got; None while there is nothing to lose (no answers, or every one skipped)."""
    if not s.item or all(a.answer == SKIPPED for a in s.answers):
        return None
    return f"{len(s.answers)} of {len(PROMPTS[s.model])} answered"


def _item_kind(framework: str) -> str:
    """What one reflects on: an MLF competency or an LF element."""
    return "competency" if framework == "mlf2025" else "element"


async def suggestion(ctx: Ctx) -> str:
    """An item not covered recently: never reflected on first, then the longest ago."""
    rows = await ctx.db.execute(
        select(Reflection.item_id, func.max(Reflection.created_at))
        .where(Reflection.user_id == ctx.user.id)
        .group_by(Reflection.item_id)
    )
    last = {item: when for item, when in rows.all()}
    items = [e.id for e in ctx.catalogue.of_kind(ctx.user.framework, _item_kind(ctx.user.framework))]
    # The weakest areas of their latest self-assessment come first.
    weak = await latest_weak_units(ctx.db, ctx.catalogue, ctx.user)
    aimed = [i for i in items if unit_of(ctx.catalogue, i) in weak]
    if aimed:
        items = aimed
    fresh = [i for i in items if i not in last]
    if fresh:
        return fresh[(ctx.user.id + len(last)) % len(fresh)]
    return min(items, key=lambda i: last[i])


# --- /reflect, and the draft put aside ----------------------------------------------------


async def begin(ctx: Ctx, args: str) -> None:
    parked = ctx.parked_state("reflect")
    if isinstance(parked, ReflectState) and parked.item and (not args or _progress(parked)):
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
    return f"You have an unfinished reflection {what}({_progress(parked) or 'not started'}). Carry on with it?"


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


# --- choosing a focus ---------------------------------------------------------------------


def _focus_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    entry = ctx.catalogue.get(s.suggested)
    return [
        [Button(f"Suggested: {short(entry.title, 36)}", "pick", entry.id)],
        [Button("Browse", "browse"), Button("Search", "search")],
        [LATER_BUTTON],
    ]


def _browse_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    fw = ctx.user.framework
    if s.group:
        items = [e for e in ctx.catalogue.of_kind(fw, _item_kind(fw)) if e.parent == s.group]
        rows = [[Button(f"{e.code} {short(e.title, 44)}", "pick", e.id)] for e in items]
    else:
        groups = ctx.catalogue.of_kind(fw, "standard" if fw == "mlf2025" else "domain")
        rows = [[Button(f"{g.code} {short(g.title, 44)}", "group", g.id)] for g in groups]
    return [*rows, [Button("Back", "back"), LATER_BUTTON]]


async def browse(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.group = ""
    await ctx.go(R.BROWSE)


async def group(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if arg in ctx.catalogue.by_id:
        s.group = arg
    await ctx.go(R.BROWSE)


async def back(ctx: Ctx, s: ReflectState, arg: str) -> None:
    if ctx.step == R.BROWSE and s.group:
        s.group = ""
        await ctx.go(R.BROWSE)
        return
    await ctx.go(R.FOCUS)


def _search_prompt(ctx: Ctx, s: ReflectState) -> str:
    if s.hits:
        return "Which one?"
    if s.searched:
        return f"I couldn't find anything for <i>{escape(short(s.searched, 60))}</i>. Try other words, or browse."
    return "Type a few words about what you want to reflect on, for example <i>difficult conversation</i>."


def _search_buttons(ctx: Ctx, s: ReflectState) -> Rows:
    entries = [ctx.catalogue.get(i) for i in s.hits]
    rows = [[Button(short(f"{e.code} {e.title}", 50), "pick", e.id)] for e in entries]
    return [*rows, [Button("Browse", "browse"), LATER_BUTTON]]


async def open_search(ctx: Ctx, s: ReflectState, arg: str) -> None:
    s.hits, s.searched = [], ""
    await ctx.go(R.SEARCH)


async def search(ctx: Ctx, s: ReflectState, text: str) -> None:
    kind = _item_kind(ctx.user.framework)
    items: list[str] = []
    for hit in ctx.index.search(text, framework=ctx.user.framework, limit=12):
        e = hit.entry
        item = e.id if e.kind == kind else (e.parent if e.kind in ("statement", "indicator", "descriptor") else None)
        if item and item not in items:
            items.append(item)
    s.hits, s.searched = items[:5], "" if items else text
    await ctx.go(R.SEARCH)


async def pick(ctx: Ctx, s: ReflectState, item_id: str) -> None:
    item = ctx.catalogue.by_id.get(item_id)
    if item is None or item.kind != _item_kind(ctx.user.framework):
        await ctx.go(ctx.step or R.FOCUS)
        return
    statement = statement_for(ctx.catalogue, item_id, ctx.user.stage)
    fresh = ReflectState(suggested=s.suggested, item=item_id, model=ctx.user.prompt_model)
    fresh.stage = statement.stage if statement and statement.stage else ctx.user.stage
    ctx.state = fresh
    ctx.say(
        render(
            "item",
            code=item.code,
            title=item.title,
            framework=ctx.catalogue.framework(item.framework).short_title,
            stage_label=stage_label(ctx.catalogue, item.framework, fresh.stage),
            text=statement.text if statement else item.text,
        )
        + "\n\nThink of one moment from the last week or two that relates to this."
    )
    await ctx.go(R.ANSWER)


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
    progress=_progress,
    parkable=True,
    resume_command="reflect",
    steps={
        R.OFFER: Step(_offer, _offer_buttons, {"continue": continue_parked, "new": start_new}),
        R.FOCUS: Step(
            "What would you like to reflect on this week?",
            _focus_buttons,
            {"pick": pick, "browse": browse, "search": open_search, **LATER},
            text=search,
        ),
        R.BROWSE: Step(
            lambda ctx, s: "Choose one:" if s.group else "Choose an area:",
            _browse_buttons,
            {"group": group, "pick": pick, "back": back, **LATER},
            text=search,
            screen=lambda s: s.group,
        ),
        R.SEARCH: Step(
            _search_prompt,
            _search_buttons,
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
